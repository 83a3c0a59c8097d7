/**
 * Root filesystems of other Linux distribution releases for lab instances (`launch({ distro })`):
 * built once with debootstrap from the Debian mirror this machine's apt already uses, kept in
 * /var/cache/adjoin-lab/rootfs-<suite>-<hash of the package list>/ and shared read-only by every
 * instance of that distribution (each instance writes into an overlay of its own).
 * The mirror is read from the apt sources at run time (deb822 `.sources` or sources.list).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, runOk } from './sh';

export interface Distro {
  /** Debian suite debootstrap installs. */
  suite: string;
  /** What `/etc/os-release` says (for reports). */
  label: string;
  /** Installed into the rootfs (their dependencies come along; no recommends). */
  packages: string[];
}

/**
 * The packages join.sh installs on Debian-like systems (it finds them present), pamtester for
 * the lab's login checks, sudo (visudo, linux.sudoGroups), iproute2 (join.sh asks `ip route`).
 */
export const DISTROS = {
  trixie: {
    suite: 'trixie',
    label: 'Debian 13 (trixie)',
    packages: ['adcli', 'sssd', 'sssd-ad', 'sssd-tools', 'libnss-sss', 'libpam-sss', 'krb5-user', 'pamtester', 'sudo', 'iproute2'],
  },
} as const satisfies Record<string, Distro>;

export type DistroName = keyof typeof DISTROS;
export const DISTRO_NAMES = Object.keys(DISTROS) as DistroName[];

export function isDistroName(s: string): s is DistroName {
  return Object.prototype.hasOwnProperty.call(DISTROS, s);
}

/** Where built root filesystems are kept ($ADJOIN_LAB_ROOTFS_CACHE or /var/cache/adjoin-lab). */
export function rootfsCacheDir(): string {
  const fromEnv = process.env.ADJOIN_LAB_ROOTFS_CACHE;
  return path.resolve(fromEnv !== undefined && fromEnv !== '' ? fromEnv : '/var/cache/adjoin-lab');
}

/** The cache folder of a distribution: keyed by suite, variant and package list. */
export function rootfsDir(name: DistroName, cache = rootfsCacheDir()): string {
  const d: Distro = DISTROS[name];
  const key = createHash('sha256').update(JSON.stringify({ suite: d.suite, variant: 'minbase', packages: [...d.packages].sort() })).digest('hex').slice(0, 12);
  return path.join(cache, `rootfs-${d.suite}-${key}`);
}

/**
 * The Debian mirror of this machine's apt sources: the first `deb` source (deb822 URIs, or a
 * one-line `deb URL SUITE`) whose suites are not the security archive's.
 */
export function aptMirror(files?: string[]): string {
  const candidates =
    files ??
    [
      ...(() => {
        try {
          return fs
            .readdirSync('/etc/apt/sources.list.d')
            .filter((f) => f.endsWith('.sources') || f.endsWith('.list'))
            .sort()
            .map((f) => path.join('/etc/apt/sources.list.d', f));
        } catch {
          return [];
        }
      })(),
      '/etc/apt/sources.list',
    ];
  for (const file of candidates) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const found = file.endsWith('.sources') ? fromDeb822(text) : fromOneLine(text);
    if (found) return found;
  }
  throw new Error(`lab: no Debian mirror in the apt sources (${candidates.join(', ')})`);
}

function fromDeb822(text: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
    const types = field('Types') ?? '';
    const uri = field('URIs')?.split(/\s+/)[0];
    const suites = field('Suites') ?? '';
    if (/\bdeb\b/.test(types) && uri && suites && !/-security\b/.test(suites)) return uri.replace(/\/+$/, '');
  }
  return undefined;
}

function fromOneLine(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m?.[1] && m[2] && !m[2].endsWith('-security')) return m[1].replace(/\/+$/, '');
  }
  return undefined;
}

export interface RootfsResult {
  dir: string;
  /** Built by this call (false: taken from the cache). */
  built: boolean;
  ms: number;
}

const READY = '.adjoin-rootfs-ready';

/** A cached root filesystem's folder, or undefined when it was not built yet. */
export function cachedRootfs(name: DistroName, cache = rootfsCacheDir()): string | undefined {
  const dir = rootfsDir(name, cache);
  return fs.existsSync(path.join(dir, READY)) ? dir : undefined;
}

/**
 * The distribution's root filesystem, built with debootstrap when it is not cached (minutes,
 * network to the Debian mirror; no lab lock needed). Built in a scratch folder and renamed into
 * place, so a crash never leaves a half-built cache entry behind.
 */
export async function ensureRootfs(name: DistroName, opts: { log?: (line: string) => void; cache?: string } = {}): Promise<RootfsResult> {
  const t0 = Date.now();
  const cache = opts.cache ?? rootfsCacheDir();
  const dir = rootfsDir(name, cache);
  if (cachedRootfs(name, cache)) return { dir, built: false, ms: Date.now() - t0 };
  const d: Distro = DISTROS[name];
  if ((await run(['sh', '-c', 'command -v debootstrap'], { timeoutMs: 5_000 })).exitCode !== 0) {
    throw new Error(`lab: debootstrap is not installed (apt-get install debootstrap) — needed once to build the ${d.label} root filesystem`);
  }
  const mirror = aptMirror();
  fs.mkdirSync(cache, { recursive: true, mode: 0o755 });
  const scratch = `${dir}.building-${process.pid}`;
  fs.rmSync(scratch, { recursive: true, force: true });
  opts.log?.(`building the ${d.label} root filesystem with debootstrap (once; cached in ${dir})`);
  try {
    await runOk(['debootstrap', '--variant=minbase', `--include=${d.packages.join(',')}`, d.suite, scratch, mirror], { timeoutMs: 900_000, maxOutput: 64 << 10 }, `debootstrap ${d.suite}`);
    fs.writeFileSync(path.join(scratch, READY), `${JSON.stringify({ suite: d.suite, packages: d.packages, builtAt: new Date().toISOString() })}\n`);
    try {
      fs.renameSync(scratch, dir);
    } catch (err) {
      // Another process finished first: keep its copy.
      if (!cachedRootfs(name, cache)) throw err;
    }
  } finally {
    // A failed debootstrap may leave /proc or /sys mounted in the scratch tree: never recurse into them.
    await unmountUnder(scratch);
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return { dir, built: true, ms: Date.now() - t0 };
}

async function unmountUnder(dir: string): Promise<void> {
  const points = fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of points) await run(['umount', '-l', m], { timeoutMs: 10_000 });
}
