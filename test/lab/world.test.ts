/**
 * The lab world itself: the DC and its seed, instance isolation, the network safety guard,
 * LabFleet's EC2/SSM view, labSettings, and a clean tear-down (also after a crash).
 * Root only (jest.lab.config.js). Leaves the lab as it found it.
 */
import * as fs from 'node:fs';
import * as world from '../../lab/world';
import { LabFleet, assertLabRoute, labDeps, labSettings } from '../../lab/world/fleet';
import { run } from '../../lab/world/sh';
import { ensureLab } from './helpers';

let startedHere = false;
const fleet = new LabFleet();
let instanceId = '';

beforeAll(async () => {
  const lab = await ensureLab();
  startedHere = lab.startedHere;
  if (startedHere) process.stderr.write(`lab up took ${lab.upMs} ms\n`);
});

afterAll(async () => {
  // Normally the last test already took the lab down; this is the safety net.
  if (startedHere) await world.down();
});

describe('the domain', () => {
  test('status() describes the domain, with secrets only as 0600 files', async () => {
    const s = await world.status();
    expect(s.up).toBe(true);
    expect(s.domain).toMatchObject({
      realm: 'LAB.EXAMPLE.COM',
      baseDn: 'DC=lab,DC=example,DC=com',
      ldapsUrl: 'ldaps://10.77.0.2',
      dcIp: '10.77.0.2',
      dcFqdn: 'DC1.lab.example.com',
      bindDn: 'CN=svc-adjoin,CN=Users,DC=lab,DC=example,DC=com',
    });
    expect(s.domain?.domainSid).toMatch(/^S-1-5-21-\d+-\d+-\d+$/);
    const state = world.labState();
    for (const f of [state.domain.bindPasswordFile, state.domain.adminPasswordFile, ...Object.values(state.domain.users).map((u) => u.passwordFile)]) {
      expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    }
    const stateText = fs.readFileSync(world.labPaths().stateFile, 'utf8');
    expect(stateText).not.toContain(fs.readFileSync(state.domain.bindPasswordFile, 'utf8'));
    expect(fs.readFileSync(state.domain.caFile, 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  test('the seed: managed OU, login group members, RFC 2307 attributes (ldapsearch inside the DC)', async () => {
    const d = world.labState().domain;
    const ou = await world.dcLdapSearch(d.managedOu, '(objectClass=organizationalUnit)', ['dn'], { scope: 'base' });
    expect(ou.exitCode).toBe(0);
    const group = await world.dcLdapSearch(d.baseDn, '(sAMAccountName=linux-admins)', ['member', 'gidNumber']);
    expect(group.stdout).toMatch(/member: CN=alice,/);
    expect(group.stdout).toMatch(/member: CN=carol,/);
    expect(group.stdout).not.toMatch(/member: CN=bob,/);
    const carol = await world.dcLdapSearch(d.baseDn, '(sAMAccountName=carol)', ['uidNumber', 'gidNumber']);
    expect(carol.stdout).toContain('uidNumber: 10003');
    expect(carol.stdout).toContain('gidNumber: 10000');
  });

  test('the service account is delegated on the managed OU and the DNS zone only', async () => {
    const d = world.labState().domain;
    const sd = await world.dcExec(['samba-tool', 'dsacl', 'get', `--objectdn=${d.managedOu}`, '-H', '/var/lib/samba/private/sam.ldb']);
    expect(sd.exitCode).toBe(0);
    expect(sd.stdout).toMatch(/\(OA;CI;CCDC;bf967a86-0de6-11d0-a285-00aa003049e2;;S-1-5-21-[\d-]+\)/);
    expect(sd.stdout).toMatch(/\(OA;CIIO;WP;;bf967a86-0de6-11d0-a285-00aa003049e2;S-1-5-21-[\d-]+\)/);
    const zone = await world.dcExec(['samba-tool', 'dsacl', 'get', `--objectdn=${d.dnsZoneDn}`, '-H', '/var/lib/samba/private/sam.ldb']);
    expect(zone.stdout).toMatch(/\(OA;CI;DC;e0fa1e8c-9b45-11d0-afdd-00c04fd930c9;;S-1-5-21-[\d-]+\)/);
  });

  test('no DNS forwarder: nothing leaves the lab', () => {
    const smb = fs.readFileSync(`${world.labPaths().dcDir}/etc-samba/smb.conf`, 'utf8');
    expect(smb).not.toMatch(/dns forwarder/);
  });
});

describe('instances', () => {
  test('launch() makes an isolated instance with an EC2-style ID', async () => {
    const i = await world.launch({ tags: { 'Domain:Join': 'true', Name: 'world-test' } });
    instanceId = i.instanceId;
    expect(i.instanceId).toMatch(/^i-[0-9a-f]{17}$/);
    expect(i.state).toBe('running');
    const r = await world.exec(i.instanceId, ['sh', '-c', 'hostname; cat /etc/resolv.conf; ip -4 route; ls /run; cat /etc/krb5.conf; ls -A ' + world.labPaths().secretsDir]);
    expect(r.exitCode).toBe(0);
    const [hostname] = r.stdout.split('\n');
    expect(hostname).toBe(i.hostname);
    expect(r.stdout).not.toMatch(/^nameserver/m); // no name server until the join document writes one
    expect(r.stdout).not.toMatch(/^default/m); // no route out
    expect(r.stdout).toMatch(/10\.77\.0\.0\/24 dev eth0/);
    expect(r.stdout).toMatch(/default_keytab_name = FILE:.*krb5\.keytab/);
    expect(r.stdout).not.toMatch(/svc-adjoin\.password/); // the lab's secrets are hidden from instances
    // The machine's own files are untouched.
    expect(fs.readFileSync('/etc/resolv.conf', 'utf8')).not.toContain('10.77.0.2');
  });

  test('the instance reaches the DC, and only the lab subnet', async () => {
    const r = await world.exec(instanceId, ['bash', '-c', 'exec 3<>/dev/tcp/10.77.0.2/636 && echo dc-ok']);
    expect(r.stdout).toContain('dc-ok');
    const out = await world.exec(instanceId, ['ip', 'route', 'get', '192.0.2.1']);
    expect(out.exitCode).not.toBe(0); // unreachable: no default route
  });

  test('LabFleet shows the instance like EC2 and SSM would', async () => {
    const info = await fleet.describeInstance(instanceId);
    expect(info).toMatchObject({ instanceId, state: 'running', platform: 'linux', tags: { 'Domain:Join': 'true' } });
    expect(await fleet.ssmPingStatus(instanceId)).toBe('Online');
    await fleet.tagInstance(instanceId, { 'adjoin:status': 'joining' });
    expect((await fleet.describeInstance(instanceId))?.tags['adjoin:status']).toBe('joining');
    expect(await fleet.describeInstance('i-0123456789abcdef0')).toBeUndefined();
    const many = await fleet.describeInstances([instanceId, 'i-0123456789abcdef0']);
    expect([...many.keys()]).toEqual([instanceId]);
  });

  test('SSM ping stays NotRegistered until the configured delay has passed', async () => {
    const i = await world.launch({ tags: {}, ssmDelaySeconds: 3600 });
    expect(await fleet.ssmPingStatus(i.instanceId)).toBe('NotRegistered');
    await world.terminate(i.instanceId);
  });

  test('terminate() stops the instance, removes its namespaces, keeps the record', async () => {
    await world.exec(instanceId, ['sh', '-c', 'sleep 300 >/dev/null 2>&1 &']);
    await world.terminate(instanceId);
    const s = await world.status();
    expect(s.instances.find((i) => i.instanceId === instanceId)?.state).toBe('terminated');
    const left = await world.leftovers();
    expect(left.netns).not.toContain(`adjoin-${instanceId}`);
    expect(left.mounts.some((m) => m.includes(instanceId))).toBe(false);
    await expect(world.exec(instanceId, ['true'])).rejects.toThrow(/terminated/);
    await world.terminate(instanceId); // idempotent
    // The DC answers at once afterwards (the bridge keeps its MAC when a port goes away).
    const t0 = Date.now();
    expect(await labDeps().directory.findByName('NOSUCHNAME')).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(4000);
  });
});

describe('settings and network safety', () => {
  test('labSettings() validates and describes the lab domain', () => {
    const s = labSettings();
    expect(s.directory).toMatchObject({
      kind: 'self-managed',
      ldapUrls: ['ldaps://10.77.0.2', 'ldaps://10.77.0.3'],
      tlsServerName: 'DC1.lab.example.com',
      domainControllers: [{ hostName: 'DC1.lab.example.com', ip: '10.77.0.2' }, { hostName: 'DC2.lab.example.com', ip: '10.77.0.3' }],
      dcIps: ['10.77.0.2', '10.77.0.3'],
      loginGroups: ['linux-admins'],
      probeUsers: ['alice'],
      insecure: false,
    });
    expect(s.directory.idMapping).toEqual({ mode: 'sid', domainSid: world.labState().domain.domainSid });
    expect(s.tags).toEqual({ optIn: { key: 'Domain:Join', value: 'true' }, optOut: { key: 'autoadjoin', value: 'false' }, loginGroupKey: 'adGroupName', statusPrefix: 'adjoin:' });
    expect(labSettings({ idMapping: 'rfc2307' }).directory.idMapping).toEqual({ mode: 'rfc2307' });
  });

  test('the product LDAP adapter reaches the DC through the lab link (labDeps)', async () => {
    const deps = labDeps();
    const found = await deps.directory.findByName('NOSUCHNAME');
    expect(found).toBeUndefined();
  });

  test('the guard refuses any address outside the lab subnet', () => {
    expect(() => assertLabRoute('ldaps://192.0.2.1')).toThrow(/not a lab address/);
    expect(() => assertLabRoute('ldaps://dc1.example.com')).toThrow(/not a lab address/);
    expect(() => assertLabRoute('ldaps://10.77.0.2')).not.toThrow();
  });

  test('the lab subnet is unreachable from the root namespace except through the lab link', async () => {
    const r = await run(['ip', '-4', 'route', 'show', '10.77.0.0/24'], { timeoutMs: 5000 });
    expect(r.stdout).toMatch(/10\.77\.0\.0\/24 dev adjoin-host/);
    expect(r.stdout).toMatch(/unreachable 10\.77\.0\.0\/24/);
  });
});

describe('tear-down', () => {
  test('down() leaves no namespace, mount or process behind, and cleans a crashed lab too', async () => {
    if (!startedHere) {
      // The lab was up before this suite (someone's demo): leave it as found.
      expect(await world.isUp()).toBe(true);
      return;
    }
    const t0 = Date.now();
    const report = await world.down();
    process.stderr.write(`lab down took ${Date.now() - t0} ms\n`);
    expect(report.problems).toEqual([]);
    expect(await world.leftovers()).toEqual({ netns: [], mounts: [], processes: [], hostLink: false });
    expect(fs.existsSync(world.labPaths().root)).toBe(false);
    const r = await run(['ip', '-4', 'route', 'show', '10.77.0.0/24'], { timeoutMs: 5000 });
    expect(r.stdout).not.toMatch(/dev adjoin-host/);
    expect(await world.isUp()).toBe(false);
    // With the lab down, the product's LDAP client is refused before it opens a socket.
    expect(() => assertLabRoute('ldaps://10.77.0.2')).toThrow(/lab network is down/);

    // A "crashed" lab: a namespace by our naming convention with a process inside, a namespace
    // file folder mounted, no state file. down() finds and removes all of it.
    expect((await run(['ip', 'netns', 'add', 'adjoin-i-deadbeefdeadbeef0'])).exitCode).toBe(0);
    const sleeper = await run(['sh', '-c', 'ip netns exec adjoin-i-deadbeefdeadbeef0 setsid sleep 300 </dev/null >/dev/null 2>&1 & echo started'], { timeoutMs: 5000 });
    expect(sleeper.stdout).toContain('started');
    const nsDir = world.labPaths().nsDir;
    fs.mkdirSync(nsDir, { recursive: true });
    expect((await run(['mount', '--bind', nsDir, nsDir])).exitCode).toBe(0);
    const dirty = await world.leftovers();
    expect(dirty.netns).toContain('adjoin-i-deadbeefdeadbeef0');
    expect(dirty.processes.length).toBeGreaterThan(0);
    expect(dirty.mounts).toContain(nsDir);
    const again = await world.down();
    expect(again.problems).toEqual([]);
    expect(await world.leftovers()).toEqual({ netns: [], mounts: [], processes: [], hostLink: false });
    startedHere = false;
  });
});
