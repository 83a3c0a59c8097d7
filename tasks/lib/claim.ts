/**
 * "Read instance": reads the instance ONCE, decides whether to join it (opt-in / opt-out tags,
 * state, platform, an earlier join), and claims it with ONE conditional write to the claims
 * table (tasks/lib/claims.ts), so duplicate events and concurrent executions leave it alone.
 * No tag is written here (Record result and the cleanup write the status tags).
 * No AWS or LDAP import: ports only.
 */
import { claimKey } from './claims';
import type { ReadInstanceInput, ReadInstanceOutput } from './contracts';
import type { Deps } from './deps';
import type { Claim, InstanceInfo } from './ports';
import { loginGroupsFor, optInDecision, statusTagKeys } from './tags';
import { instanceOfEvent } from './validate';

type Decision = Pick<ReadInstanceOutput, 'outcome' | 'reason'>;

/** What to do with this instance, from EC2 alone (pure: no side effect). */
export function decide(info: InstanceInfo | undefined, deps: Pick<Deps, 'settings'>): Decision {
  const { settings } = deps;
  if (!info) return { outcome: 'skipped', reason: 'instance no longer exists' };
  if (info.state !== 'running' && info.state !== 'pending') return { outcome: 'skipped', reason: `instance is ${info.state}, not running` };
  const notWanted = optInDecision(info.tags, settings.tags);
  if (notWanted) return { outcome: 'skipped', reason: notWanted };
  if (info.platform === 'windows') return { outcome: 'skipped', reason: 'Windows join not supported yet' };
  const keys = statusTagKeys(settings.tags.statusPrefix);
  if (info.tags[keys.status] === 'joined')
    return { outcome: 'already-joined', reason: `already joined as ${info.tags[keys.computerName] ?? 'an unrecorded name'}` };
  return { outcome: 'proceed', reason: 'opted in' };
}

/** Why a take failed, as the early outcome. */
export function heldOutcome(holder: Claim, nowSeconds: number): Decision {
  if (holder.status === 'joined')
    return { outcome: 'already-joined', reason: `already joined as ${holder.computerName ?? 'an unrecorded name'} (execution ${holder.execution})` };
  const age = Math.max(0, nowSeconds - holder.claimedAt);
  return { outcome: 'in-progress', reason: `execution ${holder.execution} is joining it (claimed ${age} s ago)` };
}

export async function readInstance(input: ReadInstanceInput, deps: Deps): Promise<ReadInstanceOutput> {
  const { event, executionName } = input;
  const ref = instanceOfEvent(event);
  const info = await deps.fleetFor(ref).describeInstance(ref.instanceId);
  const decision = decide(info, deps);
  const platform = info?.platform ?? 'linux';
  if (decision.outcome !== 'proceed' || !info) return { ...ref, ...decision, platform, loginGroups: [] };
  const loginGroups = loginGroupsFor(info.tags, deps.settings); // InvalidInput before any side effect
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  const took = await deps.claims.take(claimKey(ref), executionName, now, deps.settings.timings.claimLeaseSeconds);
  if (!took.taken) return { ...ref, ...heldOutcome(took.holder, now), platform, loginGroups: [] };
  deps.logger.info('Instance claimed for join', { loginGroups });
  return { ...ref, ...decision, platform, loginGroups };
}
