/**
 * The domain controller: Samba AD DC in its own network, mount and UTS namespaces, with a
 * bridge every instance plugs into, and a link from the root namespace (for the product's LDAP
 * client, which runs in the root namespace: see README "Network safety").
 */
import { randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BASE_DN, BRIDGE, DC_FQDN, DC_HOSTNAME, DC_IP, DC_NETNS, DNS_DOMAIN, DNS_ZONE_DN, HOST_IP, HOST_LINK, HOST_LINK_PEER,
  LOGIN_GROUP, MANAGED_OU, NETBIOS, PREFIX_LEN, REALM, SERVICE_ACCOUNT, SUBNET, type LabPaths,
} from './paths';
import { bindFile, createMachineNs, machineExec, netnsAdd, q, type Machine } from './ns';
import { runOk, sleep } from './sh';
import { writeSecretFile, type DcInfo, type DomainInfo } from './state';

/** A random password with every character class (AD complexity), URL-safe, never printed. */
export function randomPassword(length = 28): string {
  const classes = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789', '-_.+=%'];
  const all = classes.join('');
  const chars = classes.map((c) => c[randomInt(c.length)] as string);
  const bytes = randomBytes(length);
  for (let i = chars.length; i < length; i++) chars.push(all[(bytes[i] ?? 0) % all.length] as string);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

const DC_PRIVATE_DIRS: Record<string, string> = {
  '/etc/samba': 'etc-samba',
  '/var/lib/samba': 'var-lib-samba',
  '/var/cache/samba': 'var-cache-samba',
  '/run/samba': 'run-samba',
  '/var/log/samba': 'var-log-samba',
};
const DC_PRIVATE_FILES = ['resolv.conf', 'hosts', 'hostname', 'krb5.conf'];

/** Network: the DC namespace with the bridge (DC address on it) and the root-side link. */
export async function createDcNetwork(): Promise<void> {
  await netnsAdd(DC_NETNS);
  const n = ['ip', '-n', DC_NETNS];
  // A fixed MAC: otherwise the bridge takes the lowest MAC of its ports, which changes when an
  // instance's veth comes or goes, and every neighbour's ARP entry for the DC goes stale (~40 s
  // of timeouts after a terminate).
  // A fixed MAC: lab/world/README.md, "Facts the code relies on".
  await runOk([...n, 'link', 'add', BRIDGE, 'address', '02:77:00:00:00:02', 'type', 'bridge']);
  await runOk([...n, 'addr', 'add', `${DC_IP}/${PREFIX_LEN}`, 'dev', BRIDGE]);
  await runOk([...n, 'link', 'set', BRIDGE, 'up']);
  // The root namespace reaches the bridge through one veth; deleting the DC namespace deletes
  // the pair, and with it the connected route to the lab subnet.
  await runOk(['ip', 'link', 'add', HOST_LINK, 'type', 'veth', 'peer', 'name', HOST_LINK_PEER, 'netns', DC_NETNS]);
  await runOk([...n, 'link', 'set', HOST_LINK_PEER, 'master', BRIDGE, 'up']);
  await runOk(['ip', 'addr', 'add', `${HOST_IP}/${PREFIX_LEN}`, 'dev', HOST_LINK]);
  await runOk(['ip', 'link', 'set', HOST_LINK, 'up']);
  // Fail closed: with the lab down, the lab subnet is unreachable instead of falling through
  // to the default route. (A higher metric than the connected route; it stays on purpose.)
  await runOk(['ip', 'route', 'replace', 'unreachable', SUBNET, 'metric', '4242']);
}

export interface ProvisionResult {
  dc: DcInfo;
  domain: DomainInfo;
  machine: Machine;
}

export const bounded = async (what: string, tries: number, delayMs: number, probe: () => Promise<boolean>): Promise<void> => {
  for (let i = 0; i < tries; i++) {
    if (await probe()) return;
    await sleep(delayMs);
  }
  throw new Error(`lab: ${what} did not happen within ${Math.round((tries * delayMs) / 1000)} s`);
};

/** Provisions, seeds and starts the DC; waits (bounded) for an authenticated LDAPS answer. */
export async function provisionDc(paths: LabPaths, log: (msg: string) => void): Promise<ProvisionResult> {
  const dcDir = paths.dcDir;
  fs.mkdirSync(dcDir, { recursive: true, mode: 0o700 });
  const etc = path.join(dcDir, 'etc');
  fs.mkdirSync(etc, { recursive: true });
  fs.writeFileSync(path.join(etc, 'resolv.conf'), `search ${DNS_DOMAIN}\nnameserver ${DC_IP}\n`);
  fs.writeFileSync(path.join(etc, 'hosts'), `127.0.0.1 localhost\n${DC_IP} ${DC_FQDN.toLowerCase()} ${DC_HOSTNAME}\n`);
  fs.writeFileSync(path.join(etc, 'hostname'), `${DC_HOSTNAME}\n`);
  fs.writeFileSync(path.join(etc, 'krb5.conf'), '');
  const binds: string[] = [];
  for (const [target, dir] of Object.entries(DC_PRIVATE_DIRS)) {
    const src = path.join(dcDir, dir);
    fs.mkdirSync(src, { recursive: true });
    binds.push(`mkdir -p ${q(target)}; mount --bind ${q(src)} ${q(target)}`);
  }
  for (const f of DC_PRIVATE_FILES) binds.push(bindFile(path.join(etc, f), `/etc/${f}`));
  binds.push(`hostname ${DC_HOSTNAME}`);
  const machine = await createMachineNs(paths, 'dc', DC_NETNS, binds.join('\n'));
  const inDc = (argv: string[], timeoutMs = 60_000, input?: string) => machineExec(machine, argv, { timeoutMs, input });

  const adminPassword = randomPassword();
  const adminPasswordFile = writeSecretFile(path.join(paths.secretsDir, 'administrator.password'), adminPassword);
  let t = Date.now();
  const prov = await inDc([
    'samba-tool', 'domain', 'provision', '--use-rfc2307', `--realm=${REALM}`, `--domain=${NETBIOS}`, '--server-role=dc',
    '--dns-backend=SAMBA_INTERNAL', `--host-ip=${DC_IP}`, `--host-name=${DC_HOSTNAME}`, `--adminpass=${adminPassword}`,
  ], 120_000);
  if (prov.exitCode !== 0) throw new Error(`lab: samba-tool domain provision failed (exit ${prov.exitCode}): ${prov.stderr.trim().slice(-1500)}`);
  log(`provisioned in ${Date.now() - t} ms`);

  // No traffic out: drop the forwarder; one worker per service is plenty for a lab.
  const smbConf = path.join(dcDir, 'etc-samba', 'smb.conf');
  const conf = fs.readFileSync(smbConf, 'utf8').split('\n').filter((l) => !/^\s*dns forwarder\s*=/.test(l));
  const g = conf.findIndex((l) => /^\s*\[global\]/.test(l));
  conf.splice(g + 1, 0, '\tprefork children = 1', `\tinterfaces = lo ${BRIDGE}`, '\tbind interfaces only = yes');
  fs.writeFileSync(smbConf, conf.join('\n'));
  fs.copyFileSync(path.join(dcDir, 'var-lib-samba', 'private', 'krb5.conf'), path.join(etc, 'krb5.conf'));

  t = Date.now();
  const users = {
    alice: { password: randomPassword(), groups: [LOGIN_GROUP] },
    bob: { password: randomPassword(), groups: [] as string[] },
    carol: { password: randomPassword(), groups: [LOGIN_GROUP], uidNumber: 10003, gidNumber: 10000 },
    [SERVICE_ACCOUNT]: { password: randomPassword(), groups: [] as string[] },
  };
  const seedInput = {
    ou: MANAGED_OU,
    dnsZoneDn: DNS_ZONE_DN,
    serviceAccount: SERVICE_ACCOUNT,
    nisDomain: NETBIOS.toLowerCase(),
    groups: [{ name: LOGIN_GROUP, gidNumber: 10001 }, { name: 'linux-users', gidNumber: 10000 }],
    users: Object.entries(users).map(([name, u]) => ({ name, ...u })),
  };
  const seed = await inDc(['/usr/bin/python3', path.join(__dirname, 'seed.py')], 60_000, JSON.stringify(seedInput));
  if (seed.exitCode !== 0) throw new Error(`lab: seeding the domain failed (exit ${seed.exitCode}): ${seed.stderr.trim().slice(-1500)}`);
  const seeded = JSON.parse(seed.stdout.trim().split('\n').pop() ?? '{}') as { domainSid?: string };
  if (!seeded.domainSid) throw new Error('lab: seeding did not report the domain SID');
  log(`seeded in ${Date.now() - t} ms`);

  const userInfo: DomainInfo['users'] = {};
  for (const [name, u] of Object.entries(users)) {
    const passwordFile = writeSecretFile(path.join(paths.secretsDir, `${name}.password`), u.password);
    userInfo[name] = {
      dn: `CN=${name},CN=Users,${BASE_DN}`,
      passwordFile,
      memberOfLoginGroup: u.groups.includes(LOGIN_GROUP),
      ...('uidNumber' in u ? { uidNumber: u.uidNumber, gidNumber: u.gidNumber } : {}),
    };
  }
  const svc = userInfo[SERVICE_ACCOUNT];
  if (!svc) throw new Error('lab: service account missing');

  t = Date.now();
  await runOk([...['nsenter', `--mount=${machine.mountNsFile}`, `--uts=${machine.utsNsFile}`, `--net=/run/netns/${machine.netns}`, '--wd=/', '--'], 'samba', '-D'], { timeoutMs: 30_000 }, 'samba -D');
  const ca = path.join(dcDir, 'var-lib-samba', 'private', 'tls', 'ca.pem');
  await bounded('LDAPS answer from the DC', 60, 250, async () => {
    if (!fs.existsSync(ca)) return false;
    const r = await machineExec(machine, ['ldapsearch', '-LLL', '-o', 'nettimeout=2', '-H', `ldaps://${DC_FQDN}`, '-x', '-D', svc.dn, '-y', svc.passwordFile, '-b', BASE_DN, '-s', 'base', 'dn'], {
      timeoutMs: 5000,
      env: { LDAPTLS_CACERT: '/var/lib/samba/private/tls/ca.pem', LDAPTLS_REQCERT: 'demand' },
    });
    return r.exitCode === 0;
  });
  log(`samba answered LDAPS in ${Date.now() - t} ms`);
  fs.copyFileSync(ca, paths.caFile);
  fs.chmodSync(paths.caFile, 0o644);

  const domain: DomainInfo = {
    realm: REALM,
    dnsDomain: DNS_DOMAIN,
    netbiosName: NETBIOS,
    baseDn: BASE_DN,
    managedOu: MANAGED_OU,
    dnsZoneDn: DNS_ZONE_DN,
    ldapsUrl: `ldaps://${DC_IP}`,
    caFile: paths.caFile,
    bindDn: svc.dn,
    bindPasswordFile: svc.passwordFile,
    adminPasswordFile,
    dcIp: DC_IP,
    dcFqdn: DC_FQDN,
    domainControllers: [{ name: 'dc1', hostName: DC_FQDN, ip: DC_IP }],
    domainSid: seeded.domainSid,
    loginGroup: LOGIN_GROUP,
    users: userInfo,
  };
  const dc: DcInfo = { name: 'dc1', hostName: DC_FQDN, ip: DC_IP, netns: DC_NETNS, mountNsFile: machine.mountNsFile, utsNsFile: machine.utsNsFile, runDir: path.join(dcDir, 'run-samba') };
  return { dc, domain, machine };
}
