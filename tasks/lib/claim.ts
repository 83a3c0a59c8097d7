/**
 * "Read instance": reads the instance ONCE, decides whether to join it (opt-in / opt-out tags,
 * state, platform, an earlier join), and claims it with ONE conditional write to the claims
 * table (tasks/lib/claims.ts), so duplicate events and concurrent executions leave it alone.
 * No tag is written here (Record result and the cleanup write the status tags).
 * No AWS or LDAP import: ports only.
 */
import { CLAIM_RETENTION_SECONDS, claimKey } from './claims';
import type { InstanceRef, ReadInstanceInput, ReadInstanceOutput } from './contracts';
import type { Deps } from './deps';
import { ClaimLost } from './errors';
import type { Claim, ClaimChanges, ComputerObject, InstanceInfo, Marker } from './ports';
import { mayReuseOrDelete } from './safety';
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
  if (info.platform === 'windows' && !settings.windows)
    return { outcome: 'skipped', reason: 'a Windows instance, and Windows joins are not enabled (configuration windows.enabled)' };
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

/**
 * The claim of a task after "Read instance" (Prepare, Run join document, a redrive of either):
 * ours, and joining again when the cleanup marked it failed (a redrive resumes after Read
 * instance, so it re-takes the claim here). No item (expired by TTL): taken anew. Held by
 * another execution → ClaimLost. A joined claim is returned as it is (the caller decides).
 */
export async function holdClaim(ref: InstanceRef, executionName: string, deps: Deps): Promise<Claim> {
  const key = claimKey(ref);
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  const lease = deps.settings.timings.claimLeaseSeconds;
  const claim = await deps.claims.get(key);
  if (claim === undefined) {
    const took = await deps.claims.take(key, executionName, now, lease);
    if (took.taken) return took.claim;
    throw lost(ref, took.holder);
  }
  if (claim.execution !== executionName) throw lost(ref, claim);
  if (claim.status === 'joining' || claim.status === 'joined') return claim;
  const again: ClaimChanges = { status: 'joining', leaseUntil: now + lease, ttl: now + lease + CLAIM_RETENTION_SECONDS };
  if (!(await deps.claims.update(key, executionName, again, { unlessJoined: true }))) throw lost(ref, claim);
  deps.logger.info('Join claim taken again', { was: claim.status });
  return { ...claim, ...again };
}

const lost = (ref: InstanceRef, holder: Claim): ClaimLost =>
  new ClaimLost(
    `The join claim of ${ref.instanceId} is held by execution ${holder.execution} (status ${holder.status}), not this one: ` +
      'that execution joins the instance; this one stops here (do not redrive it).',
  );

/**
 * Our computer objects for an instance, as the delete rules see them (tasks/lib/safety.ts
 * mayReuseOrDelete: the FULL marker of this instance, strictly inside a managed OU, and the
 * objectGUID the claim recorded — or, with none recorded, created by the service account).
 * Prepare's reuse and the cleanup's password reset touch no other object.
 */
export async function ourObjects(marker: Marker, claim: Claim | undefined, deps: Deps): Promise<ComputerObject[]> {
  const managedOus = deps.settings.directory.managedOus;
  const expectedGuid = claim?.objectGuid;
  return (await deps.directory.findByMarker(marker)).filter((o) => {
    const d = mayReuseOrDelete(o, marker, { managedOus, ...(expectedGuid !== undefined ? { expectedGuid } : {}) });
    if (!d.delete) deps.logger.info('Not ours: left alone', { dn: o.dn, rule: d.rule, reason: d.reason });
    return d.delete;
  });
}
