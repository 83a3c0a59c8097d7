/**
 * Issue 12 item 6: a second Linux distribution for real. An instance launched with
 * `adjoin lab launch --distro trixie` runs from a Debian 13 root filesystem (debootstrap, cached
 * in /var/cache/adjoin-lab; lab/world/rootfs.ts) as / of its own mount namespace. The product's
 * join workflow runs the real join document (join.sh + verify.sh, as the SSM document runs them)
 * in it through the lab's DCs; that release's SSSD resolves directory users, a PAM login
 * (pamtester inside the rootfs) works, and `adjoin lab terminate` runs the leave, which deletes
 * the computer object. The adcli and SSSD versions inside are printed, and must differ from the
 * machine's own (Debian 12). Root only (jest.lab.config.js); run it under
 * `flock /tmp/adjoin-lab-machine.lock`. The first run builds the rootfs (network to the Debian
 * mirror of the machine's apt sources); its time and the cached time are printed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as world from '../../lab/world';
import { LabFleet } from '../../lab/world/fleet';
import { ensureRootfs, rootfsDir } from '../../lab/world/rootfs';
import { adjoin, json } from './cli-helpers';
import { pamLogin } from './dc-helpers';
import { ensureLab } from './helpers';

let restore: () => Promise<void> = () => Promise.resolve();
let instanceId = '';
const report: Record<string, string | number | boolean> = {};

const inside = async (script: string): Promise<string> => {
  const r = await world.exec(instanceId, ['sh', '-c', script], { timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`in the trixie instance: ${script} failed (exit ${r.exitCode}): ${r.stderr.slice(-500)}`);
  return r.stdout.trim();
};
const hostVersion = (pkg: string): string => spawnSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' }).stdout.trim();

beforeAll(async () => {
  // The rootfs first (no lab needed): built once, then cached.
  const fsr = await ensureRootfs('trixie', { log: (l) => process.stderr.write(`[distro] ${l}\n`) });
  report.rootfsBuilt = fsr.built;
  report.rootfsMs = fsr.ms;
  const lab = await ensureLab();
  restore = lab.restore;
}, 900_000);

afterAll(async () => {
  try {
    if (instanceId) await world.terminate(instanceId).catch(() => undefined);
  } finally {
    await restore();
    process.stderr.write(`[distro] ${JSON.stringify(report)}\n`);
  }
});

describe('a Debian 13 (trixie) instance joined by the real join document', () => {
  test('adjoin lab launch --distro trixie: the join workflow succeeds', async () => {
    const t0 = Date.now();
    const r = await adjoin('lab', 'launch', '--distro', 'trixie', '--tag', 'Domain:Join=true', '--tag', 'Name=distro-trixie', '--json');
    report.launchAndJoinMs = Date.now() - t0;
    if (r.code !== 0) throw new Error(`adjoin lab launch --distro trixie exited ${r.code}: ${r.err.slice(-1500)} ${r.out.slice(-1500)}`);
    const out = json<{ instances: { instanceId: string; distro?: string }[]; executions: { workflow: string; status: string; error?: string }[] }>(r.out || '{}');
    instanceId = out.instances?.[0]?.instanceId ?? '';
    expect([r.code, out.instances?.[0]?.distro, out.executions?.[0]]).toEqual([0, 'trixie', expect.objectContaining({ workflow: 'join', status: 'SUCCEEDED' })]);
    expect(world.labState().instances[instanceId]?.distro).toBe('trixie');
  });

  test('it runs from the rootfs, not the machine: os-release, versions, no way to the lab secrets', async () => {
    expect(await inside('. /etc/os-release; echo "$ID $VERSION_CODENAME"')).toBe('debian trixie');
    expect(fs.readFileSync('/etc/os-release', 'utf8')).not.toContain('trixie');
    const adcli = await inside("dpkg-query -W -f '${Version}' adcli");
    const sssd = await inside("dpkg-query -W -f '${Version}' sssd-common");
    const sssdRuns = await inside('sssd --version');
    Object.assign(report, { adcliInside: adcli, sssdInside: sssd, sssdBinaryInside: sssdRuns, adcliHost: hostVersion('adcli'), sssdHost: hostVersion('sssd-common') });
    expect(adcli).not.toBe(hostVersion('adcli'));
    expect(sssd).not.toBe(hostVersion('sssd-common'));
    expect(sssd.startsWith(sssdRuns)).toBe(true);
    // The running SSSD is the rootfs's binary (its /proc/PID/exe is inside this tree).
    expect(await inside('readlink /proc/$(cat /run/sssd.pid)/exe')).toBe('/usr/sbin/sssd');
    expect((await world.exec(instanceId, ['test', '-e', world.labPaths().paramsDir])).exitCode).not.toBe(0);
    expect((await world.exec(instanceId, ['test', '-e', world.labPaths().stateFile])).exitCode).not.toBe(0);
  });

  test('the join document ran there: Debian branch, packages found installed, SSSD started, verified', () => {
    const join = new LabFleet().listCommands(instanceId).find((c) => c.document === 'join');
    expect(join?.status).toBe('Success');
    expect(join?.stdout).toContain('adjoin: operating system: debian');
    expect(join?.stdout).toContain('adjoin: packages present');
    expect(join?.stdout).toContain('SSSD running');
    expect(join?.stdout).toContain('adcli testjoin passes');
    if (join?.startedAt && join.finishedAt) report.joinDocumentMs = Date.parse(join.finishedAt) - Date.parse(join.startedAt);
  });

  test("that release's SSSD resolves directory users and groups", async () => {
    const t0 = Date.now();
    const pw = await inside('getent passwd alice');
    report.firstLookupMs = Date.now() - t0;
    expect(pw).toMatch(/^alice:\*:\d+:\d+:/);
    const d = world.labState().domain;
    expect(await inside(`id -nG alice`)).toContain(d.loginGroup);
  });

  test('a PAM login works through it (pamtester in the rootfs): right password accepted, wrong refused, home made', async () => {
    const t0 = Date.now();
    expect(await pamLogin(instanceId, 'alice')).toMatchObject({ ok: true });
    report.firstLoginMs = Date.now() - t0;
    expect(await pamLogin(instanceId, 'alice', 'not-her-password')).toMatchObject({ ok: false });
    const session = await world.exec(instanceId, ['pamtester', 'login', 'alice', 'open_session'], { timeoutMs: 60_000 });
    expect(session.exitCode).toBe(0);
    expect(await inside('stat -c "%U %F" /home/alice')).toBe('alice directory');
  });

  test('adjoin lab terminate: the leave workflow deletes the computer object', async () => {
    const name = (await world.status()).instances.find((i) => i.instanceId === instanceId)?.computerName ?? '';
    expect(name).toMatch(/^[A-Z0-9-]{1,15}$/);
    const r = await adjoin('lab', 'terminate', instanceId, '--json');
    expect([r.code, json<{ execution: { workflow: string; status: string } }>(r.out).execution]).toEqual([0, expect.objectContaining({ workflow: 'leave', status: 'SUCCEEDED' })]);
    instanceId = '';
    const d = world.labState().domain;
    const found = await world.dcLdapSearch(d.baseDn, `(sAMAccountName=${name}$)`, ['dn'], { scope: 'sub' });
    expect(found.exitCode).toBe(0);
    expect(found.stdout).not.toContain('dn:');
  });

  test('the cached rootfs: a second look takes no build', async () => {
    const again = await ensureRootfs('trixie');
    expect([again.built, again.dir]).toEqual([false, rootfsDir('trixie')]);
    report.cachedRootfsMs = again.ms;
  });
});
