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

/** Creates the instance's network + namespaces; returns the machine handle. */
export async function createInstance(paths: LabPaths, rec: InstanceRecord): Promise<Machine> {
  const dir = rec.dir;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeImageFiles(dir, rec);
  // Private folders, seeded from the machine's (empty) package layout.
  const copies: Record<string, string> = { '/etc/sssd': 'etc-sssd', '/var/lib/sss': 'var-lib-sss', '/etc/pam.d': 'etc-pam.d', '/var/lib/pam': 'var-lib-pam' };
  for (const [src, name] of Object.entries(copies)) {
    const dst = path.join(dir, name);
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

  const binds = [
    ['/etc/sssd', 'etc-sssd'],
    ['/var/lib/sss', 'var-lib-sss'],
    ['/var/log/sssd', 'var-log-sssd'],
    ['/etc/pam.d', 'etc-pam.d'],
    ['/var/lib/pam', 'var-lib-pam'],
    ['/home', 'home'],
  ].map(([t, s]) => `mkdir -p ${q(t as string)}; mount --bind ${q(path.join(dir, s as string))} ${q(t as string)}`);
  for (const f of ['krb5.conf', 'resolv.conf', 'hosts', 'hostname', 'nsswitch.conf']) binds.push(bindFile(path.join(dir, 'etc', f), `/etc/${f}`));
  binds.push('mount -t tmpfs -o mode=0755,size=32m adjoin-run /run', 'mkdir -p /run/lock /run/user', 'chmod 1777 /run/lock');
  // The lab's own secrets and parameter store are not the instance's business.
  for (const hidden of [paths.secretsDir, paths.paramsDir]) {
    fs.mkdirSync(hidden, { recursive: true, mode: 0o700 });
    binds.push(`mount -t tmpfs -o mode=0700,size=64k adjoin-hidden ${q(hidden)}`);
  }
  binds.push(`hostname ${q(rec.hostname)}`);
  return createMachineNs(paths, rec.instanceId, rec.netns, binds.join('\n'));
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
  const pids = labProcesses(new Set(net ? [net] : []), new Set(mnt ? [mnt] : []));
  const left = await killAll(pids);
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
