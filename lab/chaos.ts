/**
 * The chaos scenarios on the REAL lab (Samba AD DCs, instances in namespaces with real adcli and
 * SSSD, the synthesized join / join-cleanup / leave machines on the local engine): one fault at
 * each join state, checked after every run with tools that are not the product's —
 * `ldapsearch` and `kinit` inside the DC, the lab's parameter store on disk, the execution store.
 * Shared by test/lab/chaos.test.ts (asserts) and bench/chaos.ts (prints the figures).
 *
 *   fault                 where                     injected as                              removed by
 *   dc-down-for-tasks     Prepare computer object   blackhole routes to every DC in the root  deleting them after 15 s: the
 *                                                   namespace (where the tasks' LDAP runs)    task's own retries must recover
 *   ssm-never-online      Wait for SSM Online       the instance's agent never comes Online  the agent comes Online
 *   ou-create-denied      Prepare computer object   the instance's OU tag names a sub-OU of   removing that ACE (the
 *                                                   the managed OU where an explicit ACE      service account's right
 *                                                   denies the service account creating      comes back by inheritance)
 *                                                   computer objects (DirectoryRefused)
 *   dc-unreachable        Run join document         blackhole routes to every DC inside the  deleting the routes
 *                                                   instance (its DNS and LDAP checks fail)
 *   join-command-fails    Run join document         adcli replaced by /bin/false inside the  unmounting it
 *                                                   instance (a bind mount in its mount ns)
 *   terminated-mid-join   Run join document         the instance terminated while join.sh    — (the leave runs)
 *                                                   runs
 *   tag-write-refused     Record result             the lab fleet refuses the "joined" tag    the fleet accepts it again
 *                                                   write (as a tag policy would), after the
 *                                                   instance really joined
 *   claims-refused        Read instance             the claims table refuses the claim write  it accepts it again
 *                                                   (the task role lacks dynamodb:PutItem)
 *   duplicate-event       Read instance             two join executions for one instance at  —
 *                                                   once
 *
 * dc-down-for-tasks runs first, alongside only ssm-never-online (which needs no LDAP for its
 * first 30 s); the others run concurrently after it.
 * Every failed execution is redriven once its fault is removed (the lab's RedriveExecution),
 * then every instance is terminated and its leave runs. Before anything runs, two objects that
 * are not ours are planted in the managed OU as the Administrator: a computer with no marker and
 * one carrying a forged marker of a chaos instance (so not our objectGUID).
 *
 * Invariants, checked after each run (a failure is a "violation", never an exception):
 *   - no one-time password that still authenticates: every OTP the fleet ever wrote is tried
 *     with `kinit NAME$` in the DC (a control object proves the probe can succeed) — and the
 *     parameter store holds no parameter of the instance once its execution ended;
 *   - at most one object of ours per instance while it lives, exactly one once it joined, none
 *     after its leave (ldapsearch on the marker, planted objects excepted);
 *   - nothing foreign deleted: each planted object still there with its objectGUID;
 *   - each fault ends where it should (state, error), its cleanup SUCCEEDED, and every failed
 *     join execution is SUCCEEDED after its redrive.
 *
 * Root and an up lab (callers bring it up). Time: ~2–2.5 min, set by ssm-never-online (its 30 s
 * deadline and polling); the others run meanwhile (mostly join.sh).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { makeLabRuntime, type LabRuntime } from '../cli/lab-runtime';
import { ec2StateEvent } from '../cli/ec2-event';
import { ExecutionStore, type ExecutionRecord } from '../engine';
import { AwsRefused } from '../tasks/lib/errors';
import type { Claim, ClaimChanges, Claims, SsmBoard, TakeResult } from '../tasks/lib/ports';
import { formatMarker, MARKER_ATTRIBUTE } from '../tasks/lib/marker';
import { computerName } from '../tasks/lib/naming';
import { DEFAULT_OU_TAG } from '../tasks/lib/routing';
import { defaultTagSettings } from '../tasks/lib/settings';
import { statusTagKeys } from '../tasks/lib/tags';
import * as world from './world';
import { LabFleet, assertLabRoute, labDepsProvider, labJoinSecretName, labSettings, readParameter } from './world/fleet';
import { FileClaims } from './world/claims';
import { updateState } from './world/state';
import { claimKey } from '../tasks/lib/claims';

export const FAULTS = [
  'dc-down-for-tasks',
  'ssm-never-online',
  'ou-create-denied',
  'dc-unreachable',
  'join-command-fails',
  'terminated-mid-join',
  'tag-write-refused',
  'claims-refused',
  'duplicate-event',
] as const;
export type Fault = (typeof FAULTS)[number];

/** Where each fault must end its first run: status, failed state, error (or the output's outcome). */
export const EXPECTED_END: Record<Fault, { status: string; failedState?: string; error?: string; outcome?: string; cause?: RegExp }> = {
  'dc-down-for-tasks': { status: 'SUCCEEDED', outcome: 'joined' },
  'ssm-never-online': { status: 'FAILED', failedState: 'Wait for SSM Online', error: 'SsmAgentNotOnline' },
  // The cause names the OU and says what to grant (tasks/adapters/ldap-directory.ts RIGHTS_ADVICE).
  'ou-create-denied': { status: 'FAILED', failedState: 'Prepare computer object', error: 'DirectoryRefused', cause: /OU=chaos-[0-9a-f]+,.*\(LDAP result 50\)\. The bind account lacks a right .*Directory permissions/s },
  'tag-write-refused': { status: 'FAILED', failedState: 'Record result', error: 'AwsRefused', cause: /CreateTags: TagPolicyViolation/ },
  'claims-refused': { status: 'FAILED', failedState: 'Read instance', error: 'AwsRefused', cause: /dynamodb:PutItem/ },
  'dc-unreachable': { status: 'FAILED', failedState: 'Run join document', error: 'JoinCommandFailed' },
  'join-command-fails': { status: 'FAILED', failedState: 'Run join document', error: 'JoinCommandFailed' },
  'terminated-mid-join': { status: 'SUCCEEDED', outcome: 'abandoned' },
  'duplicate-event': { status: 'SUCCEEDED', outcome: 'joined' },
};

export interface FaultResult {
  fault: Fault;
  instanceId: string;
  /** The first run's end: "FAILED at <state> (<error>)" or "SUCCEEDED (<outcome>)". */
  endState: string;
  /** Event → end of the first run (the cleanup included). */
  seconds: number;
  /** The redrive after the fault was removed, when the run failed. */
  redrive?: { endState: string; seconds: number };
  /** Join commands the fleet sent to this instance. */
  joinCommands: number;
  /** The first run's cause, when it failed (clipped). */
  cause?: string;
}

export interface ChaosReport {
  /** Executions started: joins, redrives, leaves (the cleanups are counted apart). */
  runs: number;
  cleanups: number;
  faults: number;
  /** Invariant checks made (each a real-tool probe or a recorded end). */
  checks: number;
  violations: string[];
  results: FaultResult[];
  /** Leaves after every instance was terminated: all SUCCEEDED, in this many seconds (wall). */
  leaveSeconds: number;
  totalSeconds: number;
  /** One-time passwords written (all tried with kinit, none may authenticate). */
  otpsTried: number;
  /** Parameters left in the lab's parameter store at the end (all of them, not only ours). */
  parametersLeft: number;
}

/**
 * The lab fleet, remembering every one-time password it stores (in memory only: the kinit probe
 * needs them); with a fault lever: for the instances in `refusingJoinedTag`, CreateTags with
 * <prefix>status=joined is refused as an AWS Organizations tag policy refuses a value
 * (TagPolicyViolation, not transient). Other tag writes (the cleanup's status=failed) pass.
 */
export class OtpRecordingFleet extends LabFleet {
  private readonly written = new Map<string, string[]>();
  readonly refusingJoinedTag = new Set<string>();
  override async tagInstance(instanceId: string, tags: Record<string, string>): Promise<void> {
    if (this.refusingJoinedTag.has(instanceId) && tags[STATUS_TAG] === 'joined')
      throw new AwsRefused(`CreateTags: TagPolicyViolation: the tag policy does not allow ${STATUS_TAG}=joined on ${instanceId} (lab fault)`);
    return super.tagInstance(instanceId, tags);
  }
  override async putJoinSecret(instanceId: string, value: string): Promise<string> {
    const name = await super.putJoinSecret(instanceId, value);
    this.written.set(instanceId, [...(this.written.get(instanceId) ?? []), value]);
    return name;
  }
  otpsOf(instanceId: string): string[] {
    return [...(this.written.get(instanceId) ?? [])];
  }
}

const STATUS_PREFIX = defaultTagSettings().statusPrefix;
const STATUS_TAG = statusTagKeys(STATUS_PREFIX).status;

/**
 * The lab's claims table (on disk, lab/world/claims.ts) with a fault lever: for the instances in
 * `refusingTake`, the conditional claim write is refused as DynamoDB refuses a role without
 * dynamodb:PutItem (AccessDeniedException, not transient). Reads and updates pass.
 */
export class LeverClaims implements Claims, SsmBoard {
  readonly refusingTake = new Set<string>();
  constructor(private readonly inner: FileClaims = new FileClaims()) {}
  get(key: string): Promise<Claim | undefined> {
    return this.inner.get(key);
  }
  take(key: string, execution: string, nowSeconds: number, leaseSeconds: number): Promise<TakeResult> {
    const id = key.split('/').pop() ?? '';
    if (this.refusingTake.has(id))
      return Promise.reject(new AwsRefused(`DynamoDB PutItem: AccessDeniedException: the task role is not authorized to perform dynamodb:PutItem on the claims table (lab fault, ${id})`));
    return this.inner.take(key, execution, nowSeconds, leaseSeconds);
  }
  update(key: string, execution: string, changes: ClaimChanges, options?: { unlessJoined?: boolean }): Promise<boolean> {
    return this.inner.update(key, execution, changes, options);
  }
  // The SSM Online board passes through (the lab deploys it, as production does by default).
  waiting(shard: string, sinceSeconds: number): Promise<string[]> {
    return this.inner.waiting(shard, sinceSeconds);
  }
  markOnline(key: string, atSeconds: number): Promise<boolean> {
    return this.inner.markOnline(key, atSeconds);
  }
  recordSweep(board: string, outcome: 'ok' | 'failed', atSeconds: number): Promise<void> {
    return this.inner.recordSweep(board, outcome, atSeconds);
  }
  sweepHealth(board: string): Promise<{ okAt?: number; failedAt?: number }> {
    return this.inner.sweepHealth(board);
  }
}

// ---- real tools in the DC ---------------------------------------------------------------------

const adminBind = (): string[] => {
  const d = world.labState().domain;
  return ['-H', `ldaps://${d.dcFqdn}`, '-x', '-D', `CN=Administrator,CN=Users,${d.baseDn}`, '-y', d.adminPasswordFile];
};
const TLS_ENV = { LDAPTLS_CACERT: '/var/lib/samba/private/tls/ca.pem', LDAPTLS_REQCERT: 'demand' };

/** ldapadd / ldapdelete as the Administrator in the DC (LDIF on stdin); throws with the tool's words. */
async function ldapTool(tool: 'ldapadd' | 'ldapdelete', input: string): Promise<void> {
  const r = await world.dcExec([tool, '-o', 'nettimeout=5', ...adminBind()], { input, timeoutMs: 20_000, env: TLS_ENV });
  if (r.exitCode !== 0) throw new Error(`${tool} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(-300)}`);
}

/** The objects carrying an instance's marker, as ldapsearch (Administrator) sees them: DN → objectGUID (base64). */
export async function objectsWithMarker(instanceId: string): Promise<Map<string, string>> {
  const s = world.labState();
  const marker = formatMarker({ account: s.account, region: s.region, instanceId });
  const r = await world.dcLdapSearch(s.domain.baseDn, `(&(objectClass=computer)(${MARKER_ATTRIBUTE}=${marker}))`, ['objectGUID'], { asAdmin: true });
  if (r.exitCode !== 0) throw new Error(`ldapsearch for ${instanceId} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(-300)}`);
  return ldifGuids(r.stdout);
}

/** One object by DN: its objectGUID (base64), or undefined when it is gone. */
async function guidOf(dn: string): Promise<string | undefined> {
  const r = await world.dcLdapSearch(dn, '(objectClass=*)', ['objectGUID'], { scope: 'base', asAdmin: true });
  if (r.exitCode === 32) return undefined;
  if (r.exitCode !== 0) throw new Error(`ldapsearch ${dn} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(-300)}`);
  return ldifGuids(r.stdout).get(dn.toLowerCase());
}

function ldifGuids(ldif: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const block of ldif.split(/\n\s*\n/)) {
    const dn = /^dn: (.+)$/m.exec(block)?.[1];
    const guid = /^objectGUID:: (\S+)$/m.exec(block)?.[1];
    if (dn) out.set(dn.toLowerCase(), guid ?? '');
  }
  return out;
}

/** kinit NAME$ with `password` (stdin) inside the DC: true when the KDC accepts it. */
export async function kinitAccepts(name: string, password: string): Promise<boolean> {
  const realm = world.labState().domain.realm;
  const r = await world.dcExec(['sh', '-c', `KRB5CCNAME=MEMORY: kinit '${name}$@${realm}' >/dev/null 2>&1; echo "rc=$?"`], { input: `${password}\n`, timeoutMs: 20_000 });
  const rc = /rc=(\d+)/.exec(r.stdout)?.[1];
  if (rc === undefined) throw new Error(`kinit probe gave no exit code: ${r.stderr.replaceAll(password, '***').slice(-300)}`);
  return rc === '0';
}

const randomName = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex').toUpperCase()}`;

function computerLdif(dn: string, name: string, extra: string[]): string {
  return [`dn: ${dn}`, 'objectClass: computer', `sAMAccountName: ${name}$`, 'userAccountControl: 4096', ...extra, ''].join('\n');
}

/**
 * The kinit probe can succeed: a computer made by the Administrator with a known password
 * authenticates with it and not with another. Without this, "no OTP authenticates" proves nothing.
 */
export async function kinitControl(): Promise<{ accepted: boolean; wrongRefused: boolean }> {
  const d = world.labState().domain;
  const name = randomName('CHAOSCTL');
  const dn = `CN=${name},${d.managedOu}`;
  const password = `Aa1-${randomBytes(24).toString('base64url')}`;
  const pwd = Buffer.from(`"${password}"`, 'utf16le').toString('base64');
  await ldapTool('ldapadd', computerLdif(dn, name, [`unicodePwd:: ${pwd}`]));
  try {
    return { accepted: await kinitAccepts(name, password), wrongRefused: !(await kinitAccepts(name, `${password}x`)) };
  } finally {
    await ldapTool('ldapdelete', `${dn}\n`);
  }
}

/** Plants, as the Administrator, a foreign computer (no marker) and one with a forged marker of `forgedFor`. */
async function plantForeign(forgedFor: string): Promise<Map<string, string>> {
  const s = world.labState();
  const ou = s.domain.managedOu;
  const foreign = randomName('FOREIGN');
  const forged = randomName('FORGED');
  const marker = formatMarker({ account: s.account, region: s.region, instanceId: forgedFor });
  await ldapTool('ldapadd', computerLdif(`CN=${foreign},${ou}`, foreign, ['description: chaos: a computer that is not ours']));
  await ldapTool('ldapadd', computerLdif(`CN=${forged},${ou}`, forged, [`${MARKER_ATTRIBUTE}: ${marker}`, 'description: chaos: a forged marker']));
  const planted = new Map<string, string>();
  for (const dn of [`CN=${foreign},${ou}`, `CN=${forged},${ou}`]) {
    const guid = await guidOf(dn);
    if (!guid) throw new Error(`planted ${dn} but ldapsearch does not see it`);
    planted.set(dn, guid);
  }
  return planted;
}

/**
 * Adds (`deny`) or removes (`allow`) one explicit ACE on `ouDn` in DC1's sam.ldb (Debian's
 * python3 and Samba's bindings, as lab/world/seed.py): the service account may not create
 * computer objects there — `(OD;;CC;<computer>;;<svc SID>)`, placed before the inherited allow
 * of the managed OU, so it wins. Prints True when the ACE is in the DACL afterwards.
 */
const OU_ACE_SCRIPT = `
import sys, ldb
from samba.auth import system_session
from samba.dcerpc import security
from samba.ndr import ndr_pack, ndr_unpack
from samba.param import LoadParm
from samba.samdb import SamDB
action, dn, account = sys.argv[1:4]
lp = LoadParm(); lp.load("/etc/samba/smb.conf")
samdb = SamDB(url=lp.private_path("sam.ldb"), session_info=system_session(), lp=lp)
dom = security.dom_sid(samdb.get_domain_sid())
svc = str(ndr_unpack(security.dom_sid, samdb.search(base=account, scope=ldb.SCOPE_BASE, attrs=["objectSid"])[0]["objectSid"][0]))
ace = "(OD;;CC;bf967a86-0de6-11d0-a285-00aa003049e2;;%s)" % svc
res = samdb.search(base=dn, scope=ldb.SCOPE_BASE, attrs=["nTSecurityDescriptor"])
sddl = ndr_unpack(security.descriptor, res[0]["nTSecurityDescriptor"][0]).as_sddl(dom)
if action == "deny":
    first = sddl.find("(", sddl.index("D:"))
    sddl = sddl[:first] + ace + sddl[first:] if first >= 0 else sddl + ace
else:
    sddl = sddl.replace(ace, "")
m = ldb.Message()
m.dn = ldb.Dn(samdb, dn)
m["nTSecurityDescriptor"] = ldb.MessageElement(ndr_pack(security.descriptor.from_sddl(sddl, dom)), ldb.FLAG_MOD_REPLACE, "nTSecurityDescriptor")
samdb.modify(m)
res = samdb.search(base=dn, scope=ldb.SCOPE_BASE, attrs=["nTSecurityDescriptor"])
print(ace in ndr_unpack(security.descriptor, res[0]["nTSecurityDescriptor"][0]).as_sddl(dom))
`;

/** The service account's right to create computer objects in `ouDn`: denied, or back (by inheritance). */
async function setCreateDenied(ouDn: string, denied: boolean): Promise<void> {
  const r = await world.dcExec(['/usr/bin/python3', '-c', OU_ACE_SCRIPT, denied ? 'deny' : 'allow', ouDn, world.labState().domain.bindDn], { timeoutMs: 30_000 });
  if (r.exitCode !== 0 || r.stdout.trim() !== (denied ? 'True' : 'False'))
    throw new Error(`chaos: ${denied ? 'deny' : 'allow'} creating computers in ${ouDn}: exit ${r.exitCode}, ${r.stdout.trim()} ${r.stderr.trim().slice(-300)}`);
}

// ---- the run ----------------------------------------------------------------------------------

const secs = (ms: number): number => Math.round(ms / 100) / 10;

const endOf = (r: ExecutionRecord): string => {
  if (r.status === 'SUCCEEDED') return `SUCCEEDED (${(r.output as { outcome?: string } | undefined)?.outcome ?? '?'})`;
  return `${r.status} at ${r.failedState ?? '?'} (${r.error ?? '?'})`;
};

const expectedEnd = (fault: Fault): string => {
  const e = EXPECTED_END[fault];
  return e.status === 'SUCCEEDED' ? `SUCCEEDED (${e.outcome ?? '?'})` : `${e.status} at ${e.failedState ?? '?'} (${e.error ?? '?'})`;
};

const event = (instanceId: string, state: 'running' | 'terminated'): unknown =>
  ec2StateEvent({ instanceId, state, account: world.LAB_ACCOUNT, region: world.LAB_REGION });

const dcIps = (): string[] => world.labState().domain.domainControllers.map((d) => d.ip);

/** Each fault's lever (inside its instance, the DC or the fleet): inject before the event, remove before the redrive. */
const LEVERS: Partial<Record<Fault, { inject: (id: string, ctx: Ctx) => Promise<void>; remove: (id: string, ctx: Ctx) => Promise<void> }>> = {
  'ou-create-denied': {
    // The OU (made before the launch, named by the instance's OU tag) denies creating computers.
    inject: (_id, ctx) => setCreateDenied(deniedOu(ctx), true),
    remove: (_id, ctx) => setCreateDenied(deniedOu(ctx), false),
  },
  'tag-write-refused': {
    inject: (id, ctx) => Promise.resolve(void ctx.fleet.refusingJoinedTag.add(id)),
    remove: (id, ctx) => Promise.resolve(void ctx.fleet.refusingJoinedTag.delete(id)),
  },
  'claims-refused': {
    inject: (id, ctx) => Promise.resolve(void ctx.claims.refusingTake.add(id)),
    remove: (id, ctx) => Promise.resolve(void ctx.claims.refusingTake.delete(id)),
  },
  'dc-unreachable': {
    inject: async (id) => {
      for (const ip of dcIps()) await must(world.exec(id, ['ip', 'route', 'add', 'blackhole', `${ip}/32`]), 'blackhole a DC');
    },
    remove: async (id) => {
      for (const ip of dcIps()) await must(world.exec(id, ['ip', 'route', 'del', 'blackhole', `${ip}/32`]), 'remove a blackhole');
    },
  },
  'join-command-fails': {
    inject: (id) => must(world.exec(id, ['sh', '-c', 'mount --bind /bin/false "$(command -v adcli)"']), 'break adcli'),
    remove: (id) => must(world.exec(id, ['sh', '-c', 'umount "$(command -v adcli)"']), 'restore adcli'),
  },
  'ssm-never-online': {
    inject: () => Promise.resolve(), // launched with an agent that never comes Online
    remove: (id) =>
      Promise.resolve(
        updateState((s) => {
          const r = s.instances[id];
          if (r) r.ssmOnlineAt = new Date().toISOString();
        }),
      ),
  },
};

/** Blackhole routes (root namespace, lab DC addresses only) while fn runs: the tasks' LDAP cannot reach any DC. */
async function dcsDownForTasks(ms: number): Promise<void> {
  const ips = dcIps();
  for (const ip of ips) assertLabRoute(`ldaps://${ip}`);
  const added: string[] = [];
  try {
    for (const ip of ips) {
      await promisify(execFile)('ip', ['route', 'add', 'blackhole', `${ip}/32`]);
      added.push(ip);
    }
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    for (const ip of added) await promisify(execFile)('ip', ['route', 'del', 'blackhole', `${ip}/32`]);
  }
}

async function must(p: Promise<{ exitCode: number; stderr: string }>, what: string): Promise<void> {
  const r = await p;
  if (r.exitCode !== 0) throw new Error(`chaos: ${what}: exit ${r.exitCode}: ${r.stderr.trim().slice(-300)}`);
}

const deniedOu = (ctx: Ctx): string => {
  if (!ctx.deniedOu) throw new Error('chaos: ou-create-denied has no OU');
  return ctx.deniedOu;
};

interface Ctx {
  /** The sub-OU of the managed OU that ou-create-denied's instance is routed to (its OU tag). */
  deniedOu?: string;
  runtime: LabRuntime;
  fleet: OtpRecordingFleet;
  claims: LeverClaims;
  store: ExecutionStore;
  planted: Map<string, string>;
  violations: string[];
  checks: number;
  runs: number;
}

/**
 * The invariants for one instance at one point ("after <when>"): the parameter store, kinit with
 * every OTP it ever had, our objects (at most / exactly), the planted objects.
 */
async function check(ctx: Ctx, fault: Fault, instanceId: string, when: string, objects: 'at-most-one' | 'one' | 'none'): Promise<void> {
  const v = (text: string): void => void ctx.violations.push(`${fault} ${instanceId}, after ${when}: ${text}`);
  ctx.checks += 1;
  if (readParameter(labJoinSecretName(instanceId)) !== undefined) v('its one-time password parameter is still in the parameter store');
  const name = computerName(instanceId);
  for (const [i, otp] of ctx.fleet.otpsOf(instanceId).entries()) {
    ctx.checks += 1;
    if (await kinitAccepts(name, otp)) v(`one-time password #${i + 1} still authenticates as ${name}$ (kinit)`);
  }
  const ours = [...(await objectsWithMarker(instanceId)).keys()].filter((dn) => !ctx.planted.has(dn));
  ctx.checks += 1;
  if (objects === 'one' && ours.length !== 1) v(`${ours.length} objects of ours (ldapsearch), not exactly one: ${ours.join('; ')}`);
  if (objects === 'at-most-one' && ours.length > 1) v(`${ours.length} objects of ours (ldapsearch): ${ours.join('; ')}`);
  if (objects === 'none' && ours.length !== 0) v(`its object is left after its leave: ${ours.join('; ')}`);
  for (const [dn, guid] of ctx.planted) {
    ctx.checks += 1;
    const now = await guidOf(dn);
    if (now !== guid) v(`the planted object ${dn} was ${now === undefined ? 'deleted' : 'replaced'}`);
  }
}

/**
 * The instance's own join still works (the machine password adcli set is in its keytab and the
 * DC accepts it: `adcli testjoin`; SSSD resolves a domain user: `getent passwd alice`).
 */
async function checkJoinIntact(ctx: Ctx, fault: Fault, instanceId: string, when: string): Promise<void> {
  const domain = world.labState().domain.dnsDomain;
  for (const argv of [['adcli', 'testjoin', `--domain=${domain}`], ['getent', 'passwd', 'alice']]) {
    ctx.checks += 1;
    const r = await world.exec(instanceId, argv, { timeoutMs: 30_000 });
    if (r.exitCode !== 0) ctx.violations.push(`${fault} ${instanceId}, after ${when}: \`${argv.join(' ')}\` in the instance failed (exit ${r.exitCode}): ${r.stderr.trim().slice(-200)}`);
  }
}

/** Refused at Read instance: no one-time password was ever written, no claim, no status tag, no command. */
async function checkNoSideEffect(ctx: Ctx, fault: Fault, instanceId: string): Promise<void> {
  const v = (text: string): void => void ctx.violations.push(`${fault} ${instanceId}, after its first run: ${text}`);
  ctx.checks += 4;
  if (ctx.fleet.otpsOf(instanceId).length !== 0) v('a one-time password was written');
  const claim = await ctx.claims.get(claimKey({ account: world.LAB_ACCOUNT, region: world.LAB_REGION, instanceId }));
  if (claim !== undefined) v(`a claim exists (${claim.status}, ${claim.execution})`);
  const tags = (await ctx.fleet.describeInstance(instanceId))?.tags ?? {};
  const ours = Object.keys(tags).filter((k) => k.startsWith(STATUS_PREFIX));
  if (ours.length > 0) v(`status tags were written: ${ours.join(', ')}`);
  if (ctx.fleet.listCommands(instanceId).length > 0) v('a command was sent');
}

/** The cleanup run a failed join started (lab/sim/cleanup.ts names it `<join>-clean-<redriveCount>`). */
function checkCleanup(ctx: Ctx, fault: Fault, record: ExecutionRecord): void {
  if (record.status === 'SUCCEEDED') return;
  ctx.checks += 1;
  const cleanup = ctx.store.get(`${record.name.slice(0, 70)}-clean-${record.redriveCount}`, 'join-cleanup');
  if (cleanup?.status !== 'SUCCEEDED') ctx.violations.push(`${fault}: the cleanup of ${record.name} is ${cleanup ? endOf(cleanup) : 'missing'}`);
}

async function waitForJoinScript(fleet: LabFleet, instanceId: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (let i = 0; i < 10_000 && Date.now() - t0 < timeoutMs; i++) {
    if (fleet.listCommands(instanceId).some((c) => c.document === 'join' && c.status === 'InProgress')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`chaos: the join command of ${instanceId} did not start within ${timeoutMs / 1000} s`);
}

let names = 0;
const runName = (workflow: string, id: string, tag: string): string => `${workflow}-${id}-${tag}-${Date.now().toString(36)}${(names++).toString(36)}`;

async function runFault(ctx: Ctx, fault: Fault, instanceId: string): Promise<FaultResult> {
  const t0 = Date.now();
  await LEVERS[fault]?.inject(instanceId, ctx);
  let first: ExecutionRecord;
  if (fault === 'duplicate-event') {
    const both = await Promise.all([1, 2].map((n) => ctx.runtime.start('join', event(instanceId, 'running'), runName('join', instanceId, `dup${n}`))));
    ctx.runs += 2;
    const joined = both.filter((r) => r.status === 'SUCCEEDED' && (r.output as { outcome?: string } | undefined)?.outcome === 'joined');
    const other = both.find((r) => !joined.includes(r));
    ctx.checks += 1;
    if (joined.length !== 1) ctx.violations.push(`duplicate-event ${instanceId}: ${joined.length} executions joined (${both.map(endOf).join(', ')}), not one`);
    else if (other && !['SUCCEEDED (in-progress)', 'SUCCEEDED (already-joined)'].includes(endOf(other)))
      ctx.violations.push(`duplicate-event ${instanceId}: the duplicate ended ${endOf(other)}, not SUCCEEDED (in-progress or already-joined)`);
    first = joined[0] ?? (both[0] as ExecutionRecord);
  } else if (fault === 'dc-down-for-tasks') {
    // The routes go in before the event and stay 15 s: Read instance and the SSM check need no
    // LDAP (the SSM Online board may take one sweep plus one poll, ≤ ~9 s, to say Online), Prepare
    // fails on its first attempt(s) and its retries (5 s, x2, 60 s max, 6 attempts, full jitter) recover.
    const down = dcsDownForTasks(15_000);
    await new Promise((r) => setTimeout(r, 200));
    first = await ctx.runtime.start('join', event(instanceId, 'running'), runName('join', instanceId, 'dcdown'));
    ctx.runs += 1;
    await down;
    const failures = first.events.filter((e) => e.type === 'StateFailed' && e.state === 'Prepare computer object' && e.error === 'DirectoryUnavailable').length;
    ctx.checks += 1;
    if (failures === 0) ctx.violations.push(`dc-down-for-tasks ${instanceId}: Prepare never met the outage (no DirectoryUnavailable): the fault was not injected`);
  } else if (fault === 'terminated-mid-join') {
    const run = ctx.runtime.start('join', event(instanceId, 'running'), runName('join', instanceId, 'term'));
    ctx.runs += 1;
    await waitForJoinScript(ctx.fleet, instanceId, 60_000);
    await world.terminate(instanceId);
    first = await run;
  } else {
    first = await ctx.runtime.start('join', event(instanceId, 'running'), runName('join', instanceId, 'fault'));
    ctx.runs += 1;
  }
  const seconds = secs(Date.now() - t0);
  const endState = endOf(first);
  ctx.checks += 1;
  if (endState !== expectedEnd(fault)) ctx.violations.push(`${fault} ${instanceId}: ended ${endState}, expected ${expectedEnd(fault)} (${first.cause?.slice(0, 300) ?? ''})`);
  const cause = EXPECTED_END[fault].cause;
  if (cause) {
    ctx.checks += 1;
    if (!cause.test(first.cause ?? '')) ctx.violations.push(`${fault} ${instanceId}: its cause does not say what to fix (${String(cause)}): ${first.cause?.slice(0, 400) ?? '(none)'}`);
  }
  checkCleanup(ctx, fault, first);
  const joined = first.status === 'SUCCEEDED' && endState.includes('(joined)');
  // Prepare refused: no object was made. Record result refused: the instance did join (one object).
  const objects = joined || fault === 'tag-write-refused' ? 'one' : ['terminated-mid-join', 'ou-create-denied', 'claims-refused'].includes(fault) ? 'none' : 'at-most-one';
  await check(ctx, fault, instanceId, 'its first run', objects);
  if (fault === 'tag-write-refused') await checkJoinIntact(ctx, fault, instanceId, 'its first run');
  if (fault === 'claims-refused') await checkNoSideEffect(ctx, fault, instanceId);
  const result: FaultResult = { fault, instanceId, endState, seconds, joinCommands: 0, ...(first.status !== 'SUCCEEDED' && first.cause ? { cause: first.cause.slice(0, 600) } : {}) };

  if (first.status !== 'SUCCEEDED') {
    await LEVERS[fault]?.remove(instanceId, ctx);
    const t1 = Date.now();
    const after = await ctx.runtime.redrive(first);
    ctx.runs += 1;
    result.redrive = { endState: endOf(after), seconds: secs(Date.now() - t1) };
    ctx.checks += 1;
    if (result.redrive.endState !== 'SUCCEEDED (joined)') ctx.violations.push(`${fault} ${instanceId}: the redrive after the fix ended ${result.redrive.endState} (${after.cause?.slice(0, 300) ?? ''})`);
    checkCleanup(ctx, fault, after);
    await check(ctx, fault, instanceId, 'its redrive', 'one');
    await checkJoinIntact(ctx, fault, instanceId, 'its redrive');
    const claim = await ctx.claims.get(claimKey({ account: world.LAB_ACCOUNT, region: world.LAB_REGION, instanceId }));
    ctx.checks += 1;
    if (claim?.status !== 'joined' || claim.execution !== first.name) ctx.violations.push(`${fault} ${instanceId}: after its redrive the claim is ${claim ? `${claim.status} (${claim.execution})` : 'absent'}, not joined by ${first.name}`);
  }
  result.joinCommands = ctx.fleet.listCommands(instanceId).filter((c) => c.document === 'join').length;
  // The redrive resumes at the failed state: Record result sends no second join command.
  if (['duplicate-event', 'tag-write-refused', 'ou-create-denied', 'claims-refused'].includes(fault)) {
    ctx.checks += 1;
    if (result.joinCommands !== 1) ctx.violations.push(`${fault} ${instanceId}: ${result.joinCommands} join commands sent, not one`);
  }
  return result;
}

export interface ChaosOptions {
  faults?: readonly Fault[];
  log?: (line: string) => void;
}

/** Runs every fault once, concurrently (one instance each), then the leaves. The lab must be up. */
export async function runChaos(options: ChaosOptions = {}): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const faults = options.faults ?? FAULTS;
  const t0 = Date.now();
  const fleet = new OtpRecordingFleet();
  // The shortest SSM deadline the settings accept, so "never Online" fails within a minute.
  const settings = labSettings({ customize: (s) => void (s.timings.ssmOnlineDeadlineSeconds = 30) });
  const store = new ExecutionStore(path.join(world.labPaths().root, 'chaos-executions', `${Date.now()}`));
  const claims = new LeverClaims();
  const runtime = makeLabRuntime({ store, settings, deps: labDepsProvider({ fleet, claims, customize: (s) => void (s.timings.ssmOnlineDeadlineSeconds = 30) }) });
  const ctx: Ctx = { runtime, fleet, claims, store, planted: new Map(), violations: [], checks: 0, runs: 0 };

  const control = await kinitControl();
  ctx.checks += 2;
  if (!control.accepted) ctx.violations.push('the kinit probe does not accept a known good password: the OTP checks would prove nothing');
  if (!control.wrongRefused) ctx.violations.push('the kinit probe accepts a wrong password');

  if (faults.includes('ou-create-denied')) {
    ctx.deniedOu = `OU=chaos-${randomBytes(4).toString('hex')},${world.labState().domain.managedOu}`;
    await ldapTool('ldapadd', [`dn: ${ctx.deniedOu}`, 'objectClass: organizationalUnit', 'description: chaos: creating computers denied to the service account', ''].join('\n'));
  }
  const ids = new Map<Fault, string>();
  for (const fault of faults) {
    const ou: Record<string, string> = fault === 'ou-create-denied' ? { [DEFAULT_OU_TAG]: deniedOu(ctx) } : {};
    const i = await world.launch({ tags: { 'Domain:Join': 'true', Name: `chaos-${fault}`, ...ou }, ssmDelaySeconds: fault === 'ssm-never-online' ? 10 * 86400 : 0 });
    ids.set(fault, i.instanceId);
  }
  log(`launched ${ids.size} instances`);
  // A forged marker on the instance that is terminated mid-join (its leave must not take it), else the first.
  const forgedFor = ids.get('terminated-mid-join') ?? [...ids.values()][0] ?? 'i-00000000000000000';
  ctx.planted = new Map([...(await plantForeign(forgedFor))].map(([dn, g]) => [dn.toLowerCase(), g]));
  // The object search can see what it must count: the forged object carries that marker.
  ctx.checks += 1;
  const seen = await objectsWithMarker(forgedFor);
  if (![...ctx.planted.keys()].some((dn) => seen.has(dn))) ctx.violations.push('the marker search (ldapsearch) does not see the planted forged-marker object: the object counts would prove nothing');

  const results: FaultResult[] = [];
  const one = async (fault: Fault): Promise<FaultResult> => {
    const r = await runFault(ctx, fault, ids.get(fault) as string);
    log(`${fault}: ${r.endState} in ${r.seconds} s${r.redrive ? `; redrive ${r.redrive.endState} in ${r.redrive.seconds} s` : ''}`);
    return r;
  };
  const collect = (list: readonly Fault[], settled: PromiseSettledResult<FaultResult>[]): void => {
    for (const [i, s] of settled.entries()) {
      if (s.status === 'fulfilled') results.push(s.value);
      else ctx.violations.push(`${list[i] ?? '?'}: the scenario broke: ${s.reason instanceof Error ? s.reason.message : String(s.reason)}`);
    }
  };
  // The outage of every DC for the tasks (15 s) would reach the others' LDAP too: they start
  // after it, except ssm-never-online, whose first LDAP call (its cleanup) comes 30 s or more later.
  const alone: Fault[] = faults.filter((f) => f === 'dc-down-for-tasks');
  const early: Fault[] = faults.filter((f) => f === 'ssm-never-online');
  const after = faults.filter((f) => !alone.includes(f) && !early.includes(f));
  await Promise.all([
    (async () => {
      collect(alone, await Promise.allSettled(alone.map(one)));
      collect(after, await Promise.allSettled(after.map(one)));
    })(),
    (async () => collect(early, await Promise.allSettled(early.map(one))))(),
  ]);
  await fleet.settle();

  // Every instance goes; its leave runs (also for the one terminated mid-join).
  const tl = Date.now();
  const leaves = await Promise.all(
    [...ids.entries()].map(async ([fault, id]) => {
      await world.terminate(id).catch(() => undefined);
      const r = await ctx.runtime.start('leave', event(id, 'terminated'), runName('leave', id, 'end'));
      ctx.runs += 1;
      return { fault, id, r };
    }),
  );
  const leaveSeconds = secs(Date.now() - tl);
  for (const { fault, id, r } of leaves) {
    ctx.checks += 1;
    if (r.status !== 'SUCCEEDED') ctx.violations.push(`${fault} ${id}: its leave ended ${endOf(r)}`);
    await check(ctx, fault, id, 'its leave', 'none');
  }
  // Every join that failed was redriven to success (none left FAILED).
  const joins = store.list({ workflow: 'join' });
  ctx.checks += 1;
  for (const j of joins) if (j.status !== 'SUCCEEDED') ctx.violations.push(`join ${j.name} is left ${endOf(j)}`);
  const cleanups = store.list({ workflow: 'join-cleanup' }).length;

  // The planted objects go (they were ours to plant); the control object went already.
  for (const dn of ctx.planted.keys()) await ldapTool('ldapdelete', `${dn}\n`).catch((err: unknown) => ctx.violations.push(`could not remove the planted ${dn}: ${String(err)}`));
  // The denied OU goes too: empty, as its instance's leave deleted its object.
  if (ctx.deniedOu) await ldapTool('ldapdelete', `${ctx.deniedOu}\n`).catch((err: unknown) => ctx.violations.push(`could not remove ${ctx.deniedOu ?? ''} (not empty after the leave?): ${String(err)}`));
  const paramsDir = world.labPaths().paramsDir;
  const parametersLeft = fs.existsSync(paramsDir) ? fs.readdirSync(paramsDir).length : 0;
  const otpsTried = [...ids.values()].reduce((n, id) => n + fleet.otpsOf(id).length, 0);
  return { runs: ctx.runs, cleanups, faults: results.length, checks: ctx.checks, violations: ctx.violations, results, leaveSeconds, totalSeconds: secs(Date.now() - t0), otpsTried, parametersLeft };
}

/** The figures, as a table. */
export function chaosTable(r: ChaosReport): string {
  const rows = r.results.map((x) => [x.fault, x.endState, `${x.seconds.toFixed(1)} s`, x.redrive ? `${x.redrive.endState} in ${x.redrive.seconds.toFixed(1)} s` : '-', String(x.joinCommands)]);
  const header = ['FAULT', 'FIRST RUN ENDED', 'TIME', 'REDRIVE AFTER THE FIX', 'JOIN COMMANDS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [
    line(header),
    ...rows.map(line),
    '',
    `runs ${r.runs} (+ ${r.cleanups} cleanups), faults injected ${r.faults}, checks ${r.checks}, invariant violations ${r.violations.length}`,
    `one-time passwords tried with kinit ${r.otpsTried} (none may authenticate); parameters left in the lab parameter store ${r.parametersLeft}`,
    `leaves ${r.leaveSeconds.toFixed(1)} s; total ${r.totalSeconds.toFixed(1)} s`,
    ...r.violations.map((v) => `VIOLATION: ${v}`),
  ].join('\n');
}
