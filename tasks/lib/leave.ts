/**
 * Leave: an instance is terminated, so the computer objects that carry its marker go. One
 * domain function per state; the per-object delete is shared with reconcile (tasks/lib/delete.ts).
 *
 *   findComputerObjects  EC2 first: not gone (tasks/lib/gone.ts) → "instance-alive", nothing is
 *                        touched. Then the objects with this exact marker, each passed through
 *                        the safety rules (tasks/lib/safety.ts). The objectGUID they require:
 *                        the input's, else the one the join claim recorded at create; with
 *                        neither, the owner-SID rule ("created by us"). A terminated instance's
 *                        objects go whatever state its join ended in (a "joining" or "failed"
 *                        tag does not block). The instance's one-time-password parameter is
 *                        deleted here, whether or not an object is found.
 *   recordLeave          the outcome summary; DNS records the directory refused to delete are
 *                        listed (dnsNotRemoved) and make the outcome "partial".
 *
 * Leave on opt-out (tags.leaveOnOptOut, a tag change setting the opt-out tag): the instance is
 * RUNNING. It counts as leaving only while it carries the opt-out tag exactly (safety rule 6b,
 * re-checked by the delete), and only objects with the objectGUID the join claim recorded go.
 * After a complete leave, Record leave tags the instance <prefix>status=left and releases the
 * join claim, so that the opt-in tag set again joins it again. Nothing runs ON the instance:
 * its sssd configuration and keytab stay, but the object is gone, so its Kerberos identity no
 * longer works (directory logins stop).
 *
 * No AWS or LDAP import: ports only.
 */
import { claimKey } from './claims';
import type { FindObjectsEventInput, FindObjectsInput, FindObjectsOutput, InstanceRef, ObjectRef, RecordLeaveInput, RecordLeaveOutput } from './contracts';
import { countDeletes, readableCause } from './delete';
import type { Deps } from './deps';
import { parseEntry } from './entry';
import { AdjoinError } from './errors';
import { isGone } from './gone';
import { answerLifecycle } from './lifecycle';
import type { Marker } from './ports';
import { directoriesToSearch, objectDirectory, scopedDeps } from './routing';
import { decideDeletion, describeMarker, refuseUnlessOptedOut, safetySettings } from './safety';
import { statusTagKeys } from './tags';

/**
 * "Find computer objects" from its entry event (EC2 terminated, lifecycle terminate; a tag change
 * that asks for nothing ends as "nothing"). A terminate hook is answered CONTINUE here when there
 * is nothing to delete, else by "Record leave" after the deletes.
 */
export async function findObjectsForEvent(input: FindObjectsEventInput, deps: Deps): Promise<FindObjectsOutput> {
  const entry = parseEntry(input.event, deps.settings); // InvalidInput before anything is done
  const instance: InstanceRef = { instanceId: entry.instanceId, account: entry.account, region: entry.region };
  const lifecycle = entry.lifecycle?.transition === 'terminate' ? { lifecycle: entry.lifecycle } : {};
  if (entry.action !== 'leave') return { ...instance, ...lifecycle, outcome: 'nothing', reason: entry.reason, objects: [] };
  const found = await findComputerObjects({ instance, entry, ...(input.expectedGuid ? { expectedGuid: input.expectedGuid } : {}) }, deps);
  if (isOptOutLeave(entry, deps)) {
    if (found.outcome === 'delete') return { ...found, optOut: true };
    // No object carries the marker (e.g. deleted by hand) but the claim still says joined:
    // "Record leave" records the leave and releases the claim, so the opt-in tag set again joins
    // again. An object left alone by the safety rules keeps the claim as it is.
    if (found.outcome === 'nothing' && found.refused === undefined && (await deps.claims.get(claimKey(instance)))?.status === 'joined')
      return { ...found, outcome: 'delete', optOut: true, reason: `${found.reason}; the join claim still says joined: it is released` };
  }
  if (found.outcome !== 'nothing') return { ...found, ...lifecycle };
  const answer = await answerLifecycle({ ...instance, ...lifecycle }, 'terminate', 'CONTINUE', deps);
  return { ...found, ...lifecycle, ...(answer ? { lifecycleAnswer: answer } : {}) };
}

/** A leave asked by the opt-out tag (a tag change) with tags.leaveOnOptOut on. */
const isOptOutLeave = (entry: FindObjectsInput['entry'], deps: Deps): boolean =>
  entry?.trigger === 'tag-change' && entry.action === 'leave' && deps.settings.tags.leaveOnOptOut === true;

export async function findComputerObjects(input: FindObjectsInput, deps: Deps): Promise<FindObjectsOutput> {
  const { instance } = input;
  const marker: Marker = { ...instance };
  const optOut = isOptOutLeave(input.entry, deps);
  // A terminate hook holds the instance in Terminating:Wait: Auto Scaling's word makes it leaving.
  const asg = input.entry?.lifecycle?.transition === 'terminate' ? { autoScaling: true } : undefined;
  const info = await deps.fleetFor(instance).describeInstance(instance.instanceId, asg); // errors throw: never "gone"
  // An opt-out leave: the living instance must carry the opt-out tag exactly (safety rule 6b).
  const notOptedOut = optOut && info !== undefined ? refuseUnlessOptedOut(info, deps.settings.tags.optOut) : 'not an opt-out leave';
  if (info !== undefined && !isGone(info, 'delete') && notOptedOut !== undefined) {
    const state = info.lifecycleState !== undefined ? `${info.state} (${info.lifecycleState})` : info.state;
    const reason = optOut ? notOptedOut : `EC2 says ${instance.instanceId} is ${state}, not terminated: nothing is deleted (a late or duplicate event)`;
    deps.logger.info('Instance is alive', { state: info.state, lifecycleState: info.lifecycleState });
    return { ...instance, outcome: 'instance-alive', reason, objects: [] };
  }
  // Gone: its one-time password goes too, objects found or not (a failed join may have left one).
  // Idempotent: an absent parameter is no error (Fleet.deleteJoinSecret). A transient error is
  // retried by the state; a refusal does not stop the leave (the reconcile sweeps the parameter).
  let otpNotDeleted: string | undefined;
  try {
    await deps.fleetFor(instance).deleteJoinSecret(instance.instanceId);
  } catch (err) {
    if (!(err instanceof AdjoinError) || err.transient) throw err;
    otpNotDeleted = `${err.name}: ${err.message.slice(0, 300)}`;
    deps.logger.warn('One-time password not deleted: the reconcile sweeps it', { error: err.name, cause: err.message });
  }
  const otp = otpNotDeleted !== undefined ? { otpNotDeleted } : {};
  const expectedGuid = input.expectedGuid ?? (await deps.claims.get(claimKey(instance)))?.objectGuid;
  const now = deps.clock.now();
  const objects: ObjectRef[] = [];
  const refused: string[] = [];
  let foundCount = 0;
  // The directory recorded at join (EC2 tag), else every directory: a marker is unique.
  for (const name of directoriesToSearch(deps.settings, info?.tags ?? {})) {
    const scoped = scopedDeps(deps, deps.settings.directories ? name : undefined);
    const found = await scoped.directory.findByMarker(marker);
    foundCount += found.length;
    const safety = safetySettings(scoped.settings, { expected: marker, optOut, ...(expectedGuid ? { expectedGuid } : {}) });
    for (const o of found) {
      const d = decideDeletion(o, info, safety, now);
      if (d.delete) objects.push({ dn: o.dn, name: o.name, ...(o.guid !== undefined ? { guid: o.guid } : {}), ...objectDirectory(deps.settings, name) });
      else {
        refused.push(d.reason);
        deps.logger.warn('Computer object left alone', { dn: o.dn, rule: d.rule, reason: d.reason });
      }
    }
  }
  if (objects.length > 0)
    return { ...instance, outcome: 'delete', reason: `${objects.length} computer object(s) carry the marker of ${describeMarker(marker)}`, objects, ...otp };
  const reason =
    foundCount === 0
      ? `no computer object carries the marker of ${describeMarker(marker)}`
      : `${foundCount} object(s) carry the marker but none may be deleted: ${refused.join('; ')}`;
  return { ...instance, outcome: 'nothing', reason, objects: [], ...otp, ...(refused.length > 0 ? { refused: refused.length } : {}) };
}

export async function recordLeave(input: RecordLeaveInput, deps: Deps): Promise<RecordLeaveOutput> {
  const counts = countDeletes(input.deleted);
  const deletedDns = input.deleted.filter((r) => r.deleted === true && typeof r.dn === 'string').map((r) => r.dn as string);
  const notDeleted = input.deleted
    .filter((r) => r.outcome === 'skipped' || r.outcome === 'failed')
    .map((r) => ({ dn: r.dn ?? '(unknown)', reason: readableCause(r.reason ?? r.error ?? '').slice(0, 500) }));
  const dnsNotRemoved = input.deleted
    .filter((r) => r.deleted === true && r.dnsFailed === true)
    .map((r) => ({ dn: r.dn ?? '(unknown)', reason: (r.dnsReason ?? 'the directory refused').slice(0, 500) }));
  const outcome = counts.skipped + counts.failed + counts.dnsFailed > 0 ? 'partial' : 'left';
  // Tags on a terminated instance are optional and EC2 may refuse them: none are written. An
  // opt-out leave of a living instance: recorded on it, and the join claim released (re-join).
  if (input.instance.optOut === true && deps.settings.tags.leaveOnOptOut === true && counts.skipped + counts.failed === 0)
    await recordOptOutLeave(input.instance, input.executionName, deps);
  deps.logger.info('Leave recorded', { outcome, ...counts });
  // The instance is terminating whatever the deletes did: a terminate hook is answered CONTINUE.
  const answer = await answerLifecycle(input.instance, 'terminate', 'CONTINUE', deps);
  const { instanceId, account, region } = input.instance;
  return { instanceId, account, region, outcome, ...counts, deletedDns, notDeleted, dnsNotRemoved, ...(answer ? { lifecycle: answer } : {}) };
}

/**
 * After an opt-out leave deleted the instance's objects: <prefix>status=left on the instance, and
 * the join claim released (its holder's execution, compared in the write: a claim taken by a
 * new join meanwhile is not touched), so the opt-in tag set again joins it again.
 */
async function recordOptOutLeave(instance: InstanceRef, executionName: string | undefined, deps: Deps): Promise<void> {
  const keys = statusTagKeys(deps.settings.tags.statusPrefix);
  await deps.fleetFor(instance).tagInstance(instance.instanceId, { [keys.status]: 'left', ...(executionName ? { [keys.execution]: executionName } : {}) });
  const key = claimKey(instance);
  const claim = await deps.claims.get(key);
  const released = claim !== undefined && claim.status !== 'released' && (await deps.claims.update(key, claim.execution, { status: 'released' }));
  deps.logger.info('Opt-out leave recorded on the instance', { claimReleased: released, claimWas: claim?.status ?? 'none' });
}
