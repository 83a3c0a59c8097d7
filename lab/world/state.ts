/**
 * The lab's state file (`<lab dir>/state.json`): the domain, the DC and every instance ever
 * launched (terminated ones are kept, like EC2 keeps them for a while). Written atomically;
 * read-modify-write goes through a lock file with a bounded wait. Never holds a password:
 * only the paths of the 0600 files that do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InstanceState } from '../../tasks/lib/ports';
import { labPaths, type LabPaths } from './paths';

export interface DomainInfo {
  realm: string;
  dnsDomain: string;
  netbiosName: string;
  baseDn: string;
  managedOu: string;
  dnsZoneDn: string;
  ldapsUrl: string;
  caFile: string;
  bindDn: string;
  bindPasswordFile: string;
  adminPasswordFile: string;
  dcIp: string;
  dcFqdn: string;
  /** Every DC of the lab (DC1 first): the product's settings list them all. */
  domainControllers: { name: string; hostName: string; ip: string }[];
  domainSid: string;
  loginGroup: string;
  /** Seeded users and the files holding their passwords. */
  users: Record<string, { dn: string; passwordFile: string; memberOfLoginGroup: boolean; uidNumber?: number; gidNumber?: number }>;
}

export interface DcInfo {
  /** dc1, dc2 (absent in states written before there were two). */
  name?: string;
  hostName?: string;
  ip?: string;
  /** Stopped on purpose (`adjoin lab dc stop`): the lab counts as up without its samba. */
  stopped?: boolean;
  /** Its link drops every packet (`adjoin lab dc isolate`). */
  isolated?: boolean;
  netns: string;
  mountNsFile: string;
  utsNsFile: string;
  /** Root-namespace view of the DC's private /run/samba (holds samba.pid). */
  runDir: string;
}

export interface InstanceRecord {
  instanceId: string;
  state: InstanceState;
  tags: Record<string, string>;
  ip: string;
  hostname: string;
  privateDnsName: string;
  netns: string;
  mountNsFile: string;
  utsNsFile: string;
  dir: string;
  /** Private file the instance's krb5.conf names as default keytab. */
  keytabFile: string;
  launchTime: string;
  /** SSM ping turns Online at this time (launch + configured delay). */
  ssmOnlineAt: string;
  terminatedAt?: string;
  /** Runs from this distribution's root filesystem (lab/world/rootfs.ts); absent: the machine's own. */
  distro?: string;
  /** Its lab Region (`launch({ region })`); absent: LAB_REGION. */
  region?: string;
}

export interface LabState {
  version: 1;
  dir: string;
  createdAt: string;
  upSeconds?: number;
  account: string;
  region: string;
  hostIp: string;
  domain: DomainInfo;
  /** DC1 (holds the lab bridge). */
  dc: DcInfo;
  /** Every DC, DC1 first (DC1's record is the same as `dc`). */
  dcs?: DcInfo[];
  /** Inbound replication on DC2 is switched off (`adjoin lab replication pause`). */
  replicationPaused?: boolean;
  instances: Record<string, InstanceRecord>;
}

export function readState(paths: LabPaths = labPaths()): LabState | undefined {
  let text: string;
  try {
    text = fs.readFileSync(paths.stateFile, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as LabState;
  } catch {
    return undefined;
  }
}

export function writeState(state: LabState, paths: LabPaths = labPaths()): void {
  fs.mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  const tmp = `${paths.stateFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, paths.stateFile);
}

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** Runs fn holding a lock file (across processes; bounded: 5 s, then a stale lock is broken). */
export function withLockFile<T>(lockFile: string, fn: () => T): T {
  const deadline = Date.now() + 5000;
  let fd: number | undefined;
  for (let i = 0; i < 500 && fd === undefined; i++) {
    try {
      fd = fs.openSync(lockFile, 'wx', 0o600);
    } catch {
      if (Date.now() > deadline) {
        fs.rmSync(lockFile, { force: true }); // stale lock of a crashed process
      } else sleepSync(10);
    }
  }
  if (fd === undefined) throw new Error(`lab: could not lock ${lockFile}`);
  try {
    return fn();
  } finally {
    fs.closeSync(fd);
    fs.rmSync(lockFile, { force: true });
  }
}

/** Read-modify-write of the state under a lock file (bounded: 5 s, then a stale lock is broken). */
export function updateState<T>(fn: (s: LabState) => T, paths: LabPaths = labPaths()): T {
  return withLockFile(paths.lockFile, () => {
    const s = readState(paths);
    if (!s) throw new Error(`lab: not up (no state in ${paths.root}); run up() first`);
    const out = fn(s);
    writeState(s, paths);
    return out;
  });
}

/** Writes a secret file (0600) and returns its path. The value is never logged. */
export function writeSecretFile(file: string, value: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, value, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}
