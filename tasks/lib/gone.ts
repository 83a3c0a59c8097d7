/**
 * The one "instance is gone" rule, for every task that asks EC2 about an instance.
 *
 *   unknown to EC2 (no answer for the ID)   gone
 *   terminated                              gone
 *   shutting-down                           gone for a join (it can no longer finish);
 *                                           NOT yet for a delete: leave and reconcile wait
 *                                           for terminated (safety rule 5, tasks/lib/safety.ts)
 *   Auto Scaling Terminating:Wait/Proceed   gone for a delete: the terminate hook holds the
 *                                           instance for the leave (only when the caller asked
 *                                           EC2 with `autoScaling`: leave does, reconcile not)
 *   anything else                           alive
 *
 * An EC2 error is never "gone": the describe call throws and the caller lets it throw.
 * No AWS or LDAP import.
 */
import { InstanceGone } from './errors';
import type { Fleet, InstanceInfo } from './ports';

export type GonePurpose = 'join' | 'delete';

export function isGone(info: Pick<InstanceInfo, 'state' | 'lifecycleState'> | undefined, purpose: GonePurpose): boolean {
  if (info === undefined || info.state === 'terminated') return true;
  if (purpose === 'delete') return info.lifecycleState?.startsWith('Terminating') === true;
  return info.state === 'shutting-down';
}

/** Throws InstanceGone when the instance is gone for a join; else returns what EC2 said. */
export async function assertNotGone(fleet: Fleet, instanceId: string): Promise<InstanceInfo> {
  const info = await fleet.describeInstance(instanceId);
  if (info === undefined || isGone(info, 'join'))
    throw new InstanceGone(`Instance ${instanceId} is ${info ? info.state : 'unknown to EC2'}: the join is abandoned`);
  return info;
}
