/**
 * Namespaces: a network namespace per machine (`ip netns`), a persistent mount + UTS namespace
 * per machine (`unshare --mount=FILE --uts=FILE`, FILE under a private bind mount), and
 * `nsenter` to run something inside. Plus the clean-up that finds everything by name, so it
 * also works after a crash.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DC_NETNS, HOST_LINK, NETNS_PREFIX, SUBNET, labPaths, type LabPaths } from './paths';
import { alive, run, runOk, sleep, type ExecResult } from './sh';

export interface Machine {
  netns: string;
  mountNsFile: string;
  utsNsFile: string;
}

/** A clean environment for commands run inside lab machines (nothing of ours leaks in). */
export const MACHINE_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  HOME: '/root',
  USER: 'root',
  LOGNAME: 'root',
};

export function nsenterArgv(m: Machine, argv: string[]): string[] {
  return ['nsenter', `--mount=${m.mountNsFile}`, `--uts=${m.utsNsFile}`, `--net=/run/netns/${m.netns}`, '--wd=/', '--', ...argv];
}

/** Runs argv inside a lab machine with a time bound. */
export function machineExec(m: Machine, argv: string[], opts: { timeoutMs?: number; input?: string; fd3?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return run(nsenterArgv(m, argv), { timeoutMs: opts.timeoutMs ?? 60_000, input: opts.input, fd3: opts.fd3, env: { ...MACHINE_ENV, ...opts.env } });
}

const sh = (script: string): string[] => ['/bin/sh', '-ec', script];
export const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Shell line that bind-mounts a private file over a machine file. A machine without the file
 * (no krb5-config package: no /etc/krb5.conf) gets an empty one first: a bind mount needs a
 * mount point, and an empty krb5.conf means the same as none.
 */
export const bindFile = (src: string, target: string): string => `[ -e ${q(target)} ] || : > ${q(target)}; mount --bind ${q(src)} ${q(target)}`;

export async function netnsList(): Promise<string[]> {
  const r = await run(['ip', 'netns', 'list'], { timeoutMs: 10_000 });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

/** Makes `<lab>/adjoin-ns` a private bind mount of itself (needed to hold mount-namespace files). */
export async function ensureNsDir(paths: LabPaths): Promise<void> {
  fs.mkdirSync(paths.nsDir, { recursive: true, mode: 0o700 });
  const mounted = mountInfo().some((m) => m.mountPoint === paths.nsDir);
  if (!mounted) await runOk(['mount', '--bind', paths.nsDir, paths.nsDir], { timeoutMs: 10_000 });
  await runOk(['mount', '--make-private', paths.nsDir], { timeoutMs: 10_000 });
}

/**
 * Creates the persistent mount + UTS namespace of a machine and runs `setup` (a shell script)
 * inside it once: the bind mounts of its private paths, its hostname. The copy of the
 * namespace-file folder inherited from the root namespace is detached inside first, so one
 * machine's namespace never pins another's.
 */
export async function createMachineNs(paths: LabPaths, name: string, netns: string, setup: string): Promise<Machine> {
  await ensureNsDir(paths);
  const m: Machine = { netns, mountNsFile: path.join(paths.nsDir, `${name}.mnt`), utsNsFile: path.join(paths.nsDir, `${name}.uts`) };
  fs.writeFileSync(m.mountNsFile, '');
  fs.writeFileSync(m.utsNsFile, '');
  await runOk(['unshare', `--mount=${m.mountNsFile}`, `--uts=${m.utsNsFile}`, '--propagation', 'private', '/bin/true'], { timeoutMs: 10_000 });
  await runOk(['nsenter', `--mount=${m.mountNsFile}`, `--uts=${m.utsNsFile}`, '--', ...sh(`umount -l ${q(paths.nsDir)}\n${setup}`)], { timeoutMs: 20_000, env: MACHINE_ENV }, `set up namespace ${name}`);
  return m;
}

export async function netnsAdd(name: string): Promise<void> {
  await runOk(['ip', 'netns', 'add', name], { timeoutMs: 10_000 });
  await runOk(['ip', '-n', name, 'link', 'set', 'lo', 'up'], { timeoutMs: 10_000 });
}

// ---- clean-up -------------------------------------------------------------------------------

export interface MountEntry {
  mountPoint: string;
  root: string;
  fsType: string;
}

export function mountInfo(file = '/proc/self/mountinfo'): MountEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const parts = line.split(' ');
    const sep = parts.indexOf('-');
    if (parts.length < 7 || sep < 0) continue;
    const unesc = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ root: unesc(parts[3] ?? ''), mountPoint: unesc(parts[4] ?? ''), fsType: parts[sep + 1] ?? '' });
  }
  return out;
}

/** Mounts the lab made in the root namespace: every `*\/adjoin-ns` folder and what is under it. */
export function labMounts(): MountEntry[] {
  return mountInfo().filter((m) => /\/adjoin-ns(\/|$)/.test(m.mountPoint));
}

const nsInode = (link: string): string | undefined => /\[(\d+)\]/.exec(link)?.[1];

/** PIDs of every process whose network or mount namespace is one of the lab's. */
export function labProcesses(netnsInodes: Set<string>, mntInodes: Set<string>): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const net = nsInode(fs.readlinkSync(`/proc/${e}/ns/net`));
      const mnt = nsInode(fs.readlinkSync(`/proc/${e}/ns/mnt`));
      if ((net && netnsInodes.has(net)) || (mnt && mntInodes.has(mnt))) pids.push(pid);
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL and wait up to 2 s more. Returns PIDs still alive. */
export async function killAll(pids: number[], graceMs = 3000): Promise<number[]> {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const t0 = Date.now();
  for (let i = 0; i < 100 && Date.now() - t0 < graceMs && pids.some(alive); i++) await sleep(50);
  for (const p of pids.filter(alive)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const t1 = Date.now();
  for (let i = 0; i < 100 && Date.now() - t1 < 2000 && pids.some(alive); i++) await sleep(20);
  return pids.filter(alive);
}

/** Inodes of the mount namespaces held by nsfs files under the lab's namespace folders. */
function labMntInodes(): Set<string> {
  const s = new Set<string>();
  for (const m of labMounts()) if (m.fsType === 'nsfs' && m.root.startsWith('mnt:')) {
    const ino = nsInode(m.root);
    if (ino) s.add(ino);
  }
  return s;
}

function netnsInode(name: string): string | undefined {
  try {
    return String(fs.statSync(`/run/netns/${name}`).ino);
  } catch {
    return undefined;
  }
}

export interface CleanupReport {
  killed: number;
  netns: string[];
  unmounted: number;
  problems: string[];
}

/**
 * Removes every trace of a lab found by naming convention (whatever state file there is):
 * processes in `adjoin-*` network namespaces or lab mount namespaces, the `adjoin-host` link,
 * the namespaces, the namespace-file mounts; then the state folder when asked.
 */
export async function cleanupEverything(paths: LabPaths = labPaths(), removeState = true): Promise<CleanupReport> {
  const problems: string[] = [];
  const names = await netnsList();
  const netInodes = new Set(names.map(netnsInode).filter((x): x is string => x !== undefined));
  const mntInodes = labMntInodes();
  const pids = labProcesses(netInodes, mntInodes);
  const left = await killAll(pids);
  if (left.length > 0) problems.push(`processes still alive after SIGKILL: ${left.join(' ')}`);
  if (fs.existsSync(`/sys/class/net/${HOST_LINK}`)) {
    await run(['ip', 'link', 'del', HOST_LINK], { timeoutMs: 10_000 });
  }
  for (const n of names) {
    const r = await run(['ip', 'netns', 'del', n], { timeoutMs: 10_000 });
    if (r.exitCode !== 0 && (await netnsList()).includes(n)) problems.push(`ip netns del ${n}: ${r.stderr.trim()}`);
  }
  // Deepest first: namespace files, then the folder's own bind mount.
  const mounts = labMounts().sort((a, b) => b.mountPoint.length - a.mountPoint.length);
  let unmounted = 0;
  for (const m of mounts) {
    let r = await run(['umount', m.mountPoint], { timeoutMs: 10_000 });
    if (r.exitCode !== 0) r = await run(['umount', '-l', m.mountPoint], { timeoutMs: 10_000 });
    if (r.exitCode === 0) unmounted++;
    // Gone meanwhile (another process cleaning at the same time) is not a problem.
    else if (labMounts().some((x) => x.mountPoint === m.mountPoint)) problems.push(`umount ${m.mountPoint}: ${r.stderr.trim()}`);
  }
  if (removeState && labMounts().every((m) => !m.mountPoint.startsWith(paths.root))) {
    fs.rmSync(paths.root, { recursive: true, force: true });
  }
  return { killed: pids.length, netns: names, unmounted, problems };
}

/** Leftovers of a lab on this machine, by naming convention (for "is it clean?" checks). */
export async function leftovers(): Promise<{ netns: string[]; mounts: string[]; processes: number[]; hostLink: boolean }> {
  const names = await netnsList();
  const netInodes = new Set(names.map(netnsInode).filter((x): x is string => x !== undefined));
  return {
    netns: names,
    mounts: labMounts().map((m) => m.mountPoint),
    processes: labProcesses(netInodes, labMntInodes()),
    hostLink: fs.existsSync(`/sys/class/net/${HOST_LINK}`),
  };
}

export { DC_NETNS, SUBNET };
