/**
 * The in-Lambda wait loops (tasks/lib/poll.ts) and the two steps that use them, on a clock that
 * sleeps (virtual): how they end — answered, deadline reached, throttled every call, the
 * instance gone mid-loop, the invocation's remaining time too small — each with its named error.
 */
import { claimKey } from '../../../../tasks/lib/claims';
import { runJoinDocument } from '../../../../tasks/lib/commands';
import { AdjoinError, AwsUnreachable, CommandTimedOut, InstanceGone, JoinStillRunning, SsmAgentNotOnline, Throttled } from '../../../../tasks/lib/errors';
import { withHeartbeat } from '../../../../tasks/lib/lifecycle';
import { InLambdaWait, pollBudgetMs, pollWithin } from '../../../../tasks/lib/poll';
import type { Clock } from '../../../../tasks/lib/ports';
import { checkSsmAgent } from '../../../../tasks/lib/ssm-agent';
import { instance, INSTANCE, NOW, prepared, proceed, runInput, world, type TestWorld } from '../../../fakes';

/** A clock that sleeps by moving on; `onSleep` runs after each pause (the world changes meanwhile). */
function sleepingClock(start = NOW): Clock & { t: number; pauses: number[]; onSleep?: (t: number) => void } {
  const c = {
    t: start.getTime(),
    pauses: [] as number[],
    onSleep: undefined as ((t: number) => void) | undefined,
    now: () => new Date(c.t),
    sleep: (ms: number) => {
      c.pauses.push(ms);
      c.t += ms;
      c.onSleep?.(c.t);
      return Promise.resolve();
    },
  };
  return c;
}

const waiting = (detail: string): AdjoinError => new SsmAgentNotOnline(`still waiting (${detail})`);
const caught = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

describe('pollWithin', () => {
  it('polls until an answer, pausing interval × 0.5–1.5 between polls', async () => {
    const clock = sleepingClock();
    let n = 0;
    const out = await pollWithin(clock, {}, { intervalSeconds: 5, stillWaiting: waiting }, () => Promise.resolve(++n === 4 ? 'done' : undefined));
    expect(out).toBe('done');
    expect(clock.pauses).toHaveLength(3);
    for (const p of clock.pauses) expect(p >= 2500 && p <= 7500).toBe(true);
  });

  it('deadline reached: the still-waiting error after at most maxSeconds, the last poll flagged', async () => {
    const clock = sleepingClock();
    const seen: { first: boolean; last: boolean }[] = [];
    const deadlines = new Set<number>();
    const err = await caught(
      pollWithin(clock, {}, { intervalSeconds: 5, stillWaiting: waiting }, ({ deadlineMs, ...at }) => (deadlines.add(deadlineMs), seen.push(at), Promise.resolve(undefined))),
    );
    // Every poll is told the same end of the budget (the latest it may wait in a pacing line).
    expect([...deadlines]).toEqual([NOW.getTime() + InLambdaWait.maxSeconds * 1000]);
    expect(err).toBeInstanceOf(SsmAgentNotOnline);
    expect((err as Error).message).toMatch(new RegExp(`${seen.length} checks in \\d+ s`));
    const spent = clock.t - NOW.getTime();
    expect(spent).toBeLessThanOrEqual(InLambdaWait.maxSeconds * 1000);
    expect(spent).toBeGreaterThanOrEqual((InLambdaWait.maxSeconds - 7.5) * 1000);
    expect(seen.length).toBeGreaterThanOrEqual(8);
    expect(seen[0]).toEqual({ first: true, last: false });
    expect(seen.at(-1)).toEqual({ first: false, last: true });
    expect(seen.filter((s) => s.last)).toHaveLength(1);
  });

  it('throttled every call: backs off (pauses double up to throttledMaxSeconds) and ends with the throttling error itself', async () => {
    const clock = sleepingClock();
    let polls = 0;
    const err = await caught(pollWithin(clock, {}, { intervalSeconds: 5, stillWaiting: waiting }, () => {
      polls += 1;
      return Promise.reject(new Throttled(`DescribeInstanceInformation: Rate exceeded (${polls})`));
    }));
    expect(err).toBeInstanceOf(Throttled);
    expect((err as Error).message).toBe(`DescribeInstanceInformation: Rate exceeded (${polls})`);
    // 5 s doubling: 10, 20, 30, 30 … (× 0.5–1.5): far fewer polls than the 5 s rhythm would make.
    expect(polls).toBeLessThanOrEqual(6);
    expect(Math.max(...clock.pauses)).toBeLessThanOrEqual(InLambdaWait.throttledMaxSeconds * 1500);
    expect(clock.pauses[1] ?? 0).toBeGreaterThanOrEqual(10_000);
  });

  it('throttled now and then: still waiting, the throttled polls counted in the message; an answer resets the pause', async () => {
    const clock = sleepingClock();
    let n = 0;
    const err = await caught(pollWithin(clock, {}, { intervalSeconds: 5, stillWaiting: waiting }, () => (++n % 2 === 0 ? Promise.reject(new Throttled('Rate exceeded')) : Promise.resolve(undefined))));
    expect(err).toBeInstanceOf(SsmAgentNotOnline);
    expect((err as Error).message).toMatch(/\d+ checks in \d+ s, \d+ throttled/);
  });

  it('any other error ends the invocation at once', async () => {
    const clock = sleepingClock();
    let polls = 0;
    const err = await caught(pollWithin(clock, {}, { intervalSeconds: 5, stillWaiting: waiting }, () => (++polls, Promise.reject(new AwsUnreachable('no route')))));
    expect(err).toBeInstanceOf(AwsUnreachable);
    expect(polls).toBe(1);
    expect(clock.pauses).toEqual([]);
  });

  it('the budget: min(maxSeconds, remaining time − reserve); 0 with a remaining time under the reserve or a clock that cannot sleep', () => {
    const clock = sleepingClock();
    expect(pollBudgetMs(clock, {})).toBe(InLambdaWait.maxSeconds * 1000);
    expect(pollBudgetMs(clock, { remainingMs: () => 89_000 })).toBe(59_000);
    expect(pollBudgetMs(clock, { remainingMs: () => 900_000 })).toBe(60_000);
    expect(pollBudgetMs(clock, { remainingMs: () => 25_000 })).toBe(0);
    expect(pollBudgetMs({ now: () => NOW }, {})).toBe(0);
  });

  it('remaining time too small: one poll, no pause, the still-waiting error; with pauseFirst not even the poll', async () => {
    const clock = sleepingClock();
    let polls = 0;
    const tiny = { remainingMs: () => 20_000 };
    const err = await caught(pollWithin(clock, tiny, { intervalSeconds: 5, stillWaiting: waiting }, () => (++polls, Promise.resolve(undefined))));
    expect(err).toBeInstanceOf(SsmAgentNotOnline);
    expect(polls).toBe(1);
    const err2 = await caught(pollWithin(clock, tiny, { intervalSeconds: 5, pauseFirst: true, stillWaiting: waiting }, () => (++polls, Promise.resolve(undefined))));
    expect(err2).toBeInstanceOf(SsmAgentNotOnline);
    expect((err2 as Error).message).toMatch(/no time left/);
    expect(polls).toBe(1);
    expect(clock.pauses).toEqual([]);
  });
});

/** A join-task world whose clock sleeps. */
function sleepingWorld(): TestWorld & { sleeper: ReturnType<typeof sleepingClock> } {
  const w = world();
  const sleeper = sleepingClock();
  w.deps.clock = sleeper;
  w.fleet.instances.set(INSTANCE, instance());
  return { ...w, sleeper };
}

const ops = (w: TestWorld): string[] => w.fleet.calls.map((c) => String(c[0]));

describe('Wait for SSM Online, polling in its Lambda', () => {
  it('Online 20 s in: one invocation answers; EC2 not asked (only on the last check of an invocation)', async () => {
    const w = sleepingWorld();
    w.fleet.ping = 'ConnectionLost';
    w.sleeper.onSleep = (t) => {
      if (t - NOW.getTime() >= 20_000) w.fleet.ping = 'Online';
    };
    await expect(checkSsmAgent({ instance: proceed }, w.deps)).resolves.toEqual({ pingStatus: 'Online' });
    expect(ops(w).filter((o) => o === 'describeInstance')).toHaveLength(0);
    expect(ops(w).filter((o) => o === 'ssmPingStatus').length).toBeGreaterThanOrEqual(3);
  });

  it('deadline of the invocation reached: SsmAgentNotOnline with the ping status, EC2 asked on the last check only', async () => {
    const w = sleepingWorld();
    w.fleet.ping = 'NotRegistered';
    const err = await caught(checkSsmAgent({ instance: proceed }, w.deps));
    expect(err).toBeInstanceOf(SsmAgentNotOnline);
    expect((err as Error).message).toMatch(/ping status NotRegistered, instance running; \d+ checks in \d+ s\)/);
    expect(ops(w).filter((o) => o === 'describeInstance')).toHaveLength(1);
    expect(ops(w).at(-1)).toBe('describeInstance');
    expect(w.sleeper.t - NOW.getTime()).toBeLessThanOrEqual(InLambdaWait.maxSeconds * 1000);
  });

  it('the instance terminated mid-loop: InstanceGone by the end of the invocation', async () => {
    const w = sleepingWorld();
    w.fleet.ping = 'ConnectionLost';
    w.sleeper.onSleep = (t) => {
      if (t - NOW.getTime() >= 15_000) w.fleet.instances.set(INSTANCE, instance({ state: 'terminated' }));
    };
    await expect(checkSsmAgent({ instance: proceed }, w.deps)).rejects.toThrow(InstanceGone);
    expect(ops(w).at(-1)).toBe('describeInstance');
  });

  it('throttled every call: Throttled (the state retries it), after backing off', async () => {
    const w = sleepingWorld();
    let pings = 0;
    w.fleet.ssmPingStatus = () => (++pings, Promise.reject(new Throttled('DescribeInstanceInformation: Rate exceeded')));
    await expect(checkSsmAgent({ instance: proceed }, w.deps)).rejects.toThrow(Throttled);
    expect(pings).toBeGreaterThan(1);
    expect(pings).toBeLessThanOrEqual(6);
  });

  it('remaining time too small: one check, SsmAgentNotOnline', async () => {
    const w = sleepingWorld();
    w.fleet.ping = 'Inactive';
    await expect(checkSsmAgent({ instance: proceed }, w.deps, { remainingMs: () => 10_000 })).rejects.toThrow(SsmAgentNotOnline);
    expect(ops(w)).toEqual(['ssmPingStatus', 'describeInstance']);
    expect(w.sleeper.pauses).toEqual([]);
  });
});

describe('Run join document, polling the command in its Lambda', () => {
  const KEY = claimKey(proceed);
  const now = NOW.getTime() / 1000;
  async function claimed(w: TestWorld): Promise<void> {
    await w.claims.take(KEY, 'exec-1', now, 900);
    await w.claims.update(KEY, 'exec-1', { phase: 'prepared', dn: prepared.dn, computerName: prepared.name });
  }
  const finishAfter = (w: ReturnType<typeof sleepingWorld>, seconds: number, status: 'Success' | 'Undeliverable' = 'Success'): void => {
    w.sleeper.onSleep = (t) => {
      if (t - NOW.getTime() >= seconds * 1000) w.fleet.commands.set('cmd-1', { status, exitCode: status === 'Success' ? 0 : -1, stdout: 'joined', stderr: '' });
    };
  };

  it('sends, then polls in the same invocation: a 25 s command ends in one invocation, the claim records joined-verified', async () => {
    const w = sleepingWorld();
    await claimed(w);
    finishAfter(w, 25);
    await expect(runJoinDocument(runInput, w.deps)).resolves.toMatchObject({ commandId: 'cmd-1', status: 'Success' });
    expect(ops(w).filter((o) => o === 'sendCommand')).toHaveLength(1);
    expect(ops(w).filter((o) => o === 'getCommand').length).toBeGreaterThanOrEqual(2);
    expect(w.claims.item(KEY)).toMatchObject({ commandId: 'cmd-1', phase: 'joined-verified' });
  });

  it('deadline of the invocation reached while it runs: JoinStillRunning; the next invocation polls the same command (no second send)', async () => {
    const w = sleepingWorld();
    await claimed(w);
    const err = await caught(runJoinDocument(runInput, w.deps));
    expect(err).toBeInstanceOf(JoinStillRunning);
    expect((err as Error).message).toMatch(/cmd-1 sent to .* is Pending \(\d+ s; \d+ checks in \d+ s\)/);
    finishAfter(w, 70);
    await expect(runJoinDocument(runInput, w.deps)).resolves.toMatchObject({ commandId: 'cmd-1' });
    expect(ops(w).filter((o) => o === 'sendCommand')).toHaveLength(1);
  });

  it('the command deadline reached mid-loop: CommandTimedOut', async () => {
    const w = sleepingWorld();
    await claimed(w);
    await w.claims.update(KEY, 'exec-1', { commandId: 'cmd-1', round: 0, sentAt: now - 590, phase: 'command-sent' });
    w.fleet.commands.set('cmd-1', { status: 'InProgress', stdout: 'still joining', stderr: '' });
    const err = await caught(runJoinDocument(runInput, w.deps));
    expect(err).toBeInstanceOf(CommandTimedOut);
    expect((err as Error).message).toMatch(/still InProgress 6\d\d s after it was sent \(deadline 600 s\)/);
  });

  it('throttled every check: Throttled, no second send', async () => {
    const w = sleepingWorld();
    await claimed(w);
    await w.claims.update(KEY, 'exec-1', { commandId: 'cmd-1', round: 0, sentAt: now, phase: 'command-sent' });
    w.fleet.getCommand = () => Promise.reject(new Throttled('GetCommandInvocation: Rate exceeded'));
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(Throttled);
    expect(ops(w).filter((o) => o === 'sendCommand')).toHaveLength(0);
  });

  it('the instance terminated mid-loop (command undeliverable): InstanceGone', async () => {
    const w = sleepingWorld();
    await claimed(w);
    finishAfter(w, 12, 'Undeliverable');
    const terminate = w.sleeper.onSleep;
    w.sleeper.onSleep = (t) => {
      terminate?.(t);
      if (t - NOW.getTime() >= 12_000) w.fleet.instances.set(INSTANCE, instance({ state: 'terminated' }));
    };
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(InstanceGone);
  });

  it('remaining time too small after the send: JoinStillRunning without a check', async () => {
    const w = sleepingWorld();
    await claimed(w);
    await expect(runJoinDocument(runInput, w.deps, { remainingMs: () => 31_000 })).rejects.toThrow(JoinStillRunning);
    expect(ops(w).filter((o) => o === 'getCommand')).toHaveLength(0);
    expect(w.claims.item(KEY)).toMatchObject({ commandId: 'cmd-1', phase: 'command-sent' });
  });
});

describe('work between polls (the launch hook heartbeat)', () => {
  it('betweenPolls runs after each pause, never before the first poll', async () => {
    const clock = sleepingClock();
    let n = 0;
    const order: string[] = [];
    const invocation = { betweenPolls: () => (order.push('between'), Promise.resolve()) };
    await pollWithin(clock, invocation, { intervalSeconds: 5, stillWaiting: waiting }, () => (order.push('poll'), Promise.resolve(++n === 3 ? 'done' : undefined)));
    expect(order).toEqual(['poll', 'between', 'poll', 'between', 'poll']);
  });

  it('withHeartbeat: heartbeats between polls once due, and a failed heartbeat does not end the wait', async () => {
    const w: TestWorld = world({ ...world().deps.settings, lifecycle: { onJoinFailure: 'ABANDON', heartbeatSeconds: 60 } });
    const clock = sleepingClock();
    w.deps.clock = clock;
    const lifecycle = { autoScalingGroupName: 'web', lifecycleHookName: 'adjoin-launch', lifecycleActionToken: '11111111-2222-3333-4444-555555555555', transition: 'launch' as const };
    const key = claimKey(proceed);
    await w.claims.take(key, 'exec-1', Math.floor(clock.t / 1000), 3600);
    let beats = 0;
    w.fleet.recordLifecycleHeartbeat = () => (++beats === 1 ? Promise.reject(new Throttled('Rate exceeded')) : Promise.resolve(true));
    let n = 0;
    const run = withHeartbeat((input: { instance: typeof proceed & { lifecycle: typeof lifecycle } }, deps, invocation) =>
      pollWithin(deps.clock, invocation ?? {}, { intervalSeconds: 5, maxSeconds: 600, stillWaiting: waiting }, () => Promise.resolve(++n === 40 ? 'online' : undefined)));
    const out = await run({ instance: { ...proceed, lifecycle } }, w.deps);
    expect(out).toBe('online');
    // ~200 s of polling with a 60 s hook: due every 20 s, checked at most every 10 s; the first one threw.
    expect(beats).toBeGreaterThanOrEqual(5);
    expect(w.claims.item(key)?.heartbeatAt).toBeDefined();
  });
});
