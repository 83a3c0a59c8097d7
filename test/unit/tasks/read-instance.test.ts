import { InvalidInput } from '../../../tasks/lib/errors';
import { readInstance } from '../../../tasks/lib/claim';
import { makeHandler } from '../../../tasks/read-instance';
import { goodEvent, instance, INSTANCE, NOW, world } from '../../fakes';

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
    });
    expect(w.fleetTargets).toEqual([{ account: '123456789012', region: 'eu-west-1' }]);
    expect(w.fleet.calls).toContainEqual([
      'tagInstance',
      INSTANCE,
      { 'adjoin:status': 'joining', 'adjoin:execution': 'exec-1', 'adjoin:claimed-at': NOW.toISOString() },
    ]);
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
    ['windows', instance({ platform: 'windows' }), 'skipped', /Windows join not supported yet/],
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
    const claimedAt = new Date(NOW.getTime() - 60_000).toISOString();
    w.fleet.instances.set(INSTANCE, instance({ tags: { 'Domain:Join': 'true', 'adjoin:status': 'joining', 'adjoin:execution': 'exec-0', 'adjoin:claimed-at': claimedAt } }));
    const out = await readInstance(input, w.deps);
    expect(out.outcome).toBe('in-progress');
    expect(out.reason).toMatch(/exec-0/);
    expect(w.fleet.calls.filter((c) => c[0] === 'tagInstance')).toEqual([]);
  });

  it('takes over a claim older than the lease, and re-claims its own', async () => {
    const w = world();
    const old = new Date(NOW.getTime() - 901_000).toISOString();
    w.fleet.instances.set(INSTANCE, instance({ tags: { 'Domain:Join': 'true', 'adjoin:status': 'joining', 'adjoin:execution': 'exec-0', 'adjoin:claimed-at': old } }));
    expect((await readInstance(input, w.deps)).outcome).toBe('proceed');
    expect((await readInstance(input, w.deps)).outcome).toBe('proceed'); // now claimed by exec-1 itself
  });

  it('yields to a rival that claimed at the same time with a lower execution name', async () => {
    // Prepare: the rival's tag write lands right after ours
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    const tag = w.fleet.tagInstance.bind(w.fleet);
    w.fleet.tagInstance = async (id, tags) => {
      await tag(id, tags);
      await tag(id, { 'adjoin:execution': 'exec-0', 'adjoin:claimed-at': NOW.toISOString() });
    };
    // Act
    const out = await readInstance(input, w.deps);
    // Assess
    expect(out).toMatchObject({ outcome: 'in-progress', reason: 'execution exec-0 claimed it at the same time', loginGroups: [] });
  });

  it('does not yield to the expired claim it took over when the read-back is stale', async () => {
    const w = world();
    const old = new Date(NOW.getTime() - 901_000).toISOString();
    w.fleet.instances.set(INSTANCE, instance({ tags: { 'Domain:Join': 'true', 'adjoin:status': 'joining', 'adjoin:execution': 'exec-0', 'adjoin:claimed-at': old } }));
    w.fleet.tagInstance = () => Promise.resolve(); // our write is not visible yet
    expect((await readInstance(input, w.deps)).outcome).toBe('proceed');
  });

  it('goes on when the rival claim has a higher execution name', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    const tag = w.fleet.tagInstance.bind(w.fleet);
    w.fleet.tagInstance = async (id, tags) => {
      await tag(id, tags);
      await tag(id, { 'adjoin:execution': 'exec-9' });
    };
    expect((await readInstance(input, w.deps)).outcome).toBe('proceed');
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
