/**
 * `adjoin doctor`: checks a deployment (or the lab) end to end. Each check is a plain function
 * over small ports (a network Probe, a DirectoryProbe over LDAPS, an AwsProbe over the SDK) and
 * returns { name, ok, detail, fix }: what was checked, what was seen, and what to do about it.
 * Every check is bounded in time (CHECK_MS each, BUDGET_MS for the whole run), so the Lambda
 * answers well within its timeout even when the network swallows packets. No AWS or LDAP import.
 */
import { AdjoinError, DirectoryAuthFailed, DirectoryRefused, DirectoryUnavailable, InvalidInput } from './errors';
import type { Clock, InstanceInfo, PingStatus, Random } from './ports';
import type { Settings } from './settings';
import { SSM_WAIT_INDEX } from './ssm-board';

/** One check's outcome: the CLI prints `✓ name  detail` or `✗ name  detail` + `fix: …`. */
export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do when it failed ('' when it passed). */
  fix: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: CheckResult[];
}

/** Time bounds: each check ≤ 5 s, the whole run ≤ 25 s (the Lambda's timeout is larger). */
export const CHECK_MS = 5_000;
export const BUDGET_MS = 25_000;
/** Lowest SSM agent version we rely on (ENV_VAR interpolation of document parameters: 3.0.0). */
export const MIN_AGENT_VERSION = '3.0.0';
/** The description of a probe computer object; it carries no marker, so it is never "ours". */
export const PROBE_DESCRIPTION = 'adjoin doctor probe';
/** schemaIDGUID of the dnsNode class. */
export const DNS_NODE_GUID = 'e0fa1e8c-9b45-11d0-afdd-00c04fd930c9';

// ---- ports -----------------------------------------------------------------------------------

export interface TlsOutcome {
  /** The certificate verified against the configured CA and name. */
  authorized: boolean;
  /** Node's error code when it did not (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_TLS_CERT_ALTNAME_INVALID). */
  code?: string;
  message?: string;
  /** The certificate's subject CN and subject alternative names, when one was presented. */
  subject?: string;
  altNames?: string;
  validTo?: Date;
}

/** Network reachability, from where the tasks run. */
export interface Probe {
  /** Addresses of a host name (the resolver the tasks use). */
  resolve(name: string): Promise<string[]>;
  /** A TCP connect; rejects with the socket error (its `code`) or on timeout. */
  connect(host: string, port: number, timeoutMs: number): Promise<void>;
  /** A TLS handshake to an ldaps:// URL, verified with the configured CA and tlsServerName. */
  tls(url: string, timeoutMs: number): Promise<TlsOutcome>;
}

/** The bound account's view of the DNS zone: the zone's DACL and the SIDs the account acts as. */
export interface ZoneAccess {
  zoneDn: string;
  /** The zone object's nTSecurityDescriptor (self-relative, DACL included). */
  securityDescriptor: Buffer;
  /** objectSid and tokenGroups of the bound account. */
  sids: string[];
}

/** LDAPS operations of the doctor (tasks/adapters/ldap-doctor.ts). Errors are of our catalogue. */
export interface DirectoryProbe {
  /** The account name the service binds as (never the password). */
  account(): Promise<string>;
  /** Bind to one DC as the service account, then unbind. */
  bind(url: string): Promise<void>;
  /** Add a computer `name` in `ou` with only PROBE_DESCRIPTION (no marker, no password, disabled). */
  createProbe(ou: string, name: string): Promise<void>;
  /** Delete it (absent: resolves). */
  deleteProbe(ou: string, name: string): Promise<void>;
  /** undefined when no zone of the domain was found in either DNS partition. */
  zoneAccess(): Promise<ZoneAccess | undefined>;
}

export interface InstanceFacts extends InstanceInfo {
  pingStatus: PingStatus;
  /** SSM agent version (DescribeInstanceInformation AgentVersion), when SSM knows the instance. */
  agentVersion?: string;
  /** e.g. "Amazon Linux", "Ubuntu", "Microsoft Windows Server 2022 Datacenter". */
  platformName?: string;
  /** Instance profile ARN; undefined: none attached. */
  instanceProfileArn?: string;
}

export interface Target {
  account: string;
  region: string;
}

/** Cheap read-only AWS calls (tasks/adapters/aws-doctor.ts). */
export interface AwsProbe {
  /** STS GetCallerIdentity: the caller's ARN. */
  callerIdentity(): Promise<string>;
  /** SSM DescribeDocument (also proves the document exists). */
  describeDocument(name: string): Promise<void>;
  /** EC2 DescribeInstances MaxResults 5: how many came back. */
  describeInstances(): Promise<number>;
  /** Secrets Manager DescribeSecret (metadata only, never the value). */
  describeSecret(id: string): Promise<void>;
  /** DynamoDB GetItem of a probe key in the join-claims table (exists, answers, the role may read it). */
  readClaims(tableName: string): Promise<void>;
  /** DynamoDB Query of a probe shard on the claims table's ssm-wait index (the SSM Online board: it exists, the role may query it). */
  queryBoard?(tableName: string): Promise<void>;
  /** STS AssumeRole of the member role in the account, then one EC2 call in the Region. */
  memberRole(target: Target): Promise<string>;
  /** The instance as EC2 and SSM see it; undefined when EC2 does not know it. */
  instance(target: Target & { instanceId: string }): Promise<InstanceFacts | undefined>;
}

export interface DoctorPorts {
  settings: Settings;
  probe: Probe;
  directory: DirectoryProbe;
  /** Absent in the lab, which has no AWS endpoints. */
  aws?: AwsProbe;
  /** The join-claims table the tasks use (ADJOIN_CLAIMS_TABLE); checked with `aws`. */
  claimsTableName?: string;
  /** The lab's instances (its LabFleet), when `aws` is absent. */
  instance?: (instanceId: string) => Promise<InstanceFacts | undefined>;
  clock: Clock;
  random: Random;
}

export interface DoctorInput {
  /** Security groups of the task Lambdas, for the fix texts (the CLI reads them from the function). */
  securityGroupIds?: string[];
  /** Member accounts and Regions whose role must be assumable. */
  targets?: Target[];
  /** One instance to check (SSM, tags, profile, platform). */
  instance?: Target & { instanceId: string };
}

export interface DoctorOptions {
  checkMs?: number;
  budgetMs?: number;
}

// ---- bounded runs ------------------------------------------------------------------------------

class TimedOut extends Error {}

/** Resolves or rejects with `promise`, or rejects with TimedOut after `ms`. */
export async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut(`no answer within ${ms} ms`)), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const codeOf = (err: unknown): string => {
  const c = (err as { code?: unknown } | undefined)?.code;
  return typeof c === 'string' ? c : '';
};
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 300) ?? '';
const isTimeout = (err: unknown): boolean => err instanceof TimedOut || codeOf(err) === 'ETIMEDOUT' || /timed? ?out|timeout/i.test(messageOf(err));

const pass = (name: string, detail: string): CheckResult => ({ name, ok: true, detail, fix: '' });
const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, ok: false, detail, fix });

/** The host and port of an LDAP URL. */
export function hostPort(url: string): { host: string; port: number } {
  const m = /^ldaps?:\/\/(\[[^\]]+\]|[^/:]+)(?::(\d+))?/i.exec(url);
  const host = (m?.[1] ?? '').replace(/^\[|\]$/g, '');
  const port = m?.[2] !== undefined ? Number(m[2]) : url.toLowerCase().startsWith('ldaps:') ? 636 : 389;
  return { host, port };
}

export const isIp = (host: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');

/** A name that cannot collide with a real computer: ADJPROBE + 7 random hex digits (15 characters). */
export function probeName(random: Random): string {
  return `ADJPROBE${random.bytes(4).toString('hex').slice(0, 7).toUpperCase()}`;
}

/** "1.2.3" ≥ "1.2.0"? Numeric, part by part. */
export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const b = min.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

// ---- security descriptors (pure) -------------------------------------------------------------

/** A SID in its binary form → S-1-5-21-…. */
export function sidToString(buf: Buffer, offset = 0): string {
  const revision = buf.readUInt8(offset);
  const count = buf.readUInt8(offset + 1);
  const authority = buf.readUIntBE(offset + 2, 6);
  const subs: number[] = [];
  for (let i = 0; i < count; i++) subs.push(buf.readUInt32LE(offset + 8 + 4 * i));
  return ['S', revision, authority, ...subs].join('-');
}

/** A GUID in its binary (mixed-endian) form → its text. */
export function guidToString(buf: Buffer, offset = 0): string {
  const hex = (start: number, len: number, reverse: boolean): string => {
    const b = [...buf.subarray(offset + start, offset + start + len)];
    return (reverse ? b.reverse() : b).map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 2, true)}-${hex(6, 2, true)}-${hex(8, 2, false)}-${hex(10, 6, false)}`;
}

export interface Ace {
  allow: boolean;
  mask: number;
  /** Object type GUID of an object ACE (the class or property it is about). */
  objectType?: string;
  inheritOnly: boolean;
  sid: string;
}

/** The DACL's ACEs of a self-relative security descriptor (ACE types 0, 1, 5, 6; others skipped). */
export function daclAces(sd: Buffer): Ace[] {
  const daclOffset = sd.readUInt32LE(16);
  if (daclOffset === 0) return [];
  const count = sd.readUInt16LE(daclOffset + 4);
  const aces: Ace[] = [];
  let at = daclOffset + 8;
  for (let i = 0; i < count; i++) {
    const type = sd.readUInt8(at);
    const flags = sd.readUInt8(at + 1);
    const size = sd.readUInt16LE(at + 2);
    const mask = sd.readUInt32LE(at + 4);
    const inheritOnly = (flags & 0x08) !== 0;
    if (type === 0 || type === 1) {
      aces.push({ allow: type === 0, mask, inheritOnly, sid: sidToString(sd, at + 8) });
    } else if (type === 5 || type === 6) {
      const objFlags = sd.readUInt32LE(at + 8);
      let p = at + 12;
      let objectType: string | undefined;
      if (objFlags & 1) {
        objectType = guidToString(sd, p);
        p += 16;
      }
      if (objFlags & 2) p += 16;
      aces.push({ allow: type === 5, mask, inheritOnly, sid: sidToString(sd, p), ...(objectType ? { objectType } : {}) });
    }
    if (size < 8) break;
    at += size;
  }
  return aces;
}

const DELETE_CHILD = 0x2;
const GENERIC_ALL = 0x10000000;
const EVERYONE = 'S-1-1-0';
const AUTHENTICATED_USERS = 'S-1-5-11';

/**
 * May these SIDs delete dnsNode children of the object with this DACL? The first ACE (in order)
 * that names one of them and grants or denies delete-child for dnsNode (or for every class) decides.
 */
export function mayDeleteChild(sd: Buffer, sids: string[], childClassGuid: string = DNS_NODE_GUID): boolean {
  const who = new Set([...sids, EVERYONE, AUTHENTICATED_USERS]);
  for (const ace of daclAces(sd)) {
    if (ace.inheritOnly || !who.has(ace.sid)) continue;
    if ((ace.mask & (DELETE_CHILD | GENERIC_ALL)) === 0) continue;
    if (ace.objectType !== undefined && ace.objectType.toLowerCase() !== childClassGuid.toLowerCase()) continue;
    return ace.allow;
  }
  return false;
}

// ---- the checks ----------------------------------------------------------------------------------

interface Ctx {
  ports: DoctorPorts;
  input: DoctorInput;
  deadline: number;
  checkMs: number;
}

/** Runs one check within its time (and the run's); a throw or a timeout is a failed check. */
async function bounded(c: Ctx, name: string, run: (ms: number) => Promise<CheckResult>, onError: (err: unknown) => CheckResult): Promise<CheckResult> {
  const left = c.deadline - c.ports.clock.now().getTime();
  if (left <= 0) return fail(name, `not run: the doctor's ${BUDGET_MS / 1000} s ran out`, 'Fix the checks that timed out above, then run the doctor again.');
  const ms = Math.min(c.checkMs, left);
  try {
    return await within(ms, run(ms));
  } catch (err) {
    return onError(err);
  }
}

const sgText = (c: Ctx): string =>
  c.input.securityGroupIds && c.input.securityGroupIds.length > 0 ? c.input.securityGroupIds.join(', ') : 'the task Lambdas\u2019 security group (network.securityGroupIds)';

function dnsCheck(c: Ctx, url: string): Promise<CheckResult> {
  const d = c.ports.settings.directory;
  const { host } = hostPort(url);
  const name = isIp(host) ? d.tlsServerName : host;
  const title = `DNS ${name ?? host}`;
  if (name === undefined) return Promise.resolve(pass(title, `${host} is an address: no lookup needed`));
  const fix =
    `Make ${name} resolvable where the tasks run (the Lambda subnets' VPC resolver): a Route 53 Resolver rule forwarding ${d.domain} ` +
    `to the DCs (${d.dcIps.join(', ')}), or an ldapUrl with the DC's IP and tlsServerName ${name}.`;
  return bounded(
    c,
    title,
    async () => {
      const addresses = await c.ports.probe.resolve(name);
      if (addresses.length === 0) return fail(title, `${name} has no address`, fix);
      return pass(title, `${name} → ${addresses.join(', ')}`);
    },
    (err) => {
      const why = `${name} did not resolve: ${isTimeout(err) ? 'no answer in time' : codeOf(err) || messageOf(err)}`;
      // Connecting by address, the tasks need no name: only the certificate is checked against it.
      if (isIp(host)) return pass(title, `${why}; not needed: the tasks connect to ${host} by address`);
      return fail(title, why, fix);
    },
  );
}

function tcpCheck(c: Ctx, url: string): Promise<CheckResult> {
  const { host, port } = hostPort(url);
  const title = `TCP ${host}:${port}`;
  return bounded(
    c,
    title,
    async (ms) => {
      await c.ports.probe.connect(host, port, ms);
      return pass(title, `connected to ${host} on ${port}`);
    },
    (err) => {
      const code = codeOf(err);
      if (code === 'ECONNREFUSED')
        return fail(title, `${host} refused TCP ${port}`, `Enable LDAPS on the directory (AWS Managed AD: enable server-side LDAPS; self-managed: give the DC a certificate so it listens on ${port}).`);
      const why = isTimeout(err) ? 'no answer in time (packets dropped)' : code || messageOf(err);
      return fail(title, `cannot reach ${host}:${port}: ${why}`, `Allow TCP ${port} from ${sgText(c)} to ${host} (the DC's security group or firewall), and check the route from the Lambda subnets to ${host}.`);
    },
  );
}

function tlsCheck(c: Ctx, url: string): Promise<CheckResult> {
  const d = c.ports.settings.directory;
  const { host } = hostPort(url);
  const title = `TLS ${host}`;
  if (!url.toLowerCase().startsWith('ldaps://'))
    return Promise.resolve(fail(title, `${url} is plain LDAP (directory.insecure)`, 'Use ldaps:// URLs with the CA (caPem) and leave insecure off outside a lab.'));
  const expected = d.tlsServerName ?? host;
  return bounded(
    c,
    title,
    async (ms) => {
      const t = await c.ports.probe.tls(url, ms);
      const seen = `certificate ${t.subject ? `CN=${t.subject}` : '(none)'}${t.altNames ? ` (${t.altNames})` : ''}`;
      if (t.authorized) {
        const days = t.validTo ? Math.floor((t.validTo.getTime() - c.ports.clock.now().getTime()) / 86_400_000) : undefined;
        if (days !== undefined && days < 14)
          return fail(title, `${seen} expires in ${days} day(s)`, `Renew the DC certificate of ${host} before it expires.`);
        return pass(title, `${seen} verified for ${expected}${days !== undefined ? `, valid ${days} more days` : ''}`);
      }
      const code = t.code ?? '';
      if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH')
        return fail(title, `${seen} is not for ${expected} (${code})`, `Set directory.tlsServerName to the name on the DC certificate${t.subject ? ` (${t.subject})` : ''}, or connect by that name.`);
      if (code === 'CERT_HAS_EXPIRED') return fail(title, `${seen} has expired`, `Renew the DC certificate of ${host}.`);
      return fail(
        title,
        `${seen} did not verify with the configured CA (${code || t.message || 'no certificate'})`,
        'Set directory.caPem to the PEM of the CA that issued the DC certificates (the whole chain up to the root).',
      );
    },
    (err) => {
      const code = codeOf(err);
      if (code === 'ECONNRESET' || /socket disconnected|EOF/i.test(messageOf(err)))
        return fail(title, `${host} closed the TLS handshake (${code || messageOf(err)})`, 'Enable LDAPS on the directory: the DC needs a certificate for LDAP over TLS (AWS Managed AD: enable server-side LDAPS).');
      return fail(title, `no TLS handshake with ${host}: ${isTimeout(err) ? 'no answer in time' : code || messageOf(err)}`, `Allow TCP 636 from ${sgText(c)} to ${host}, and enable LDAPS on the directory.`);
    },
  );
}

function credentialFix(c: Ctx): string {
  const d = c.ports.settings.directory;
  if (d.bindSecretId) return `Put the service account's current user name and password in secret ${d.bindSecretId} ({"username", "password"}), and check the account is enabled and not locked out.`;
  return `Put the service account's current password in ${d.bindPasswordFile ?? 'the bind password file'} (bindDn ${d.bindDn ?? '?'}), and check the account is enabled and not locked out.`;
}

function bindCheck(c: Ctx, url: string, account: string): Promise<CheckResult> {
  const { host } = hostPort(url);
  const title = `bind ${host}`;
  return bounded(
    c,
    title,
    async () => {
      await c.ports.directory.bind(url);
      return pass(title, `bound as ${account}`);
    },
    (err) => {
      if (err instanceof DirectoryAuthFailed) return fail(title, `${account}: ${messageOf(err)}`, credentialFix(c));
      if (err instanceof DirectoryUnavailable || isTimeout(err))
        return fail(title, `no answer from ${host}: ${messageOf(err)}`, `Fix the TCP/TLS checks of ${host} above first.`);
      return fail(title, messageOf(err), credentialFix(c));
    },
  );
}

const accountName = (account: string): string => {
  const cn = /^CN=([^,]+)/i.exec(account)?.[1];
  if (cn) return cn;
  return account.replace(/@.*$/, '').replace(/^.*\\/, '');
};

function ouCheck(c: Ctx, ou: string, account: string): Promise<CheckResult> {
  const d = c.ports.settings.directory;
  const title = `create/delete in ${ou}`;
  const who = `${d.netbiosName}\\${accountName(account)}`;
  const delegate = `Delegate create/delete computer objects on ${ou} to the service account: dsacls "${ou}" /I:T /G "${who}:CCDC;computer"`;
  const name = probeName(c.ports.random);
  return bounded(
    c,
    title,
    async () => {
      let created = false;
      try {
        await c.ports.directory.createProbe(ou, name);
        created = true;
      } catch (err) {
        if (err instanceof DirectoryRefused) return fail(title, `could not create ${name}: ${messageOf(err)}`, delegate);
        throw err;
      } finally {
        // At once, even when the add failed or timed out: it may have happened after all.
        if (!created) await c.ports.directory.deleteProbe(ou, name).catch(() => undefined);
      }
      try {
        await c.ports.directory.deleteProbe(ou, name);
      } catch (err) {
        return fail(title, `created ${name} but could not delete it: ${messageOf(err)} (delete CN=${name},${ou} by hand)`, delegate);
      }
      return pass(title, `created and deleted ${name}`);
    },
    (err) => fail(title, `probe ${name}: ${messageOf(err)}`, err instanceof DirectoryAuthFailed ? credentialFix(c) : `Fix the bind check above, then ${delegate.charAt(0).toLowerCase()}${delegate.slice(1)}`),
  );
}

function dnsRightsCheck(c: Ctx, account: string): Promise<CheckResult> {
  const d = c.ports.settings.directory;
  const title = 'delete DNS records';
  const who = `${d.netbiosName}\\${accountName(account)}`;
  return bounded(
    c,
    title,
    async () => {
      const access = await c.ports.directory.zoneAccess();
      if (!access)
        return fail(title, `no AD-integrated zone ${d.domain} found`, `Leave deletes A records from the AD-integrated zone ${d.domain}: create it in DomainDnsZones, or ignore this when the DNS is not AD-integrated.`);
      if (mayDeleteChild(access.securityDescriptor, access.sids))
        return pass(title, `the zone's DACL lets ${accountName(account)} delete dnsNode records in ${access.zoneDn}`);
      return fail(title, `${accountName(account)} may not delete dnsNode records in ${access.zoneDn}`, `Delegate delete of DNS records: dsacls "${access.zoneDn}" /G "${who}:DC;dnsNode"`);
    },
    (err) => fail(title, `could not read the zone's security descriptor: ${messageOf(err)}`, `Let the service account read the zone's permissions (READ_CONTROL), and dsacls "<zone DN>" /G "${who}:DC;dnsNode".`),
  );
}

function awsCheck(c: Ctx, title: string, run: (aws: AwsProbe) => Promise<string>, fix: (err: unknown) => string): Promise<CheckResult> {
  const aws = c.ports.aws;
  if (!aws) throw new Error('awsCheck without an AwsProbe');
  return bounded(
    c,
    title,
    async () => pass(title, await run(aws)),
    (err) => fail(title, isTimeout(err) ? 'no answer in time' : messageOf(err), fix(err)),
  );
}

const endpointFix = (service: string, endpoint: string) => (err: unknown): string =>
  isTimeout(err) || /ENOTFOUND|ETIMEDOUT|EAI_AGAIN|ECONN|socket|network/i.test(`${codeOf(err)} ${messageOf(err)}`)
    ? `Let the Lambda subnets reach ${service}: a VPC interface endpoint (${endpoint}) with private DNS, or a NAT route, and HTTPS (443) allowed out of the task security group.`
    : `Grant the check-setup role the ${service} read it needs (redeploy the stack), or check the resource named above.`;

/** The fix for a failed query of the board's index: the index missing (an older stack), the grant missing, or the rest as for the table. */
const boardFix = (table: string) => (err: unknown): string => {
  const text = messageOf(err);
  if (/ValidationException|index/i.test(`${codeOf(err)} ${text}`) && !/AccessDenied|not authorized/i.test(text))
    return `The claims table ${table} has no index ${SSM_WAIT_INDEX}: deploy this version of the stack (it adds the index). Until then every sweep fails, ` +
      'and each join waiting for its SSM agent checks the agent on its own: slower in a burst, logged as "SSM Online board: the sweep failed".';
  if (/AccessDenied|not authorized/i.test(text))
    return `Let "Wait for SSM Online" (and check-setup) query ${table}/index/${SSM_WAIT_INDEX} (dynamodb:Query): redeploy the stack; check that no permissions boundary or SCP denies it.`;
  return claimsFix(table)(err);
};

/** The fix for a failed claims-table read: missing table, missing grant, or no network path. */
const claimsFix = (table: string) => (err: unknown): string => {
  const text = messageOf(err);
  if (/ResourceNotFound/i.test(text))
    return `The join-claims table ${table} does not exist: deploy the stack (cdk deploy creates it and gives its name to the tasks in ADJOIN_CLAIMS_TABLE); ` +
      'if it was deleted by hand, restore it (point-in-time recovery is on) under that name, or destroy and redeploy the stack. Without it every join fails at "Read instance".';
  if (/AccessDenied|not authorized/i.test(text))
    return `Let the task roles read and write ${table} (dynamodb:GetItem, PutItem, UpdateItem): redeploy the stack; check that no permissions boundary or SCP denies DynamoDB.`;
  if (isTimeout(err) || /ENOTFOUND|ETIMEDOUT|EAI_AGAIN|ECONN|socket|network|cannot reach/i.test(`${codeOf(err)} ${text}`))
    return 'Let the Lambda subnets reach DynamoDB: a gateway endpoint com.amazonaws.<region>.dynamodb on their route tables (or an interface endpoint with private DNS), or a NAT route, and HTTPS (443) allowed out of the task security group.';
  return `Check the join-claims table ${table} and the check-setup role\u2019s access to it (the error above).`;
};

function awsChecks(c: Ctx): Promise<CheckResult>[] {
  const s = c.ports.settings;
  if (!c.ports.aws) return []; // the lab has no AWS endpoints: those checks are not run (and not passed)
  const checks: Promise<CheckResult>[] = [
    awsCheck(c, 'STS', async (aws) => `caller ${await aws.callerIdentity()}`, endpointFix('STS', 'com.amazonaws.<region>.sts')),
    awsCheck(
      c,
      'SSM documents',
      async (aws) => {
        const names = [s.documents.join, s.documents.verify, ...(s.documents.joinWindows !== undefined ? [s.documents.joinWindows] : [])];
        for (const name of names) await aws.describeDocument(name);
        return `${names.join(', ')} exist`;
      },
      (err) => (/InvalidDocument|not ?found|does not exist/i.test(messageOf(err)) ? 'Deploy the stack: it creates the join and verify documents (cdk deploy).' : endpointFix('SSM', 'com.amazonaws.<region>.ssm')(err)),
    ),
    awsCheck(c, 'EC2', async (aws) => `DescribeInstances answered (${await aws.describeInstances()} instance(s) in the first page)`, endpointFix('EC2', 'com.amazonaws.<region>.ec2')),
  ];
  const table = c.ports.claimsTableName;
  if (table) {
    checks.push(
      awsCheck(c, 'claims table', async (aws) => {
        await aws.readClaims(table);
        return `${table} answered GetItem (a probe key): it exists and the task role may read it`;
      }, claimsFix(table)),
    );
  }
  // The SSM Online board (tasks/lib/ssm-board.ts), in use whenever SSM checks are paced.
  if (table && (s.pacing?.describeInstanceInformation ?? 0) > 0) {
    checks.push(
      awsCheck(c, 'SSM Online board', async (aws) => {
        if (!aws.queryBoard) return 'not probed (this probe cannot query)';
        await aws.queryBoard(table);
        return `${table} index ${SSM_WAIT_INDEX} answered Query (a probe shard): waiting joins can be swept`;
      }, boardFix(table)),
    );
  }
  if (s.directory.bindSecretId) {
    const id = s.directory.bindSecretId;
    checks.push(
      awsCheck(c, 'Secrets Manager', async (aws) => {
        await aws.describeSecret(id);
        return `secret ${id} exists`;
      }, (err) => (/ResourceNotFound/i.test(messageOf(err)) ? `Create the bind secret ${id} ({"username", "password"}) or fix directory.serviceAccountSecret.` : endpointFix('Secrets Manager', 'com.amazonaws.<region>.secretsmanager')(err))),
    );
  }
  for (const t of c.input.targets ?? []) {
    const role = s.memberRoleName ?? '<memberRoleName>';
    checks.push(
      awsCheck(c, `member role ${t.account} ${t.region}`, async (aws) => `assumed ${await aws.memberRole(t)}`, () =>
        `Deploy the member stack in account ${t.account} (it creates role ${role} trusting the task roles), and let STS and EC2 in ${t.region} be reached.`,
      ),
    );
  }
  return checks;
}

async function instanceChecks(c: Ctx, target: Target & { instanceId: string }): Promise<CheckResult[]> {
  const s = c.ports.settings;
  const id = target.instanceId;
  const lookup = c.ports.aws ? (t: typeof target) => c.ports.aws?.instance(t) ?? Promise.resolve(undefined) : c.ports.instance ? (t: typeof target) => c.ports.instance?.(t.instanceId) ?? Promise.resolve(undefined) : undefined;
  if (!lookup) return [fail(`instance ${id}`, 'no fleet to look it up in', 'Run the doctor against a deployment or the lab.')];
  let facts: InstanceFacts | undefined;
  const found = await bounded(
    c,
    `instance ${id}`,
    async () => {
      facts = await lookup(target);
      if (!facts) return fail(`instance ${id}`, `EC2 does not know ${id} in ${target.account} ${target.region}`, 'Check the instance ID, account and Region (--account, --instance-region).');
      return pass(`instance ${id}`, `${facts.state}, ${facts.platform}${facts.platformName ? ` (${facts.platformName})` : ''}`);
    },
    (err) => fail(`instance ${id}`, messageOf(err), 'Check that the check-setup role may describe instances in that account (member role).'),
  );
  const f = facts;
  if (!found.ok || !f) return [found];
  const out: CheckResult[] = [found];
  const { optIn, optOut } = s.tags;
  out.push(
    f.state === 'running' ? pass('running', 'the instance is running') : fail('running', `the instance is ${f.state}`, 'Start the instance; adjoin joins running instances.'),
  );
  out.push(
    f.pingStatus === 'Online'
      ? pass('SSM Online', 'ping status Online')
      : fail('SSM Online', `ping status ${f.pingStatus}`, 'Install and start the SSM agent, attach an instance profile with AmazonSSMManagedInstanceCore, and let the instance reach ssm, ssmmessages and ec2messages (VPC endpoints or NAT, HTTPS out).'),
  );
  if (c.ports.aws) {
    out.push(
      f.agentVersion === undefined
        ? fail('SSM agent version', 'SSM does not report an agent version', 'Register the instance with SSM (agent running, instance profile attached).')
        : versionAtLeast(f.agentVersion, MIN_AGENT_VERSION)
          ? pass('SSM agent version', `${f.agentVersion} ≥ ${MIN_AGENT_VERSION}`)
          : fail('SSM agent version', `${f.agentVersion} < ${MIN_AGENT_VERSION} (ENV_VAR interpolation of document parameters needs ${MIN_AGENT_VERSION})`, 'Update the SSM agent: AWS-UpdateSSMAgent (Run Command) or the distribution\u2019s amazon-ssm-agent package.'),
    );
    out.push(
      f.instanceProfileArn
        ? pass('instance profile', f.instanceProfileArn)
        : fail('instance profile', 'no instance profile attached', 'Attach an instance profile whose role has AmazonSSMManagedInstanceCore.'),
    );
  }
  const tagValue = f.tags[optIn.key];
  const near = Object.keys(f.tags).find((k) => k !== optIn.key && k.replace(/\s/g, '').toLowerCase() === optIn.key.toLowerCase());
  out.push(
    tagValue === optIn.value
      ? pass('opt-in tag', `${optIn.key}=${optIn.value}`)
      : fail(
          'opt-in tag',
          tagValue !== undefined
            ? `${optIn.key}=${JSON.stringify(tagValue)}, not ${JSON.stringify(optIn.value)}`
            : near !== undefined
              ? `tag ${JSON.stringify(near)} is not ${JSON.stringify(optIn.key)} (case and spaces count)`
              : `no tag ${optIn.key}`,
          `Tag the instance ${optIn.key}=${optIn.value} exactly (case-sensitive, no spaces).`,
        ),
  );
  out.push(
    f.tags[optOut.key] === optOut.value
      ? fail('opt-out tag', `${optOut.key}=${optOut.value} is set: the instance is opted out`, `Remove the tag ${optOut.key} to let adjoin join it.`)
      : pass('opt-out tag', `${optOut.key}=${optOut.value} absent`),
  );
  const supported = f.platform === 'windows' || /linux|ubuntu|debian|red ?hat|rhel|centos|rocky|alma|suse|amazon/i.test(f.platformName ?? 'linux');
  out.push(
    f.platform === 'windows' && s.windows === undefined
      ? fail('platform', `${f.platformName ?? 'Windows'}: Windows joins are not enabled (the join skips this instance)`, 'Set windows.enabled in the configuration and redeploy.')
      : supported
      ? pass('platform', `${f.platform}${f.platformName ? ` (${f.platformName})` : ''} is supported`)
      : fail('platform', `${f.platformName ?? f.platform} is not a supported platform`, 'Use a Linux distribution with adcli and SSSD packages, or Windows Server.'),
  );
  return out;
}

/** Runs every check. Network checks per DC in parallel; directory writes one OU at a time. */
export async function runDoctor(input: DoctorInput, ports: DoctorPorts, options: DoctorOptions = {}): Promise<DoctorReport> {
  const c: Ctx = {
    ports,
    input,
    deadline: ports.clock.now().getTime() + (options.budgetMs ?? BUDGET_MS),
    checkMs: options.checkMs ?? CHECK_MS,
  };
  const d = ports.settings.directory;
  const aws = Promise.all(awsChecks(c));
  const perDc = await Promise.all(d.ldapUrls.map(async (url) => [await dnsCheck(c, url), await tcpCheck(c, url), await tlsCheck(c, url)]));
  const account = await within(c.checkMs, ports.directory.account()).catch((err: unknown) => (err instanceof AdjoinError ? `(${err.message})` : 'the service account'));
  const binds = await Promise.all(d.ldapUrls.map((url) => bindCheck(c, url, account)));
  const checks: CheckResult[] = [...perDc.flat(), ...binds];
  if (binds.some((b) => b.ok)) {
    for (const ou of d.managedOus) checks.push(await ouCheck(c, ou, account));
    checks.push(await dnsRightsCheck(c, account));
  } else {
    for (const ou of d.managedOus) checks.push(fail(`create/delete in ${ou}`, 'not run: no DC accepted the bind', 'Fix the bind check above first.'));
  }
  checks.push(...(await aws));
  if (input.instance) checks.push(...(await instanceChecks(c, input.instance)));
  return { ok: checks.every((x) => x.ok), checks };
}

// ---- input -------------------------------------------------------------------------------------

const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const INSTANCE = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;

/** Validates the check-setup Payload (every field optional); throws InvalidInput naming each bad field. */
export function parseDoctorInput(raw: unknown): DoctorInput {
  const problems: string[] = [];
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const out: DoctorInput = {};
  const target = (v: unknown, where: string): Target | undefined => {
    const t = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    if (typeof t.account !== 'string' || !ACCOUNT.test(t.account)) problems.push(`${where}.account: must be 12 digits`);
    if (typeof t.region !== 'string' || !REGION.test(t.region)) problems.push(`${where}.region: not a Region`);
    return typeof t.account === 'string' && typeof t.region === 'string' ? { account: t.account, region: t.region } : undefined;
  };
  if (o.securityGroupIds !== undefined) {
    if (!Array.isArray(o.securityGroupIds) || o.securityGroupIds.some((s) => typeof s !== 'string' || !/^sg-[0-9a-f]{8,17}$/.test(s)))
      problems.push('securityGroupIds: must be a list of sg-… IDs');
    else out.securityGroupIds = o.securityGroupIds as string[];
  }
  if (o.targets !== undefined) {
    if (!Array.isArray(o.targets) || o.targets.length > 50) problems.push('targets: must be a list of at most 50 {account, region}');
    else out.targets = o.targets.map((t, i) => target(t, `targets[${i}]`)).filter((t): t is Target => t !== undefined);
  }
  if (o.instance !== undefined) {
    const t = target(o.instance, 'instance');
    const id = (o.instance as { instanceId?: unknown }).instanceId;
    if (typeof id !== 'string' || !INSTANCE.test(id)) problems.push('instance.instanceId: not an instance ID');
    else if (t) out.instance = { ...t, instanceId: id };
  }
  if (problems.length > 0) throw new InvalidInput(`Invalid doctor input: ${problems.join('; ')}`);
  return out;
}
