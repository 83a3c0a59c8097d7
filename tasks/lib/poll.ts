/**
 * In-Lambda polling for the join's two waiting steps: "Wait for SSM Online" (tasks/lib/ssm-agent.ts)
 * and the join command wait (tasks/lib/commands.ts waitForJoinCommand, one function for every
 * join document). One invocation polls with jitter for a bounded time, then throws the step's
 * still-waiting error (SsmAgentNotOnline, JoinStillRunning): the state's Retry invokes it again,
 * so each step stays one state and a redrive resumes there. One invocation and one transition
 * per `maxSeconds` instead of one per poll.
 *
 * Budget: min(maxSeconds, the invocation's remaining time − reserveSeconds). The polling
 * functions' Lambda timeout is at least maxSeconds + reserveSeconds (infra/functions.ts), and
 * the reserve covers one more SDK call at its worst (tasks/adapters/aws-clients.ts
 * worstCaseCallMs: 27 s). Outside Lambda (the local engine) the budget is maxSeconds; with a
 * clock that cannot sleep (unit fakes) it is 0: one poll per invocation, as a Retry-only poll.
 *
 * Pauses: interval × uniform(0.5, 1.5), so a burst of launches never polls in lock-step.
 * Throttled / AwsUnavailable (past the SDK's own retries) doubles the pause, up to
 * throttledMaxSeconds; an answer brings it back to the interval. The invocation ends with the
 * still-waiting error, or with the throttling error itself when not one poll got an answer
 * (nothing was learnt: the state's throttling retry takes it). Any other error ends it at once.
 */
import type { Clock } from './ports';
import { AdjoinError, Errors } from './errors';

/** What a task knows of its Lambda invocation (tasks/lib/task.ts; empty outside Lambda). */
export interface Invocation {
  /** Milliseconds before the invocation times out (Lambda's context.getRemainingTimeInMillis). */
  remainingMs?: () => number;
  /** Work to do between two polls of this invocation (the launch hook's heartbeat, tasks/lib/lifecycle.ts). */
  betweenPolls?: () => Promise<void>;
}

export const InLambdaWait = {
  /** The longest one invocation polls (s). */
  maxSeconds: 60,
  /** Kept free of the invocation's remaining time (s): one more SDK call at its worst, and the way out. */
  reserveSeconds: 30,
  /** Pause between checks of the SSM agent (s, jittered ×0.5–1.5): Online is seen ~5 s after it happens. */
  ssmIntervalSeconds: 5,
  /** Pause between checks of a join command (s, jittered); also before the first check of a command just sent. */
  commandIntervalSeconds: 5,
  /** The longest pause while the API throttles (s). */
  throttledMaxSeconds: 30,
} as const;

export interface PollPlan {
  /** The pause between polls (s), jittered ×0.5–1.5. */
  intervalSeconds: number;
  /** Pause before the first poll (e.g. a command sent a moment ago). Default: poll at once. */
  pauseFirst?: boolean;
  /** The step's still-waiting error; `detail` says how this invocation went. */
  stillWaiting: (detail: string) => AdjoinError;
  /** The bound (s), default InLambdaWait.maxSeconds. */
  maxSeconds?: number;
}

/**
 * One poll: the result when done, undefined while still waiting; throws to end the invocation.
 * `first` / `last`: the first poll, and the last one this invocation will make (a place for
 * checks not worth making on every poll). `deadlineMs`: the end of this invocation's budget
 * (epoch ms on the clock), the latest a poll may wait in a pacing line (tasks/lib/pace.ts).
 */
export type Poll<T> = (at: { first: boolean; last: boolean; deadlineMs: number }) => Promise<T | undefined>;

/** The milliseconds this invocation may poll (see the header). */
export function pollBudgetMs(clock: Clock, invocation: Invocation, maxSeconds: number = InLambdaWait.maxSeconds): number {
  if (!clock.sleep) return 0;
  const bound = maxSeconds * 1000;
  const remaining = invocation.remainingMs?.();
  return Math.max(0, remaining === undefined ? bound : Math.min(bound, remaining - InLambdaWait.reserveSeconds * 1000));
}

/** Throttled or AwsUnavailable past the SDK's own retries: a pause and another poll, not the end. */
export const throttling = (err: unknown): err is AdjoinError =>
  err instanceof AdjoinError && (err.name === Errors.Throttled || err.name === Errors.AwsUnavailable);

export async function pollWithin<T>(clock: Clock, invocation: Invocation, plan: PollPlan, poll: Poll<T>): Promise<T> {
  const now = (): number => clock.now().getTime();
  const start = now();
  const deadline = start + pollBudgetMs(clock, invocation, plan.maxSeconds);
  const jittered = (seconds: number): number => seconds * 1000 * (0.5 + Math.random());
  const sleep = (ms: number): Promise<void> => (clock.sleep ? clock.sleep(ms) : Promise.resolve());
  let intervalS = plan.intervalSeconds;
  let pause = jittered(intervalS);
  if (plan.pauseFirst) {
    if (now() + pause > deadline) throw plan.stillWaiting('no time left in this invocation to check');
    await sleep(pause);
  }
  let polls = 0;
  let throttled = 0;
  let lastThrottle: AdjoinError | undefined;
  for (;;) {
    pause = jittered(intervalS);
    const last = now() + pause > deadline;
    polls += 1;
    try {
      const out = await poll({ first: polls === 1, last, deadlineMs: deadline });
      if (out !== undefined) return out;
      intervalS = plan.intervalSeconds;
    } catch (err) {
      if (!throttling(err)) throw err;
      throttled += 1;
      lastThrottle = err;
      intervalS = Math.min(intervalS * 2, InLambdaWait.throttledMaxSeconds);
      pause = jittered(intervalS);
    }
    const left = deadline - now();
    if (last || left <= 0) {
      if (lastThrottle && throttled === polls) throw lastThrottle;
      const s = Math.round((now() - start) / 1000);
      throw plan.stillWaiting(`${polls} check${polls === 1 ? '' : 's'} in ${s} s${throttled > 0 ? `, ${throttled} throttled` : ''}`);
    }
    await sleep(Math.min(pause, left));
    await invocation.betweenPolls?.();
  }
}
