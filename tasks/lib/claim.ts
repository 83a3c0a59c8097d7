/**
 * "Read instance": reads the instance, decides whether to join it (opt-in / opt-out tags,
 * state, platform, an earlier join, a live claim of another execution), and claims it with
 * status tags so duplicate events and concurrent executions leave it alone.
 * No AWS or LDAP import: ports only.
 */
import type { ReadInstanceInput, ReadInstanceOutput } from './contracts';
import type { Deps } from './deps';
import type { InstanceInfo } from './ports';
import { loginGroupsFor, optInDecision, statusTagKeys } from './tags';
import { instanceOfEvent } from './validate';

type Decision = Pick<ReadInstanceOutput, 'outcome' | 'reason'>;

/** What to do with this instance (pure: no side effect). */
export function decide(info: InstanceInfo | undefined, executionName: string, deps: Pick<Deps, 'settings' | 'clock'>): Decision {
  const { settings, clock } = deps;
  if (!info) return { outcome: 'skipped', reason: 'instance no longer exists' };
  if (info.state !== 'running' && info.state !== 'pending') return { outcome: 'skipped', reason: `instance is ${info.state}, not running` };
  const notWanted = optInDecision(info.tags, settings.tags);
  if (notWanted) return { outcome: 'skipped', reason: notWanted };
  if (info.platform === 'windows') return { outcome: 'skipped', reason: 'Windows join not supported yet' };
  const keys = statusTagKeys(settings.tags.statusPrefix);
  const status = info.tags[keys.status];
  if (status === 'joined')
    return { outcome: 'already-joined', reason: `already joined as ${info.tags[keys.computerName] ?? 'an unrecorded name'}` };
  const holder = info.tags[keys.execution];
  const claimedAt = Date.parse(info.tags[keys.claimedAt] ?? '');
  const age = (clock.now().getTime() - claimedAt) / 1000;
  if (status === 'joining' && holder && holder !== executionName && Number.isFinite(claimedAt) && age >= -60 && age < settings.timings.claimLeaseSeconds)
    return { outcome: 'in-progress', reason: `execution ${holder} is joining it (claimed ${Math.max(0, Math.round(age))} s ago)` };
  return { outcome: 'proceed', reason: 'opted in' };
}

export async function readInstance(input: ReadInstanceInput, deps: Deps): Promise<ReadInstanceOutput> {
  const { event, executionName } = input;
  const ref = instanceOfEvent(event);
  const fleet = deps.fleetFor(ref);
  const info = await fleet.describeInstance(ref.instanceId);
  const decision = decide(info, executionName, deps);
  const platform = info?.platform ?? 'linux';
  if (decision.outcome !== 'proceed' || !info) return { ...ref, ...decision, platform, loginGroups: [] };
  const loginGroups = loginGroupsFor(info.tags, deps.settings); // InvalidInput before any side effect
  const keys = statusTagKeys(deps.settings.tags.statusPrefix);
  await fleet.tagInstance(ref.instanceId, {
    [keys.status]: 'joining',
    [keys.execution]: executionName,
    [keys.claimedAt]: deps.clock.now().toISOString(),
  });
  // EC2 tags have no conditional write: two executions started by duplicate events may both
  // claim. Read the claim back; on a rival claim the lower execution name wins, so exactly one
  // of them goes on. A stale read (no claim, or the expired claim we took over) proceeds.
  const after = await fleet.describeInstance(ref.instanceId);
  const rival = after?.tags[keys.execution];
  const before = info.tags[keys.execution];
  if (after?.tags[keys.status] === 'joining' && rival !== undefined && rival !== executionName && rival !== before && rival < executionName)
    return { ...ref, outcome: 'in-progress', reason: `execution ${rival} claimed it at the same time`, platform, loginGroups: [] };
  deps.logger.info('Instance claimed for join', { loginGroups });
  return { ...ref, ...decision, platform, loginGroups };
}
