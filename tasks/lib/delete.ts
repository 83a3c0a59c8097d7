/**
 * The per-object delete of leave and reconcile ("Delete computer object", a Map item of both
 * workflows), and what the workflows make of the Map's results.
 *
 *   deleteComputerObject reads the object AGAIN just before deleting (marker, OU, age), asks
 *                        EC2 again, re-checks every safety rule (tasks/lib/safety.ts), then
 *                        removes DNS records and tree-deletes the object. Any refusal throws
 *                        UnsafeDeleteRefused. Absent object: "already gone".
 *   countDeletes         deleted / already gone / skipped / failed over the Map's results.
 *   readableCause        the message inside a caught error's Cause.
 *
 * No AWS or LDAP import: ports only.
 */
import type { DeleteCounts, DeleteItemResult, DeleteObjectInput, DeleteObjectOutput } from './contracts';
import type { Deps } from './deps';
import { sameDn } from './dn';
import { UnsafeDeleteRefused } from './errors';
import type { ComputerObject, Marker } from './ports';
import { scopedDeps } from './routing';
import { decideDeletion, safetySettings } from './safety';
import { isObj } from './validate';

/** The object at `dn`, read again now: by its marker first, then by name (to see a lost marker). */
async function readAgain(dn: string, name: string, marker: Marker, deps: Deps): Promise<ComputerObject | undefined> {
  const byMarker = (await deps.directory.findByMarker(marker)).find((o) => sameDn(o.dn, dn));
  if (byMarker) return byMarker;
  const byName = await deps.directory.findByName(name);
  return byName && sameDn(byName.dn, dn) ? byName : undefined;
}

export async function deleteComputerObject(input: DeleteObjectInput, allDeps: Deps): Promise<DeleteObjectOutput> {
  const { object, instance } = input;
  const deps = scopedDeps(allDeps, object.directory); // the directory the object was found in
  const marker: Marker = { ...instance };
  const current = await readAgain(object.dn, object.name, marker, deps);
  if (current === undefined) {
    deps.logger.info('Computer object already gone', { dn: object.dn });
    return { dn: object.dn, deleted: false, dnsRecordsRemoved: 0, reason: 'already gone' };
  }
  const info = await deps.fleetFor(instance).describeInstance(instance.instanceId); // errors throw: never "gone"
  const safety = safetySettings(deps.settings, { expected: marker, graceSeconds: input.graceSeconds ?? 0 });
  const decision = decideDeletion(current, info, safety, deps.clock.now());
  if (!decision.delete) {
    deps.logger.warn('Delete refused', { dn: current.dn, rule: decision.rule, reason: decision.reason });
    throw new UnsafeDeleteRefused(`Refused to delete ${current.dn}: ${decision.reason}`);
  }
  // DNS first: a retry after a failed object delete finds the object again and repeats both;
  // the other order would leave the records behind once the object is gone.
  const hostname = current.dnsHostName ?? `${current.name}.${deps.settings.directory.domain}`;
  const dnsRecordsRemoved = await deps.directory.deleteDnsRecords(hostname);
  await deps.directory.deleteComputer(current.dn);
  deps.logger.info('Computer object deleted', { dn: current.dn, dnsRecordsRemoved, reason: decision.reason });
  return { dn: current.dn, deleted: true, dnsRecordsRemoved, reason: decision.reason };
}

export function countDeletes(results: DeleteItemResult[]): DeleteCounts {
  const c: DeleteCounts = { deleted: 0, alreadyGone: 0, skipped: 0, failed: 0, dnsRecordsRemoved: 0 };
  for (const r of results) {
    if (r.deleted === true) c.deleted++;
    else if (r.outcome === 'failed') c.failed++;
    else if (r.outcome === 'skipped') c.skipped++;
    else if (r.deleted === false) c.alreadyGone++;
    else c.failed++; // an item we cannot read is never counted as a success
    if (typeof r.dnsRecordsRemoved === 'number') c.dnsRecordsRemoved += r.dnsRecordsRemoved;
  }
  return c;
}

/** A caught error's Cause: in AWS a JSON document {errorType, errorMessage, trace}; locally the message. */
export function readableCause(cause: string): string {
  if (!cause.startsWith('{')) return cause;
  try {
    const doc: unknown = JSON.parse(cause);
    if (isObj(doc) && typeof doc.errorMessage === 'string') return doc.errorMessage;
  } catch {
    // not JSON: keep it as it is
  }
  return cause;
}
