/**
 * The second domain controller and the chaos levers on both.
 *
 * DC2 lives in its own network, mount and UTS namespaces, plugged into DC1's bridge (veth
 * `adjvdc2`, address 10.77.0.3), and joins the domain as a replica DC (`samba-tool domain join
 * … DC`): the directory is replicated both ways by Samba's DRS. Its certificate is issued by
 * its own self-signed CA for DC2.<domain>: the lab's CA file holds both CAs.
 *
 * Levers (each leaves the lab "up", recorded in the state):
 *   stopDc / startDc          samba stopped by its PID file / started again (LDAPS waited for)
 *   isolateDc / reconnectDc   the DC answers nothing and reaches nothing (a blackhole policy
 *                             rule in its namespace; the bridge keeps forwarding for others)
 *   pauseReplication          DC2 refuses inbound replication (+DISABLE_INBOUND_REPL)
 *   resumeReplication         -DISABLE_INBOUND_REPL and a `drs replicate` of every naming
 *                             context (the option alone does not pull what was missed)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASE_DN, BRIDGE, DC2_FQDN, DC2_HOSTNAME, DC2_IP, DC2_NETNS, DC2_VETH, DC_FQDN, DC_HOSTNAME, DC_IP, DC_NETNS, DC_SPECS, DNS_DOMAIN, PREFIX_LEN, SUBNET, type DcSpec, type LabPaths } from './paths';
import { bindFile, createMachineNs, killAll, labProcesses, machineExec, netnsAdd, nsenterArgv, q, type Machine } from './ns';
import { bounded } from './dc';
import { alive, run, runOk, sleep, type ExecResult } from './sh';
import { type DcInfo, type DomainInfo, type LabState } from './state';

const DC_PRIVATE_DIRS = ['etc-samba:/etc/samba', 'var-lib-samba:/var/lib/samba', 'var-cache-samba:/var/cache/samba', 'run-samba:/run/samba', 'var-log-samba:/var/log/samba'];

/** The naming contexts a Samba domain replicates. */
export const NAMING_CONTEXTS = [BASE_DN, `CN=Configuration,${BASE_DN}`, `CN=Schema,CN=Configuration,${BASE_DN}`, `DC=DomainDnsZones,${BASE_DN}`, `DC=ForestDnsZones,${BASE_DN}`];

/**
 * samba-tool as Administrator: `-U Administrator` with the password in the environment
 * (PASSWD, read by Samba's credentials code; /proc/PID/environ is root-only), never on a
 * command line.
 */
const ADMIN = ['-U', 'Administrator'];
const adminEnv = (domain: DomainInfo): NodeJS.ProcessEnv => ({ PASSWD: fs.readFileSync(domain.adminPasswordFile, 'utf8') });

/** Joins DC2 to the running domain of DC1 and starts it; waits (bounded) for its LDAPS. */
export async function joinDc2(paths: LabPaths, domain: DomainInfo, log: (msg: string) => void): Promise<DcInfo> {
  const dir = paths.dc2Dir;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const etc = path.join(dir, 'etc');
  fs.mkdirSync(etc, { recursive: true });
  // DC1 answers DNS for the domain until DC2 has joined (and DC1 keeps doing so: one resolver).
  fs.writeFileSync(path.join(etc, 'resolv.conf'), `search ${DNS_DOMAIN}\nnameserver ${DC_IP}\n`);
  fs.writeFileSync(path.join(etc, 'hosts'), `127.0.0.1 localhost\n${DC2_IP} ${DC2_FQDN.toLowerCase()} ${DC2_HOSTNAME}\n${DC_IP} ${DC_FQDN.toLowerCase()} ${DC_HOSTNAME}\n`);
  fs.writeFileSync(path.join(etc, 'hostname'), `${DC2_HOSTNAME}\n`);
  fs.copyFileSync(path.join(paths.dcDir, 'etc', 'krb5.conf'), path.join(etc, 'krb5.conf'));

  await netnsAdd(DC2_NETNS);
  await runOk(['ip', 'link', 'add', DC2_VETH, 'netns', DC_NETNS, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', DC2_NETNS]);
  await runOk(['ip', '-n', DC_NETNS, 'link', 'set', DC2_VETH, 'master', BRIDGE, 'up']);
  await runOk(['ip', '-n', DC2_NETNS, 'addr', 'add', `${DC2_IP}/${PREFIX_LEN}`, 'dev', 'eth0']);
  await runOk(['ip', '-n', DC2_NETNS, 'link', 'set', 'eth0', 'up']);

  const binds: string[] = [];
  for (const pair of DC_PRIVATE_DIRS) {
    const [name, target] = pair.split(':') as [string, string];
    const src = path.join(dir, name);
    fs.mkdirSync(src, { recursive: true });
    binds.push(`mkdir -p ${q(target)}; mount --bind ${q(src)} ${q(target)}`);
  }
  for (const f of ['resolv.conf', 'hosts', 'hostname', 'krb5.conf']) binds.push(bindFile(path.join(etc, f), `/etc/${f}`));
  binds.push(`hostname ${DC2_HOSTNAME}`);
  const machine = await createMachineNs(paths, 'dc2', DC2_NETNS, binds.join('\n'));

  let t = Date.now();
  const join = await machineExec(machine, [
    'samba-tool', 'domain', 'join', DNS_DOMAIN, 'DC', ...ADMIN, '--dns-backend=SAMBA_INTERNAL',
    `--option=netbios name = ${DC2_HOSTNAME.toUpperCase()}`,
  ], { timeoutMs: 180_000, env: adminEnv(domain) });
  if (join.exitCode !== 0) throw new Error(`lab: samba-tool domain join (DC2) failed (exit ${join.exitCode}): ${join.stderr.trim().slice(-1500)}`);
  log(`DC2 joined in ${Date.now() - t} ms`);

  const smbConf = path.join(dir, 'etc-samba', 'smb.conf');
  const conf = fs.readFileSync(smbConf, 'utf8').split('\n').filter((l) => !/^\s*dns forwarder\s*=/.test(l));
  const g = conf.findIndex((l) => /^\s*\[global\]/.test(l));
  conf.splice(g + 1, 0, '\tidmap_ldb:use rfc2307 = yes', '\tprefork children = 1', '\tinterfaces = lo eth0', '\tbind interfaces only = yes');
  fs.writeFileSync(smbConf, conf.join('\n'));

  const dc: DcInfo = { name: 'dc2', hostName: DC2_FQDN, ip: DC2_IP, netns: DC2_NETNS, mountNsFile: machine.mountNsFile, utsNsFile: machine.utsNsFile, runDir: path.join(dir, 'run-samba') };
  t = Date.now();
  await startSamba(dc, domain);
  log(`DC2 answered LDAPS in ${Date.now() - t} ms`);
  // DC2's DNS records (A, the SRV records SSSD and Kerberos find DCs by): samba registers them
  // only minutes after start; do it now, and push them to DC1 (the instances' first resolver).
  t = Date.now();
  const upd = await machineExec(dc, ['samba_dnsupdate', '--use-samba-tool'], { timeoutMs: 90_000 });
  if (upd.exitCode !== 0) throw new Error(`lab: samba_dnsupdate on DC2 failed (exit ${upd.exitCode}): ${(upd.stderr || upd.stdout).trim().slice(-1000)}`);
  for (const nc of [`DC=DomainDnsZones,${BASE_DN}`, `DC=ForestDnsZones,${BASE_DN}`]) {
    const r = await machineExec(dc, ['samba-tool', 'drs', 'replicate', DC_HOSTNAME, DC2_HOSTNAME, nc, ...ADMIN], { timeoutMs: 60_000, env: adminEnv(domain) });
    if (r.exitCode !== 0) throw new Error(`lab: replicating DC2's DNS records to DC1 failed: ${(r.stderr || r.stdout).trim().slice(-800)}`);
  }
  log(`DC2 registered in DNS in ${Date.now() - t} ms`);
  // The product trusts both DCs' self-signed CAs (one PEM bundle).
  const ca2 = fs.readFileSync(path.join(dir, 'var-lib-samba', 'private', 'tls', 'ca.pem'), 'utf8');
  const ca1 = fs.readFileSync(domain.caFile, 'utf8');
  if (!ca1.includes(ca2.trim())) fs.writeFileSync(domain.caFile, `${ca1.trimEnd()}\n${ca2.trimEnd()}\n`);
  return dc;
}

const specOf = (name: string): DcSpec => {
  const s = DC_SPECS.find((d) => d.name === name.toLowerCase());
  if (!s) throw new Error(`lab: no domain controller ${JSON.stringify(name)} (the lab has ${DC_SPECS.map((d) => d.name).join(', ')})`);
  return s;
};

/** The DC record by name, or a clear error (a one-DC lab has no dc2). */
export function dcOf(state: LabState, name: string): DcInfo {
  const spec = specOf(name);
  const all = state.dcs ?? [{ ...state.dc, name: 'dc1' }];
  const dc = all.find((d) => (d.name ?? 'dc1') === spec.name);
  if (!dc) throw new Error(`lab: ${spec.name} is not part of this lab (it was brought up with ${all.length} DC${all.length === 1 ? '' : 's'})`);
  return dc;
}

export function sambaPid(dc: DcInfo): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dc.runDir, 'samba.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** `ldapsearch` of the base DN on the DC itself, bound as the service account, CA verified. */
function ldapsProbe(dc: DcInfo, domain: DomainInfo): Promise<ExecResult> {
  return machineExec(dc, ['ldapsearch', '-LLL', '-o', 'nettimeout=2', '-H', `ldaps://${dc.hostName ?? DC_FQDN}`, '-x', '-D', domain.bindDn, '-y', domain.bindPasswordFile, '-b', domain.baseDn, '-s', 'base', 'dn'], {
    timeoutMs: 5000,
    env: { LDAPTLS_CACERT: '/var/lib/samba/private/tls/ca.pem', LDAPTLS_REQCERT: 'demand' },
  });
}

/** Starts samba in the DC's namespaces (no-op when running) and waits for an LDAPS answer. */
export async function startSamba(dc: DcInfo, domain: DomainInfo): Promise<void> {
  if (sambaPid(dc) === undefined) await runOk([...nsenterArgv(dc, ['samba', '-D'])], { timeoutMs: 30_000 }, `samba -D (${dc.name ?? 'dc1'})`);
  const ca = path.join(path.dirname(dc.runDir), 'var-lib-samba', 'private', 'tls', 'ca.pem');
  await bounded(`LDAPS answer from ${dc.hostName ?? DC_FQDN}`, 80, 250, async () => fs.existsSync(ca) && (await ldapsProbe(dc, domain)).exitCode === 0);
}

/** Stops samba (SIGTERM to the master by its PID file, then every samba process left in the DC's mount namespace). */
export async function stopSamba(dc: DcInfo): Promise<void> {
  const pid = sambaPid(dc);
  if (pid !== undefined) await killAll([pid], 5000);
  const mnt = (() => {
    try {
      return String(fs.statSync(dc.mountNsFile).ino);
    } catch {
      return undefined;
    }
  })();
  const left = labProcesses(new Set(), new Set(mnt ? [mnt] : []));
  const still = await killAll(left, 3000);
  if (still.length) throw new Error(`lab: samba of ${dc.name ?? 'dc1'} still running: ${still.join(' ')}`);
}

/**
 * Cuts a DC off, silently (like a dead link: peers see timeouts, not refusals): a policy rule
 * in its namespace blackholes everything it would send to the lab subnet, so nothing it
 * receives is ever answered and nothing it starts gets out. Traffic to its own addresses
 * (local table, looked up first) and the bridge's forwarding for everyone else are untouched.
 * (tc would be the textbook tool, but this kernel offers no tc drop action.)
 */
const ISOLATE_RULE = ['pref', '77', 'to', SUBNET];
export async function isolate(dc: DcInfo): Promise<void> {
  const spec = specOf(dc.name ?? 'dc1');
  await run(['ip', '-n', spec.netns, 'rule', 'del', ...ISOLATE_RULE, 'blackhole'], { timeoutMs: 10_000 });
  await runOk(['ip', '-n', spec.netns, 'rule', 'add', ...ISOLATE_RULE, 'blackhole'], { timeoutMs: 10_000 });
}

export async function reconnect(dc: DcInfo): Promise<void> {
  const spec = specOf(dc.name ?? 'dc1');
  for (let i = 0; i < 5; i++) {
    const r = await run(['ip', '-n', spec.netns, 'rule', 'del', ...ISOLATE_RULE, 'blackhole'], { timeoutMs: 10_000 });
    if (r.exitCode !== 0) return; // no (more) such rule
  }
}

/** samba-tool drs … run on DC2 as Administrator (credentials file, never argv). */
async function drs(state: LabState, args: string[]): Promise<ExecResult> {
  const dc2 = dcOf(state, 'dc2');
  return machineExec(dc2, ['samba-tool', 'drs', ...args, ...ADMIN], { timeoutMs: 60_000, env: adminEnv(state.domain) });
}

export async function pauseReplication(state: LabState): Promise<void> {
  const r = await drs(state, ['options', DC2_HOSTNAME, '--dsa-option=+DISABLE_INBOUND_REPL']);
  if (r.exitCode !== 0) throw new Error(`lab: replication pause failed: ${(r.stderr || r.stdout).trim().slice(-800)}`);
}

/** Re-enables inbound replication on DC2 and pulls every naming context from DC1 now. */
export async function resumeReplication(state: LabState): Promise<void> {
  const r = await drs(state, ['options', DC2_HOSTNAME, '--dsa-option=-DISABLE_INBOUND_REPL']);
  if (r.exitCode !== 0) throw new Error(`lab: replication resume failed: ${(r.stderr || r.stdout).trim().slice(-800)}`);
  for (const nc of NAMING_CONTEXTS) {
    let last: ExecResult | undefined;
    for (let i = 0; i < 5; i++) {
      last = await drs(state, ['replicate', DC2_HOSTNAME, DC_HOSTNAME, nc]);
      if (last.exitCode === 0) break;
      await sleep(1000);
    }
    if (last?.exitCode !== 0) throw new Error(`lab: drs replicate ${nc} failed: ${(last?.stderr || last?.stdout || '').trim().slice(-800)}`);
  }
}

export type { Machine };
