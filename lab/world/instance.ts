/**
 * Lab instances: a network namespace plugged into the DC's bridge, a persistent mount + UTS
 * namespace with private /etc files, private SSSD folders, a private /run (tmpfs) and /home.
 * No name server until the join document writes one; no route out of the lab subnet.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BRIDGE, DC_NETNS, FIRST_INSTANCE_HOST, LAB_REGION, LAST_INSTANCE_HOST, PREFIX_LEN, netnsOf, type LabPaths } from './paths';
import { bindFile, createMachineNs, killAll, labProcesses, machineExec, netnsAdd, q, type Machine } from './ns';
import { run, runOk, type ExecResult } from './sh';
import type { InstanceRecord, LabState } from './state';

export const newInstanceId = (): string => `i-${randomBytes(9).toString('hex').slice(0, 17)}`;

/** The lowest free instance address (terminated instances give theirs back). */
export function allocateIp(state: LabState): string {
  const used = new Set(Object.values(state.instances).filter((i) => i.state !== 'terminated').map((i) => i.ip));
  for (let h = FIRST_INSTANCE_HOST; h <= LAST_INSTANCE_HOST; h++) {
    const ip = `10.77.0.${h}`;
    if (!used.has(ip)) return ip;
  }
  throw new Error('lab: no free instance address (at most 241 running instances)');
}

const vethName = (ip: string): string => `adjv${ip.split('.').pop() ?? '0'}`;

/** What a fresh instance's image looks like: Amazon Linux style krb5.conf, nsswitch with sss. */
function writeImageFiles(dir: string, rec: Pick<InstanceRecord, 'ip' | 'hostname' | 'privateDnsName' | 'keytabFile'>): void {
  const etc = path.join(dir, 'etc');
  fs.mkdirSync(etc, { recursive: true });
  fs.writeFileSync(
    path.join(etc, 'krb5.conf'),
    [
      '[libdefaults]',
      '    dns_lookup_realm = false',
      '    ticket_lifetime = 24h',
      '    renew_lifetime = 7d',
      '    forwardable = true',
      '    rdns = false',
      `    default_keytab_name = FILE:${rec.keytabFile}`,
      '',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(etc, 'resolv.conf'), '# no name server yet: the join document writes one\n');
  fs.writeFileSync(path.join(etc, 'hosts'), `127.0.0.1 localhost\n${rec.ip} ${rec.privateDnsName} ${rec.hostname}\n`);
  fs.writeFileSync(path.join(etc, 'hostname'), `${rec.hostname}\n`);
  fs.writeFileSync(
    path.join(etc, 'nsswitch.conf'),
    ['passwd:         files sss', 'group:          files sss', 'shadow:         files sss', 'hosts:          files dns', 'networks:       files', 'services:       files sss', 'netgroup:       files sss', ''].join('\n'),
  );
}

/**
 * Creates the instance's network + namespaces; returns the machine handle. With `rootfs` (a
 * distribution's root filesystem, lab/world/rootfs.ts) the instance runs from it: an overlay of
 * its own (upper layer in the instance folder) becomes / of the instance's mount namespace
 * (pivot_root there; the machine's own tree is detached), with the same private paths bound on
 * top, seeded from that image instead of the machine's.
 */
export async function createInstance(paths: LabPaths, rec: InstanceRecord, rootfs?: string): Promise<Machine> {
  const dir = rec.dir;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeImageFiles(dir, rec);
  const image = rootfs ?? '/';
  // Private folders, seeded from the image's (empty) package layout.
  // /etc/sudoers.d too: the join writes its sudo rules there (linux.sudoGroups), never the machine's.
  const copies: Record<string, string> = { '/etc/sssd': 'etc-sssd', '/var/lib/sss': 'var-lib-sss', '/etc/pam.d': 'etc-pam.d', '/var/lib/pam': 'var-lib-pam', '/etc/sudoers.d': 'etc-sudoers.d' };
  for (const [from, name] of Object.entries(copies)) {
    const src = path.join(image, from);
    const dst = path.join(dir, name);
    if (!fs.existsSync(dst) && !fs.existsSync(src)) fs.mkdirSync(dst, { mode: 0o750 });
    if (!fs.existsSync(dst)) await runOk(['cp', '-a', src, dst], { timeoutMs: 20_000 });
    if (name === 'var-lib-sss' || name === 'etc-sssd') await runOk(['find', dst, '-mindepth', '1', '(', '-type', 'f', '-o', '-type', 's', ')', '-delete'], { timeoutMs: 20_000 });
  }
  for (const d of ['var-log-sssd', 'home']) fs.mkdirSync(path.join(dir, d), { recursive: true });

  await netnsAdd(rec.netns);
  const veth = vethName(rec.ip);
  await runOk(['ip', 'link', 'add', veth, 'netns', DC_NETNS, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', rec.netns]);
  await runOk(['ip', '-n', DC_NETNS, 'link', 'set', veth, 'master', BRIDGE, 'up']);
  await runOk(['ip', '-n', rec.netns, 'addr', 'add', `${rec.ip}/${PREFIX_LEN}`, 'dev', 'eth0']);
  await runOk(['ip', '-n', rec.netns, 'link', 'set', 'eth0', 'up']);

  // With an image: mount it (overlay) at <dir>/root and build the instance's tree there.
  const top = rootfs ? path.join(dir, 'root') : '';
  const setup: string[] = [];
  if (rootfs) {
    for (const d of ['root', 'upper', 'work']) fs.mkdirSync(path.join(dir, d), { recursive: true, mode: 0o755 });
    setup.push(
      `mount -t overlay adjoin-image -o ${q(`lowerdir=${rootfs},upperdir=${path.join(dir, 'upper')},workdir=${path.join(dir, 'work')}`)} ${q(top)}`,
      `mount -t proc proc ${q(`${top}/proc`)}`,
      `mount --rbind /sys ${q(`${top}/sys`)}`,
      `mount --rbind /dev ${q(`${top}/dev`)}`,
      // The instance folder at its own path: krb5.conf names the keytab there (keytabFile).
      `mkdir -p ${q(top + dir)}; mount --bind ${q(dir)} ${q(top + dir)}`,
    );
  }
  const binds = [
    ['/etc/sssd', 'etc-sssd'],
    ['/var/lib/sss', 'var-lib-sss'],
    ['/var/log/sssd', 'var-log-sssd'],
    ['/etc/pam.d', 'etc-pam.d'],
    ['/var/lib/pam', 'var-lib-pam'],
    ['/etc/sudoers.d', 'etc-sudoers.d'],
    ['/home', 'home'],
  ].map(([t, s]) => `mkdir -p ${q(top + (t as string))}; mount --bind ${q(path.join(dir, s as string))} ${q(top + (t as string))}`);
  setup.push(...binds);
  for (const f of ['krb5.conf', 'resolv.conf', 'hosts', 'hostname', 'nsswitch.conf']) setup.push(bindFile(path.join(dir, 'etc', f), `${top}/etc/${f}`));
  setup.push(`mount -t tmpfs -o mode=0755,size=32m adjoin-run ${q(`${top}/run`)}`, `mkdir -p ${q(`${top}/run/lock`)} ${q(`${top}/run/user`)}`, `chmod 1777 ${q(`${top}/run/lock`)}`);
  if (rootfs) {
    // The image becomes /; the machine's tree is detached (the lab's secrets are not there at all).
    setup.push(`cd ${q(top)}`, 'mkdir -p .adjoin-host', 'pivot_root . .adjoin-host', 'cd /', 'umount -l /.adjoin-host', 'rmdir /.adjoin-host');
  } else {
    // The lab's own secrets and parameter store are not the instance's business.
    for (const hidden of [paths.secretsDir, paths.paramsDir]) {
      fs.mkdirSync(hidden, { recursive: true, mode: 0o700 });
      setup.push(`mount -t tmpfs -o mode=0700,size=64k adjoin-hidden ${q(hidden)}`);
    }
  }
  setup.push(`hostname ${q(rec.hostname)}`);
  return createMachineNs(paths, rec.instanceId, rec.netns, setup.join('\n'));
}

export function newInstanceRecord(paths: LabPaths, state: LabState, tags: Record<string, string>, ssmDelaySeconds: number, now = new Date()): InstanceRecord {
  let id = newInstanceId();
  for (let i = 0; i < 10 && state.instances[id]; i++) id = newInstanceId();
  const ip = allocateIp(state);
  const hostname = `ip-${ip.replace(/\./g, '-')}`;
  const dir = paths.instanceDir(id);
  return {
    instanceId: id,
    state: 'pending',
    tags: { ...tags },
    ip,
    hostname,
    privateDnsName: `${hostname}.${LAB_REGION}.compute.internal`,
    netns: netnsOf(id),
    mountNsFile: path.join(paths.nsDir, `${id}.mnt`),
    utsNsFile: path.join(paths.nsDir, `${id}.uts`),
    dir,
    keytabFile: path.join(dir, 'krb5.keytab'),
    launchTime: now.toISOString(),
    ssmOnlineAt: new Date(now.getTime() + ssmDelaySeconds * 1000).toISOString(),
  };
}

const inode = (file: string): string | undefined => {
  try {
    return String(fs.statSync(file).ino);
  } catch {
    return undefined;
  }
};

/** Stops everything running in the instance and removes its namespaces. Idempotent. */
export async function destroyInstance(rec: Pick<InstanceRecord, 'netns' | 'mountNsFile' | 'utsNsFile'>): Promise<string[]> {
  const problems: string[] = [];
  const net = inode(`/run/netns/${rec.netns}`);
  const mnt = inode(rec.mountNsFile);
  // Scan again after each kill: a script running in the instance (join.sh) may fork a daemon
  // (sssd -D) between a scan and its kill; that daemon would outlive the lab, holding the namespaces.
  let left: number[] = [];
  for (let round = 0; round < 5; round++) {
    const pids = labProcesses(new Set(net ? [net] : []), new Set(mnt ? [mnt] : []));
    if (pids.length === 0) break;
    left = await killAll(pids);
  }
  if (left.length) problems.push(`still alive: ${left.join(' ')}`);
  if (net) {
    const r = await run(['ip', 'netns', 'del', rec.netns], { timeoutMs: 10_000 });
    if (r.exitCode !== 0) problems.push(r.stderr.trim());
  }
  for (const f of [rec.mountNsFile, rec.utsNsFile]) {
    await run(['umount', f], { timeoutMs: 10_000 });
    fs.rmSync(f, { force: true });
  }
  return problems;
}

export function instanceExec(rec: InstanceRecord, argv: string[], opts: { timeoutMs?: number; input?: string; fd3?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return machineExec(rec, argv, opts);
}
