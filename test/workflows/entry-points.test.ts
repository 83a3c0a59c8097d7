/**
 * The entry points of issue 13 on the synthesized ASL (join, leave and join-cleanup machines as
 * deployed), with the real task handlers over the simulated fleet (Auto Scaling groups with
 * hooks), claims and directories: lifecycle hooks answered, tag changes, Regions and member
 * accounts, routing to a second directory / OU, refusals with no side effect.
 */
import { statePath, timeline } from '../../engine';
import type { ConfigOverrides } from '../../infra/asl';
import { hookNames, tagChangePattern } from '../../infra/entry-rules';
import type { SimLifecycleAction } from '../../lab/sim/fleet';
import { AwsRefused, Throttled } from '../../tasks/lib/errors';
import { formatMarker } from '../../tasks/lib/marker';
import { matches } from '../infra/event-pattern';
import { definitions, workflowWorld, type WorkflowWorld } from './world';

const ID = 'i-0123456789abcdef0';
const OPT_IN = { 'Domain:Join': 'true' };
const HOOKS = hookNames('adjoin'); // the hook names the lifecycle rules match
const LIFECYCLE_ON = { lifecycle: { enabled: true } } as ConfigOverrides;

beforeAll(() => {
  definitions(LIFECYCLE_ON);
  definitions({}, true);
}, 180_000);

/** A world with lifecycle hooks on and an Auto Scaling group "web" with our launch and terminate hooks. */
function hooked(options: { onJoinFailure?: 'ABANDON' | 'CONTINUE'; heartbeatSeconds?: number; groupTimeout?: number; defaultResult?: 'ABANDON' | 'CONTINUE' } = {}): WorkflowWorld {
  const w = workflowWorld(['join', 'leave'], {
    config: { lifecycle: { enabled: true, ...(options.onJoinFailure ? { onJoinFailure: options.onJoinFailure } : {}), ...(options.heartbeatSeconds ? { heartbeatSeconds: options.heartbeatSeconds } : {}) } } as ConfigOverrides,
  });
  w.sim.fleet.addAutoScalingGroup({
    name: 'web',
    hooks: { launch: HOOKS.launch, terminate: HOOKS.terminate },
    heartbeatTimeoutSeconds: options.groupTimeout ?? 3600,
    defaultResult: options.defaultResult ?? 'ABANDON',
  });
  return w;
}

const completes = (w: WorkflowWorld) => w.sim.fleet.calls.filter((c) => c.op === 'completeLifecycleAction' && c.throttled !== true);
const ours = (w: WorkflowWorld, directory = w.sim.directory) =>
  directory.all().filter((o) => o.markerText === formatMarker({ account: w.defs.account, region: w.defs.region, instanceId: ID }));
const claimKey = (w: WorkflowWorld, id = ID, account = w.defs.account, region = w.defs.region) => `${account}/${region}/${id}`;

function launch(w: WorkflowWorld, spec: { tags?: Record<string, string>; ssmOnlineAfterSeconds?: number } = {}): SimLifecycleAction {
  const { action } = w.sim.fleet.launchInGroup('web', { instanceId: ID, tags: spec.tags ?? OPT_IN, ssmOnlineAfterSeconds: spec.ssmOnlineAfterSeconds ?? 30 });
  if (!action) throw new Error('the group has no launch hook');
  return action;
}

describe('Auto Scaling launch hook (join machine)', () => {
  test('launch hook → joined → CONTINUE: the instance waits in Pending:Wait until the join is verified, then InService', async () => {
    const w = hooked();
    const action = launch(w);
    let stateWhenRecorded: string | undefined;
    w.sim.fleet.before('tagInstance', (id, fleet) => (stateWhenRecorded = fleet.instance(id)?.lifecycleState));

    const run = await w.engine.start('join', w.lifecycleEvent(action), { name: 'hook-join' });

    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(['Read instance', 'Opted in?', 'Wait for SSM Online', 'Prepare computer object', 'Linux or Windows?', 'Run join document', 'Record result', 'Done']);
    expect(run.output).toMatchObject({ outcome: 'joined', instanceId: ID, lifecycle: { result: 'CONTINUE', accepted: true } });
    expect(stateWhenRecorded).toBe('Pending:Wait'); // still held while the join ran
    expect(action.answer).toBe('CONTINUE');
    expect(w.sim.fleet.instance(ID)?.lifecycleState).toBe('InService');
    expect(completes(w)).toHaveLength(1);
    expect(ours(w)).toHaveLength(1);
    expect(w.sim.fleet.instance(ID)?.tags).toMatchObject({ 'adjoin:status': 'joined', 'adjoin:directory': 'default' });
  });

  test('launch hook → join fails → ABANDON (default): the cleanup answers, the instance is terminated, the end is clean', async () => {
    const w = hooked();
    const action = launch(w);
    w.sim.fleet.script('join', { status: 'Failed', exitCode: 3, stderr: 'adcli: Preauthentication failed' });

    const run = await w.engine.start('join', w.lifecycleEvent(action), { name: 'hook-fail' });

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Run join document');
    expect(w.cleanups.map((c) => c.output)).toEqual([expect.objectContaining({ outcome: 'cleaned', lifecycle: { result: 'ABANDON', accepted: true } })]);
    expect(action.answer).toBe('ABANDON');
    expect(w.sim.fleet.instance(ID)).toMatchObject({ state: 'terminated', lifecycleState: 'Terminated' });
    expect(w.sim.fleet.parameterNames()).toEqual([]);
    expect(completes(w)).toHaveLength(1);
  });

  test('launch hook → join fails with lifecycle.onJoinFailure CONTINUE: the instance goes InService (recorded failed)', async () => {
    const w = hooked({ onJoinFailure: 'CONTINUE' });
    const action = launch(w);
    w.sim.fleet.script('join', { status: 'Failed', exitCode: 3, stderr: 'adcli: Preauthentication failed' });

    const run = await w.engine.start('join', w.lifecycleEvent(action), { name: 'hook-fail-continue' });

    expect(run.status).toBe('FAILED');
    expect(action.answer).toBe('CONTINUE');
    expect(w.sim.fleet.instance(ID)).toMatchObject({ state: 'running', lifecycleState: 'InService' });
    expect(w.sim.fleet.instance(ID)?.tags).toMatchObject({ 'adjoin:status': 'failed' });
  });

  test('not opted in (or opted out) with a launch hook: skipped and CONTINUE, nothing claimed or created', async () => {
    const w = hooked();
    const action = launch(w, { tags: { ...OPT_IN, autoadjoin: 'false' } });

    const run = await w.engine.start('join', w.lifecycleEvent(action), { name: 'hook-skip' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'skipped' });
    expect(action.answer).toBe('CONTINUE');
    expect(w.sim.claims.all()).toEqual([]);
    expect(w.sim.directory.all()).toEqual([]);
    expect(w.sim.fleet.calls.filter((c) => c.op === 'tagInstance')).toEqual([]);
  });

  test('already joined (a duplicate lifecycle event): CONTINUE without a second join', async () => {
    const w = hooked();
    const action = launch(w);
    const first = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'running-first' });
    expect(first.output).toMatchObject({ outcome: 'joined' });
    expect(action.answer).toBeUndefined(); // the running event's execution has no hook to answer

    const run = await w.engine.start('join', w.lifecycleEvent(action), { name: 'hook-after' });

    expect(run.output).toMatchObject({ outcome: 'already-joined' });
    expect(action.answer).toBe('CONTINUE');
    expect(w.sim.fleet.sentCommands().filter((c) => c.request.document === 'join')).toHaveLength(1);
  });

  test.each([
    ['the running event first', ['running', 'hook'] as const],
    ['the lifecycle event first', ['hook', 'running'] as const],
  ])('lifecycle + running events at once (%s): ONE join, the hook answered ONCE (CONTINUE)', async (_, order) => {
    const w = hooked();
    const action = launch(w);
    const event = { running: w.ec2Event(ID, 'running'), hook: w.lifecycleEvent(action) };

    const runs = await Promise.all(order.map((k) => w.engine.start('join', event[k], { name: `both-${k}` })));

    expect(runs.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const outcomes = runs.map((r) => (r.output as { outcome: string }).outcome).sort();
    expect(outcomes).toEqual(order[0] === 'running' ? ['already-joined', 'joined'] : ['in-progress', 'joined']);
    expect(w.sim.fleet.sentCommands().filter((c) => c.request.document === 'join')).toHaveLength(1);
    expect(ours(w)).toHaveLength(1);
    expect(completes(w)).toHaveLength(1);
    expect(action.answer).toBe('CONTINUE');
    expect(w.sim.fleet.instance(ID)?.lifecycleState).toBe('InService');
    if (order[0] === 'running') {
      // The hook's execution waited for the other join, then answered.
      const hookRun = runs[1];
      expect(hookRun && statePath(hookRun)).toContain('Wait for the other join');
    }
  });

  test('a join longer than the hook timeout sends heartbeats: the hook does not time out (default ABANDON)', async () => {
    // Hook timeout 60 s; the SSM agent comes Online after 150 s: without heartbeats ABANDON at 60 s.
    const w = hooked({ heartbeatSeconds: 60, groupTimeout: 60 });
    const action = launch(w, { ssmOnlineAfterSeconds: 150 });

    const run = await w.engine.start('join', w.lifecycleEvent(action), { name: 'hook-long' });

    expect(run.status).toBe('SUCCEEDED');
    const beats = w.sim.fleet.calls.filter((c) => c.op === 'recordLifecycleHeartbeat');
    expect(beats.length).toBeGreaterThanOrEqual(2);
    // Never more often than a third of the timeout.
    for (let k = 1; k < beats.length; k++) expect((beats[k]?.atMs ?? 0) - (beats[k - 1]?.atMs ?? 0)).toBeGreaterThanOrEqual(20_000);
    expect(action.answer).toBe('CONTINUE');
    expect(w.sim.fleet.instance(ID)?.lifecycleState).toBe('InService');
  });

  test('CompleteLifecycleAction throttled: "Record result" retries it and the hook is answered', async () => {
    const w = hooked();
    const action = launch(w);
    w.sim.fleet.fail('completeLifecycleAction', 3, () => new Throttled('Auto Scaling CompleteLifecycleAction: Rate exceeded'));

    const run = await w.engine.start('join', w.lifecycleEvent(action), { name: 'hook-throttled' });

    expect(run.status).toBe('SUCCEEDED');
    expect(timeline(run).find((r) => r.state === 'Record result')?.retries).toBe(3);
    expect(action.answer).toBe('CONTINUE');
  });

  test('CompleteLifecycleAction refused after the join was recorded: the cleanup answers CONTINUE (the instance IS joined)', async () => {
    const w = hooked();
    const action = launch(w);
    w.sim.fleet.fail('completeLifecycleAction', 1, () => new AwsRefused('Auto Scaling CompleteLifecycleAction: AccessDenied'));

    const run = await w.engine.start('join', w.lifecycleEvent(action), { name: 'hook-refused' });

    expect([run.status, run.failedState, run.error]).toEqual(['FAILED', 'Record result', 'AwsRefused']);
    expect(w.cleanups.map((c) => c.output)).toEqual([expect.objectContaining({ outcome: 'nothing', lifecycle: { result: 'CONTINUE', accepted: true } })]);
    expect(action.answer).toBe('CONTINUE');
    expect(w.sim.fleet.instance(ID)?.lifecycleState).toBe('InService');
  });

  test('the action already expired (its timeout took the default result): answered false, the join still succeeds', async () => {
    const w = hooked({ groupTimeout: 30, defaultResult: 'CONTINUE' });
    const action = launch(w, { ssmOnlineAfterSeconds: 60 });

    const run = await w.engine.start('join', w.lifecycleEvent(action), { name: 'hook-expired' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'joined', lifecycle: { result: 'CONTINUE', accepted: false } });
    expect(action.answer).toBe('timeout');
  });

  test('hostile lifecycle fields: InvalidInput at "Read instance", nothing claimed, created or answered', async () => {
    const w = hooked();
    const action = launch(w);
    const event = w.lifecycleEvent(action);
    (event.detail as Record<string, unknown>).LifecycleHookName = 'x"; rm -rf /';
    (event.detail as Record<string, unknown>).LifecycleActionToken = '{{ssm-secure:/x}}';

    const run = await w.engine.start('join', event, { name: 'hook-hostile' });

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Read instance');
    expect(run.error).toBe('InvalidInput');
    expect(run.cause).toMatch(/LifecycleHookName.*LifecycleActionToken/s);
    expect(w.sim.claims.all()).toEqual([]);
    expect(w.sim.directory.all()).toEqual([]);
    expect(completes(w)).toEqual([]);
    expect(w.cleanups.map((c) => (c.output as { outcome: string }).outcome)).toEqual(['nothing']);
  });

  test('the instance vanishes mid-join: compensation, and the hook is answered (onJoinFailure) if it is still pending', async () => {
    const w = hooked();
    const action = launch(w);
    w.sim.fleet.before('sendCommand', (id, fleet) => fleet.terminate(id)); // SendCommand then refuses

    const run = await w.engine.start('join', w.lifecycleEvent(action), { name: 'hook-gone' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'abandoned' });
    expect(completes(w)).toHaveLength(1);
    expect(action.answer).toBe('ABANDON');
    expect(ours(w)).toEqual([]);
  });
});

describe('Auto Scaling terminate hook (leave machine)', () => {
  test('terminate hook → object deleted while the instance waits in Terminating:Wait → CONTINUE', async () => {
    const w = hooked();
    launch(w);
    const joined = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-then-scale-in' });
    expect(joined.output).toMatchObject({ outcome: 'joined' });
    w.sim.clock.advance(3600);
    const action = w.sim.fleet.scaleIn(ID);
    if (!action) throw new Error('no terminate hook');
    // What the directory holds, and where the instance is, at the moment the hook is answered.
    let atAnswer: { objects: number; lifecycleState?: string } | undefined;
    w.sim.fleet.before('completeLifecycleAction', (id, fleet) => (atAnswer = { objects: ours(w).length, lifecycleState: fleet.instance(id)?.lifecycleState }));

    const run = await w.engine.start('leave', w.lifecycleEvent(action), { name: 'hook-leave' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'left', deleted: 1, lifecycle: { result: 'CONTINUE', accepted: true } });
    expect(ours(w)).toEqual([]);
    expect(atAnswer).toEqual({ objects: 0, lifecycleState: 'Terminating:Wait' }); // the object went before the instance
    expect(action.answer).toBe('CONTINUE');
    expect(w.sim.fleet.instance(ID)?.state).toBe('terminated');
  });

  test('terminate hook with nothing to delete → CONTINUE at once', async () => {
    const w = hooked();
    launch(w, { tags: {} });
    const action = w.sim.fleet.scaleIn(ID);
    if (!action) throw new Error('no terminate hook');

    const run = await w.engine.start('leave', w.lifecycleEvent(action), { name: 'hook-leave-nothing' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'nothing' });
    expect(action.answer).toBe('CONTINUE');
  });

  test('a running instance NOT in Terminating:Wait is still "alive" for a terminated event: nothing deleted', async () => {
    const w = hooked();
    launch(w);
    await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-alive' });
    w.sim.clock.advance(3600);

    const run = await w.engine.start('leave', w.ec2Event(ID, 'terminated'), { name: 'late-terminated' });

    expect(run.output).toMatchObject({ outcome: 'instance-alive' });
    expect(ours(w)).toHaveLength(1);
  });
});

describe('tag changes', () => {
  test('the opt-in tag added to a running instance → join', async () => {
    const w = workflowWorld(['join']);
    w.sim.fleet.addInstance({ instanceId: ID, tags: { Name: 'web-1' } });
    w.sim.fleet.instance(ID)!.tags['Domain:Join'] = 'true';

    const run = await w.engine.start('join', w.tagEvent(ID, ['Domain:Join'], { Name: 'web-1', 'Domain:Join': 'true' }), { name: 'tag-join' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'joined', instanceId: ID });
    expect(ours(w)).toHaveLength(1);
  });

  test('an unrelated tag change starts no execution (the rule pattern), and reaching the task it does nothing', async () => {
    const w = workflowWorld(['join']);
    w.sim.fleet.addInstance({ instanceId: ID, tags: { ...OPT_IN, Name: 'web-1' } });
    const noise = [
      w.tagEvent(ID, ['Name'], { ...OPT_IN, Name: 'web-2' }),
      w.tagEvent(ID, ['adjoin:status'], { ...OPT_IN, 'adjoin:status': 'joined' }),
      w.tagEvent(ID, ['Domain:Join'], { Name: 'web-1' }), // opt-in deleted
      w.tagEvent(ID, ['autoadjoin'], { ...OPT_IN, autoadjoin: 'false' }), // opt-out, leaveOnOptOut off
    ];
    const pattern = tagChangePattern({ optIn: { key: 'Domain:Join', value: 'true' }, optOut: { key: 'autoadjoin', value: 'false' } });
    const patternJson = JSON.parse(JSON.stringify({ source: pattern.source, 'detail-type': pattern.detailType, detail: pattern.detail })) as Record<string, unknown>;

    expect(noise.map((e) => matches(patternJson, e as never))).toEqual([false, false, false, true]);
    for (const [k, e] of noise.entries()) {
      const run = await w.engine.start('join', e, { name: `noise-${k}` });
      expect(run.status).toBe('SUCCEEDED');
      expect(run.output).toMatchObject({ outcome: 'skipped' });
    }
    const optOut = await w.engine.start('join', noise[3], { name: 'opt-out' });
    expect((optOut.output as { reason: string }).reason).toMatch(/leaveOnOptOut is off/);
    expect(w.sim.claims.all()).toEqual([]);
    expect(w.sim.directory.all()).toEqual([]);
    expect(w.sim.fleet.calls.filter((c) => c.op !== 'describeInstance')).toEqual([]);
  });
});

describe('Regions, member accounts and routing (infra/sample-config.organization.json)', () => {
  const org = () => workflowWorld(['join'], { organization: true });

  test('an instance in a second Region (eu-central-1) joins the directory its rule names ("eu"), in its own Region', async () => {
    const w = org();
    const from = { account: w.defs.account, region: 'eu-central-1' };
    w.sim.fleet.addInstance({ instanceId: ID, ...from, tags: OPT_IN });

    const run = await w.engine.start('join', w.ec2Event(ID, 'running', from), { name: 'second-region' });

    expect(run.status).toBe('SUCCEEDED');
    const eu = w.sim.directoryFor('eu') as typeof w.sim.directory;
    const objects = eu.all().filter((o) => o.markerText === formatMarker({ ...from, instanceId: ID }));
    expect(objects).toHaveLength(1);
    expect(objects[0]?.dn).toMatch(/,OU=Linux,OU=Servers,DC=eu,DC=example,DC=com$/);
    expect(w.sim.directory.all()).toEqual([]); // not in corp
    expect(w.sim.fleet.instance(ID)?.tags).toMatchObject({ 'adjoin:directory': 'eu', 'adjoin:status': 'joined' });
    expect(w.sim.claims.item(claimKey(w, ID, from.account, from.region))).toMatchObject({ status: 'joined', directory: 'eu' });
    const join = w.sim.fleet.sentCommands().find((c) => c.request.document === 'join');
    expect(join?.request.parameters).toMatchObject({ DomainName: 'eu.example.com', ComputerOu: 'OU=Linux,OU=Servers,DC=eu,DC=example,DC=com' });
  });

  test('leave finds the object in the directory recorded at join ("eu") and deletes it there', async () => {
    const w = workflowWorld(['join', 'leave'], { organization: true });
    const from = { account: w.defs.account, region: 'eu-central-1' };
    w.sim.fleet.addInstance({ instanceId: ID, ...from, tags: OPT_IN });
    await w.engine.start('join', w.ec2Event(ID, 'running', from), { name: 'join-eu' });
    const eu = w.sim.directoryFor('eu') as typeof w.sim.directory;
    expect(eu.all()).toHaveLength(1);
    w.sim.clock.advance(3600);
    w.sim.fleet.terminate(ID);

    const run = await w.engine.start('leave', w.ec2Event(ID, 'terminated', from), { name: 'leave-eu' });

    expect(run.output).toMatchObject({ outcome: 'left', deleted: 1 });
    expect(eu.all()).toEqual([]);
  });

  test('an instance in a member account (333333333333) joins the directory of its rule ("corp")', async () => {
    const w = org();
    const from = { account: '333333333333', region: w.defs.region };
    w.sim.fleet.addInstance({ instanceId: ID, ...from, tags: OPT_IN });

    const run = await w.engine.start('join', w.ec2Event(ID, 'running', from), { name: 'member-account' });

    expect(run.status).toBe('SUCCEEDED');
    const objects = w.sim.directory.all().filter((o) => o.markerText === formatMarker({ ...from, instanceId: ID }));
    expect(objects).toHaveLength(1);
    expect(objects[0]?.dn.endsWith(w.sim.settings.directory.computerOu)).toBe(true);
    expect(w.sim.fleet.instance(ID)?.tags).toMatchObject({ 'adjoin:directory': 'corp' });
  });

  test('a tag rule routes to a second directory; adjoin:ou names an OU inside its managed OUs', async () => {
    const w = org();
    const inner = 'OU=Web,OU=Linux,OU=Servers,DC=eu,DC=example,DC=com';
    w.sim.fleet.addInstance({ instanceId: ID, tags: { ...OPT_IN, team: 'platform-eu', 'adjoin:ou': inner } });

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'tag-routed' });

    expect([run.status, run.failedState, run.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
    const eu = w.sim.directoryFor('eu') as typeof w.sim.directory;
    expect(ours(w, eu).map((o) => o.dn)).toEqual([expect.stringMatching(new RegExp(`^CN=[^,]+,${inner}$`))]);
  });

  test('an adjoin:ou outside the managed OUs is refused at "Read instance" (InvalidInput naming the tag), no side effect', async () => {
    const w = org();
    w.sim.fleet.addInstance({ instanceId: ID, tags: { ...OPT_IN, 'adjoin:ou': 'OU=Domain Controllers,DC=corp,DC=example,DC=com' } });

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'ou-refused' });

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Read instance');
    expect(run.error).toBe('InvalidInput');
    expect(run.cause).toMatch(/Tag adjoin:ou=.*is refused/);
    expect(w.sim.claims.all()).toEqual([]);
    expect(w.sim.directory.all()).toEqual([]);
    expect(w.sim.fleet.calls.filter((c) => c.op !== 'describeInstance')).toEqual([]);
  });
});
