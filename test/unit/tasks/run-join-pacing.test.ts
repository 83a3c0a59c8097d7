/**
 * "Run join document" in the account's lines (tasks/lib/commands.ts, tasks/lib/pace.ts): the
 * SendCommand line before the send, the GetCommandInvocation line before each check. No slot
 * within the invocation's budget: JoinStillRunning "not sent yet", and NOTHING happened — no
 * command, no new one-time password, the claim as it was — so the state's retry sends once.
 */
import { claimKey } from '../../../tasks/lib/claims';
import { runJoinDocument } from '../../../tasks/lib/commands';
import { JoinStillRunning, Throttled } from '../../../tasks/lib/errors';
import { paceKey } from '../../../tasks/lib/pace';
import { instance, INSTANCE, NOW, prepared, proceed, runInput, type TestWorld } from '../../fakes';
import { lambdaClock, pacedWorld } from '../../pace-fakes';

const KEY = claimKey(proceed);
const T0 = NOW.getTime();
const now = T0 / 1000;
const SEND = paceKey(proceed, 'sendCommand');
const CHECK = paceKey(proceed, 'getCommandInvocation');

/** The claim as Read instance and Prepare leave it: ours, joining, prepared. */
async function claimed(w: TestWorld, patch: Parameters<TestWorld['claims']['update']>[2] = {}): Promise<void> {
  await w.claims.take(KEY, 'exec-1', now, 900);
  await w.claims.update(KEY, 'exec-1', { phase: 'prepared', dn: prepared.dn, computerName: prepared.name, ...patch });
}

/** A claimed join whose SendCommand line reaches `aheadMs` past now, on a clock that sleeps (or, `still`, cannot). */
async function inLine(aheadMs: number, still = false): Promise<ReturnType<typeof pacedWorld> & { sleeper: ReturnType<typeof lambdaClock> }> {
  const w = pacedWorld();
  await claimed(w);
  await w.pacer.take(SEND, T0, aheadMs, T0);
  const sleeper = lambdaClock();
  if (!still) w.deps.clock = sleeper;
  return { ...w, sleeper };
}

const caught = (p: Promise<unknown>): Promise<Error> => p.then(() => { throw new Error('expected an error'); }, (e: unknown) => e as Error);
const ops = (w: TestWorld, op: string): number => w.fleet.calls.filter((c) => c[0] === op).length;
/** What must not change while a join waits in line. */
const untouched = (w: TestWorld) => ({
  claim: structuredClone(w.claims.item(KEY)),
  secrets: [...w.fleet.secrets],
  directoryWrites: w.directory.calls.filter((c) => !String(c[0]).startsWith('find')).length,
});

describe('Run join document in the SendCommand line', () => {
  it('a line full past the invocation\'s budget: JoinStillRunning "not sent yet", nothing sent, password and claim unchanged; once the line is short, the retry sends ONCE', async () => {
    // Prepare: 1,000 joins ahead (200 s at 5 per second); a clock that cannot sleep (budget 0)
    const w = await inLine(200_000, true);
    const before = untouched(w);
    // Act
    const err = await caught(runJoinDocument(runInput, w.deps));
    // Assess
    expect(err).toBeInstanceOf(JoinStillRunning);
    expect(err.message).toBe(
      `The join command for ${INSTANCE} (round 0) is not sent yet: waiting in line for SendCommand (5 per second in ${proceed.account}/${proceed.region}, ` +
        'pacing.sendCommand; the line reaches 200 s ahead; waited 0 s in this invocation).',
    );
    expect(ops(w, 'sendCommand')).toBe(0);
    expect(ops(w, 'putJoinSecret')).toBe(0);
    expect(untouched(w)).toEqual(before);
    expect(w.pacer.lineEnd(SEND)).toBe(T0 + 200_000);

    // The line has moved on: the retry sends, exactly once, and the next polls the same command
    w.clock.t = new Date(T0 + 200_000);
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(/cmd-1 sent/);
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(/Join command cmd-1 on/);
    expect(w.fleet.sent).toHaveLength(1);
    expect(w.claims.item(KEY)).toMatchObject({ commandId: 'cmd-1', round: 0, sentAt: now + 200, phase: 'command-sent' });
  });

  it('in its Lambda: waits the whole budget in line (then "not sent yet"), bounded by the invocation\'s remaining time', async () => {
    const w = await inLine(200_000);
    const sleeper = w.sleeper;
    const err = await caught(runJoinDocument(runInput, w.deps));
    expect(err).toBeInstanceOf(JoinStillRunning);
    expect(err.message).toMatch(/not sent yet: .*the line reaches 140 s ahead; waited 60 s in this invocation\)\.$/);
    expect(sleeper.t).toBe(T0 + 60_000);
    // 50 s left in the invocation: 20 s in line (30 s kept for the way out)
    const short = lambdaClock();
    w.deps.clock = short;
    await expect(runJoinDocument(runInput, w.deps, { remainingMs: () => 50_000 })).rejects.toThrow(/waited 20 s in this invocation/);
    expect(short.t).toBe(T0 + 20_000);
    expect(w.fleet.sent).toEqual([]);
    expect(w.pacer.lineEnd(SEND)).toBe(T0 + 200_000);
  });

  it('a line within the budget: sleeps until its slot, then sends ONCE (sentAt is the slot), the line one spacing longer', async () => {
    const w = await inLine(10_000);
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(JoinStillRunning);
    expect(w.sleeper.slept[0]).toBe(10_000);
    expect(w.fleet.sent).toHaveLength(1);
    expect(w.claims.item(KEY)).toMatchObject({ commandId: 'cmd-1', sentAt: now + 10 });
    expect(w.pacer.lineEnd(SEND)).toBe(T0 + 10_200);
  });

  it('a free line: ONE SendCommand, and every GetCommandInvocation check takes its slot in its own line first', async () => {
    const w = pacedWorld();
    await claimed(w);
    w.fleet.instances.set(INSTANCE, instance());
    const sleeper = lambdaClock();
    w.deps.clock = sleeper;
    const checks: number[] = [];
    const getCommand = w.fleet.getCommand.bind(w.fleet);
    w.fleet.getCommand = (id, instanceId) => {
      checks.push(w.pacer.calls.filter((c) => c.key === CHECK).length);
      if (sleeper.t - T0 >= 20_000) w.fleet.commands.set('cmd-1', { status: 'Success', exitCode: 0, stdout: 'joined', stderr: '' });
      return getCommand(id, instanceId);
    };
    await expect(runJoinDocument(runInput, w.deps)).resolves.toMatchObject({ commandId: 'cmd-1', status: 'Success' });
    expect(ops(w, 'sendCommand')).toBe(1);
    expect(w.pacer.calls.filter((c) => c.key === SEND)).toEqual([{ key: SEND, full: false }]);
    // The n-th check came after the n-th slot of the GetCommandInvocation line
    expect(checks.length).toBeGreaterThanOrEqual(2);
    expect(checks).toEqual(checks.map((_, k) => k + 1));
  });

  it('a GetCommandInvocation line full for the whole invocation: no check at all, JoinStillRunning, nothing sent again', async () => {
    const w = pacedWorld();
    await claimed(w, { commandId: 'cmd-7', round: 0, sentAt: now - 30, phase: 'command-sent' });
    w.fleet.commands.set('cmd-7', { status: 'Success', exitCode: 0, stdout: '', stderr: '' });
    await w.pacer.take(CHECK, T0, 300_000, T0);
    w.deps.clock = lambdaClock();
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(JoinStillRunning);
    expect(ops(w, 'getCommand')).toBe(0);
    expect(ops(w, 'sendCommand')).toBe(0);
    expect(w.pacer.lineEnd(CHECK)).toBe(T0 + 300_000);
  });

  it('a redrive round (its password made fresh) in a full line: no directory write, no new parameter while it waits; the fresh password is made once, right before the send', async () => {
    // Prepare: round 0 sent and failed (the cleanup marked the claim failed and removed its object); 1,000 joins ahead
    const w = await inLine(200_000, true);
    await w.claims.update(KEY, 'exec-1', { commandId: 'cmd-7', round: 0, sentAt: now - 300, phase: 'command-sent', status: 'failed' });
    const redrive = { ...runInput, redriveCount: 1 };
    const writes = (): string[] => w.directory.calls.map((c) => String(c[0])).filter((op) => !op.startsWith('find'));
    // Act: two invocations in the full line
    await expect(runJoinDocument(redrive, w.deps)).rejects.toThrow(/not sent yet/);
    await expect(runJoinDocument(redrive, w.deps)).rejects.toThrow(/not sent yet/);
    // Assess: nothing prepared; the claim only taken again (joining), still naming round 0's command
    expect(writes()).toEqual([]);
    expect(ops(w, 'putJoinSecret')).toBe(0);
    expect(w.claims.item(KEY)).toMatchObject({ commandId: 'cmd-7', round: 0, status: 'joining' });
    // The line has moved on: one computer object with a fresh password, one parameter, one command
    w.clock.t = new Date(T0 + 200_000);
    await expect(runJoinDocument(redrive, w.deps)).rejects.toThrow(/cmd-1 sent/);
    expect(writes()).toEqual(['createComputer']);
    expect(ops(w, 'putJoinSecret')).toBe(1);
    expect(w.fleet.sent).toHaveLength(1);
    expect(w.claims.item(KEY)).toMatchObject({ commandId: 'cmd-1', round: 1, phase: 'command-sent' });
  });

  it('the line\'s table throttled: Throttled (the state retries it), nothing sent', async () => {
    const w = pacedWorld();
    await claimed(w);
    w.deps.pacer = { take: () => Promise.reject(new Throttled('DynamoDB UpdateItem (pacing line) failed: ProvisionedThroughputExceededException')), peek: () => Promise.resolve(undefined) };
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(Throttled);
    expect(ops(w, 'sendCommand')).toBe(0);
  });

  it('not paced (pacing.sendCommand 0): sends at once whatever the line, without asking it', async () => {
    const w = pacedWorld({ sendCommand: 0 });
    await claimed(w);
    await w.pacer.take(SEND, T0, 200_000, T0);
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(/cmd-1 sent/);
    expect(w.pacer.calls).toHaveLength(1);
  });
});
