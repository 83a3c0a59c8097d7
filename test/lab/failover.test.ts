/**
 * Failover, proven (issue 12): an instance joined through DC1 keeps resolving and logging in
 * directory users through DC2 while DC1 is stopped; with both DCs stopped a user who logged in
 * before still logs in from SSSD's cache (cache_credentials, written by join.sh); with both
 * back, everything recovers. Logins are real PAM authentications (pamtester through the
 * instance's own SSSD). Root only (jest.lab.config.js), the two-DC lab.
 */
import * as world from '../../lab/world';
import { LabFleet, labDeps } from '../../lab/world/fleet';
import { ensureLab, runDocument } from './helpers';
import { assertTwoDcs, eventually, pamLogin, productComputer, productJoinParameters, sssdKdc, sssdRefresh } from './dc-helpers';

const ms: Record<string, number> = {};
let restore: () => Promise<void> = () => Promise.resolve();
const fleet = new LabFleet();
const launched: string[] = [];
const created: string[] = [];
let instanceId = '';

const getent = async (user: string): Promise<boolean> => (await world.exec(instanceId, ['getent', 'passwd', user], { timeoutMs: 30_000 })).exitCode === 0;

beforeAll(async () => {
  const lab = await ensureLab();
  restore = lab.restore;
  if (lab.startedHere) ms['lab up'] = lab.upMs;
  assertTwoDcs();
  const i = await world.launch({ tags: { 'Domain:Join': 'true', Name: 'failover' } });
  instanceId = i.instanceId;
  launched.push(instanceId);
  const computer = await productComputer(fleet, instanceId);
  created.push(computer.dn);
  const { result, ms: joinMs } = await runDocument(fleet, instanceId, 'join', productJoinParameters(instanceId, computer));
  ms.join = joinMs;
  if (result.exitCode !== 0) throw new Error(`join failed: ${result.stderr}`);
});

afterAll(async () => {
  try {
    for (const dc of ['dc1', 'dc2']) await world.startDc(dc).catch(() => undefined);
    await fleet.settle();
    for (const id of launched) await world.terminate(id).catch(() => undefined);
    for (const id of launched) await fleet.deleteJoinSecret(id);
    const dir = labDeps().directory;
    for (const dn of created) await dir.deleteComputer(dn).catch(() => undefined);
  } finally {
    await restore();
    process.stderr.write(`lab timings (ms): ${JSON.stringify(ms)}\n`);
  }
});

describe('failover between the two DCs', () => {
  test('joined through DC1: SSSD is configured to cache credentials, and alice logs in', async () => {
    const conf = await world.exec(instanceId, ['cat', '/etc/sssd/sssd.conf']);
    expect(conf.stdout).toContain('cache_credentials = True');
    expect(conf.stdout).toContain('ad_server = dc1.lab.example.com, _srv_');
    expect(await getent('alice')).toBe(true);
    expect(await pamLogin(instanceId, 'alice')).toMatchObject({ ok: true });
    expect(await pamLogin(instanceId, 'alice', 'not-her-password')).toMatchObject({ ok: false });
  });

  test('DC1 stopped: users resolve and log in through DC2 (carol never logged in before: no cache can answer)', async () => {
    await world.stopDc('dc1');
    expect((await world.status()).domain?.domainControllers.map((d) => [d.name, d.state])).toEqual([['dc1', 'stopped'], ['dc2', 'running']]);
    await sssdRefresh(instanceId);
    ms['resolve through DC2'] = await eventually('alice resolves with DC1 stopped', 60_000, () => getent('alice'));
    expect(await getent('carol')).toBe(true);
    const t0 = Date.now();
    const carol = await pamLogin(instanceId, 'carol');
    ms['first login through DC2'] = Date.now() - t0;
    expect(carol).toMatchObject({ ok: true });
    expect(await pamLogin(instanceId, 'alice')).toMatchObject({ ok: true });
    // SSSD's Kerberos now goes to DC2.
    expect(await sssdKdc(instanceId)).toContain('10.77.0.3');
  });

  test('both DCs stopped: alice (logged in before) still logs in from the cache; a wrong password still fails', async () => {
    await world.stopDc('dc2');
    await world.exec(instanceId, ['sss_cache', '-E']);
    // Offline indeed: a user never looked up before does not resolve.
    expect(await getent('svc-adjoin')).toBe(false);
    expect(await pamLogin(instanceId, 'alice')).toMatchObject({ ok: true });
    expect(await pamLogin(instanceId, 'alice', 'not-her-password')).toMatchObject({ ok: false });
  });

  test('both DCs back: SSSD goes online again, users resolve and log in', async () => {
    const t0 = Date.now();
    await world.startDc('dc1');
    await world.startDc('dc2');
    ms['both DCs restarted'] = Date.now() - t0;
    expect((await world.status()).domain?.domainControllers.map((d) => d.state)).toEqual(['running', 'running']);
    await sssdRefresh(instanceId);
    // Online again: a user never looked up before (bob) resolves.
    ms['online again'] = await eventually('bob resolves (SSSD online again)', 90_000, () => getent('bob'));
    expect(await getent('svc-adjoin')).toBe(true);
    expect(await pamLogin(instanceId, 'alice')).toMatchObject({ ok: true });
    const t = await world.exec(instanceId, ['adcli', 'testjoin', '--domain=lab.example.com']);
    expect(t.exitCode).toBe(0);
  });
});
