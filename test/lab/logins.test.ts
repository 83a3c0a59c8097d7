/**
 * Issue 12, items 4 and 5, proven in a joined lab instance: real PAM logins (pamtester through
 * the instance's own SSSD) — authenticate with the password, the home directory made at the
 * first session (pam_mkhomedir, enabled by join.sh), an allowed group member accepted and a
 * non-member refused (acct_mgmt), a login group whose name holds spaces; the verify document's
 * login-path checks (login groups, PAM stack, adcli testjoin; exit 7 naming the failed check);
 * and the linux.* settings: sudo for an AD group with spaces (visudo-checked file, `sudo -l`),
 * the host name, SSSD options, dynamic DNS, krb5 rdns. Groups are made in the DC with samba-tool.
 * Root only (jest.lab.config.js); run it under `flock /tmp/adjoin-lab-machine.lock`.
 */
import * as world from '../../lab/world';
import { LabFleet, labDeps, labSettings } from '../../lab/world/fleet';
import { SERVICE_ACCOUNT } from '../../lab/world/paths';
import { joinParameters, verifyParameters } from '../../tasks/lib/commands';
import type { ReadInstanceOutput } from '../../tasks/lib/contracts';
import type { Settings } from '../../tasks/lib/settings';
import { endInstance, ensureLab, runDocument } from './helpers';
import { pamLogin, productComputer } from './dc-helpers';

const SAM = '/var/lib/samba/private/sam.ldb';
/** AD groups this file makes (and removes): names with spaces and parentheses, as AD allows. */
const SUDO_GROUP = 'Lab Sudo Admins (ops)';
const TEAM_GROUP = 'Lab Login Team (prod)';

let restore: () => Promise<void> = () => Promise.resolve();
const fleet = new LabFleet();
let instanceId = '';
let computerDn = '';
let computerName = '';
let settings: Settings;
let instance: ReadInstanceOutput;
let joinOutput = '';

const inInstance = (script: string, timeoutMs = 30_000) => world.exec(instanceId, ['sh', '-c', script], { timeoutMs });
const samba = async (args: string[]): Promise<void> => {
  const r = await world.dcExec(['samba-tool', ...args, '-H', SAM], { timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`samba-tool ${args.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.slice(-300)}`);
};
const pam = async (user: string, op: 'acct_mgmt' | 'open_session') => {
  const r = await world.exec(instanceId, ['pamtester', 'login', user, op], { timeoutMs: 60_000 });
  return { ok: r.exitCode === 0, out: `${r.stdout}${r.stderr}`.trim().slice(-300) };
};

beforeAll(async () => {
  const lab = await ensureLab();
  restore = lab.restore;
  for (const g of [SUDO_GROUP, TEAM_GROUP]) await world.dcExec(['samba-tool', 'group', 'delete', g, '-H', SAM], { timeoutMs: 30_000 }); // a crashed run's leftovers
  await samba(['group', 'add', SUDO_GROUP]);
  await samba(['group', 'add', TEAM_GROUP]);
  await samba(['group', 'addmembers', SUDO_GROUP, 'alice']);
  await samba(['group', 'addmembers', TEAM_GROUP, 'bob']);

  const i = await world.launch({ tags: { 'Domain:Join': 'true', Name: 'logins' } });
  instanceId = i.instanceId;
  // The image's krb5.conf says rdns = false already: take it out, so the join must write it.
  await inInstance("sed -i '/rdns/d' /etc/krb5.conf");
  const computer = await productComputer(fleet, instanceId);
  computerDn = computer.dn;
  computerName = computer.name;
  settings = labSettings({
    customize: (s) => {
      s.directory.loginGroups = [s.directory.loginGroups[0] ?? 'linux-admins', TEAM_GROUP];
      s.linux = { sudoGroups: [SUDO_GROUP], setHostname: true, dynamicDns: true, sssdOptions: { default_shell: '/bin/sh', entry_cache_timeout: '60' }, krb5Rdns: false };
    },
  });
  const st = world.labState();
  instance = { instanceId, account: st.account, region: st.region, outcome: 'proceed', reason: 'lab test', platform: 'linux', loginGroups: settings.directory.loginGroups };
  const { result } = await runDocument(fleet, instanceId, 'join', joinParameters(settings, instance, computer));
  joinOutput = `${result.stdout}${result.stderr}`;
  if (result.exitCode !== 0) throw new Error(`join failed (exit ${result.exitCode}): ${joinOutput.slice(-2000)}`);
});

afterAll(async () => {
  try {
    await endInstance(fleet, instanceId);
    if (computerDn) await labDeps().directory.deleteComputer(computerDn).catch(() => undefined);
    for (const g of [SUDO_GROUP, TEAM_GROUP]) await world.dcExec(['samba-tool', 'group', 'delete', g, '-H', SAM], { timeoutMs: 30_000 }).catch(() => undefined);
  } finally {
    await restore();
  }
});

describe('real logins in a joined instance', () => {
  test('alice authenticates with her password; a wrong password is refused', async () => {
    expect(await pamLogin(instanceId, 'alice')).toMatchObject({ ok: true });
    expect(await pamLogin(instanceId, 'alice', 'not-her-password')).toMatchObject({ ok: false });
  });

  test('the first session makes her home directory (pam_mkhomedir, enabled by the join)', async () => {
    expect(joinOutput).toContain('PAM: home directories are created at first login');
    expect((await inInstance('grep -l pam_mkhomedir /etc/pam.d/common-session')).exitCode).toBe(0);
    expect((await inInstance('test -e /home/alice')).exitCode).not.toBe(0);
    expect(await pam('alice', 'open_session')).toMatchObject({ ok: true });
    const home = await inInstance('stat -c "%U %F" /home/alice');
    expect(home.stdout.trim()).toBe('alice directory');
  });

  test('account management: members of the login groups are accepted (bob only through "Lab Login Team (prod)"), a non-member is refused', async () => {
    expect(await pam('alice', 'acct_mgmt')).toMatchObject({ ok: true });
    expect(await pam('bob', 'acct_mgmt')).toMatchObject({ ok: true });
    const svc = await pam(SERVICE_ACCOUNT, 'acct_mgmt');
    expect(svc.ok).toBe(false);
    expect(svc.out).toMatch(/Permission denied|not allowed|Authentication failure/i);
    expect((await inInstance('grep "^simple_allow_groups" /etc/sssd/sssd.conf')).stdout.trim()).toBe(`simple_allow_groups = ${settings.directory.loginGroups.join(',')}`);
  });

  test('the verify document checks the login path: groups resolve, pam_sss in the stacks, adcli testjoin', async () => {
    const ok = await runDocument(fleet, instanceId, 'verify', verifyParameters(settings, instance));
    expect([ok.result.exitCode, ok.result.stderr]).toEqual([0, '']);
    expect(ok.result.stdout).toContain(`login group ${TEAM_GROUP} resolves`);
    expect(ok.result.stdout).toContain('PAM: pam_sss in common-auth and common-account');
    expect(ok.result.stdout).toContain('adcli testjoin passes');
    expect(ok.result.stdout).toMatch(/alice may log in \(member of /);
    const bad = await runDocument(fleet, instanceId, 'verify', { ...verifyParameters(settings, instance), LoginGroups: 'no such group' });
    expect(bad.result.exitCode).toBe(7);
    expect(bad.result.stderr).toContain('verification failed: login group "no such group" does not resolve through NSS');
  });
});

describe('linux.* settings applied by the join', () => {
  test('sudoGroups: a 0440 visudo-valid /etc/sudoers.d/adjoin; sudo -l grants alice (member) and not bob', async () => {
    const file = await inInstance('stat -c "%a %U" /etc/sudoers.d/adjoin; cat /etc/sudoers.d/adjoin; visudo -cf /etc/sudoers.d/adjoin >/dev/null && echo valid');
    expect(file.stdout).toBe(`440 root\n# written by adjoin: AD groups with sudo (linux.sudoGroups)\n%Lab\\ Sudo\\ Admins\\ \\(ops\\) ALL=(ALL) ALL\nvalid\n`);
    const alice = await inInstance('sudo -l -U alice 2>&1');
    expect(alice.stdout).toMatch(/User alice may run the following commands[\s\S]*\(ALL\) ALL/);
    const bob = await inInstance('sudo -l -U bob 2>&1');
    expect(bob.stdout).toMatch(/User bob is not allowed to run sudo/);
  });

  test('setHostname: the instance is called by its computer name', async () => {
    const h = await inInstance('hostname; cat /etc/hostname');
    expect(h.stdout).toBe(`${computerName.toLowerCase()}\n${computerName.toLowerCase()}\n`);
  });

  test('sssdOptions and dynamicDns: in the domain section, and in effect (default shell)', async () => {
    const conf = await inInstance('cat /etc/sssd/sssd.conf');
    expect(conf.stdout).toContain('\ndefault_shell = /bin/sh\n');
    expect(conf.stdout).toContain('\nentry_cache_timeout = 60\n');
    expect(conf.stdout).toContain('\ndyndns_update = True\n');
    expect(conf.stdout).not.toContain('/bin/bash');
    const pw = await inInstance('getent passwd alice');
    expect(pw.stdout.trim()).toMatch(/:\/bin\/sh$/);
  });

  test('krb5Rdns false: rdns = false in [libdefaults] of the instance krb5.conf, the original kept', async () => {
    const k = await inInstance("sed -n '/\\[libdefaults\\]/,/^\\[/p' /etc/krb5.conf; test -e /etc/krb5.conf.adjoin.bak && echo backup");
    expect(k.stdout).toMatch(/\[libdefaults\][\s\S]*rdns = false[\s\S]*backup\n$/);
  });
});
