/**
 * The lab world: a real Samba AD DC and Linux "instances" in namespaces on this machine, all
 * state under one folder (`.lab/`, or $ADJOIN_LAB_DIR). Needs root. One lab per machine.
 *
 *   await up();                          // DC provisioned, seeded, answering LDAPS
 *   const i = await launch({ tags: { 'Domain:Join': 'true' } });
 *   await exec(i.instanceId, ['getent', 'passwd', 'alice']);
 *   await terminate(i.instanceId);
 *   await down();                        // nothing left behind
 */
import * as fs from 'node:fs';
import { LAB_ACCOUNT, LAB_REGION, LAB_REGIONS, HOST_IP, DC_NETNS, labPaths, type LabPaths } from './paths';
import { cleanupEverything, machineExec, netnsList, type CleanupReport } from './ns';
import { createDcNetwork, provisionDc } from './dc';
import { dcOf, isolate, joinDc2, pauseReplication, reconnect, resumeReplication, sambaPid, startSamba, stopSamba } from './dcs';
import { createInstance, destroyInstance, instanceExec, newInstanceRecord } from './instance';
import { DISTRO_NAMES, ensureRootfs, isDistroName, type DistroName } from './rootfs';
import { readState, updateState, writeState, type DcInfo, type InstanceRecord, type LabState } from './state';
import { run, sleep, type ExecResult } from './sh';
import { clearOwner, otherLab, withLabLock, writeOwner } from './owner';

export type { ExecResult } from './sh';
export type { LabState, InstanceRecord, DomainInfo } from './state';
export { labPaths, labDir, LAB_ACCOUNT, LAB_REGION, LAB_REGION_2, LAB_REGIONS } from './paths';
export { leftovers } from './ns';

export interface LabStatus {
  up: boolean;
  dir: string;
  account: string;
  region: string;
  upSeconds?: number;
  domain?: {
    realm: string;
    dnsDomain: string;
    netbiosName: string;
    baseDn: string;
    managedOu: string;
    ldapsUrl: string;
    caFile: string;
    bindDn: string;
    bindPasswordFile: string;
    dcIp: string;
    dcFqdn: string;
    domainControllers: DcStatus[];
    replicationPaused: boolean;
    domainSid: string;
    loginGroup: string;
    users: string[];
  };
  instances: InstanceStatus[];
}

export interface DcStatus {
  name: string;
  hostName: string;
  ip: string;
  /** running: samba answers; stopped: stopped on purpose; down: samba died. */
  state: 'running' | 'stopped' | 'down';
  isolated: boolean;
}

export interface InstanceStatus {
  instanceId: string;
  state: InstanceRecord['state'];
  tags: Record<string, string>;
  ip: string;
  hostname: string;
  netns: string;
  mountNsFile: string;
  launchTime: string;
  computerName?: string;
  /** The distribution it runs from (`launch({ distro })`); absent: the machine's own Debian. */
  distro?: string;
  /** Its lab Region (`launch({ region })`); absent: LAB_REGION. */
  region?: string;
}

export interface UpOptions {
  /** Progress lines (no secrets are ever passed). Default: silent. */
  log?: (line: string) => void;
  /** When another folder's lab is up on this machine, wait this long for it to go (default 0: fail at once). */
  waitForOtherLabMs?: number;
  /** Domain controllers: 2 (default; DC2 a replica of DC1) or 1. An up lab is left as it is. */
  dcs?: 1 | 2;
}

const quiet = (): void => undefined;

const dcsOf = (s: LabState): DcInfo[] => s.dcs ?? [{ ...s.dc, name: 'dc1' }];

/**
 * True when the state file and every DC's namespaces are there, and each DC's samba runs
 * (or was stopped on purpose with stopDc: the lab stays up for failover tests).
 */
export async function isUp(paths: LabPaths = labPaths()): Promise<boolean> {
  const s = readState(paths);
  if (!s) return false;
  const names = await netnsList();
  return names.includes(DC_NETNS) && dcsOf(s).every((dc) => names.includes(dc.netns) && fs.existsSync(dc.mountNsFile) && (dc.stopped === true || sambaPid(dc) !== undefined));
}

async function waitForOtherLab(dir: string, waitMs: number, log: (l: string) => void): Promise<void> {
  const t0 = Date.now();
  for (let i = 0; i < 100_000; i++) {
    const other = otherLab(dir);
    if (!other) return;
    if (Date.now() - t0 >= waitMs)
      throw new Error(
        `lab: another lab is up on this machine (state folder ${other.dir}, since ${other.since}); there can be one lab per machine. ` +
          `Take it down first: ADJOIN_LAB_DIR=${other.dir} and down() (or \`adjoin lab down\`), or down({ force: true }) to clean everything.`,
      );
    if (i === 0) log(`waiting for the lab in ${other.dir} to go down`);
    await sleep(2000);
  }
}

/**
 * Brings the lab up. Already up and healthy: returns its status. Anything else left on the
 * machine (a crashed lab, a half-made one) is cleaned first by naming convention, unless it is
 * another folder's live lab: then up() waits (bounded) or says exactly what to do.
 */
export async function up(opts: UpOptions = {}): Promise<LabStatus> {
  const log = opts.log ?? quiet;
  const paths = labPaths();
  if (await isUp(paths)) {
    log('lab already up');
    return status();
  }
  await waitForOtherLab(paths.root, opts.waitForOtherLabMs ?? 0, log);
  await withLabLock(async () => {
    if (await isUp(paths)) return; // another process of this folder brought it up meanwhile
    await waitForOtherLab(paths.root, 0, log);
    const t0 = Date.now();
    const c = await cleanupEverything(paths, true);
    if (c.problems.length) throw new Error(`lab: could not clean the machine before up: ${c.problems.join('; ')}. Clean by hand (lab/world/README.md).`);
    if (c.netns.length || c.killed || c.unmounted) log(`cleaned leftovers: ${c.netns.length} netns, ${c.killed} processes, ${c.unmounted} mounts`);
    fs.mkdirSync(paths.root, { recursive: true, mode: 0o700 });
    writeOwner(paths.root);
    try {
      await createDcNetwork();
      const { dc, domain } = await provisionDc(paths, log);
      const dcs: DcInfo[] = [dc];
      if ((opts.dcs ?? 2) === 2) {
        const dc2 = await joinDc2(paths, domain, log);
        dcs.push(dc2);
        domain.domainControllers.push({ name: 'dc2', hostName: dc2.hostName ?? '', ip: dc2.ip ?? '' });
      }
      const state: LabState = {
        version: 1,
        dir: paths.root,
        createdAt: new Date().toISOString(),
        upSeconds: Math.round((Date.now() - t0) / 100) / 10,
        account: LAB_ACCOUNT,
        region: LAB_REGION,
        hostIp: HOST_IP,
        domain,
        dc,
        dcs,
        instances: {},
      };
      writeState(state, paths);
      log(`lab up in ${state.upSeconds} s`);
    } catch (err) {
      await cleanupEverything(paths, true);
      clearOwner(paths.root);
      throw err;
    }
  });
  return status();
}

/**
 * Tears everything down (processes, namespaces, mounts, state). Idempotent; works after a crash.
 * Another folder's live lab is left alone (only this folder's state is removed) unless `force`.
 */
export async function down(opts: { keepState?: boolean; force?: boolean } = {}): Promise<CleanupReport> {
  const paths = labPaths();
  return withLabLock(async () => {
    const users = leaseHolders(paths).filter((pid) => pid !== process.pid);
    if (users.length && !opts.force)
      return { killed: 0, netns: [], unmounted: 0, problems: [`the lab is in use by process(es) ${users.join(' ')} (lease()): left up (down({ force: true }) takes it down anyway)`] };
    const other = otherLab(paths.root);
    if (other && !opts.force) {
      if (!opts.keepState) fs.rmSync(paths.root, { recursive: true, force: true });
      return { killed: 0, netns: [], unmounted: 0, problems: [`the lab that is up belongs to ${other.dir}: left alone (down({ force: true }) cleans it too)`] };
    }
    const report = await cleanupEverything(paths, !opts.keepState);
    clearOwner(paths.root);
    if (other) clearOwner(other.dir);
    return report;
  });
}

const leaseDir = (paths: LabPaths): string => `${paths.root}/leases`;

/** PIDs of live processes holding a lease on this lab (dead ones' leases are dropped). */
export function leaseHolders(paths: LabPaths = labPaths()): number[] {
  let files: string[];
  try {
    files = fs.readdirSync(leaseDir(paths));
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const f of files) {
    const pid = Number(f);
    let live: boolean;
    try {
      live = Number.isInteger(pid) && pid > 0 && process.kill(pid, 0);
    } catch {
      live = false;
    }
    if (live) pids.push(pid);
    else fs.rmSync(`${leaseDir(paths)}/${f}`, { force: true });
  }
  return pids;
}

/**
 * Marks the lab as in use by this process (tests, a demo): down() from another process leaves
 * it up until released (or the process dies). Returns the release function.
 */
export function lease(): () => void {
  const paths = labPaths();
  fs.mkdirSync(leaseDir(paths), { recursive: true, mode: 0o700 });
  const file = `${leaseDir(paths)}/${process.pid}`;
  fs.writeFileSync(file, new Date().toISOString(), { mode: 0o600 });
  return () => fs.rmSync(file, { force: true });
}

function computerNameOf(rec: InstanceRecord): Promise<string | undefined> {
  if (!fs.existsSync(rec.keytabFile)) return Promise.resolve(undefined);
  return run(['klist', '-k', rec.keytabFile], { timeoutMs: 5000 }).then((r) => {
    const m = /\s([A-Za-z0-9-]{1,15})\$@/.exec(r.stdout);
    return m?.[1];
  });
}

/** Machine-readable status: the domain and every instance (terminated ones too). */
export async function status(): Promise<LabStatus> {
  const paths = labPaths();
  const s = readState(paths);
  if (!s) return { up: false, dir: paths.root, account: LAB_ACCOUNT, region: LAB_REGION, instances: [] };
  const upNow = await isUp(paths);
  const d = s.domain;
  const instances: InstanceStatus[] = [];
  for (const r of Object.values(s.instances)) {
    const computerName = r.state === 'running' ? await computerNameOf(r) : undefined;
    instances.push({
      instanceId: r.instanceId,
      state: r.state,
      tags: r.tags,
      ip: r.ip,
      hostname: r.hostname,
      netns: r.netns,
      mountNsFile: r.mountNsFile,
      launchTime: r.launchTime,
      ...(computerName ? { computerName } : {}),
      ...(r.distro ? { distro: r.distro } : {}),
      ...(r.region ? { region: r.region } : {}),
    });
  }
  return {
    up: upNow,
    dir: s.dir,
    account: s.account,
    region: s.region,
    upSeconds: s.upSeconds,
    domain: {
      realm: d.realm,
      dnsDomain: d.dnsDomain,
      netbiosName: d.netbiosName,
      baseDn: d.baseDn,
      managedOu: d.managedOu,
      ldapsUrl: d.ldapsUrl,
      caFile: d.caFile,
      bindDn: d.bindDn,
      bindPasswordFile: d.bindPasswordFile,
      dcIp: d.dcIp,
      dcFqdn: d.dcFqdn,
      domainControllers: dcsOf(s).map((dc) => ({
        name: dc.name ?? 'dc1',
        hostName: dc.hostName ?? d.dcFqdn,
        ip: dc.ip ?? d.dcIp,
        state: sambaPid(dc) !== undefined ? 'running' : dc.stopped ? 'stopped' : 'down',
        isolated: dc.isolated === true,
      })),
      replicationPaused: s.replicationPaused === true,
      domainSid: d.domainSid,
      loginGroup: d.loginGroup,
      users: Object.keys(d.users),
    },
    instances,
  };
}

/** The raw state (with instance records), or throws when the lab is not up. */
export function labState(): LabState {
  const s = readState();
  if (!s) throw new Error(`lab: not up (no state in ${labPaths().root}); run up() first`);
  return s;
}

export interface LaunchOptions {
  tags?: Record<string, string>;
  /** SSM ping turns Online this long after launch (default: $ADJOIN_LAB_SSM_DELAY_SECONDS or 0). */
  ssmDelaySeconds?: number;
  /**
   * Run from another distribution's root filesystem (lab/world/rootfs.ts, e.g. 'trixie'),
   * built once with debootstrap and cached; default: the machine's own.
   */
  distro?: DistroName;
  /** Its lab Region, one of LAB_REGIONS (default LAB_REGION; only another one is recorded). */
  region?: string;
  /** Progress lines (the one-time rootfs build says so). */
  log?: (line: string) => void;
}

/** Launches an instance: namespaces, private files, state 'running'. */
export async function launch(opts: LaunchOptions = {}): Promise<InstanceStatus> {
  const paths = labPaths();
  if (!(await isUp(paths))) throw new Error('lab: not up; run up() first');
  const envDelay = Number(process.env.ADJOIN_LAB_SSM_DELAY_SECONDS ?? '0');
  const delay = opts.ssmDelaySeconds ?? (Number.isFinite(envDelay) && envDelay >= 0 ? envDelay : 0);
  if (opts.distro !== undefined && !isDistroName(opts.distro)) throw new Error(`lab: unknown distribution ${String(opts.distro)} (known: ${DISTRO_NAMES.join(', ')})`);
  if (opts.region !== undefined && !LAB_REGIONS.includes(opts.region)) throw new Error(`lab: unknown lab Region ${String(opts.region)} (known: ${LAB_REGIONS.join(', ')})`);
  const region = opts.region !== undefined && opts.region !== LAB_REGION ? opts.region : undefined;
  const rootfs = opts.distro ? (await ensureRootfs(opts.distro, { log: opts.log })).dir : undefined;
  const rec = updateState((s) => {
    const r = newInstanceRecord(paths, s, opts.tags ?? {}, delay);
    if (opts.distro) r.distro = opts.distro;
    if (region) {
      r.region = region;
      r.privateDnsName = `${r.hostname}.${region}.compute.internal`;
    }
    s.instances[r.instanceId] = r;
    return r;
  }, paths);
  try {
    await createInstance(paths, rec, rootfs);
  } catch (err) {
    await destroyInstance(rec);
    updateState((s) => {
      const r = s.instances[rec.instanceId];
      if (r) {
        r.state = 'terminated';
        r.terminatedAt = new Date().toISOString();
      }
    }, paths);
    throw err;
  }
  const launched = updateState((s) => {
    const r = s.instances[rec.instanceId];
    if (!r) throw new Error(`lab: instance ${rec.instanceId} vanished from state`);
    r.state = 'running';
    return r;
  }, paths);
  return { instanceId: launched.instanceId, state: launched.state, tags: launched.tags, ip: launched.ip, hostname: launched.hostname, netns: launched.netns, mountNsFile: launched.mountNsFile, launchTime: launched.launchTime, ...(launched.distro ? { distro: launched.distro } : {}), ...(launched.region ? { region: launched.region } : {}) };
}

/** Terminates an instance: stops its processes, removes its namespaces, keeps the record. */
export async function terminate(instanceId: string): Promise<void> {
  const paths = labPaths();
  const rec = updateState((s) => {
    const r = s.instances[instanceId];
    if (!r) throw new Error(`lab: unknown instance ${instanceId}`);
    if (r.state !== 'terminated') r.state = 'shutting-down';
    return r;
  }, paths);
  const problems = await destroyInstance(rec);
  updateState((s) => {
    const r = s.instances[instanceId];
    if (r) {
      r.state = 'terminated';
      r.terminatedAt ??= new Date().toISOString();
    }
  }, paths);
  if (problems.length) throw new Error(`lab: terminate ${instanceId}: ${problems.join('; ')}`);
}

/** Sets (merges) tags on an instance record. */
export function setTags(instanceId: string, tags: Record<string, string>): void {
  updateState((s) => {
    const r = s.instances[instanceId];
    if (!r) throw new Error(`lab: unknown instance ${instanceId}`);
    r.tags = { ...r.tags, ...tags };
  });
}

/** Runs argv inside a running instance (mount, UTS and network namespaces), time-bounded. */
export async function exec(instanceId: string, argv: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  const r = labState().instances[instanceId];
  if (!r) throw new Error(`lab: unknown instance ${instanceId}`);
  if (r.state !== 'running') throw new Error(`lab: instance ${instanceId} is ${r.state}`);
  return instanceExec(r, argv, opts);
}

/** Runs argv inside the DC's namespaces (for tests that check the directory with ldapsearch). */
export async function dcExec(argv: string[], opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv; dc?: string } = {}): Promise<ExecResult> {
  const s = labState();
  return machineExec(opts.dc ? dcOf(s, opts.dc) : s.dc, argv, opts);
}

/**
 * `ldapsearch` inside the DC namespace, bound as the service account over LDAPS with the CA
 * verified (independent of the product's LDAP code). Returns the LDIF.
 */
export async function dcLdapSearch(base: string, filter: string, attrs: string[] = [], opts: { scope?: 'base' | 'one' | 'sub'; controls?: string[]; asAdmin?: boolean; dc?: string } = {}): Promise<ExecResult> {
  const s = labState();
  const d = s.domain;
  const host = opts.dc ? (dcOf(s, opts.dc).hostName ?? d.dcFqdn) : d.dcFqdn;
  const bind = opts.asAdmin ? ['-D', `CN=Administrator,CN=Users,${d.baseDn}`, '-y', d.adminPasswordFile] : ['-D', d.bindDn, '-y', d.bindPasswordFile];
  const controls = (opts.controls ?? []).flatMap((c) => ['-e', c]);
  return dcExec(['ldapsearch', '-LLL', '-o', 'ldif-wrap=no', '-o', 'nettimeout=5', '-H', `ldaps://${host}`, '-x', ...bind, ...controls, '-b', base, '-s', opts.scope ?? 'sub', filter, ...attrs], {
    timeoutMs: 15_000,
    env: { LDAPTLS_CACERT: '/var/lib/samba/private/tls/ca.pem', LDAPTLS_REQCERT: 'demand' },
    ...(opts.dc ? { dc: opts.dc } : {}),
  });
}

export type { CleanupReport } from './ns';

// ---- chaos levers: domain controllers and replication ---------------------------------------

/** Updates one DC's record in the state (and `dc` when it is DC1). */
function markDc(name: string, patch: Partial<DcInfo>): void {
  updateState((s) => {
    const all = dcsOf(s);
    const target = dcOf(s, name);
    for (const d of all) if ((d.name ?? 'dc1') === (target.name ?? 'dc1')) Object.assign(d, patch);
    s.dcs = all;
    if ((target.name ?? 'dc1') === 'dc1') Object.assign(s.dc, patch);
  });
}

/** Stops a DC's samba (`dc1` or `dc2`); the lab stays up. */
export async function stopDc(name: string): Promise<void> {
  const dc = dcOf(labState(), name);
  markDc(name, { stopped: true });
  await stopSamba(dc);
}

/** Starts a stopped DC's samba again and waits (bounded) for its LDAPS answer. */
export async function startDc(name: string): Promise<void> {
  const s = labState();
  const dc = dcOf(s, name);
  await startSamba(dc, s.domain);
  markDc(name, { stopped: false });
}

/** Silently drops every packet to and from a DC (a dead link, not a refused connection). */
export async function isolateDc(name: string): Promise<void> {
  const dc = dcOf(labState(), name);
  await isolate(dc);
  markDc(name, { isolated: true });
}

export async function reconnectDc(name: string): Promise<void> {
  const dc = dcOf(labState(), name);
  await reconnect(dc);
  markDc(name, { isolated: false });
}

/** DC2 stops taking changes from DC1 (new objects stay on DC1 only). Needs two DCs. */
export async function pauseReplicationToDc2(): Promise<void> {
  const s = labState();
  await pauseReplication(s);
  updateState((st) => void (st.replicationPaused = true));
}

/** DC2 takes changes again and pulls everything it missed now. */
export async function resumeReplicationToDc2(): Promise<void> {
  const s = labState();
  await resumeReplication(s);
  updateState((st) => void (st.replicationPaused = false));
}
