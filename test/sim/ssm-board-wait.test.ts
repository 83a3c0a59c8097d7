/**
 * "Wait for SSM Online" with the SSM Online board (tasks/lib/ssm-board.ts) on the simulated
 * fleet, claims table and pacing lines, in discrete virtual time (lab/sim/timers.ts, as
 * bench/burst.ts): many joins wait at once, one sweep per ~5 s asks for 50 agents per call, and
 * the failure paths (a sweep that cannot read the board, an agent that never comes, a redrive
 * round, another account's waiting joins) end clean.
 */
import { simDeps, type SimDeps } from '../../lab/sim';
import { DiscreteTime } from '../../lab/sim/timers';
import { claimKey } from '../../tasks/lib/claims';
import type { ReadInstanceOutput } from '../../tasks/lib/contracts';
import { AwsRefused, SsmAgentNotOnline, Throttled } from '../../tasks/lib/errors';
import { BOARD_BATCH, boardShard, SWEEP_EVERY_MS } from '../../tasks/lib/ssm-board';
import { checkSsmAgent } from '../../tasks/lib/ssm-agent';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const LEASE = 3600;

const idOf = (i: number): string => `i-${(0x30000000 + i).toString(16).padStart(17, '0')}`;
const ref = (instanceId: string, account = ACCOUNT): ReadInstanceOutput =>
  ({ account, region: REGION, instanceId, outcome: 'proceed', platform: 'linux', loginGroups: [] }) as unknown as ReadInstanceOutput;

/** A world with pacing on (DescribeInstanceInformation 10/s) and `n` instances whose agents come Online at `onlineAt(i)` s. */
async function world(n: number, onlineAt: (i: number) => number, extra: { account?: string } = {}): Promise<{ sim: SimDeps; ids: string[] }> {
  const sim = simDeps({
    speedup: 1,
    account: ACCOUNT,
    region: REGION,
    settings: { pacing: { sendCommand: 5, getCommandInvocation: 10, describeInstanceInformation: 10 } },
  });
  const ids = Array.from({ length: n }, (_, i) => idOf(i));
  const now = Math.floor(sim.clock.now().getTime() / 1000);
  for (const [i, id] of ids.entries()) {
    sim.fleet.addInstance({ instanceId: id, account: extra.account ?? ACCOUNT, region: REGION, ssmOnlineAfterSeconds: onlineAt(i) });
    await sim.claims.take(claimKey(ref(id, extra.account)), `exec-${i}`, now, LEASE);
  }
  return { sim, ids };
}

/**
 * Discrete virtual time for every test (installed BEFORE the world is built: the simulated clock
 * reads performance.now() at its construction, so a world built before would jump in time).
 */
let time: DiscreteTime;
beforeEach(() => {
  time = new DiscreteTime({ seed: 'board' }).install();
});
afterEach(() => time.uninstall());

/** Runs `work` in discrete virtual time; returns its result. */
async function inTime<T>(work: () => Promise<T>): Promise<{ out: T }> {
  return { out: await time.run(work()) };
}

/** As the state's Retry does: invoke again (after 1 s) while SsmAgentNotOnline, up to `invocations`. */
async function untilOnline(run: () => Promise<{ pingStatus: string }>, invocations = 5): Promise<{ pingStatus: string }> {
  for (let n = 1; ; n++) {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof SsmAgentNotOnline) || n >= invocations) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

const pingCalls = (sim: SimDeps) => sim.fleet.calls.filter((c) => c.op === 'ssmPingStatus');

test('120 joins wait at once: every agent is seen Online through the board, with a few batched calls instead of one per check', async () => {
  const { sim, ids } = await world(120, (i) => 10 + (i % 60));
  const t0 = sim.clock.now().getTime();
  const seenAt = new Map<string, number>();
  const { out } = await inTime(() =>
    Promise.all(
      ids.map(async (id, i) => {
        const r = await untilOnline(() => checkSsmAgent({ instance: ref(id), redriveCount: 0, executionName: `exec-${i}` }, sim));
        seenAt.set(id, (sim.clock.now().getTime() - t0) / 1000);
        return r;
      }),
    ),
  );
  expect(out.every((r) => r.pingStatus === 'Online')).toBe(true);
  // Nobody is told Online before its agent is.
  for (const [i, id] of ids.entries()) expect(seenAt.get(id)).toBeGreaterThanOrEqual(10 + (i % 60));
  // Batched: each call asks for up to 50 agents (one per check would be ~10 per join here).
  const calls = pingCalls(sim);
  expect(calls.length).toBeLessThan(ids.length);
  expect(calls.some((c) => c.arg.split(',').length > 1)).toBe(true);
  expect(Math.max(...calls.map((c) => c.arg.split(',').length))).toBeLessThanOrEqual(BOARD_BATCH);
  // One sweeper at a time: sweeps start at least SWEEP_EVERY_MS apart (a sweep's calls follow its first).
  const sweepStarts = sim.pacer.calls.filter((c) => c.key.startsWith('sweep/') && !c.full && !c.read).length;
  expect(sweepStarts).toBeGreaterThan(1);
  const lastCall = Math.max(...calls.map((c) => c.atMs)) - t0;
  expect(sweepStarts).toBeLessThanOrEqual(Math.ceil(lastCall / SWEEP_EVERY_MS) + 1);
  // The election reads before it writes: most polls only read (refused writes come from polls at
  // the same moment, as the 120 first polls at once), not one refused write per poll.
  const refusedElections = sim.pacer.calls.filter((c) => c.key.startsWith('sweep/') && c.full).length;
  const electionReads = sim.pacer.calls.filter((c) => c.key.startsWith('sweep/') && c.read).length;
  expect(electionReads).toBeGreaterThan(2 * ids.length);
  expect(refusedElections).toBeLessThan(electionReads / 4);
  // Every claim left the board (marked Online), in round 0.
  for (const id of ids) {
    const c = sim.claims.item(claimKey(ref(id)));
    expect([c?.ssmWaitRound, (c?.ssmOnlineAt ?? 0) > 0, c?.ssmWait]).toEqual([0, true, undefined]);
  }
}, 60_000);

test('a sweep that cannot read the board (access denied) is logged and each agent is checked on its own: still Online, nobody fails', async () => {
  const { sim, ids } = await world(12, (i) => 5 + i);
  const errors: string[] = [];
  jest.spyOn(sim.logger, 'error').mockImplementation((...args: unknown[]) => void errors.push(String(args[0])));
  const waiting = sim.claims.waiting.bind(sim.claims);
  let refused = 0;
  sim.claims.waiting = () => {
    refused += 1;
    return Promise.reject(new AwsRefused('DynamoDB Query (SSM Online board): AccessDeniedException (injected)'));
  };
  const { out } = await inTime(() => Promise.all(ids.map((id, i) => untilOnline(() => checkSsmAgent({ instance: ref(id), redriveCount: 0, executionName: `exec-${i}` }, sim)))));
  expect(out.every((r) => r.pingStatus === 'Online')).toBe(true);
  expect(refused).toBeGreaterThan(0);
  // The failure is recorded for the other waiters (they check on their own while it lasts).
  expect(sim.claims.calls.some((c) => c.op === 'recordSweep')).toBe(true);
  expect((await sim.claims.sweepHealth(`board/${ACCOUNT}/${REGION}`)).failedAt).toEqual(expect.any(Number));
  expect(errors.length).toBeGreaterThan(0);
  expect(errors.every((m) => /sweep failed; this agent is checked on its own/.test(m))).toBe(true);
  // The fallback asked for single agents.
  expect(pingCalls(sim).some((c) => !c.arg.includes(','))).toBe(true);
  sim.claims.waiting = waiting;
}, 60_000);

test('Online marks throttled by the claims table: those claims stay on the board and a later sweep marks them; nobody fails', async () => {
  const { sim, ids } = await world(30, (i) => 5 + (i % 10));
  const markOnline = sim.claims.markOnline.bind(sim.claims);
  let refused = 0;
  sim.claims.markOnline = (key, at) => {
    if (refused < 25) {
      refused += 1;
      return Promise.reject(new Throttled('DynamoDB UpdateItem (SSM Online board): ProvisionedThroughputExceededException (injected)'));
    }
    return markOnline(key, at);
  };
  const { out } = await inTime(() => Promise.all(ids.map((id, i) => untilOnline(() => checkSsmAgent({ instance: ref(id), redriveCount: 0, executionName: `exec-${i}` }, sim)))));
  expect(out.every((r) => r.pingStatus === 'Online')).toBe(true);
  expect(refused).toBe(25);
  for (const id of ids) expect((sim.claims.item(claimKey(ref(id)))?.ssmOnlineAt ?? 0) > 0).toBe(true);
}, 60_000);

test('an agent that never comes Online: SsmAgentNotOnline says the board never saw it, after the invocation\'s budget', async () => {
  const { sim, ids } = await world(3, (i) => (i === 0 ? 100_000 : 5));
  const { out } = await inTime(() =>
    Promise.all(ids.map((id, i) => checkSsmAgent({ instance: ref(id), redriveCount: 0, executionName: `exec-${i}` }, sim).catch((e: unknown) => e))),
  );
  expect(out[0]).toBeInstanceOf(SsmAgentNotOnline);
  expect((out[0] as Error).message).toMatch(/not Online in the board's sweeps/);
  expect(out.slice(1)).toEqual([{ pingStatus: 'Online' }, { pingStatus: 'Online' }]);
  // Still on the board for the next invocation (the state's retry).
  expect(sim.claims.item(claimKey(ref(ids[0] as string)))?.ssmWait).toBe(boardShard(ref(ids[0] as string)));
}, 60_000);

test('a redrive round waits afresh: an Online mark of round 0 does not answer round 1', async () => {
  const { sim, ids } = await world(1, () => 5);
  const id = ids[0] as string;
  await inTime(() => checkSsmAgent({ instance: ref(id), redriveCount: 0, executionName: 'exec-0' }, sim));
  expect((sim.claims.item(claimKey(ref(id)))?.ssmOnlineAt ?? 0) > 0).toBe(true);
  // The agent is now gone quiet (stopped); round 1 must not trust round 0's mark.
  const inst = sim.fleet.instance(id);
  if (!inst) throw new Error('no instance');
  inst.offline = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };
  const { out } = await inTime(() => checkSsmAgent({ instance: ref(id), redriveCount: 1, executionName: 'exec-0' }, sim).catch((e: unknown) => e));
  expect(out).toBeInstanceOf(SsmAgentNotOnline);
  expect(sim.claims.item(claimKey(ref(id)))).toMatchObject({ ssmWaitRound: 1, ssmOnlineAt: 0, ssmWait: boardShard(ref(id)) });
}, 60_000);

test('the sweeper of one account never marks another account\'s waiting joins', async () => {
  const { sim, ids } = await world(2, () => 5);
  // A claim of another account waits on the board of ITS account (same table).
  const otherId = idOf(99);
  const other = ref(otherId, '210987654321');
  sim.fleet.addInstance({ instanceId: otherId, account: '210987654321', region: REGION, ssmOnlineAfterSeconds: 1 });
  const now = Math.floor(sim.clock.now().getTime() / 1000);
  await sim.claims.take(claimKey(other), 'exec-other', now, LEASE);
  await sim.claims.update(claimKey(other), 'exec-other', { ssmWait: boardShard(other), ssmWaitAt: now, ssmWaitRound: 0, ssmOnlineAt: 0 });
  const { out } = await inTime(() => Promise.all(ids.map((id, i) => checkSsmAgent({ instance: ref(id), redriveCount: 0, executionName: `exec-${i}` }, sim))));
  expect(out).toEqual([{ pingStatus: 'Online' }, { pingStatus: 'Online' }]);
  expect(sim.claims.item(claimKey(other))).toMatchObject({ ssmWait: boardShard(other), ssmOnlineAt: 0 });
  expect(pingCalls(sim).every((c) => !c.arg.includes(otherId))).toBe(true);
}, 60_000);

test('without pacing (or without a claim of its own) the board is not used: one check of its own per poll', async () => {
  const sim = simDeps({ account: ACCOUNT, region: REGION });
  const id = idOf(0);
  sim.fleet.addInstance({ instanceId: id, account: ACCOUNT, region: REGION, ssmOnlineAfterSeconds: 0 });
  await expect(checkSsmAgent({ instance: ref(id), redriveCount: 0, executionName: 'exec-0' }, sim)).resolves.toEqual({ pingStatus: 'Online' });
  expect(pingCalls(sim).map((c) => c.arg)).toEqual([id]);
  expect(sim.claims.calls.filter((c) => c.op === 'update' || c.op === 'waiting')).toEqual([]);
});

test('a round that has waited longer than the sweep cutoff (throttled retries stretch the wait) is still swept: its registration is refreshed', async () => {
  // Registered in round 0 longer ago than the sweeps look back (longest SSM deadline + 300 s):
  // the state's throttling retries (BurstThrottleRetry) are not counted by SsmOnlinePolling's
  // attempts, so a Linux-only round can still be waiting then.
  const { sim, ids } = await world(1, () => 0);
  const id = ids[0] as string;
  const now = Math.floor(sim.clock.now().getTime() / 1000);
  const longAgo = now - sim.settings.timings.ssmOnlineDeadlineSeconds - 300 - 60;
  await sim.claims.update(claimKey(ref(id)), 'exec-0', { ssmWait: boardShard(ref(id)), ssmWaitAt: longAgo, ssmWaitRound: 0, ssmOnlineAt: 0 });
  // The agent is Online and the board healthy: one invocation must see it.
  const { out } = await inTime(() => checkSsmAgent({ instance: ref(id), redriveCount: 0, executionName: 'exec-0' }, sim).catch((e: unknown) => e));
  expect(out).toEqual({ pingStatus: 'Online' });
  expect(sim.claims.item(claimKey(ref(id)))?.ssmWaitAt).toBeGreaterThan(longAgo);
}, 60_000);
