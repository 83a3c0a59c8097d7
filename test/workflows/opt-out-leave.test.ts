/**
 * tags.leaveOnOptOut (issue 13, item 2) on the synthesized ASL: the opt-out tag set on a joined,
 * RUNNING instance starts the LEAVE machine (its own rule); the object goes only while the
 * instance still carries the opt-out tag exactly and the object is the one the join claim
 * recorded; the instance is tagged "left" and the claim released, so the opt-in tag set again
 * joins it again. Without the flag the rule sends the opt-out to the join machine, which records it.
 */
import { statePath } from '../../engine';
import type { ConfigOverrides } from '../../infra/asl';
import { tagChangePattern } from '../../infra/entry-rules';
import { formatMarker } from '../../tasks/lib/marker';
import { matches } from '../infra/event-pattern';
import { definitions, workflowWorld, type WorkflowWorld } from './world';

const ID = 'i-0123456789abcdef0';
const OPT_IN = { 'Domain:Join': 'true' };
const OPT_OUT = { autoadjoin: 'false' };
const LEAVE_ON_OPT_OUT = { tags: { joinOnTagChange: true, leaveOnOptOut: true } } as ConfigOverrides;
const TAGS = { optIn: { key: 'Domain:Join', value: 'true' }, optOut: { key: 'autoadjoin', value: 'false' } };

beforeAll(() => {
  definitions(LEAVE_ON_OPT_OUT);
}, 180_000);

const ours = (w: WorkflowWorld) => w.sim.directory.all().filter((o) => o.markerText === formatMarker({ account: w.defs.account, region: w.defs.region, instanceId: ID }));
const claimKey = (w: WorkflowWorld) => `${w.defs.account}/${w.defs.region}/${ID}`;
const deletes = (w: WorkflowWorld) => w.sim.directory.calls.filter((c) => c.op === 'deleteComputer');

/** A joined, running instance (joined by the join machine on its running event). */
async function joined(): Promise<WorkflowWorld> {
  const w = workflowWorld(['join', 'leave'], { config: LEAVE_ON_OPT_OUT });
  w.sim.fleet.addInstance({ instanceId: ID, tags: { ...OPT_IN, Name: 'web-1' } });
  const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-1' });
  expect(run.output).toMatchObject({ outcome: 'joined' });
  expect(ours(w)).toHaveLength(1);
  return w;
}

/** The opt-out tag set on the instance, and the event EventBridge sends for it. */
function optOut(w: WorkflowWorld): Record<string, unknown> {
  Object.assign(w.sim.fleet.instance(ID)!.tags, OPT_OUT);
  return w.tagEvent(ID, ['autoadjoin'], { ...w.sim.fleet.instance(ID)!.tags });
}

describe('tags.leaveOnOptOut: the opt-out tag on a running instance → leave machine', () => {
  test('object deleted, instance tagged "left", claim released; the instance keeps running', async () => {
    const w = await joined();
    const guid = w.sim.claims.item(claimKey(w))?.objectGuid;
    expect(guid).toBeDefined();

    const run = await w.engine.start('leave', optOut(w), { name: 'opt-out-1' });

    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(['Find computer objects', 'Anything to delete?', 'Delete computer objects', 'Record leave', 'Done']);
    expect(run.output).toMatchObject({ outcome: 'left', deleted: 1, skipped: 0 });
    expect(ours(w)).toEqual([]);
    expect(w.sim.fleet.instance(ID)?.state).toBe('running');
    expect(w.sim.fleet.instance(ID)?.tags).toMatchObject({ 'adjoin:status': 'left', 'adjoin:execution': 'opt-out-1', ...OPT_OUT });
    expect(w.sim.claims.item(claimKey(w))).toMatchObject({ status: 'released', objectGuid: guid });
    // Nothing ran on the instance (no document): only the join's commands were sent.
    expect(w.sim.fleet.calls.filter((c) => c.op === 'sendCommand')).toHaveLength(1);
  });

  test('opt-out, then the opt-in tag set back → joins again (a new object, claim joined)', async () => {
    const w = await joined();
    await w.engine.start('leave', optOut(w), { name: 'opt-out-1' });
    expect(ours(w)).toEqual([]);

    const tags = w.sim.fleet.instance(ID)!.tags;
    delete tags.autoadjoin;
    delete tags['Domain:Join'];
    tags['Domain:Join'] = 'true';
    const run = await w.engine.start('join', w.tagEvent(ID, ['Domain:Join'], { ...tags }), { name: 'opt-in-2' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'joined', instanceId: ID });
    expect(ours(w)).toHaveLength(1);
    expect(w.sim.fleet.instance(ID)?.tags).toMatchObject({ 'adjoin:status': 'joined' });
    expect(w.sim.claims.item(claimKey(w))).toMatchObject({ status: 'joined', execution: 'opt-in-2', objectGuid: ours(w)[0]?.guid });
  });

  test('the opt-out tag removed again before the delete → nothing deleted, the reason says why', async () => {
    const w = await joined();
    const event = optOut(w);
    let describes = 0;
    // Find computer objects sees the tag; the delete's re-read (the 2nd describe) no longer does.
    w.sim.fleet.before('describeInstance', (id, fleet) => {
      if (++describes === 2) delete fleet.instance(id)!.tags.autoadjoin;
    }, 2);

    const run = await w.engine.start('leave', event, { name: 'opt-out-removed' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'partial', deleted: 0, skipped: 1 });
    expect((run.output as { notDeleted: { reason: string }[] }).notDeleted[0]?.reason).toMatch(/no longer carries the opt-out tag autoadjoin: it stays joined, nothing is deleted/);
    expect(ours(w)).toHaveLength(1);
    expect(deletes(w)).toEqual([]);
    expect(w.sim.fleet.instance(ID)?.tags).toMatchObject({ 'adjoin:status': 'joined' });
    expect(w.sim.claims.item(claimKey(w))).toMatchObject({ status: 'joined' });
  });

  test('an opt-out value that is not exact (another case) → nothing deleted at "Find computer objects"', async () => {
    const w = await joined();
    w.sim.fleet.instance(ID)!.tags.autoadjoin = 'FALSE';
    const run = await w.engine.start('leave', w.tagEvent(ID, ['autoadjoin'], { ...w.sim.fleet.instance(ID)!.tags }), { name: 'opt-out-case' });

    expect(run.output).toMatchObject({ outcome: 'instance-alive', reason: expect.stringMatching(/not exactly "false"/) as string });
    expect(ours(w)).toHaveLength(1);
  });

  test('the object is not the one the claim recorded (GUID mismatch) → not deleted', async () => {
    const w = await joined();
    const claim = w.sim.claims.item(claimKey(w))!;
    await w.sim.claims.update(claimKey(w), claim.execution, { objectGuid: '5a000000-0000-4000-8000-0000000000ff' });

    const run = await w.engine.start('leave', optOut(w), { name: 'opt-out-guid' });

    expect(run.output).toMatchObject({ outcome: 'nothing', reason: expect.stringMatching(/not the recorded 5a000000-0000-4000-8000-0000000000ff/) as string });
    expect(ours(w)).toHaveLength(1);
    expect(deletes(w)).toEqual([]);
    expect(w.sim.claims.item(claimKey(w))).toMatchObject({ status: 'joined' });
  });

  test('a foreign object (our name and marker, not created by us, no GUID recorded) → not deleted', async () => {
    const w = workflowWorld(['join', 'leave'], { config: LEAVE_ON_OPT_OUT });
    w.sim.fleet.addInstance({ instanceId: ID, tags: { ...OPT_IN, ...OPT_OUT, 'adjoin:status': 'joined' } });
    w.sim.directory.add({ name: 'EC2-FOREIGN', ou: w.defs.settings.directory.managedOus[0]!, marker: { account: w.defs.account, region: w.defs.region, instanceId: ID }, owner: 'someone-else' });

    const run = await w.engine.start('leave', w.tagEvent(ID, ['autoadjoin'], { ...w.sim.fleet.instance(ID)!.tags }), { name: 'opt-out-foreign' });

    expect(run.output).toMatchObject({ outcome: 'nothing' });
    expect(w.sim.directory.all()).toHaveLength(1);
    expect(deletes(w)).toEqual([]);
  });

  test('the event twice → one delete; the second execution ends clean with nothing to delete', async () => {
    const w = await joined();
    const event = optOut(w);
    const first = await w.engine.start('leave', event, { name: 'opt-out-a' });
    const second = await w.engine.start('leave', event, { name: 'opt-out-b' });

    expect(first.output).toMatchObject({ outcome: 'left', deleted: 1 });
    expect(second.status).toBe('SUCCEEDED');
    expect(second.output).toMatchObject({ outcome: 'nothing' });
    expect(deletes(w)).toHaveLength(1);
    expect(w.sim.claims.item(claimKey(w))).toMatchObject({ status: 'released' });
  });

  test('the object already gone (deleted by hand) → the claim is released anyway, and the opt-in tag set back joins again', async () => {
    const w = await joined();
    for (const o of ours(w)) await w.sim.directory.deleteComputer(o.dn);
    expect(ours(w)).toEqual([]);

    const run = await w.engine.start('leave', optOut(w), { name: 'opt-out-gone' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'left', deleted: 0, skipped: 0 });
    expect(w.sim.claims.item(claimKey(w))).toMatchObject({ status: 'released' });
    expect(w.sim.fleet.instance(ID)?.tags).toMatchObject({ 'adjoin:status': 'left' });
    const tags = w.sim.fleet.instance(ID)!.tags;
    delete tags.autoadjoin;
    const again = await w.engine.start('join', w.tagEvent(ID, ['Domain:Join'], { ...tags }), { name: 'opt-in-again' });
    expect(again.output).toMatchObject({ outcome: 'joined' });
    expect(ours(w)).toHaveLength(1);
  });

  test('the rules: opt-in → join machine; opt-out (exact value) → leave machine; noise → neither', () => {
    const json = (p: ReturnType<typeof tagChangePattern>) => JSON.parse(JSON.stringify({ source: p.source, 'detail-type': p.detailType, detail: p.detail })) as Record<string, unknown>;
    const w = workflowWorld(['join'], { config: LEAVE_ON_OPT_OUT });
    const join = json(tagChangePattern(TAGS, 'optIn'));
    const leave = json(tagChangePattern(TAGS, 'optOut'));
    const events = [
      w.tagEvent(ID, ['Domain:Join'], OPT_IN),
      w.tagEvent(ID, ['autoadjoin'], { ...OPT_IN, ...OPT_OUT }),
      w.tagEvent(ID, ['autoadjoin'], { ...OPT_IN, autoadjoin: 'FALSE' }),
      w.tagEvent(ID, ['autoadjoin'], OPT_IN), // opt-out deleted
      w.tagEvent(ID, ['adjoin:status'], { ...OPT_IN, 'adjoin:status': 'left' }),
    ];
    expect(events.map((e) => [matches(join, e as never), matches(leave, e as never)])).toEqual([
      [true, false],
      [false, true],
      [false, false],
      [false, false],
      [false, false],
    ]);
  });
});

describe('without tags.leaveOnOptOut', () => {
  test('the leave machine given an opt-out event deletes nothing (a running instance is alive)', async () => {
    const w = workflowWorld(['join', 'leave']);
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-1' });
    Object.assign(w.sim.fleet.instance(ID)!.tags, OPT_OUT);

    const run = await w.engine.start('leave', w.tagEvent(ID, ['autoadjoin'], { ...OPT_IN, ...OPT_OUT }), { name: 'opt-out-off' });

    expect(run.output).toMatchObject({ outcome: 'nothing', reason: expect.stringMatching(/leaveOnOptOut is off/) as string });
    expect(ours(w)).toHaveLength(1);
    expect(w.sim.fleet.instance(ID)?.tags).toMatchObject({ 'adjoin:status': 'joined' });
  });
});
