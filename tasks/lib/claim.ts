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
import { parseEntry } from './entry';
import { ClaimLost } from './errors';
import { answerLifecycle, heartbeatWhileWaiting } from './lifecycle';
import type { Claim, ClaimChanges, ComputerObject, InstanceInfo, Marker } from './ports';
import { route } from './routing';
import { mayReuseOrDelete } from './safety';
import { loginGroupsFor, optInDecision, statusTagKeys } from './tags';

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

/**
 * Reads the entry event (tasks/lib/entry.ts: EC2 running, tag change, lifecycle launch), the
 * instance, and decides. Order matters: the event and the tags are read, the instance is routed
 * (tasks/lib/routing.ts: a refused OU tag is InvalidInput) BEFORE the claim, so a refusal has no
 * side effect. A launch hook is answered CONTINUE here when the instance needs no join (skipped,
 * already joined); when another execution holds the claim, the hook's execution waits for it
 * (the Choice loops back here) and heartbeats once that join runs long.
 */
export async function readInstance(input: ReadInstanceInput, deps: Deps): Promise<ReadInstanceOutput> {
  const { executionName } = input;
  const entry = parseEntry(input.event, deps.settings); // InvalidInput before any side effect
  const ref: InstanceRef = { instanceId: entry.instanceId, account: entry.account, region: entry.region };
  const withLifecycle = { ...ref, ...(entry.lifecycle ? { lifecycle: entry.lifecycle } : {}) };
  if (entry.action !== 'join') {
    // A leave on opt-out is the leave machine's (the tag-change rule sends it there): nothing done here.
    const reason = entry.action === 'leave' ? `${entry.reason}; the leave machine does that (not the join machine): nothing was done here` : entry.reason;
    return { ...withLifecycle, outcome: 'skipped', reason, platform: 'linux', loginGroups: [] };
  }
  const info = await deps.fleetFor(ref).describeInstance(ref.instanceId);
  const decision = decide(info, deps);
  const platform = info?.platform ?? 'linux';
  const early = async (d: Decision): Promise<ReadInstanceOutput> => {
    const answer = d.outcome === 'in-progress' ? undefined : await answerLifecycle(withLifecycle, 'launch', 'CONTINUE', deps);
    return { ...withLifecycle, ...d, platform, loginGroups: [], ...(answer ? { lifecycleAnswer: answer } : {}) };
  };
  if (decision.outcome !== 'proceed' || !info) return early(decision);
  const loginGroups = loginGroupsFor(info.tags, deps.settings); // InvalidInput before any side effect
  const where = route(deps.settings, { account: ref.account, region: ref.region, tags: info.tags }); // InvalidInput before any side effect
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  const took = await deps.claims.take(claimKey(ref), executionName, now, deps.settings.timings.claimLeaseSeconds);
  if (!took.taken) {
    const held = heldOutcome(took.holder, now);
    if (held.outcome === 'in-progress') await heartbeatWhileWaiting(withLifecycle, took.holder.claimedAt, deps);
    return early(held);
  }
  deps.logger.info('Instance claimed for join', { loginGroups, directory: where.directory, computerOu: where.computerOu, route: where.reason, trigger: entry.trigger });
  return { ...withLifecycle, ...decision, platform, loginGroups, directory: where.directory, computerOu: where.computerOu };
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
