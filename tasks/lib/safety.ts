/**
 * The never-delete rules. Leave and reconcile delete a computer object only when EVERY rule
 * agrees; each rule is a pure function that returns the reason it refuses, or undefined.
 *
 *   1. ours        the object carries our FULL marker (account, Region, instance ID). A
 *                  description that happens to hold an instance ID is not a marker.
 *   2. expected    (leave / per-item delete) the marker is the one of the instance we act for.
 *   3. managed OU  the object is strictly inside one of the managed OUs, compared on RDN
 *                  boundaries, case-insensitively (tasks/lib/dn.ts), never by substring.
 *   4. age         the object is older than the grace period (reconcile).
 *   5. gone        EC2 says the instance is terminated, or does not know it (tasks/lib/gone.ts,
 *                  purpose "delete"). running, stopped, pending, stopping, shutting-down:
 *                  alive. An EC2 error: never gone.
 *   6. no join     the instance is not being joined right now (status tag "joining" with a
 *                  claim younger than the claim lease; a "joining" tag we cannot date counts
 *                  as fresh).
 *
 * No AWS or LDAP import.
 */
import { isInside } from './dn';
import { isGone } from './gone';
import { isValidMarker, sameMarker } from './marker';
import type { ComputerObject, InstanceInfo, Marker } from './ports';
import type { Settings } from './settings';
import { statusTagKeys } from './tags';

export interface SafetySettings {
  /** The only OUs whose objects may be deleted. */
  managedOus: string[];
  /** Objects younger than this are left alone (0: no age rule). */
  graceSeconds: number;
  /** A "joining" claim younger than this means a join is running. */
  claimLeaseSeconds: number;
  /** Prefix of our instance tags (<prefix>status, <prefix>claimed-at). */
  statusPrefix: string;
  /** When set, the object's marker must be exactly this one (the instance we act for). */
  expected?: Marker;
}

/** What EC2 said about the marker's instance: its description, undefined = "not found", or 'error'. */
export type InstanceAnswer = InstanceInfo | undefined | 'error';

export interface Decision {
  delete: boolean;
  reason: string;
  /** The rule that refused (absent when the object may be deleted). */
  rule?: RuleId;
}

export type RuleId = 'ours' | 'expected' | 'managed-ou' | 'age' | 'gone' | 'join-running';

/** A complete, well-formed marker (never trust the adapter alone: checked again here). */
export function isFullMarker(marker: unknown): marker is Marker {
  if (typeof marker !== 'object' || marker === null) return false;
  const m = marker as Record<string, unknown>;
  return (
    typeof m.account === 'string' &&
    typeof m.region === 'string' &&
    typeof m.instanceId === 'string' &&
    isValidMarker({ account: m.account, region: m.region, instanceId: m.instanceId })
  );
}

export const describeMarker = (m: Marker): string => `${m.account}/${m.region}/${m.instanceId}`;

// ---- the rules ----------------------------------------------------------------------------

/** 1. Only objects with our full marker are ours. */
export function refuseUnlessOurs(object: ComputerObject): string | undefined {
  if (!isFullMarker(object.marker))
    return `${object.dn} does not carry a complete adjoin marker: not ours, never deleted`;
  return undefined;
}

/** 2. The marker must be the one of the instance we were asked about. */
export function refuseUnlessExpected(object: ComputerObject, expected: Marker | undefined): string | undefined {
  if (expected === undefined || object.marker === undefined) return undefined;
  if (!sameMarker(object.marker, expected))
    return `${object.dn} carries the marker of ${describeMarker(object.marker)}, not of ${describeMarker(expected)}`;
  return undefined;
}

/** 3. Strictly inside a managed OU (RDN-boundary suffix match, case-insensitive). */
export function refuseUnlessInManagedOu(dn: string, managedOus: string[]): string | undefined {
  if (managedOus.some((ou) => isInside(dn, ou))) return undefined;
  return `${dn} is not inside a managed OU (${managedOus.join(' | ')})`;
}

/** 4. Older than the grace period. An unreadable creation time with a grace period: refuse. */
export function refuseIfYoung(object: ComputerObject, graceSeconds: number, now: Date): string | undefined {
  if (graceSeconds <= 0) return undefined;
  const created = object.whenCreated instanceof Date ? object.whenCreated.getTime() : NaN;
  if (!Number.isFinite(created)) return `${object.dn} has no readable creation time: cannot prove it is older than ${graceSeconds} s`;
  const ageSeconds = (now.getTime() - created) / 1000;
  if (ageSeconds < graceSeconds)
    return `${object.dn} is ${Math.max(0, Math.floor(ageSeconds))} s old, younger than the grace period of ${graceSeconds} s`;
  return undefined;
}

/** 5. The instance is gone: EC2 says terminated, or does not know it. An error is never "gone". */
export function refuseUnlessGone(marker: Marker, answer: InstanceAnswer): string | undefined {
  if (answer === 'error') return `EC2 did not answer about ${describeMarker(marker)}: an error is never "instance gone"`;
  if (answer === undefined) return undefined;
  if (answer.instanceId !== marker.instanceId)
    return `EC2 answered about ${answer.instanceId}, not ${marker.instanceId}: refusing`;
  if (isGone(answer, 'delete')) return undefined;
  return `instance ${marker.instanceId} is ${answer.state}, not terminated`;
}

/** 6. No join running: status "joining" with a fresh (or undatable) claim refuses. */
export function refuseIfJoinRunning(
  answer: InstanceAnswer,
  statusPrefix: string,
  claimLeaseSeconds: number,
  now: Date,
): string | undefined {
  if (answer === undefined || answer === 'error') return undefined;
  const keys = statusTagKeys(statusPrefix);
  if (answer.tags[keys.status] !== 'joining') return undefined;
  const claimed = Date.parse(answer.tags[keys.claimedAt] ?? '');
  if (!Number.isFinite(claimed)) return `a join is marked running on ${answer.instanceId} (claim time unreadable): leaving it to the join`;
  const ageSeconds = (now.getTime() - claimed) / 1000;
  if (ageSeconds < claimLeaseSeconds)
    return `a join claimed ${Math.max(0, Math.floor(ageSeconds))} s ago is running on ${answer.instanceId}: leaving it to the join`;
  return undefined;
}

// ---- the decision -------------------------------------------------------------------------

/** Every rule, in order; the first refusal wins. */
export function decideDeletion(object: ComputerObject, instance: InstanceAnswer, settings: SafetySettings, now: Date): Decision {
  const refuse = (rule: RuleId, reason: string): Decision => ({ delete: false, reason, rule });
  let r = refuseUnlessOurs(object);
  if (r !== undefined) return refuse('ours', r);
  const marker = object.marker as Marker;
  r = refuseUnlessExpected(object, settings.expected);
  if (r !== undefined) return refuse('expected', r);
  r = refuseUnlessInManagedOu(object.dn, settings.managedOus);
  if (r !== undefined) return refuse('managed-ou', r);
  r = refuseIfYoung(object, settings.graceSeconds, now);
  if (r !== undefined) return refuse('age', r);
  r = refuseUnlessGone(marker, instance);
  if (r !== undefined) return refuse('gone', r);
  r = refuseIfJoinRunning(instance, settings.statusPrefix, settings.claimLeaseSeconds, now);
  if (r !== undefined) return refuse('join-running', r);
  // Short on purpose: it travels in state data once per deleted object (a Map result).
  return { delete: true, reason: `instance ${marker.instanceId} ${instance === undefined ? 'is unknown to EC2' : 'is terminated'}` };
}

/** The safety settings of a run, from the task settings. */
export function safetySettings(settings: Settings, opts: { graceSeconds?: number; expected?: Marker } = {}): SafetySettings {
  return {
    managedOus: settings.directory.managedOus,
    graceSeconds: opts.graceSeconds ?? 0,
    claimLeaseSeconds: settings.timings.claimLeaseSeconds,
    statusPrefix: settings.tags.statusPrefix,
    ...(opts.expected ? { expected: opts.expected } : {}),
  };
}
