/**
 * Pacing: the SSM calls a burst of joins makes, spread over time so the account's rate limit is
 * used, not fought. AWS throttles SendCommand, GetCommandInvocation and
 * DescribeInstanceInformation per account and Region; a thousand Lambdas that each retry a
 * throttled call with random back-off leave the quota idle half the time and serve whoever is
 * lucky (issue 10: 5,919 SendCommand attempts for 1,000 commands, the unluckiest join waiting
 * minutes). Instead every call first takes a SLOT in a line shared by every adjoin Lambda of
 * that account and Region: one line per API, its end kept in one item of the claims table
 * (tasks/adapters/dynamodb-pacer.ts), the slots 1 ÷ rate apart. The caller sleeps until its slot,
 * then calls: the API sees calls at the configured rate, in the order they lined up (a FIFO for
 * SendCommand), and throttling is left for what else in the account uses the same quota (the
 * SDK's adaptive retry still takes that).
 *
 *   line end before now            → the slot is now; the end moves to now + spacing
 *   line end within the caller's   → the slot is the end; the end moves one spacing on
 *     latest acceptable time
 *   line end past it               → full: nothing written; the caller waits (in its Lambda)
 *                                    until its latest time, then gives up (the state's retry
 *                                    lines up again: a line never gets shorter, so no retake)
 *
 * A line past its slots costs nothing: a caller that took a slot and did not use it leaves a gap
 * of one spacing. `settings.pacing` sets the rates (calls per second, per account and Region;
 * 0 or absent: not paced); `deps.pacer` absent (unit tests, the real-time lab): not paced.
 * No AWS or LDAP import.
 */
import type { InstanceRef } from './contracts';
import type { Deps } from './deps';
import type { PacedApi, PacingSettings, SlotResult } from './ports';

export type { PacedApi, PacingSettings, SlotResult };
export const PACED_APIS: readonly PacedApi[] = ['sendCommand', 'getCommandInvocation', 'describeInstanceInformation'];

/**
 * Default rates: SSM publishes no per-API rate, so these are the conservative figures issue 10's
 * rate model assumed (SendCommand 5/s, GetCommandInvocation 10/s, DescribeInstanceInformation
 * 10/s). Raise them to your account's quota (Service Quotas, or AWS Support) for faster bursts.
 */
export const DEFAULT_PACING: Required<PacingSettings> = { sendCommand: 5, getCommandInvocation: 10, describeInstanceInformation: 10 };

/**
 * How long "Run join document" may wait in the SendCommand line, on top of its command deadline
 * (s): its JoinStillRunning retries cover it (workflows/join.ts), and the one-time-password sweep
 * counts it in a parameter's age (tasks/lib/otp-sweep.ts). 4,500 joins ahead at 5 per second.
 */
export const SEND_LINE_ALLOWANCE_SECONDS = 900;

/** How long a line item outlives its last slot before DynamoDB's TTL removes it (s). */
export const PACE_RETENTION_SECONDS = 86400;

/** `pace/<account>/<region>/<api>`: the claims-table key of one line (never an instance key: those have no `pace/` prefix). */
export const paceKey = (ref: Pick<InstanceRef, 'account' | 'region'>, api: PacedApi): string => `pace/${ref.account}/${ref.region}/${api}`;

/** The rule every Pacer implements (the DynamoDB adapter as condition expressions): the slot, and the line's new end. */
export function nextSlot(lineEndMs: number | undefined, nowMs: number, spacingMs: number, latestMs: number): { slotMs: number; lineEndMs: number } | { full: true; lineEndsMs: number } {
  const start = Math.max(lineEndMs ?? nowMs, nowMs);
  if (start > latestMs) return { full: true, lineEndsMs: start };
  return { slotMs: start, lineEndMs: start + spacingMs };
}

/** The rate of `api` for these settings (0: not paced). */
export const paceOf = (deps: Pick<Deps, 'settings' | 'pacer'>, api: PacedApi): number => (deps.pacer ? (deps.settings.pacing?.[api] ?? 0) : 0);

/** How a wait in line went: `waitedMs` in line; `slot` false when no slot came before `latestMs`. */
export interface InLine {
  slot: boolean;
  waitedMs: number;
  /** The line's end when it was too long (epoch ms). */
  lineEndsMs?: number;
}

/**
 * Waits for a slot of `api`'s line of the instance's account and Region, at the latest at
 * `latestMs`: sleeps until the slot (→ slot true); or, when the line reaches past `latestMs`,
 * sleeps until `latestMs` (→ slot false, no call may be made; the caller's budget is spent
 * waiting, as its retries count on). ONE take either way: a line never gets shorter (its end only
 * moves on), so a second take before `latestMs` could only be refused, one more write on the
 * line's item each. Not paced, or a clock that cannot sleep: at once.
 */
export async function waitInLine(deps: Pick<Deps, 'settings' | 'pacer' | 'clock'>, ref: Pick<InstanceRef, 'account' | 'region'>, api: PacedApi, latestMs: number): Promise<InLine> {
  const rate = paceOf(deps, api);
  const pacer = deps.pacer;
  if (rate <= 0 || !pacer) return { slot: true, waitedMs: 0 };
  const now = (): number => deps.clock.now().getTime();
  const clock = deps.clock;
  const sleep = clock.sleep ? (ms: number): Promise<void> => (clock.sleep as (ms: number) => Promise<void>).call(clock, ms) : undefined;
  const start = now();
  const got = await pacer.take(paceKey(ref, api), start, 1000 / rate, Math.max(start, latestMs));
  if (!('full' in got)) {
    const wait = got.slotMs - now();
    if (wait > 0 && sleep) await sleep(wait);
    return { slot: true, waitedMs: now() - start };
  }
  const left = latestMs - now();
  if (left > 0 && sleep) await sleep(left);
  return { slot: false, waitedMs: now() - start, lineEndsMs: got.lineEndsMs };
}
