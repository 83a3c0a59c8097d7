/**
 * Auto Scaling lifecycle hooks, as the workflows answer them (the action comes from the event:
 * tasks/lib/entry.ts, and travels in $.instance.lifecycle / $.found.lifecycle):
 *
 *   launch     joined, skipped, already joined                  → CONTINUE
 *              join failed (cleanup), instance gone (compensation) → lifecycle.onJoinFailure
 *                                                                   (default ABANDON)
 *   terminate  the objects are deleted (or there were none)      → CONTINUE
 *   heartbeat  a join (or a wait for another execution's join) that runs past a third of the
 *              hook's heartbeat timeout (lifecycle.heartbeatSeconds, default 1800 s) sends
 *              RecordLifecycleActionHeartbeat; the holder records when in its claim.
 *
 * An action that is no longer pending (answered before, or its timeout took the default result)
 * answers false: recorded, never an error. No AWS or LDAP import: ports only.
 */
import { claimKey } from './claims';
import type { InstanceRef, LifecycleAnswer } from './contracts';
import type { Deps } from './deps';
import type { LifecycleAction } from './entry';
import type { Invocation } from './poll';
import type { LifecycleActionRef, LifecycleResult } from './ports';

/** Default heartbeat timeout of the hooks adjoin creates (infra/config-reach.ts lifecycle.heartbeatSeconds). */
export const DEFAULT_HEARTBEAT_SECONDS = 1800;

/** Anything that names an instance and may carry a lifecycle action. */
export type WithLifecycle = InstanceRef & { lifecycle?: LifecycleAction };

/** What a failed launch answers: lifecycle.onJoinFailure, default ABANDON. */
export const onJoinFailure = (deps: Pick<Deps, 'settings'>): LifecycleResult => deps.settings.lifecycle?.onJoinFailure ?? 'ABANDON';

/** Seconds after which a heartbeat is due: a third of the hook's heartbeat timeout. */
export const heartbeatDueSeconds = (deps: Pick<Deps, 'settings'>): number =>
  Math.floor((deps.settings.lifecycle?.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS) / 3);

const refOf = (instance: WithLifecycle, l: LifecycleAction): LifecycleActionRef => ({
  autoScalingGroupName: l.autoScalingGroupName,
  lifecycleHookName: l.lifecycleHookName,
  lifecycleActionToken: l.lifecycleActionToken,
  instanceId: instance.instanceId,
});

/**
 * Answers the instance's lifecycle action of `transition` (no action, or one of the other
 * transition: nothing is sent, undefined). Throttling and AWS errors throw (the state retries).
 */
export async function answerLifecycle(
  instance: WithLifecycle,
  transition: LifecycleAction['transition'],
  result: LifecycleResult,
  deps: Deps,
): Promise<LifecycleAnswer | undefined> {
  const l = instance.lifecycle;
  if (l?.transition !== transition) return undefined;
  const accepted = await deps.fleetFor(instance).completeLifecycleAction(refOf(instance, l), result);
  deps.logger.info(accepted ? 'Lifecycle action answered' : 'Lifecycle action no longer pending', {
    result,
    autoScalingGroupName: l.autoScalingGroupName,
    lifecycleHookName: l.lifecycleHookName,
  });
  return { result, accepted };
}

/**
 * The holder's heartbeat (join tasks that poll): when the instance came with a launch action and
 * the last heartbeat (or the claim) is older than heartbeatDueSeconds, heartbeat and record it.
 */
export async function heartbeatIfDue(instance: WithLifecycle, deps: Deps): Promise<boolean> {
  const l = instance.lifecycle;
  if (l?.transition !== 'launch') return false;
  const claim = await deps.claims.get(claimKey(instance));
  if (claim === undefined || claim.status !== 'joining') return false;
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  if (now - (claim.heartbeatAt ?? claim.claimedAt) < heartbeatDueSeconds(deps)) return false;
  const pending = await deps.fleetFor(instance).recordLifecycleHeartbeat(refOf(instance, l));
  // Rounded up: the next one, due by whole seconds, then comes at least heartbeatDueSeconds later.
  await deps.claims.update(claim.key, claim.execution, { heartbeatAt: Math.ceil(deps.clock.now().getTime() / 1000) });
  deps.logger.info('Lifecycle heartbeat sent', { pending });
  return pending;
}

/**
 * The waiting execution's heartbeat (its launch action waits while another execution joins the
 * instance): due once that join has run heartbeatDueSeconds, then at every re-read.
 */
export async function heartbeatWhileWaiting(instance: WithLifecycle, holderClaimedAt: number, deps: Deps): Promise<boolean> {
  const l = instance.lifecycle;
  if (l?.transition !== 'launch') return false;
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  if (now - holderClaimedAt < heartbeatDueSeconds(deps)) return false;
  return deps.fleetFor(instance).recordLifecycleHeartbeat(refOf(instance, l));
}

/**
 * A polling domain function (Wait for SSM Online, the join command wait) that keeps the holder's
 * launch hook alive: a heartbeat when one is due as the invocation starts, and again between its
 * in-Lambda polls (tasks/lib/poll.ts), checked at most every half of heartbeatDueSeconds. A
 * heartbeat that fails between polls is logged and tried again at a later check; the invocation's
 * own work goes on.
 */
export const withHeartbeat =
  <I extends { instance: WithLifecycle }, O>(run: (input: I, deps: Deps, invocation?: Invocation) => Promise<O>) =>
  async (input: I, deps: Deps, invocation: Invocation = {}): Promise<O> => {
    await heartbeatIfDue(input.instance, deps);
    if (input.instance.lifecycle?.transition !== 'launch') return run(input, deps, invocation);
    let checkedAt = deps.clock.now().getTime();
    const betweenPolls = async (): Promise<void> => {
      const now = deps.clock.now().getTime();
      if (now - checkedAt < (heartbeatDueSeconds(deps) * 1000) / 2) return;
      checkedAt = now;
      try {
        await heartbeatIfDue(input.instance, deps);
      } catch (err) {
        deps.logger.warn('Lifecycle heartbeat failed; tried again at a later check', { cause: err instanceof Error ? err.message : String(err) });
      }
    };
    return run(input, deps, { ...invocation, betweenPolls });
  };
