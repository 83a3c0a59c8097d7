import { DynamoDBClient, GetItemCommand, QueryCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { AwsDoctor, DOCTOR_PROBE_KEY } from '../../../../tasks/adapters/aws-doctor';
import {
  type AwsProbe,
  type CheckResult,
  CHECK_MS,
  daclAces,
  DNS_NODE_GUID,
  type DirectoryProbe,
  type DoctorPorts,
  guidToString,
  hostPort,
  type InstanceFacts,
  mayDeleteChild,
  parseDoctorInput,
  type Probe,
  probeName,
  runDoctor,
  sidToString,
  type TlsOutcome,
  versionAtLeast,
} from '../../../../tasks/lib/doctor';
import { AwsRefused, AwsUnavailable, DirectoryAuthFailed, DirectoryRefused, DirectoryUnavailable, InvalidInput } from '../../../../tasks/lib/errors';
import type { Settings } from '../../../../tasks/lib/settings';
import { WINDOWS_DEFAULTS } from '../../../../tasks/lib/windows-settings';
import { INSTANCE, NOW, OU, seqRandom, testSettings } from '../../../fakes';

// ---- binary security descriptors, built by hand --------------------------------------------

function sidBytes(sid: string): Buffer {
  const [, rev, auth, ...subs] = sid.split('-').map(Number);
  const b = Buffer.alloc(8 + 4 * subs.length);
  b.writeUInt8(rev ?? 1, 0);
  b.writeUInt8(subs.length, 1);
  b.writeUIntBE(auth ?? 0, 2, 6);
  subs.forEach((s, i) => b.writeUInt32LE(s, 8 + 4 * i));
  return b;
}

function guidBytes(guid: string): Buffer {
  const h = guid.replace(/-/g, '');
  const part = (from: number, to: number, reverse: boolean): number[] => {
    const bytes = (h.slice(from, to).match(/../g) ?? []).map((x) => parseInt(x, 16));
    return reverse ? bytes.reverse() : bytes;
  };
  return Buffer.from([...part(0, 8, true), ...part(8, 12, true), ...part(12, 16, true), ...part(16, 32, false)]);
}

interface AceSpec {
  allow: boolean;
  mask: number;
  sid: string;
  objectType?: string;
  inheritOnly?: boolean;
}

function sd(aces: AceSpec[]): Buffer {
  const bodies = aces.map((a) => {
    const sid = sidBytes(a.sid);
    const object = a.objectType !== undefined;
    const head = Buffer.alloc(object ? 12 : 8);
    head.writeUInt8(object ? (a.allow ? 5 : 6) : a.allow ? 0 : 1, 0);
    head.writeUInt8(a.inheritOnly ? 0x08 : 0x02, 1);
    head.writeUInt32LE(a.mask >>> 0, 4);
    if (object) head.writeUInt32LE(1, 8);
    const ace = Buffer.concat([head, ...(object ? [guidBytes(a.objectType ?? '')] : []), sid]);
    ace.writeUInt16LE(ace.length, 2);
    return ace;
  });
  const acl = Buffer.alloc(8);
  acl.writeUInt8(4, 0);
  acl.writeUInt16LE(8 + bodies.reduce((n, b) => n + b.length, 0), 2);
  acl.writeUInt16LE(bodies.length, 4);
  const header = Buffer.alloc(20);
  header.writeUInt8(1, 0);
  header.writeUInt16LE(0x8004, 2);
  header.writeUInt32LE(20, 16);
  return Buffer.concat([header, acl, ...bodies]);
}

const SVC = 'S-1-5-21-1-2-3-1105';
const GROUP = 'S-1-5-21-1-2-3-1200';
const COMPUTER_GUID = 'bf967a86-0de6-11d0-a285-00aa003049e2';

describe('security descriptors', () => {
  it('reads SIDs and GUIDs in their binary forms', () => {
    expect(sidToString(sidBytes(SVC))).toBe(SVC);
    expect(guidToString(guidBytes(DNS_NODE_GUID))).toBe(DNS_NODE_GUID);
    // The dnsNode schemaIDGUID as AD stores it.
    expect(guidToString(Buffer.from('8c1efae0459bd011afdd00c04fd930c9', 'hex'))).toBe(DNS_NODE_GUID);
  });

  it('lists the DACL ACEs with their object type', () => {
    const aces = daclAces(sd([{ allow: true, mask: 2, sid: SVC, objectType: DNS_NODE_GUID }, { allow: false, mask: 0x10000, sid: GROUP }]));
    expect(aces).toEqual([
      { allow: true, mask: 2, sid: SVC, objectType: DNS_NODE_GUID, inheritOnly: false },
      { allow: false, mask: 0x10000, sid: GROUP, inheritOnly: false },
    ]);
  });

  it('delete-child for dnsNode: granted to the account, to one of its groups, or by full control', () => {
    expect(mayDeleteChild(sd([{ allow: true, mask: 2, sid: SVC, objectType: DNS_NODE_GUID }]), [SVC])).toBe(true);
    expect(mayDeleteChild(sd([{ allow: true, mask: 2, sid: GROUP, objectType: DNS_NODE_GUID }]), [SVC, GROUP])).toBe(true);
    expect(mayDeleteChild(sd([{ allow: true, mask: 0xf01ff, sid: GROUP }]), [SVC, GROUP])).toBe(true);
  });

  it('not granted: another account, another class, an inherit-only ACE, only create-child, or denied first', () => {
    expect(mayDeleteChild(sd([{ allow: true, mask: 2, sid: GROUP, objectType: DNS_NODE_GUID }]), [SVC])).toBe(false);
    expect(mayDeleteChild(sd([{ allow: true, mask: 2, sid: SVC, objectType: COMPUTER_GUID }]), [SVC])).toBe(false);
    expect(mayDeleteChild(sd([{ allow: true, mask: 2, sid: SVC, objectType: DNS_NODE_GUID, inheritOnly: true }]), [SVC])).toBe(false);
    expect(mayDeleteChild(sd([{ allow: true, mask: 1, sid: 'S-1-5-11' }]), [SVC])).toBe(false);
    expect(
      mayDeleteChild(sd([{ allow: false, mask: 2, sid: SVC, objectType: DNS_NODE_GUID }, { allow: true, mask: 0xf01ff, sid: SVC }]), [SVC]),
    ).toBe(false);
  });
});

describe('helpers', () => {
  it('hostPort, probeName, versionAtLeast', () => {
    expect(hostPort('ldaps://10.0.0.10')).toEqual({ host: '10.0.0.10', port: 636 });
    expect(hostPort('ldaps://dc1.corp.example.com:3269')).toEqual({ host: 'dc1.corp.example.com', port: 3269 });
    expect(hostPort('ldap://dc1')).toEqual({ host: 'dc1', port: 389 });
    const name = probeName(seqRandom());
    expect(name).toMatch(/^ADJPROBE[0-9A-F]{7}$/);
    expect(name).toHaveLength(15);
    expect(probeName(seqRandom(1))).not.toBe(probeName(seqRandom(2)));
    expect(versionAtLeast('3.3.40.0', '3.0.0')).toBe(true);
    expect(versionAtLeast('3.0.0', '3.0.0')).toBe(true);
    expect(versionAtLeast('2.3.1319.0', '3.0.0')).toBe(false);
  });

  it('parseDoctorInput accepts the documented fields and names each bad one', () => {
    expect(parseDoctorInput({})).toEqual({});
    const ok = { securityGroupIds: ['sg-0123456789abcdef0'], targets: [{ account: '222222222222', region: 'eu-west-1' }], instance: { instanceId: INSTANCE, account: '123456789012', region: 'eu-west-1' } };
    expect(parseDoctorInput(ok)).toEqual(ok);
    expect(() => parseDoctorInput({ securityGroupIds: ['x'], targets: [{ account: '1', region: 'eu-west-1' }], instance: { instanceId: 'i-zz', account: '123456789012', region: 'eu-west-1' } })).toThrow(
      new InvalidInput('Invalid doctor input: securityGroupIds: must be a list of sg-… IDs; targets[0].account: must be 12 digits; instance.instanceId: not an instance ID'),
    );
  });
});

// ---- the checks, over fakes -------------------------------------------------------------------

const goodTls: TlsOutcome = { authorized: true, subject: 'dc1.corp.example.com', validTo: new Date(NOW.getTime() + 200 * 86_400_000) };
const err = (code: string, message = code): Error => Object.assign(new Error(message), { code });

class FakeProbe implements Probe {
  resolved: Record<string, string[] | Error> = { 'dc1.corp.example.com': ['10.0.0.10'] };
  connectErr: Record<string, Error | 'hang'> = {};
  tlsResult: Record<string, TlsOutcome | Error> = {};
  resolve(name: string): Promise<string[]> {
    const r = this.resolved[name];
    return r instanceof Error ? Promise.reject(r) : Promise.resolve(r ?? []);
  }
  connect(host: string): Promise<void> {
    const e = this.connectErr[host];
    if (e === 'hang') return new Promise(() => undefined);
    return e ? Promise.reject(e) : Promise.resolve();
  }
  tls(url: string): Promise<TlsOutcome> {
    const r = this.tlsResult[hostPort(url).host] ?? goodTls;
    return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
  }
}

class FakeDirectoryProbe implements DirectoryProbe {
  calls: string[] = [];
  bindErr: Error | undefined;
  createErr: Error | undefined;
  deleteErr: Error | undefined;
  zone: { allowed: boolean } | undefined | Error = { allowed: true };
  account(): Promise<string> {
    return Promise.resolve('CN=svc-adjoin,CN=Users,DC=corp,DC=example,DC=com');
  }
  bind(url: string): Promise<void> {
    this.calls.push(`bind ${url}`);
    return this.bindErr ? Promise.reject(this.bindErr) : Promise.resolve();
  }
  createProbe(ou: string, name: string): Promise<void> {
    this.calls.push(`create ${name} in ${ou}`);
    return this.createErr ? Promise.reject(this.createErr) : Promise.resolve();
  }
  deleteProbe(ou: string, name: string): Promise<void> {
    this.calls.push(`delete ${name} in ${ou}`);
    return this.deleteErr ? Promise.reject(this.deleteErr) : Promise.resolve();
  }
  zoneAccess() {
    const z = this.zone;
    if (z instanceof Error) return Promise.reject(z);
    if (!z) return Promise.resolve(undefined);
    const zoneDn = 'DC=corp.example.com,CN=MicrosoftDNS,DC=DomainDnsZones,DC=corp,DC=example,DC=com';
    return Promise.resolve({ zoneDn, securityDescriptor: sd([{ allow: true, mask: 2, sid: z.allowed ? SVC : GROUP, objectType: DNS_NODE_GUID }]), sids: [SVC] });
  }
}

class FakeAws implements AwsProbe {
  fail: Record<string, Error> = {};
  facts: InstanceFacts | undefined = {
    instanceId: INSTANCE,
    state: 'running',
    platform: 'linux',
    tags: { 'Domain:Join': 'true' },
    pingStatus: 'Online',
    agentVersion: '3.3.40.0',
    platformName: 'Amazon Linux',
    instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/ssm',
  };
  private run<T>(key: string, value: T): Promise<T> {
    const e = this.fail[key];
    return e ? Promise.reject(e) : Promise.resolve(value);
  }
  callerIdentity = () => this.run('sts', 'arn:aws:sts::123456789012:assumed-role/adjoin-check-setup/x');
  describeDocument = (name: string) => this.run(`doc ${name}`, undefined);
  describeInstances = () => this.run('ec2', 3);
  describeSecret = () => this.run('secret', undefined);
  memberRole = (t: { account: string }) => this.run(`role ${t.account}`, `arn:aws:iam::${t.account}:role/adjoin-member`);
  instance = () => this.run('instance', this.facts);
  /** The claims read goes through the real adapter, its DynamoDB client mocked (aws-sdk-client-mock). */
  readClaims = (table: string) => new AwsDoctor({ region: 'eu-west-1', dynamodb: new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 }) }).readClaims(table);
  /** The board's probe, through the real adapter as well. */
  queryBoard = (table: string) => new AwsDoctor({ region: 'eu-west-1', dynamodb: new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 }) }).queryBoard(table);
}

const ddb = mockClient(DynamoDBClient);
beforeEach(() => ddb.reset());

function setup(over: { settings?: Settings } = {}) {
  const probe = new FakeProbe();
  const directory = new FakeDirectoryProbe();
  const aws = new FakeAws();
  let t = NOW.getTime();
  const ports: DoctorPorts = {
    settings: over.settings ?? testSettings(),
    probe,
    directory,
    aws,
    clock: { now: () => new Date(t) },
    random: seqRandom(),
  };
  return { probe, directory, aws, ports, advance: (ms: number) => (t += ms) };
}

const byName = (checks: CheckResult[], name: string): CheckResult => {
  const c = checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check ${name} in ${checks.map((x) => x.name).join(', ')}`);
  return c;
};

describe('runDoctor', () => {
  it('all pass: every DC (DNS, TCP, TLS, bind), each managed OU, the DNS zone, the AWS endpoints, a member role', async () => {
    const { ports, directory } = setup();
    const r = await runDoctor({ targets: [{ account: '222222222222', region: 'eu-west-1' }] }, ports);
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => c.name)).toEqual([
      'DNS dc1.corp.example.com', 'TCP 10.0.0.10:636', 'TLS 10.0.0.10',
      'DNS dc1.corp.example.com', 'TCP 10.0.0.11:636', 'TLS 10.0.0.11',
      'bind 10.0.0.10', 'bind 10.0.0.11',
      `create/delete in ${OU}`, 'delete DNS records',
      'STS', 'SSM documents', 'EC2', 'Secrets Manager', 'member role 222222222222 eu-west-1',
    ]);
    for (const c of r.checks) expect(c.fix).toBe('');
    expect(byName(r.checks, 'TLS 10.0.0.10').detail).toBe('certificate CN=dc1.corp.example.com verified for dc1.corp.example.com, valid 200 more days');
    const name = /ADJPROBE[0-9A-F]{7}/.exec(byName(r.checks, `create/delete in ${OU}`).detail)?.[0];
    expect(directory.calls).toEqual(['bind ldaps://10.0.0.10', 'bind ldaps://10.0.0.11', `create ${name} in ${OU}`, `delete ${name} in ${OU}`]);
  });

  it('SSM documents: with Windows enabled, the Windows join document is checked too', async () => {
    const s = { ...testSettings(), documents: { ...testSettings().documents, joinWindows: 'adjoin-join-windows' } };
    const { ports, aws } = setup({ settings: s });
    expect(byName((await runDoctor({}, ports)).checks, 'SSM documents').detail).toBe(`${s.documents.join}, ${s.documents.verify}, adjoin-join-windows exist`);
    aws.fail['doc adjoin-join-windows'] = new AwsRefused('SSM DescribeDocument adjoin-join-windows failed: InvalidDocument: not found');
    const missing = byName((await runDoctor({}, ports)).checks, 'SSM documents');
    expect(missing.ok).toBe(false);
    expect(missing.detail).toContain('adjoin-join-windows');
  });

  it('DNS: an address needs no lookup or name; a DC name in a URL that does not resolve gets the resolver fix', async () => {
    const s = testSettings();
    delete s.directory.tlsServerName;
    const noName = setup({ settings: s });
    expect(byName((await runDoctor({}, noName.ports)).checks, 'DNS 10.0.0.10')).toEqual({ name: 'DNS 10.0.0.10', ok: true, detail: '10.0.0.10 is an address: no lookup needed', fix: '' });
    const byIp = setup();
    byIp.probe.resolved['dc1.corp.example.com'] = err('ENOTFOUND');
    expect(byName((await runDoctor({}, byIp.ports)).checks, 'DNS dc1.corp.example.com')).toMatchObject({
      ok: true,
      detail: 'dc1.corp.example.com did not resolve: ENOTFOUND; not needed: the tasks connect to 10.0.0.10 by address',
    });
    const s2 = testSettings();
    s2.directory.ldapUrls = ['ldaps://dc1.corp.example.com'];
    const { ports, probe } = setup({ settings: s2 });
    probe.resolved['dc1.corp.example.com'] = err('ENOTFOUND');
    const c = byName((await runDoctor({}, ports)).checks, 'DNS dc1.corp.example.com');
    expect(c.ok).toBe(false);
    expect(c.detail).toBe('dc1.corp.example.com did not resolve: ENOTFOUND');
    expect(c.fix).toBe(
      "Make dc1.corp.example.com resolvable where the tasks run (the Lambda subnets' VPC resolver): a Route 53 Resolver rule forwarding corp.example.com to the DCs (10.0.0.10, 10.0.0.11), or an ldapUrl with the DC's IP and tlsServerName dc1.corp.example.com.",
    );
  });

  it('TCP: dropped packets → the security-group fix naming the groups; refused → enable LDAPS', async () => {
    jest.useFakeTimers({ now: NOW });
    try {
      const { ports, probe } = setup();
      probe.connectErr['10.0.0.10'] = 'hang';
      probe.connectErr['10.0.0.11'] = err('ECONNREFUSED');
      const running = runDoctor({ securityGroupIds: ['sg-0123456789abcdef0'] }, ports);
      await jest.advanceTimersByTimeAsync(CHECK_MS + 10);
      const r = await running;
      expect(byName(r.checks, 'TCP 10.0.0.10:636')).toEqual({
        name: 'TCP 10.0.0.10:636',
        ok: false,
        detail: 'cannot reach 10.0.0.10:636: no answer in time (packets dropped)',
        fix: "Allow TCP 636 from sg-0123456789abcdef0 to 10.0.0.10 (the DC's security group or firewall), and check the route from the Lambda subnets to 10.0.0.10.",
      });
      const refused = byName(r.checks, 'TCP 10.0.0.11:636');
      expect(refused.ok).toBe(false);
      expect(refused.fix).toMatch(/^Enable LDAPS on the directory/);
    } finally {
      jest.useRealTimers();
    }
  });

  it('TLS: wrong CA, wrong name, expiring, no handshake — each with its fix', async () => {
    const { ports, probe } = setup();
    probe.tlsResult['10.0.0.10'] = { authorized: false, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', subject: 'dc1.corp.example.com' };
    probe.tlsResult['10.0.0.11'] = { authorized: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID', subject: 'dc2.corp.example.com' };
    let r = await runDoctor({}, ports);
    expect(byName(r.checks, 'TLS 10.0.0.10')).toMatchObject({
      ok: false,
      detail: 'certificate CN=dc1.corp.example.com did not verify with the configured CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
      fix: 'Set directory.caPem to the PEM of the CA that issued the DC certificates (the whole chain up to the root).',
    });
    expect(byName(r.checks, 'TLS 10.0.0.11')).toMatchObject({
      ok: false,
      fix: 'Set directory.tlsServerName to the name on the DC certificate (dc2.corp.example.com), or connect by that name.',
    });
    probe.tlsResult['10.0.0.10'] = { ...goodTls, validTo: new Date(NOW.getTime() + 3 * 86_400_000) };
    probe.tlsResult['10.0.0.11'] = err('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established');
    r = await runDoctor({}, ports);
    expect(byName(r.checks, 'TLS 10.0.0.10')).toMatchObject({ ok: false, detail: 'certificate CN=dc1.corp.example.com expires in 3 day(s)', fix: 'Renew the DC certificate of 10.0.0.10 before it expires.' });
    expect(byName(r.checks, 'TLS 10.0.0.11').fix).toMatch(/^Enable LDAPS on the directory/);
  });

  it('bind: wrong password → the secret fix; nothing that needs a bind is run', async () => {
    const { ports, directory } = setup();
    directory.bindErr = new DirectoryAuthFailed('LDAP bind failed: 80090308: LdapErr: DSID-0C09044E (LDAP result 49)');
    const r = await runDoctor({}, ports);
    expect(byName(r.checks, 'bind 10.0.0.10')).toMatchObject({
      ok: false,
      fix: 'Put the service account\'s current user name and password in secret adjoin/bind ({"username", "password"}), and check the account is enabled and not locked out.',
    });
    expect(byName(r.checks, `create/delete in ${OU}`)).toEqual({ name: `create/delete in ${OU}`, ok: false, detail: 'not run: no DC accepted the bind', fix: 'Fix the bind check above first.' });
    expect(directory.calls.some((c) => c.startsWith('create'))).toBe(false);
    expect(r.ok).toBe(false);
  });

  it('bind: a lab with a password file gets the file in its fix; an unreachable DC points at TCP/TLS', async () => {
    const s = testSettings();
    delete s.directory.bindSecretId;
    s.directory.bindDn = 'CN=svc-adjoin,CN=Users,DC=corp,DC=example,DC=com';
    s.directory.bindPasswordFile = '/lab/secrets/svc.password';
    const { ports, directory } = setup({ settings: s });
    directory.bindErr = new DirectoryAuthFailed('bad');
    expect(byName((await runDoctor({}, ports)).checks, 'bind 10.0.0.10').fix).toContain('current password in /lab/secrets/svc.password');
    directory.bindErr = new DirectoryUnavailable('connect ETIMEDOUT');
    expect(byName((await runDoctor({}, ports)).checks, 'bind 10.0.0.10').fix).toBe('Fix the TCP/TLS checks of 10.0.0.10 above first.');
  });

  it('OU: refused → the dsacls delegation; the probe is deleted even when the add failed', async () => {
    const { ports, directory } = setup();
    directory.createErr = new DirectoryRefused('LDAP add failed: insufficient access (LDAP result 50)');
    const c = byName((await runDoctor({}, ports)).checks, `create/delete in ${OU}`);
    expect(c.ok).toBe(false);
    expect(c.fix).toBe(`Delegate create/delete computer objects on ${OU} to the service account: dsacls "${OU}" /I:T /G "CORP\\svc-adjoin:CCDC;computer"`);
    const name = /ADJPROBE[0-9A-F]{7}/.exec(c.detail)?.[0];
    expect(directory.calls.slice(-2)).toEqual([`create ${name} in ${OU}`, `delete ${name} in ${OU}`]);
  });

  it('OU: created but not deleted → says where the probe is left, with the delegation fix', async () => {
    const { ports, directory } = setup();
    directory.deleteErr = new DirectoryRefused('LDAP delete failed: insufficient access');
    const c = byName((await runDoctor({}, ports)).checks, `create/delete in ${OU}`);
    expect(c.ok).toBe(false);
    expect(c.detail).toMatch(new RegExp(`^created ADJPROBE[0-9A-F]{7} but could not delete it: .*\\(delete CN=ADJPROBE[0-9A-F]{7},${OU} by hand\\)$`));
    expect(c.fix).toContain('dsacls');
  });

  it('DNS rights: missing delete-child → dsacls on the zone; no zone; unreadable', async () => {
    const { ports, directory } = setup();
    directory.zone = { allowed: false };
    let c = byName((await runDoctor({}, ports)).checks, 'delete DNS records');
    expect(c).toMatchObject({
      ok: false,
      detail: 'svc-adjoin may not delete dnsNode records in DC=corp.example.com,CN=MicrosoftDNS,DC=DomainDnsZones,DC=corp,DC=example,DC=com',
      fix: 'Delegate delete of DNS records: dsacls "DC=corp.example.com,CN=MicrosoftDNS,DC=DomainDnsZones,DC=corp,DC=example,DC=com" /G "CORP\\svc-adjoin:DC;dnsNode"',
    });
    directory.zone = undefined;
    c = byName((await runDoctor({}, ports)).checks, 'delete DNS records');
    expect(c.ok).toBe(false);
    expect(c.detail).toBe('no AD-integrated zone corp.example.com found');
    directory.zone = new DirectoryRefused('insufficient access');
    c = byName((await runDoctor({}, ports)).checks, 'delete DNS records');
    expect(c.ok).toBe(false);
    expect(c.fix).toContain('READ_CONTROL');
  });

  it('AWS: an unreachable endpoint → VPC endpoint fix; a missing document → deploy; a missing secret; a member role', async () => {
    const { ports, aws } = setup();
    aws.fail.sts = new AwsUnavailable('STS GetCallerIdentity failed: TimeoutError: connect ETIMEDOUT 52.94.0.1:443');
    aws.fail['doc adjoin-join'] = new AwsRefused('SSM DescribeDocument adjoin-join failed: InvalidDocument: not found');
    aws.fail.ec2 = new AwsRefused('EC2 DescribeInstances failed: UnauthorizedOperation');
    aws.fail.secret = new AwsRefused('Secrets Manager DescribeSecret adjoin/bind failed: ResourceNotFoundException: not found');
    aws.fail['role 222222222222'] = new AwsRefused('STS AssumeRole failed: AccessDenied');
    const r = await runDoctor({ targets: [{ account: '222222222222', region: 'eu-west-1' }] }, ports);
    expect(byName(r.checks, 'STS').fix).toMatch(/^Let the Lambda subnets reach STS: a VPC interface endpoint \(com\.amazonaws\.<region>\.sts\)/);
    expect(byName(r.checks, 'SSM documents').fix).toBe('Deploy the stack: it creates the join and verify documents (cdk deploy).');
    expect(byName(r.checks, 'EC2').fix).toBe('Grant the check-setup role the EC2 read it needs (redeploy the stack), or check the resource named above.');
    expect(byName(r.checks, 'Secrets Manager').fix).toBe('Create the bind secret adjoin/bind ({"username", "password"}) or fix directory.serviceAccountSecret.');
    expect(byName(r.checks, 'member role 222222222222 eu-west-1').fix).toContain('Deploy the member stack in account 222222222222');
    expect(r.checks.filter((c) => c.name.match(/^(STS|SSM|EC2|Secrets|member)/)).every((c) => !c.ok)).toBe(true);
  });

  it('claims table: a GetItem of a probe key passes; missing table, no grant, no network path each fail with their fix', async () => {
    const TABLE = 'adjoin-JoinClaims1A2B3C-XYZ';
    const claims = async () => {
      const { ports } = setup();
      ports.claimsTableName = TABLE;
      return byName((await runDoctor({}, ports)).checks, 'claims table');
    };
    ddb.on(GetItemCommand).resolves({});
    expect(await claims()).toEqual({ name: 'claims table', ok: true, detail: `${TABLE} answered GetItem (a probe key): it exists and the task role may read it`, fix: '' });
    expect(ddb).toHaveReceivedCommandWith(GetItemCommand, { TableName: TABLE, Key: { pk: { S: DOCTOR_PROBE_KEY } } });
    expect(DOCTOR_PROBE_KEY).not.toMatch(/^\d{12}\//); // never an instance's claim key

    ddb.reset();
    ddb.on(GetItemCommand).rejects(new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: { httpStatusCode: 400 } }));
    const missing = await claims();
    expect(missing).toMatchObject({ ok: false, detail: expect.stringMatching(/DynamoDB GetItem adjoin-JoinClaims1A2B3C-XYZ failed: ResourceNotFoundException/) as string });
    expect(missing.fix).toMatch(/^The join-claims table adjoin-JoinClaims1A2B3C-XYZ does not exist: deploy the stack .*every join fails at "Read instance"/);

    ddb.reset();
    ddb.on(GetItemCommand).rejects(Object.assign(new Error('User: arn:aws:sts::1:assumed-role/adjoin-check-setup-role/x is not authorized to perform: dynamodb:GetItem'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    const denied = await claims();
    expect(denied.ok).toBe(false);
    expect(denied.fix).toMatch(/^Let the task roles read and write adjoin-JoinClaims1A2B3C-XYZ \(dynamodb:GetItem, PutItem, UpdateItem\): redeploy the stack/);

    ddb.reset();
    ddb.on(GetItemCommand).rejects(Object.assign(new Error('connect ETIMEDOUT 52.94.1.1:443'), { name: 'TimeoutError' }));
    const unreachable = await claims();
    expect(unreachable.ok).toBe(false);
    expect(unreachable.fix).toMatch(/^Let the Lambda subnets reach DynamoDB: a gateway endpoint com\.amazonaws\.<region>\.dynamodb on their route tables/);
  });

  it('SSM Online board (SSM checks paced): a Query of a probe shard on the index passes; the index missing, no grant each fail with their fix; not paced: no check', async () => {
    const TABLE = 'adjoin-JoinClaims1A2B3C-XYZ';
    const board = async (pacing: Settings['pacing']) => {
      const { ports } = setup({ settings: { ...testSettings(), pacing } });
      ports.claimsTableName = TABLE;
      return (await runDoctor({}, ports)).checks.find((c) => c.name === 'SSM Online board');
    };
    ddb.on(GetItemCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    expect(await board({ describeInstanceInformation: 10 })).toEqual({ name: 'SSM Online board', ok: true, detail: `${TABLE} index ssm-wait answered Query (a probe shard): waiting joins can be swept`, fix: '' });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { TableName: TABLE, IndexName: 'ssm-wait', ExpressionAttributeValues: { ':shard': { S: DOCTOR_PROBE_KEY } }, Limit: 1 });

    ddb.on(QueryCommand).rejects(Object.assign(new Error('The table does not have the specified index: ssm-wait'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } }));
    const missing = await board({ describeInstanceInformation: 10 });
    expect(missing?.ok).toBe(false);
    expect(missing?.fix).toMatch(/^The claims table adjoin-JoinClaims1A2B3C-XYZ has no index ssm-wait: deploy this version of the stack .*checks the agent on its own/);

    ddb.on(QueryCommand).rejects(Object.assign(new Error('User: arn:aws:sts::1:assumed-role/adjoin-check-setup-role/x is not authorized to perform: dynamodb:Query on resource: .../index/ssm-wait'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    const denied = await board({ describeInstanceInformation: 10 });
    expect(denied?.ok).toBe(false);
    expect(denied?.fix).toMatch(/^Let "Wait for SSM Online" \(and check-setup\) query adjoin-JoinClaims1A2B3C-XYZ\/index\/ssm-wait \(dynamodb:Query\): redeploy the stack/);

    ddb.reset();
    expect(await board({ describeInstanceInformation: 0 })).toBeUndefined();
    expect(await board(undefined)).toBeUndefined();
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 0);
  });

  it('no claims table name (the lab), no claims check', async () => {
    const { ports } = setup();
    expect((await runDoctor({}, ports)).checks.map((c) => c.name)).not.toContain('claims table');
    expect(ddb).toHaveReceivedCommandTimes(GetItemCommand, 0);
  });

  it('the lab (no AwsProbe) runs no AWS check at all', async () => {
    const { ports } = setup();
    delete ports.aws;
    const names = (await runDoctor({}, ports)).checks.map((c) => c.name);
    expect(names.filter((n) => /^(STS|SSM|EC2|Secrets|member)/.test(n))).toEqual([]);
  });

  it('the run is bounded: checks left when the budget is spent fail as not run', async () => {
    const { ports, probe, advance } = setup();
    const orig = probe.resolve.bind(probe);
    probe.resolve = (n) => {
      advance(30_000);
      return orig(n);
    };
    const r = await runDoctor({}, ports);
    expect(byName(r.checks, 'bind 10.0.0.10')).toMatchObject({ ok: false, detail: "not run: the doctor's 25 s ran out" });
  });
});

describe('instance checks', () => {
  const target = { instanceId: INSTANCE, account: '123456789012', region: 'eu-west-1' };

  it('pass: running, Online, agent ≥ 3.0.0, profile, opt-in exact, no opt-out, Linux', async () => {
    const { ports } = setup();
    const r = await runDoctor({ instance: target }, ports);
    const names = ['running', 'SSM Online', 'SSM agent version', 'instance profile', 'opt-in tag', 'opt-out tag', 'platform'];
    for (const n of names) expect(byName(r.checks, n).ok).toBe(true);
    expect(byName(r.checks, 'SSM agent version').detail).toBe('3.3.40.0 ≥ 3.0.0');
    expect(r.ok).toBe(true);
  });

  it('fail: each with its fix', async () => {
    const { ports, aws } = setup();
    aws.facts = {
      instanceId: INSTANCE,
      state: 'stopped',
      platform: 'linux',
      tags: { 'domain:join ': 'true', autoadjoin: 'false' },
      pingStatus: 'ConnectionLost',
      agentVersion: '2.3.1319.0',
      platformName: 'FreeBSD',
    };
    const r = await runDoctor({ instance: target }, ports);
    expect(byName(r.checks, 'running').fix).toBe('Start the instance; adjoin joins running instances.');
    expect(byName(r.checks, 'SSM Online')).toMatchObject({ ok: false, detail: 'ping status ConnectionLost' });
    expect(byName(r.checks, 'SSM Online').fix).toContain('AmazonSSMManagedInstanceCore');
    expect(byName(r.checks, 'SSM agent version')).toMatchObject({ ok: false, fix: 'Update the SSM agent: AWS-UpdateSSMAgent (Run Command) or the distribution\u2019s amazon-ssm-agent package.' });
    expect(byName(r.checks, 'instance profile')).toMatchObject({ ok: false, fix: 'Attach an instance profile whose role has AmazonSSMManagedInstanceCore.' });
    expect(byName(r.checks, 'opt-in tag')).toEqual({
      name: 'opt-in tag',
      ok: false,
      detail: 'tag "domain:join " is not "Domain:Join" (case and spaces count)',
      fix: 'Tag the instance Domain:Join=true exactly (case-sensitive, no spaces).',
    });
    expect(byName(r.checks, 'opt-out tag')).toMatchObject({ ok: false, fix: 'Remove the tag autoadjoin to let adjoin join it.' });
    expect(byName(r.checks, 'platform')).toMatchObject({ ok: false, detail: 'FreeBSD is not a supported platform' });
  });

  it('a Windows instance: supported only when Windows joins are enabled', async () => {
    const windowsFacts = (aws: FakeAws) => void (aws.facts = { ...(aws.facts as InstanceFacts), platform: 'windows', platformName: 'Microsoft Windows Server 2022 Datacenter' });
    const off = setup();
    windowsFacts(off.aws);
    expect(byName((await runDoctor({ instance: target }, off.ports)).checks, 'platform')).toMatchObject({ ok: false, fix: 'Set windows.enabled in the configuration and redeploy.' });
    const on = setup({ settings: { ...testSettings(), windows: { ...WINDOWS_DEFAULTS } } });
    windowsFacts(on.aws);
    expect(byName((await runDoctor({ instance: target }, on.ports)).checks, 'platform')).toMatchObject({ ok: true, detail: 'windows (Microsoft Windows Server 2022 Datacenter) is supported' });
  });

  it('a wrong opt-in value, an unknown instance', async () => {
    const { ports, aws } = setup();
    aws.facts = { ...(aws.facts as InstanceFacts), tags: { 'Domain:Join': 'True' } };
    expect(byName((await runDoctor({ instance: target }, ports)).checks, 'opt-in tag').detail).toBe('Domain:Join="True", not "true"');
    aws.facts = undefined;
    const r = await runDoctor({ instance: target }, ports);
    expect(byName(r.checks, `instance ${INSTANCE}`)).toMatchObject({ ok: false, fix: 'Check the instance ID, account and Region (--account, --instance-region).' });
    expect(r.checks.some((c) => c.name === 'SSM Online')).toBe(false);
  });

  it('the lab: its fleet answers; agent version and instance profile are not checked there', async () => {
    const { ports, aws } = setup();
    delete ports.aws;
    ports.instance = () => Promise.resolve({ ...(aws.facts as InstanceFacts), agentVersion: undefined, instanceProfileArn: undefined } as InstanceFacts);
    const names = (await runDoctor({ instance: target }, ports)).checks.map((c) => c.name);
    expect(names).toContain('SSM Online');
    expect(names).not.toContain('SSM agent version');
    expect(names).not.toContain('instance profile');
  });
});
