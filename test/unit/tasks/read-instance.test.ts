import { InvalidInput } from '../../../tasks/lib/errors';
import { readInstance } from '../../../tasks/lib/claim';
import { makeHandler } from '../../../tasks/read-instance';
import { WINDOWS_DEFAULTS } from '../../../tasks/lib/windows-settings';
import { goodEvent, instance, INSTANCE, NOW, testSettings, world } from '../../fakes';

const KEY = `123456789012/eu-west-1/${INSTANCE}`;

const input = { event: goodEvent, executionName: 'exec-1' };

describe('Read instance', () => {
  it('claims an opted-in running Linux instance and proceeds', async () => {
    // Prepare
    const w = world();
    w.fleet.instances.set(INSTANCE, instance({ tags: { 'Domain:Join': 'true', adGroupName: 'web-ops,db-ops' } }));
    // Act
    const out = await readInstance(input, w.deps);
    // Assess
    expect(out).toEqual({
      instanceId: INSTANCE,
      account: '123456789012',
      region: 'eu-west-1',
      outcome: 'proceed',
      reason: 'opted in',
      platform: 'linux',
      loginGroups: ['web-ops', 'db-ops'],
      // Routed before the claim (one directory: "default", its computer OU).
      directory: 'default',
      computerOu: w.deps.settings.directory.computerOu,
    });
    expect(w.fleetTargets).toEqual([{ account: '123456789012', region: 'eu-west-1' }]);
    // One DescribeInstances, no tag write, one conditional claim write.
    expect(w.fleet.calls.map((c) => c[0])).toEqual(['describeInstance']);
    const now = NOW.getTime() / 1000;
    expect(w.claims.item(KEY)).toEqual({ key: KEY, execution: 'exec-1', status: 'joining', claimedAt: now, leaseUntil: now + 900, ttl: now + 900 + 90 * 86400, round: 0 });
    expect(w.claims.calls.map((c) => c.op)).toEqual(['take']);
  });

  it('claims an opted-in Windows instance when Windows joins are enabled; $.instance carries the platform', async () => {
    const w = world({ ...testSettings(), windows: { ...WINDOWS_DEFAULTS } });
    w.fleet.instances.set(INSTANCE, instance({ platform: 'windows', tags: { 'Domain:Join': 'true', adGroupName: 'rdp-users' } }));
    const out = await readInstance(input, w.deps);
    expect(out).toMatchObject({ outcome: 'proceed', platform: 'windows', loginGroups: ['rdp-users'] });
    expect(w.claims.item(KEY)).toMatchObject({ execution: 'exec-1', status: 'joining' });
  });

  it('uses the configured login groups when the instance has no group tag', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    expect((await readInstance(input, w.deps)).loginGroups).toEqual(['linux-admins']);
  });

  it.each([
    ['gone', undefined, 'skipped', /no longer exists/],
    ['stopped', instance({ state: 'stopped' }), 'skipped', /stopped, not running/],
    ['terminated', instance({ state: 'terminated' }), 'skipped', /terminated/],
    ['not opted in', instance({ tags: {} }), 'skipped', /not opted in/],
    ['opted out', instance({ tags: { 'Domain:Join': 'true', autoadjoin: 'false' } }), 'skipped', /opted out/],
    ['windows (Windows joins not enabled)', instance({ platform: 'windows' }), 'skipped', /Windows joins are not enabled \(configuration windows\.enabled\)/],
    ['joined', instance({ tags: { 'Domain:Join': 'true', 'adjoin:status': 'joined', 'adjoin:computer-name': 'ABC' } }), 'already-joined', /already joined as ABC/],
  ])('ends early when %s, without tagging', async (_case, info, outcome, reason) => {
    // Prepare
    const w = world();
    if (info) w.fleet.instances.set(INSTANCE, info);
    // Act
    const out = await readInstance(input, w.deps);
    // Assess
    expect(out.outcome).toBe(outcome);
    expect(out.reason).toMatch(reason);
    expect(w.fleet.calls.filter((c) => c[0] === 'tagInstance')).toEqual([]);
  });

  it('leaves an instance to another execution whose claim is fresh', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    const now = NOW.getTime() / 1000;
    await w.claims.take(KEY, 'exec-0', now - 60, 900);
    const out = await readInstance(input, w.deps);
    expect(out.outcome).toBe('in-progress');
    expect(out.reason).toMatch(/exec-0 is joining it \(claimed 60 s ago\)/);
    expect(w.claims.item(KEY)?.execution).toBe('exec-0');
    expect(w.fleet.calls.filter((c) => c[0] === 'tagInstance')).toEqual([]);
  });

  it('says already joined when the claim is joined, and writes nothing', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    const now = NOW.getTime() / 1000;
    await w.claims.take(KEY, 'exec-0', now - 600, 900);
    await w.claims.update(KEY, 'exec-0', { status: 'joined', computerName: 'EC2ABC' });
    const before = w.claims.item(KEY);
    const out = await readInstance(input, w.deps);
    expect(out).toMatchObject({ outcome: 'already-joined', reason: expect.stringMatching(/EC2ABC/) as string });
    expect(w.claims.item(KEY)).toEqual(before);
  });

  it.each([
    ['older than the lease', (now: number) => ({ claimedAt: now - 901, leaseUntil: now - 1 })],
    ['whose lease lies further ahead than a lease (invalid)', (now: number) => ({ claimedAt: now, leaseUntil: now + 5000 })],
    ['claimed in the future (invalid)', (now: number) => ({ claimedAt: now + 3600, leaseUntil: now + 100 })],
    ['failed', () => ({ status: 'failed' as const })],
    ['released', () => ({ status: 'released' as const })],
  ])('takes over a claim %s, and re-claims its own', async (_case, patch) => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    const now = NOW.getTime() / 1000;
    await w.claims.take(KEY, 'exec-0', now - 60, 900);
    await w.claims.update(KEY, 'exec-0', patch(now));
    expect((await readInstance(input, w.deps)).outcome).toBe('proceed');
    expect(w.claims.item(KEY)).toMatchObject({ execution: 'exec-1', status: 'joining', claimedAt: now });
    expect((await readInstance(input, w.deps)).outcome).toBe('proceed'); // now claimed by exec-1 itself
  });

  it('two executions at once: exactly one takes the claim', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    const outs = await Promise.all(['exec-1', 'exec-2', 'exec-3'].map((executionName) => readInstance({ event: goodEvent, executionName }, w.deps)));
    expect(outs.filter((o) => o.outcome === 'proceed')).toHaveLength(1);
    expect(outs.filter((o) => o.outcome === 'in-progress')).toHaveLength(2);
  });

  it('refuses a hostile login-group tag with InvalidInput and does nothing', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance({ tags: { 'Domain:Join': 'true', adGroupName: 'admins)(|(cn=*' } }));
    await expect(readInstance(input, w.deps)).rejects.toThrow(InvalidInput);
    expect(w.fleet.calls.filter((c) => c[0] === 'tagInstance')).toEqual([]);
  });

  it('handler: refuses a malformed event before touching EC2', async () => {
    const w = world();
    const handler = makeHandler(() => Promise.resolve(w.deps));
    await expect(handler({ event: { ...goodEvent, account: 'x' }, executionName: 'exec-1' })).rejects.toMatchObject({ name: 'InvalidInput' });
    expect(w.fleet.calls).toEqual([]);
  });

  it('handler: passes the event through the whole chain', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    const handler = makeHandler(() => Promise.resolve(w.deps));
    await expect(handler({ event: goodEvent, executionName: 'exec-1' })).resolves.toMatchObject({ outcome: 'proceed' });
  });
});
