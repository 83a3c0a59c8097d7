/**
 * The SSM Online board: one DescribeInstanceInformation call checks up to 50 waiting agents.
 *
 * Why: a burst of 1,000 launches has ~1,000 joins in "Wait for SSM Online" at once. Checked one
 * instance per call, at an account quota of ~10 calls per second, each agent is looked at about
 * every 100 s: an agent Online at 40 s is seen at ~90 s, and the SendCommand line (the tightest
 * API) starves while agents that are long Online wait to be noticed (issue 10).
 *
 * How (all on the join-claims table, so no new store):
 *   1. A waiting join writes on its claim `ssmWait` = `<account>/<region>/<shard 0-9>` and
 *      `ssmWaitAt` (now): the claim appears in the sparse index `ssm-wait` (SSM_WAIT_INDEX).
 *      Ten shards per account and Region keep a burst's writes to the index spread.
 *   2. Every ~5 s ONE of the waiting Lambdas of an account and Region sweeps: whoever takes the
 *      slot of the line `sweep/<account>/<region>/ssm-online` (tasks/lib/pace.ts, one slot per
 *      SWEEP_EVERY_MS: the line is the election, no lease to release; a sweeper that dies is
 *      replaced 5 s later). It reads the index (one Query per shard, registrations younger
 *      than the longest SSM deadline + 5 min), asks DescribeInstanceInformation for 50
 *      instances per call (each call in the account's DescribeInstanceInformation line), and
 *      marks every Online agent on its claim (`ssmOnlineAt`, `ssmWait` removed: off the index).
 *   3. Each waiting join reads its own claim (one GetItem) on each of its polls: Online once the
 *      sweeper marked it in this round (`ssmWaitRound`).
 *
 * A sweep's throttling is the sweeping task's poll's back-off. Any other failure (the index
 * missing, access denied) is logged as an error and recorded on `board/<account>/<region>`; while
 * the last sweep failed, every waiting join also checks its own agent once per invocation, so a
 * broken board slows joins down to the per-instance checks but never stops them. The board is used only with a pacer, a
 * describeInstanceInformation pace and a fleet that can ask for many (production, the simulator);
 * otherwise each join checks its own agent as before. No AWS or LDAP import.
 */
import { claimKey } from './claims';
import type { InstanceRef } from './contracts';
import type { Deps } from './deps';
import { paceOf, waitInLine } from './pace';
import { throttling } from './poll';
import type { Claim, Fleet } from './ports';

/** The claims table's sparse index of waiting joins (infra/adjoin.ts). */
export const SSM_WAIT_INDEX = 'ssm-wait';
/** Shards of the index per account and Region. */
export const BOARD_SHARDS = 10;
/** One sweep per account and Region at most this often (ms). */
export const SWEEP_EVERY_MS = 5000;
/** Instances per DescribeInstanceInformation call (its MaxResults is 50). */
export const BOARD_BATCH = 50;
/** Registrations older than the longest SSM deadline plus this are not swept (s). */
export const BOARD_SLACK_SECONDS = 300;

/** The index shard of an instance: `<account>/<region>/<0-9>`, from its ID (stable). */
export function boardShard(ref: Pick<InstanceRef, 'account' | 'region' | 'instanceId'>): string {
  let h = 0;
  for (const ch of ref.instanceId) h = (h * 31 + ch.charCodeAt(0)) % 1_000_003;
  return `${ref.account}/${ref.region}/${h % BOARD_SHARDS}`;
}

/** The item that says how the last sweeps of an account and Region went. */
export const boardKey = (ref: Pick<InstanceRef, 'account' | 'region'>): string => `board/${ref.account}/${ref.region}`;

/** Is the board failing: a sweep failed after the last one that worked? */
export const failing = (h: { okAt?: number; failedAt?: number }): boolean => (h.failedAt ?? 0) > (h.okAt ?? 0);

/** The line whose slot makes its taker the sweeper of an account and Region. */
export const sweepKey = (ref: Pick<InstanceRef, 'account' | 'region'>): string => `sweep/${ref.account}/${ref.region}/ssm-online`;

/** Is the board in use for this fleet? */
export function boardOn(deps: Pick<Deps, 'board' | 'pacer' | 'settings'>, fleet: Fleet): boolean {
  return deps.board !== undefined && paceOf(deps, 'describeInstanceInformation') > 0 && typeof fleet.ssmPingStatuses === 'function';
}

/** Has the sweeper seen this claim's agent Online in `round`? */
export const seenOnline = (claim: Claim | undefined, round: number): boolean => claim?.ssmWaitRound === round && (claim.ssmOnlineAt ?? 0) > 0;

/** Is the claim on the board for `round`? */
export const registered = (claim: Claim | undefined, round: number): boolean => claim?.ssmWaitRound === round && claim.ssmWait !== undefined;

/** The fields that put a claim on the board for `round` (written by its holder). */
export const registration = (ref: InstanceRef, round: number, nowSeconds: number): Pick<Claim, 'ssmWait' | 'ssmWaitAt' | 'ssmWaitRound' | 'ssmOnlineAt'> => ({
  ssmWait: boardShard(ref),
  ssmWaitAt: nowSeconds,
  ssmWaitRound: round,
  ssmOnlineAt: 0,
});

/**
 * Is a registration about to fall behind the sweeps' look-back (`sweepCutoff`)? Older than the
 * longest SSM deadline: the round still waits (the state's throttling retries are not counted
 * by its SsmAgentNotOnline attempts), so its holder refreshes `ssmWaitAt` or no sweep would see it.
 */
export const registrationAging = (claim: Pick<Claim, 'ssmWaitAt'>, deps: Pick<Deps, 'settings'>, nowSeconds: number): boolean =>
  (claim.ssmWaitAt ?? 0) < sweepCutoff(deps, nowSeconds) + BOARD_SLACK_SECONDS;

/** The oldest registration a sweep still checks (epoch s). */
export function sweepCutoff(deps: Pick<Deps, 'settings'>, nowSeconds: number): number {
  const longest = Math.max(deps.settings.timings.ssmOnlineDeadlineSeconds, deps.settings.windows?.ssmOnlineDeadlineSeconds ?? 0);
  return nowSeconds - longest - BOARD_SLACK_SECONDS;
}

export interface Sweep {
  /** Instances asked about. */
  checked: number;
  /** Instance IDs seen Online (and marked). */
  online: Set<string>;
  /** DescribeInstanceInformation calls made. */
  calls: number;
  /** Agents seen Online whose mark was throttled (left for the next sweep). */
  unmarked: number;
}

/**
 * Sweeps the board of `ref`'s account and Region if this caller takes the sweep slot; undefined
 * when another sweeper has it. Stops at `deadlineMs` (what is left is the next sweep's).
 */
export async function sweepIfDue(ref: InstanceRef, deps: Pick<Deps, 'board' | 'pacer' | 'settings' | 'clock'>, fleet: Fleet, deadlineMs: number): Promise<Sweep | undefined> {
  const { board, pacer } = deps;
  if (!board || !pacer || !fleet.ssmPingStatuses) return undefined;
  const now = deps.clock.now().getTime();
  // A read first: the election's write (a conditional write costs capacity even when refused)
  // only when the last sweep is due, so thousands of waiting joins do not heat one item.
  const end = await pacer.peek(sweepKey(ref));
  if (end !== undefined && end > now) return undefined;
  const elected = await pacer.take(sweepKey(ref), now, SWEEP_EVERY_MS, now);
  if ('full' in elected) return undefined;
  const nowSeconds = Math.floor(now / 1000);
  const cutoff = sweepCutoff(deps, nowSeconds);
  // From a random shard on: a sweep cut short by its budget leaves a different rest each time.
  const first = Math.floor(Math.random() * BOARD_SHARDS);
  const shards = Array.from({ length: BOARD_SHARDS }, (_, i) => `${ref.account}/${ref.region}/${(first + i) % BOARD_SHARDS}`);
  const prefix = `${ref.account}/${ref.region}/`;
  const keys = (await Promise.all(shards.map((s) => board.waiting(s, cutoff)))).flat();
  const ids = [...new Set(keys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)))];
  const sweep: Sweep = { checked: 0, online: new Set(), calls: 0, unmarked: 0 };
  for (let i = 0; i < ids.length; i += BOARD_BATCH) {
    const batch = ids.slice(i, i + BOARD_BATCH);
    if (!(await waitInLine(deps, ref, 'describeInstanceInformation', deadlineMs)).slot) break;
    const pings = await fleet.ssmPingStatuses(batch);
    sweep.calls += 1;
    sweep.checked += batch.length;
    const at = Math.floor(deps.clock.now().getTime() / 1000);
    const online = batch.filter((id) => pings.get(id) === 'Online');
    // Each mark on its own: a throttled one leaves that claim on the board for the next sweep
    // (the others are not lost with it); anything else fails the sweep.
    const marks = await Promise.allSettled(online.map((id) => board.markOnline(claimKey({ ...ref, instanceId: id }), at)));
    for (const [i, m] of marks.entries()) {
      if (m.status === 'fulfilled') sweep.online.add(online[i] as string);
      else if (throttling(m.reason)) sweep.unmarked += 1;
      else throw m.reason;
    }
  }
  await board.recordSweep(boardKey(ref), 'ok', Math.floor(deps.clock.now().getTime() / 1000));
  return sweep;
}
