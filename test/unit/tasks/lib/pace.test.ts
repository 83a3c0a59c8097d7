/**
 * Pacing (tasks/lib/pace.ts): the rule of a line (nextSlot), and a join task's wait in it
 * (waitInLine) on the in-memory line of the simulator (lab/sim/pacer.ts), each caller a Lambda
 * with its own clock that sleeps (virtual): slots 1 ÷ rate apart in the order asked, a full line
 * written to by nobody, and no line at all when not paced.
 */
import { SimPacer } from '../../../../lab/sim/pacer';
import { Throttled } from '../../../../tasks/lib/errors';
import { DEFAULT_PACING, PACED_APIS, nextSlot, paceKey, paceOf, waitInLine } from '../../../../tasks/lib/pace';
import type { Clock, Pacer, PacingSettings } from '../../../../tasks/lib/ports';
import { ACCOUNT, NOW, REGION, testSettings } from '../../../fakes';
import { lambdaClock, stillClock } from '../../../pace-fakes';

const T0 = NOW.getTime();
const REF = { account: ACCOUNT, region: REGION };
const SEND = paceKey(REF, 'sendCommand');

/** Join-task deps with a line (`pacer`) and rates (`pacing`, 'none': no settings.pacing at all). */
const depsOf = (pacer: Pacer | undefined, clock: Clock, pacing: PacingSettings | 'none' = { sendCommand: 5, getCommandInvocation: 10 }) => {
  const settings = testSettings();
  if (pacing !== 'none') settings.pacing = pacing;
  return { settings, clock, ...(pacer ? { pacer } : {}) };
};

describe('nextSlot (the rule every pacer implements)', () => {
  it('an idle line (no end yet, or its end past): the slot is now, the end one spacing on', () => {
    expect(nextSlot(undefined, T0, 200, T0 + 60_000)).toEqual({ slotMs: T0, lineEndMs: T0 + 200 });
    expect(nextSlot(T0 - 5_000, T0, 200, T0 + 60_000)).toEqual({ slotMs: T0, lineEndMs: T0 + 200 });
  });

  it('a busy line within the caller\'s latest: the slot is the end, the end one spacing further', () => {
    expect(nextSlot(T0 + 3_000, T0, 200, T0 + 60_000)).toEqual({ slotMs: T0 + 3_000, lineEndMs: T0 + 3_200 });
  });

  it('boundary: an end exactly at the latest still gets its slot; one millisecond later the line is full', () => {
    expect(nextSlot(T0 + 60_000, T0, 200, T0 + 60_000)).toEqual({ slotMs: T0 + 60_000, lineEndMs: T0 + 60_200 });
    expect(nextSlot(T0 + 60_001, T0, 200, T0 + 60_000)).toEqual({ full: true, lineEndsMs: T0 + 60_001 });
  });

  it('a full line tells where it ends; a latest before now is full even for an idle line', () => {
    expect(nextSlot(T0 + 200_000, T0, 200, T0 + 60_000)).toEqual({ full: true, lineEndsMs: T0 + 200_000 });
    expect(nextSlot(undefined, T0, 200, T0 - 1)).toEqual({ full: true, lineEndsMs: T0 });
  });
});

describe('keys, rates and defaults', () => {
  it('one line per account, Region and API, never an instance key', () => {
    expect(paceKey(REF, 'sendCommand')).toBe(`pace/${ACCOUNT}/${REGION}/sendCommand`);
    expect(new Set(PACED_APIS.map((api) => paceKey(REF, api))).size).toBe(3);
    expect(paceKey({ account: ACCOUNT, region: 'us-east-1' }, 'sendCommand')).not.toBe(SEND);
  });

  it('defaults: SendCommand 5, GetCommandInvocation 10, DescribeInstanceInformation 10 per second', () => {
    expect(DEFAULT_PACING).toEqual({ sendCommand: 5, getCommandInvocation: 10, describeInstanceInformation: 10 });
    expect(Object.keys(DEFAULT_PACING).sort()).toEqual([...PACED_APIS].sort());
  });

  it('paceOf: the configured rate with a pacer; 0 without a pacer, without settings.pacing, or for an API not set', () => {
    const pacer = new SimPacer();
    expect(paceOf(depsOf(pacer, stillClock()), 'sendCommand')).toBe(5);
    expect(paceOf(depsOf(undefined, stillClock()), 'sendCommand')).toBe(0);
    expect(paceOf(depsOf(pacer, stillClock(), 'none'), 'sendCommand')).toBe(0);
    expect(paceOf(depsOf(pacer, stillClock()), 'describeInstanceInformation')).toBe(0);
  });
});

describe('waitInLine', () => {
  it('callers get slots 1 ÷ rate apart, in the order they asked (FIFO), each sleeping until its own slot', async () => {
    // Prepare: five Lambdas whose clocks read the same moment, asking in this order
    const pacer = new SimPacer();
    const order = [3, 1, 4, 0, 2];
    const clocks = order.map(() => lambdaClock());
    // Act: all at once
    const got = await Promise.all(order.map((_, k) => waitInLine(depsOf(pacer, clocks[k] as Clock), REF, 'sendCommand', T0 + 60_000)));
    // Assess: the k-th to ask waits k × 200 ms (5 per second)
    expect(got.map((g) => g.slot)).toEqual([true, true, true, true, true]);
    expect(clocks.map((c) => c.t - T0)).toEqual([0, 200, 400, 600, 800]);
    expect(got.map((g) => g.waitedMs)).toEqual([0, 200, 400, 600, 800]);
    expect(clocks[0]?.slept).toEqual([]);
    expect(pacer.lineEnd(SEND)).toBe(T0 + 1_000);
    expect(pacer.calls).toEqual(order.map(() => ({ key: SEND, full: false })));
  });

  it('takes that overlap in time (a table answering in 0–3 ms): every slot distinct, exactly one spacing apart', async () => {
    let x = 5;
    const pacer = new SimPacer(() => ((x = (x * 7 + 3) % 11), x % 4));
    const clocks = Array.from({ length: 40 }, () => lambdaClock());
    await Promise.all(clocks.map((clock) => waitInLine(depsOf(pacer, clock), REF, 'sendCommand', T0 + 60_000)));
    expect(clocks.map((c) => c.t - T0).sort((a, b) => a - b)).toEqual(clocks.map((_, k) => k * 200));
  });

  it('one caller after another: each later slot is one spacing after the last; the spacing is 1000 ÷ rate (fractions too)', async () => {
    const pacer = new SimPacer();
    const woke: number[] = [];
    for (let k = 0; k < 4; k++) {
      const clock = lambdaClock();
      await waitInLine(depsOf(pacer, clock, { sendCommand: 0.5 }), REF, 'sendCommand', T0 + 60_000);
      woke.push(clock.t - T0);
    }
    expect(woke).toEqual([0, 2_000, 4_000, 6_000]);
  });

  it('a line idle again: the slot is now, not the old end', async () => {
    const pacer = new SimPacer();
    await waitInLine(depsOf(pacer, lambdaClock()), REF, 'sendCommand', T0 + 60_000);
    const later = lambdaClock(T0 + 10_000);
    await expect(waitInLine(depsOf(pacer, later), REF, 'sendCommand', T0 + 70_000)).resolves.toEqual({ slot: true, waitedMs: 0 });
    expect(pacer.lineEnd(SEND)).toBe(T0 + 10_200);
  });

  it('a full line: ONE take, nothing written, the caller waits until its latest and gets slot false with where the line ends', async () => {
    // Prepare: the line reaches 61 s ahead; the caller accepts at most 60 s
    const pacer = new SimPacer();
    await pacer.take(SEND, T0, 61_000, T0);
    const clock = lambdaClock();
    // Act
    const got = await waitInLine(depsOf(pacer, clock), REF, 'sendCommand', T0 + 60_000);
    // Assess: a line never gets shorter, so trying again before the latest would only cost writes
    expect(got).toEqual({ slot: false, waitedMs: 60_000, lineEndsMs: T0 + 61_000 });
    expect(clock.t).toBe(T0 + 60_000);
    expect(pacer.lineEnd(SEND)).toBe(T0 + 61_000);
    expect(pacer.calls).toEqual([{ key: SEND, full: false }, { key: SEND, full: true }]);
  });

  it('a latest already past: no wait, slot false', async () => {
    const pacer = new SimPacer();
    await pacer.take(SEND, T0, 1_000, T0);
    const clock = lambdaClock();
    await expect(waitInLine(depsOf(pacer, clock), REF, 'sendCommand', T0 - 5_000)).resolves.toEqual({ slot: false, waitedMs: 0, lineEndsMs: T0 + 1_000 });
    expect(clock.slept).toEqual([]);
  });

  it('lines are per API, account and Region: a full SendCommand line does not hold up GetCommandInvocation or another Region', async () => {
    const pacer = new SimPacer();
    await pacer.take(SEND, T0, 600_000, T0);
    const clock = lambdaClock();
    await expect(waitInLine(depsOf(pacer, clock), REF, 'getCommandInvocation', T0 + 60_000)).resolves.toEqual({ slot: true, waitedMs: 0 });
    await expect(waitInLine(depsOf(pacer, clock), { account: ACCOUNT, region: 'us-east-1' }, 'sendCommand', T0 + 60_000)).resolves.toEqual({ slot: true, waitedMs: 0 });
    expect(pacer.lineEnd(paceKey(REF, 'getCommandInvocation'))).toBe(T0 + 100);
    expect(pacer.lineEnd(SEND)).toBe(T0 + 600_000);
  });

  it.each<[string, Pacer | undefined, PacingSettings | 'none']>([
    ['rate 0', new SimPacer(), { sendCommand: 0 }],
    ['no pacer', undefined, { sendCommand: 5 }],
    ['no settings.pacing', new SimPacer(), 'none'],
    ['another API paced only', new SimPacer(), { getCommandInvocation: 10 }],
  ])('not paced (%s): slot true at once, the pacer never asked', async (_, pacer, pacing) => {
    const asked: string[] = [];
    const spy: Pacer | undefined = pacer && { take: (...a) => (asked.push(a[0]), pacer.take(...a)), peek: (k) => (asked.push(k), pacer.peek(k)) };
    const clock = lambdaClock();
    await expect(waitInLine(depsOf(spy, clock, pacing), REF, 'sendCommand', T0)).resolves.toEqual({ slot: true, waitedMs: 0 });
    expect(asked).toEqual([]);
    expect(clock.slept).toEqual([]);
  });

  it('a clock that cannot sleep: a slot in the future is taken and returned at once; a full line is slot false at once', async () => {
    const pacer = new SimPacer();
    await pacer.take(SEND, T0, 5_000, T0);
    await expect(waitInLine(depsOf(pacer, stillClock()), REF, 'sendCommand', T0 + 60_000)).resolves.toEqual({ slot: true, waitedMs: 0 });
    expect(pacer.lineEnd(SEND)).toBe(T0 + 5_200);
    await expect(waitInLine(depsOf(pacer, stillClock()), REF, 'sendCommand', T0 + 1_000)).resolves.toEqual({ slot: false, waitedMs: 0, lineEndsMs: T0 + 5_200 });
    expect(pacer.lineEnd(SEND)).toBe(T0 + 5_200);
  });

  it('a pacer error (the claims table throttled) reaches the caller as it is', async () => {
    const pacer: Pacer = { take: () => Promise.reject(new Throttled('DynamoDB UpdateItem (pacing line) failed: ProvisionedThroughputExceededException')), peek: () => Promise.resolve(undefined) };
    await expect(waitInLine(depsOf(pacer, lambdaClock()), REF, 'sendCommand', T0 + 60_000)).rejects.toThrow(Throttled);
  });

  it('a burst: 1,000 callers at 5 per second, 60 s each: the first 301 get slots (0 … 60 s), the rest are turned away without a write', async () => {
    const pacer = new SimPacer();
    const clocks = Array.from({ length: 1000 }, () => lambdaClock());
    const got = await Promise.all(clocks.map((clock) => waitInLine(depsOf(pacer, clock), REF, 'sendCommand', T0 + 60_000)));
    const served = got.filter((g) => g.slot);
    expect(served).toHaveLength(301);
    expect(got.slice(0, 301).every((g) => g.slot)).toBe(true);
    expect(Math.max(...served.map((g) => g.waitedMs))).toBe(60_000);
    expect(pacer.lineEnd(SEND)).toBe(T0 + 60_200);
    expect(pacer.calls).toHaveLength(1000);
    expect(got.slice(301).every((g) => !g.slot && g.lineEndsMs === T0 + 60_200 && g.waitedMs === 60_000)).toBe(true);
  });
});
