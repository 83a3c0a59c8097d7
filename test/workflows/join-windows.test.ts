/**
 * The Windows branch of the join state machine, on the synthesized ASL (windows.enabled), with
 * the real task handlers over a simulated Windows SSM Agent (lab/sim/windows-agent.ts: the
 * outcomes of infra/documents/join-windows.ps1, the reboot SSM makes for exit 3010) on a
 * virtual clock.
 */
import { statePath, timeline, type ExecutionRecord } from '../../engine';
import { WINDOWS_REBOOT_SECONDS } from '../../lab/sim/windows-agent';
import { Errors } from '../../tasks/lib/errors';
import { computerName } from '../../tasks/lib/naming';
import { claimKeyOf, expectCleanEnd, oursOf, watchOtps } from './join-ends';
import { definitions, workflowWorld, type WorkflowWorld } from './world';

const ID = 'i-0a1b2c3d4e5f60718';
const OPT_IN = { 'Domain:Join': 'true', adGroupName: 'rdp users' };
const WINDOWS = { windows: { enabled: true } };

const WINDOWS_PATH = ['Read instance', 'Opted in?', 'Wait for SSM Online', 'Prepare computer object', 'Linux or Windows?', 'Run Windows join document', 'Record result', 'Done'];

beforeAll(() => {
  definitions(WINDOWS);
}, 120_000);

const world = (config: object = WINDOWS): WorkflowWorld => workflowWorld(['join'], { config });
const start = (w: WorkflowWorld, name: string): Promise<ExecutionRecord> => w.engine.start('join', w.ec2Event(ID, 'running'), { name });
const windowsCommands = (w: WorkflowWorld) => w.sim.fleet.sentCommands().filter((c) => c.request.document === 'joinWindows');
const nameOf = (w: WorkflowWorld): string => computerName(ID, w.sim.settings.naming.prefix, 0);

describe('join workflow, Windows branch (synthesized ASL, real tasks, simulated Windows agent)', () => {
  test('joined after a reboot: the Windows branch to "Joined"; the wait polled through the reboot; the OTP retired and gone', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN });
    const otps = watchOtps(w);

    const run = await start(w, 'win-joined');

    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(WINDOWS_PATH);
    expect(run.output).toMatchObject({ outcome: 'joined', instanceId: ID, computerName: nameOf(w) });
    // ONE command of the Windows document, its parameters as join-windows.ps1 declares them.
    expect(w.sim.fleet.sentCommands().map((c) => c.request.document)).toEqual(['joinWindows']);
    const sent = windowsCommands(w)[0];
    expect(sent?.request.parameters).toMatchObject({
      ComputerName: nameOf(w),
      NetbiosName: w.sim.settings.directory.netbiosName.toUpperCase(),
      OneTimePassword: `{{ssm-secure:/adjoin/otp/${ID}}}`,
      LoginGroups: 'rdp users',
      RemoteDesktopGroup: 'Remote Desktop Users',
    });
    expect(sent?.request.timeoutSeconds).toBe(w.sim.settings.windows?.commandDeadlineSeconds);
    expect(sent?.final.stdout).toMatch(/exit 3010/);
    expect(sent?.final.stdout).toMatch(/adjoin: done: joined$/);
    // The state kept polling while the agent was away (Delayed, ping ConnectionLost) and did not fail.
    const offline = w.sim.fleet.instance(ID)?.offline;
    expect(offline).toBeDefined();
    expect((offline?.toMs ?? 0) - (offline?.fromMs ?? 0)).toBe(WINDOWS_REBOOT_SECONDS * 1000);
    const pollsDuringReboot = w.sim.fleet.calls.filter((c) => c.op === 'getCommand' && c.atMs >= (offline?.fromMs ?? 0) && c.atMs < (offline?.toMs ?? 0));
    expect(pollsDuringReboot.length).toBeGreaterThan(0);
    expect(run.events.filter((e) => e.type === 'StateFailed' && e.state === 'Run Windows join document').every((e) => e.error === Errors.JoinStillRunning)).toBe(true);
    // The one-time password: only a reference in the command, never in state data; it no longer
    // works (the second run changed the machine password), and its parameter is gone.
    expect(otps).toHaveLength(1);
    expect(JSON.stringify(run)).not.toContain(otps[0] as string);
    expect(JSON.stringify(w.sim.fleet.sentCommands())).not.toContain(otps[0] as string);
    expect(w.sim.directory.passwordMatches(nameOf(w), otps[0] as string)).toBe(false);
    expect(w.sim.fleet.parameterNames()).toEqual([]);
    expect(w.sim.claims.item(claimKeyOf(w, ID))).toMatchObject({ execution: 'win-joined', status: 'joined', phase: 'joined-verified' });
    expect(w.sim.fleet.instance(ID)?.tags).toMatchObject({ 'adjoin:status': 'joined', 'adjoin:computer-name': nameOf(w) });
    expect(oursOf(w, ID)).toHaveLength(1);
    expect(w.cleanups).toEqual([]);
  });

  test('a Linux instance in the same machine still takes "Run join document"', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN });

    const run = await start(w, 'win-linux');

    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(WINDOWS_PATH.map((s) => (s === 'Run Windows join document' ? 'Run join document' : s)));
    expect(w.sim.fleet.sentCommands().map((c) => c.request.document)).toEqual(['join']);
  });

  test('already joined (as this computer name): success without a second join or a reboot', async () => {
    const w = world();
    const inst = w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN });
    inst.joinedAs = nameOf(w); // e.g. joined by an execution whose record step failed, tags lost

    const run = await start(w, 'win-already');

    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(WINDOWS_PATH);
    expect(run.output).toMatchObject({ outcome: 'joined', computerName: nameOf(w) });
    expect(windowsCommands(w)[0]?.final.stdout).toMatch(/already joined to .* as /);
    expect(windowsCommands(w)[0]?.final.stdout).toMatch(/done: already joined$/);
    expect(w.sim.fleet.instance(ID)?.offline).toBeUndefined();
    expect(w.sim.fleet.parameterNames()).toEqual([]);
  });

  test('join refused (the one-time password no longer works): fails AT "Run Windows join document" with exit 5 and the output; the end is clean', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN });
    const otps = watchOtps(w);
    // Someone changed the account's password between Prepare and the join: Add-Computer is refused.
    w.sim.fleet.before('sendCommand', () => w.sim.directory.rotatePassword(nameOf(w)));

    const run = await start(w, 'win-refused');

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Run Windows join document');
    expect(run.error).toBe(Errors.JoinCommandFailed);
    expect(run.cause).toMatch(/Windows join command .* ended Failed \(exit code 5: the domain refused the join/);
    expect(run.cause).toContain('Add-Computer refused the join');
    expect(run.cause).toContain('The user name or password is incorrect');
    expect(run.cause).toMatch(/redrive/);
    expect(w.sim.fleet.instance(ID)?.offline).toBeUndefined(); // no reboot: the join never happened
    expect(otps).toHaveLength(1);
    expect(run.cause).not.toContain(otps[0] as string);
    expectCleanEnd(w, run, otps, ID);
  });

  test('verification failed after the reboot (a probe user does not resolve): VerificationFailed AT "Run Windows join document"; the end is clean', async () => {
    const w = world();
    const probe = w.sim.settings.directory.probeUsers[0] as string;
    w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN, windows: { unresolvableUsers: [probe] } });
    const otps = watchOtps(w);

    const run = await start(w, 'win-verify');

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Run Windows join document');
    expect(run.error).toBe(Errors.VerificationFailed);
    expect(run.cause).toMatch(/exit code 7: the join worked but the verification failed/);
    expect(run.cause).toContain(`${probe} does not resolve through the domain`);
    expect(run.cause).toContain('secure channel to'); // what did work is in the output too
    expect(w.sim.fleet.instance(ID)?.offline).toBeDefined(); // it failed in the run after the reboot
    expectCleanEnd(w, run, otps, ID);
  });

  test('instance terminated mid-join (during the reboot): compensated, outcome abandoned, object and OTP gone', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN });
    w.sim.fleet.before('getCommand', (_, fleet) => {
      const i = fleet.instance(ID);
      const now = w.sim.clock.now().getTime();
      if (i?.offline && now >= i.offline.fromMs) fleet.terminate(ID); // gone while it reboots
    }, 1000);

    const run = await start(w, 'win-terminated');

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'abandoned', instanceId: ID });
    expect(statePath(run).slice(-4)).toEqual(['Run Windows join document', 'Remove what the join made', 'Join abandoned', 'Done']);
    expect(run.events.find((e) => e.type === 'StateCaught')).toMatchObject({
      state: 'Run Windows join document',
      catch: { errorEquals: [Errors.InstanceGone], next: 'Remove what the join made' },
    });
    expect(oursOf(w, ID)).toEqual([]);
    expect(w.sim.fleet.parameterNames()).toEqual([]);
  });

  test('Windows timings: a reboot longer than the Linux command deadline is waited out under the Windows one', async () => {
    const w = world();
    const linuxDeadline = w.sim.settings.timings.commandDeadlineSeconds;
    w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN, windows: { rebootSeconds: linuxDeadline + 300 } });

    const run = await start(w, 'win-slow');

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'joined' });
    const row = timeline(run).find((r) => r.state === 'Run Windows join document');
    expect(row?.durationMs).toBeGreaterThan(linuxDeadline * 1000);
  });

  describe('Windows SSM Online deadline (windows.ssmOnlineDeadlineSeconds; one "Wait for SSM Online" state for both platforms)', () => {
    test('a Windows agent Online after the Linux deadline but before the Windows one: waited out, joined', async () => {
      const w = world();
      const linux = w.sim.settings.timings.ssmOnlineDeadlineSeconds;
      const windows = w.sim.settings.windows?.ssmOnlineDeadlineSeconds ?? 0;
      expect(windows).toBe(1200); // the default
      expect(linux).toBeLessThan(windows);
      w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN, ssmOnlineAfterSeconds: (linux + windows) / 2 });

      const run = await start(w, 'win-ssm-late');

      expect(run.status).toBe('SUCCEEDED');
      expect(statePath(run)).toEqual(WINDOWS_PATH);
      expect(run.output).toMatchObject({ outcome: 'joined' });
      const row = timeline(run).find((r) => r.state === 'Wait for SSM Online');
      expect(row?.durationMs).toBeGreaterThan(linux * 1000);
    });

    test('a Windows agent not Online by the Windows deadline: fails AT "Wait for SSM Online", the cause naming windows.ssmOnlineDeadlineSeconds; nothing created', async () => {
      const w = world();
      const windows = w.sim.settings.windows?.ssmOnlineDeadlineSeconds ?? 0;
      w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN, ssmOnlineAfterSeconds: windows + 300 });

      const run = await start(w, 'win-ssm-never');

      expect(run.status).toBe('FAILED');
      expect(run.failedState).toBe('Wait for SSM Online');
      expect(run.error).toBe(Errors.SsmAgentNotOnline);
      expect(run.cause).toMatch(new RegExp(`SSM agent of ${ID} is not Online .*past its deadline of ${windows} s \\(windows\\.ssmOnlineDeadlineSeconds\\)`));
      expect(run.cause).toMatch(/AmazonSSMManagedInstanceCore/);
      const row = timeline(run).find((r) => r.state === 'Wait for SSM Online');
      expect(row?.durationMs).toBeGreaterThanOrEqual(windows * 1000);
      expect(row?.durationMs).toBeLessThan((windows + 300) * 1000);
      expect(w.sim.directory.all()).toEqual([]);
      expect(w.sim.fleet.sentCommands()).toEqual([]);
    });

    test('a Linux instance in the same machine keeps the Linux deadline (the task ends its wait, not the retries)', async () => {
      const w = world();
      const linux = w.sim.settings.timings.ssmOnlineDeadlineSeconds;
      const windows = w.sim.settings.windows?.ssmOnlineDeadlineSeconds ?? 0;
      w.sim.fleet.addInstance({ instanceId: ID, tags: OPT_IN, ssmOnlineAfterSeconds: (linux + windows) / 2 });

      const run = await start(w, 'linux-ssm-late');

      expect(run.status).toBe('FAILED');
      expect(run.failedState).toBe('Wait for SSM Online');
      expect(run.error).toBe(Errors.SsmAgentNotOnline);
      expect(run.cause).toContain(`past its deadline of ${linux} s (timings.ssmOnlineDeadlineSeconds)`);
      const row = timeline(run).find((r) => r.state === 'Wait for SSM Online');
      expect(row?.durationMs).toBeGreaterThanOrEqual(linux * 1000);
      expect(row?.durationMs).toBeLessThan((linux + windows) / 2 * 1000);
    });

    test('a redrive waits afresh: the round\'s wait start is kept per round in the claim', async () => {
      const w = world();
      const windows = w.sim.settings.windows?.ssmOnlineDeadlineSeconds ?? 0;
      const inst = w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN, ssmOnlineAfterSeconds: Infinity });
      const failed = await start(w, 'win-ssm-redrive');
      expect(failed.failedState).toBe('Wait for SSM Online');
      expect(w.sim.claims.item(claimKeyOf(w, ID))).toMatchObject({ ssmRound: 0 });

      // The agent comes Online 900 s into the redrive's wait: still within a fresh Windows deadline.
      w.sim.clock.advance(3600);
      inst.ssmOnlineAfterSeconds = (w.sim.clock.now().getTime() - inst.launchTime.getTime()) / 1000 + windows - 300;
      const run = await w.engine.redrive(failed);

      expect(run.status).toBe('SUCCEEDED');
      expect(statePath(run, { part: 1 })[0]).toBe('Wait for SSM Online');
      expect(run.output).toMatchObject({ outcome: 'joined' });
    });
  });

  test('a Windows command still running past the Windows deadline: CommandTimedOut AT "Run Windows join document"; the end is clean', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN });
    w.sim.fleet.script('joinWindows', { status: 'Failed', exitCode: 5, durationSeconds: 100_000, rebootAfterSeconds: 60, rebootSeconds: 100_000 });
    const otps = watchOtps(w);

    const run = await start(w, 'win-hangs');

    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Run Windows join document');
    expect(run.error).toBe(Errors.CommandTimedOut);
    expect(run.cause).toMatch(/still Delayed/);
    expect(run.cause).toContain(`deadline ${w.sim.settings.windows?.commandDeadlineSeconds} s`);
    expectCleanEnd(w, run, otps, ID);
  });

  test('redrive after a refused join: resumes AT "Run Windows join document" with a fresh one-time password and joins', async () => {
    const w = world();
    w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN });
    const otps = watchOtps(w);
    w.sim.fleet.before('sendCommand', () => w.sim.directory.rotatePassword(nameOf(w)));
    const failed = await start(w, 'win-redrive');
    expect(failed.failedState).toBe('Run Windows join document');

    w.sim.clock.advance(3600);
    const run = await w.engine.redrive(failed);

    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run, { part: 1 })[0]).toBe('Run Windows join document');
    expect(run.output).toMatchObject({ outcome: 'joined' });
    expect(windowsCommands(w)).toHaveLength(2);
    expect(otps).toHaveLength(2);
    expect(otps[1]).not.toBe(otps[0]);
    expect(w.sim.fleet.parameterNames()).toEqual([]);
    expect(oursOf(w, ID)).toHaveLength(1);
  });

  test('redrive after the SECOND run failed (verification, exit 7): the clean-up reset the password, the redrive leaves locally, joins again with the fresh one-time password → "Joined", secure channel working', async () => {
    const w = world();
    const probe = w.sim.settings.directory.probeUsers[0] as string;
    const inst = w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN, windows: { unresolvableUsers: [probe] } });
    const otps = watchOtps(w);
    const failed = await start(w, 'win-redrive-second');

    // Failed in run 2 (after the join and its reboot): the instance IS joined, with its own password.
    expect(failed.status).toBe('FAILED');
    expect(failed.failedState).toBe('Run Windows join document');
    expect(failed.error).toBe(Errors.VerificationFailed);
    expectCleanEnd(w, failed, otps, ID);
    expect(inst.joinedAs).toBe(nameOf(w));
    expect(inst.passwordRetired).toBe(true);
    // The clean-up reset the object's password: the directory no longer accepts the machine's.
    expect(w.sim.directory.passwordMatches(nameOf(w), inst.machinePassword as string)).toBe(false);

    // Fix the fault, redrive.
    inst.windows = {};
    w.sim.clock.advance(3600);
    const run = await w.engine.redrive(failed);

    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run, { part: 1 })).toEqual(['Run Windows join document', 'Record result', 'Done']);
    expect(run.output).toMatchObject({ outcome: 'joined', computerName: nameOf(w) });
    const redriven = windowsCommands(w)[1];
    const out = redriven?.final.stdout ?? '';
    expect(out).toMatch(/already joined to .* as /);
    expect(out).toMatch(/secure channel to .* fails: the directory no longer accepts this machine's password/);
    expect(out).toMatch(/left .* locally \(the computer object is untouched\): restarting \(exit 3010\)/);
    expect(out).toMatch(/joining with the one-time password/);
    expect(out).toMatch(/machine password changed/);
    expect(out).toMatch(/verify: secure channel to .* works/);
    expect(out).toMatch(/adjoin: done: joined$/);
    // The model: joined, the machine's password is the directory's (secure channel works), and
    // neither one-time password opens the account any more; the parameter is gone.
    expect(inst.joinedAs).toBe(nameOf(w));
    expect(w.sim.directory.passwordMatches(nameOf(w), inst.machinePassword as string)).toBe(true);
    expect(otps).toHaveLength(2);
    for (const otp of otps) {
      expect(w.sim.directory.passwordMatches(nameOf(w), otp)).toBe(false);
      expect(JSON.stringify(run)).not.toContain(otp);
      expect(out).not.toContain(otp);
    }
    expect(w.sim.fleet.parameterNames()).toEqual([]);
    expect(oursOf(w, ID)).toHaveLength(1);
    expect(w.sim.claims.item(claimKeyOf(w, ID))).toMatchObject({ status: 'joined', phase: 'joined-verified' });
  });

  test('Windows not enabled (the default): a Windows instance is skipped, nothing created or sent', async () => {
    const w = world({});
    w.sim.fleet.addInstance({ instanceId: ID, platform: 'windows', tags: OPT_IN });

    const run = await start(w, 'win-disabled');

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'skipped' });
    expect((run.output as { reason?: string }).reason).toMatch(/windows\.enabled/);
    expect(statePath(run)).toEqual(['Read instance', 'Opted in?', 'Skipped', 'Done']);
    expect(w.sim.fleet.sentCommands()).toEqual([]);
    expect(w.sim.directory.all()).toEqual([]);
  });
});
