/**
 * The never-delete rules. Leave, reconcile and Prepare's reuse path delete (or reuse) a computer
 * object only when EVERY rule agrees; each rule is a pure function that returns the reason it
 * refuses, or undefined.
 *
 *   1. ours        the object carries our FULL marker (account, Region, instance ID). A
 *                  description that happens to hold an instance ID is not a marker.
 *   2. expected    (leave / per-item delete / reuse) the marker is the one of the instance we
 *                  act for.
 *   3. managed OU  the object is strictly inside one of the managed OUs, compared on RDN
 *                  boundaries, case-insensitively (tasks/lib/dn.ts), never by substring.
 *   4. ownership   a marker can be copied; an objectGUID cannot. When the caller knows the GUID
 *                  recorded at creation (`expectedGuid`), the object's objectGUID must be exactly
 *                  that one. When none was recorded (objects made before GUIDs were recorded, or
 *                  the record expired), the object must have been created by us: the directory
 *                  adapter reads the owner SID of its security descriptor and compares it with
 *                  the service account's SID (`createdByUs`, tasks/adapters/ldap-directory.ts).
 *   5. age         the object is older than the grace period (reconcile).
 *   6. gone        EC2 says the instance is terminated, or does not know it (tasks/lib/gone.ts,
 *                  purpose "delete"). running, stopped, pending, stopping, shutting-down:
 *                  alive. An EC2 error: never gone. A leave on opt-out (tags.leaveOnOptOut,
 *                  `optOut` set): an instance that is not gone counts only while it still
 *                  carries the opt-out tag with EXACTLY its value (refuseUnlessOptedOut), and
 *                  only with the objectGUID the join claim recorded (rule 4 without fallback).
 *   7. no join     a join claim ("joining" status tag with a claim younger than the claim
 *                  lease; an undatable claim counts as fresh) blocks the delete, but only when
 *                  EC2 does NOT say terminated: a terminated instance's objects go whatever
 *                  state its join ended in. A claim time in the future is invalid, never fresh.
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
  /** The objectGUID recorded when we created the object, when one is known. */
  expectedGuid?: string;
  /** A leave on opt-out (tags.leaveOnOptOut): the tag a living instance must still carry, exactly. */
  optOut?: { key: string; value: string };
}

/** What EC2 said about the marker's instance: its description, undefined = "not found", or 'error'. */
export type InstanceAnswer = InstanceInfo | undefined | 'error';

export interface Decision {
  delete: boolean;
  reason: string;
  /** The rule that refused (absent when the object may be deleted). */
  rule?: RuleId;
}

export type RuleId = 'ours' | 'expected' | 'managed-ou' | 'ownership' | 'age' | 'gone' | 'join-running';

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

/** A GUID in canonical form for comparison (lower case, no braces). */
const canonicalGuid = (g: string): string => g.trim().replace(/^\{|\}$/g, '').toLowerCase();

/** 4. Proven ours: the recorded objectGUID when one is known, else created by the service account. */
export function refuseUnlessOwned(object: ComputerObject, expectedGuid: string | undefined): string | undefined {
  if (expectedGuid !== undefined && expectedGuid !== '') {
    if (object.guid === undefined || object.guid === '')
      return `${object.dn} has no readable objectGUID; the recorded one is ${expectedGuid}: cannot prove it is the object we made`;
    if (canonicalGuid(object.guid) !== canonicalGuid(expectedGuid))
      return `${object.dn} has objectGUID ${object.guid}, not the recorded ${expectedGuid}: another object under our name and marker`;
    return undefined;
  }
  if (object.createdByUs === true) return undefined;
  const owner = object.ownerSid !== undefined ? `its owner is ${object.ownerSid}` : 'its owner could not be read';
  return `${object.dn} was not created by the service account (${owner}) and no objectGUID was recorded for it: not proven ours`;
}

/** 5. Older than the grace period. An unreadable creation time with a grace period: refuse. */
export function refuseIfYoung(object: ComputerObject, graceSeconds: number, now: Date): string | undefined {
  if (graceSeconds <= 0) return undefined;
  const created = object.whenCreated instanceof Date ? object.whenCreated.getTime() : NaN;
  if (!Number.isFinite(created)) return `${object.dn} has no readable creation time: cannot prove it is older than ${graceSeconds} s`;
  const ageSeconds = (now.getTime() - created) / 1000;
  if (ageSeconds < graceSeconds)
    return `${object.dn} is ${Math.max(0, Math.floor(ageSeconds))} s old, younger than the grace period of ${graceSeconds} s`;
  return undefined;
}

/** 6. The instance is gone: EC2 says terminated, or does not know it. An error is never "gone". With `optOut`: or opted out (6b). */
export function refuseUnlessGone(marker: Marker, answer: InstanceAnswer, optOut?: { key: string; value: string }): string | undefined {
  if (answer === 'error') return `EC2 did not answer about ${describeMarker(marker)}: an error is never "instance gone"`;
  if (answer === undefined) return undefined;
  if (answer.instanceId !== marker.instanceId)
    return `EC2 answered about ${answer.instanceId}, not ${marker.instanceId}: refusing`;
  if (isGone(answer, 'delete')) return undefined;
  if (optOut !== undefined) return refuseUnlessOptedOut(answer, optOut);
  return `instance ${marker.instanceId} is ${answer.state}, not terminated`;
}

/**
 * 6b. A leave on opt-out: the instance (read NOW) still carries the opt-out tag with exactly its
 * value. A tag removed (opted in again) or changed meanwhile: nothing is deleted.
 */
export function refuseUnlessOptedOut(answer: InstanceInfo, optOut: { key: string; value: string }): string | undefined {
  const value = answer.tags[optOut.key];
  if (value === optOut.value) return undefined;
  const now = value === undefined ? `no longer carries the opt-out tag ${optOut.key}` : `carries ${optOut.key}=${JSON.stringify(value.slice(0, 60))}, not exactly ${JSON.stringify(optOut.value)}`;
  return `instance ${answer.instanceId} is ${answer.state} and ${now}: it stays joined, nothing is deleted`;
}

/**
 * 7. No join running: a "joining" status with a fresh (or undatable) claim refuses, unless EC2
 * says terminated (no join can still finish there). A claim time in the future is invalid: it
 * never blocks (a wrong clock or a forged tag must not keep an object forever).
 */
export function refuseIfJoinRunning(
  answer: InstanceAnswer,
  statusPrefix: string,
  claimLeaseSeconds: number,
  now: Date,
): string | undefined {
  if (answer === undefined || answer === 'error' || answer.state === 'terminated') return undefined;
  const keys = statusTagKeys(statusPrefix);
  if (answer.tags[keys.status] !== 'joining') return undefined;
  const claimed = Date.parse(answer.tags[keys.claimedAt] ?? '');
  if (!Number.isFinite(claimed)) return `a join is marked running on ${answer.instanceId} (claim time unreadable): leaving it to the join`;
  const ageSeconds = (now.getTime() - claimed) / 1000;
  if (ageSeconds < 0) return undefined; // in the future: invalid, not a fresh claim
  if (ageSeconds < claimLeaseSeconds)
    return `a join claimed ${Math.floor(ageSeconds)} s ago is running on ${answer.instanceId}: leaving it to the join`;
  return undefined;
}

/**
 * May this object be reused (password reset) or deleted for the instance of `expected`? Rules 1
 * to 4 (marker, expected marker, managed OU, ownership): the part of the decision that needs no
 * EC2 answer. Prepare's reuse path calls this; decideDeletion starts with it.
 */
export function mayReuseOrDelete(
  object: ComputerObject,
  expected: Marker | undefined,
  opts: { managedOus: string[]; expectedGuid?: string },
): Decision {
  const refuse = (rule: RuleId, reason: string): Decision => ({ delete: false, reason, rule });
  let r = refuseUnlessOurs(object);
  if (r !== undefined) return refuse('ours', r);
  r = refuseUnlessExpected(object, expected);
  if (r !== undefined) return refuse('expected', r);
  r = refuseUnlessInManagedOu(object.dn, opts.managedOus);
  if (r !== undefined) return refuse('managed-ou', r);
  r = refuseUnlessOwned(object, opts.expectedGuid);
  if (r !== undefined) return refuse('ownership', r);
  return { delete: true, reason: `${object.dn} is ours` };
}

// ---- the decision -------------------------------------------------------------------------

/** Every rule, in order; the first refusal wins. */
export function decideDeletion(object: ComputerObject, instance: InstanceAnswer, settings: SafetySettings, now: Date): Decision {
  const refuse = (rule: RuleId, reason: string): Decision => ({ delete: false, reason, rule });
  const owned = mayReuseOrDelete(object, settings.expected, {
    managedOus: settings.managedOus,
    ...(settings.expectedGuid !== undefined ? { expectedGuid: settings.expectedGuid } : {}),
  });
  if (!owned.delete) return owned;
  const marker = object.marker as Marker;
  // A living instance's object only with the GUID its join recorded (no "created by us" fallback).
  if (settings.optOut !== undefined && !settings.expectedGuid)
    return refuse('ownership', `${object.dn}: no objectGUID recorded by the join claim; a running instance's object is deleted only when the claim proves it ours`);
  let r = refuseIfYoung(object, settings.graceSeconds, now);
  if (r !== undefined) return refuse('age', r);
  r = refuseUnlessGone(marker, instance, settings.optOut);
  if (r !== undefined) return refuse('gone', r);
  r = refuseIfJoinRunning(instance, settings.statusPrefix, settings.claimLeaseSeconds, now);
  if (r !== undefined) return refuse('join-running', r);
  // Short on purpose: it travels in state data once per deleted object (a Map result).
  const why = instance === undefined ? 'is unknown to EC2' : instance !== 'error' && isGone(instance, 'delete') ? 'is terminated' : `is opted out (${settings.optOut?.key ?? ''})`;
  return { delete: true, reason: `instance ${marker.instanceId} ${why}` };
}

/** The safety settings of a run, from the task settings. */
export function safetySettings(settings: Settings, opts: { graceSeconds?: number; expected?: Marker; expectedGuid?: string; optOut?: boolean } = {}): SafetySettings {
  return {
    managedOus: settings.directory.managedOus,
    graceSeconds: opts.graceSeconds ?? 0,
    claimLeaseSeconds: settings.timings.claimLeaseSeconds,
    statusPrefix: settings.tags.statusPrefix,
    ...(opts.expected ? { expected: opts.expected } : {}),
    ...(opts.expectedGuid ? { expectedGuid: opts.expectedGuid } : {}),
    // Only when the configuration asks for it: an input saying "opt-out" cannot widen the rule alone.
    ...(opts.optOut === true && settings.tags.leaveOnOptOut === true ? { optOut: settings.tags.optOut } : {}),
  };
}
