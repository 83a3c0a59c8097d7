/**
 * The per-object delete of leave and reconcile ("Delete computer object", a Map item of both
 * workflows), and what the workflows make of the Map's results.
 *
 *   deleteComputerObject reads the object AGAIN just before deleting (marker, OU, GUID, owner,
 *                        age), asks EC2 again, re-checks every safety rule (tasks/lib/safety.ts),
 *                        then removes the DNS records of OUR name in OUR zone
 *                        (`<name>.<domain>`, never the object's dNSHostName, which anyone with
 *                        write access may have pointed at a DC) and tree-deletes the object.
 *                        Any refusal throws UnsafeDeleteRefused. Absent object: "already gone".
 *                        A refused DNS delete does not stop the object's delete: it is reported
 *                        (dnsFailed) for an operator to finish by hand.
 *   countDeletes         deleted / already gone / skipped / failed / DNS left over the Map's results.
 *   readableCause        the message inside a caught error's Cause.
 *
 * No AWS or LDAP import: ports only.
 */
import type { DeleteCounts, DeleteItemResult, DeleteObjectInput, DeleteObjectOutput } from './contracts';
import type { Deps } from './deps';
import { sameDn } from './dn';
import { DirectoryRefused, UnsafeDeleteRefused } from './errors';
import { hostFqdn } from './naming';
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
  const marker: Marker = { instanceId: instance.instanceId, account: instance.account, region: instance.region };
  const current = await readAgain(object.dn, object.name, marker, deps);
  if (current === undefined) {
    deps.logger.info('Computer object already gone', { dn: object.dn });
    return { dn: object.dn, deleted: false, dnsRecordsRemoved: 0, reason: 'already gone' };
  }
  // With lifecycle hooks on, Auto Scaling's word too: an instance a terminate hook holds (Terminating:Wait) is leaving.
  const asg = deps.settings.lifecycle !== undefined ? { autoScaling: true } : undefined;
  const info = await deps.fleetFor(instance).describeInstance(instance.instanceId, asg); // errors throw: never "gone"
  // The GUID seen when the object was found and judged ours pins this very object.
  const safety = safetySettings(deps.settings, {
    expected: marker,
    graceSeconds: input.graceSeconds ?? 0,
    optOut: instance.optOut === true, // a leave on opt-out: the instance must STILL carry the tag (rule 6b)
    ...(object.guid !== undefined ? { expectedGuid: object.guid } : {}),
  });
  const decision = decideDeletion(current, info, safety, deps.clock.now());
  if (!decision.delete) {
    deps.logger.warn('Delete refused', { dn: current.dn, rule: decision.rule, reason: decision.reason });
    throw new UnsafeDeleteRefused(`Refused to delete ${current.dn}: ${decision.reason}`);
  }
  // DNS first: a retry after a failed object delete finds the object again and repeats both;
  // the other order would leave the records behind once the object is gone.
  const dns = await deleteOurDnsRecords(current.name, deps);
  await deps.directory.deleteComputer(current.dn);
  deps.logger.info('Computer object deleted', { dn: current.dn, dnsRecordsRemoved: dns.removed, dnsFailed: dns.failed !== undefined, reason: decision.reason });
  return {
    dn: current.dn,
    deleted: true,
    dnsRecordsRemoved: dns.removed,
    reason: decision.reason,
    ...(dns.failed !== undefined ? { dnsFailed: true, dnsReason: dns.failed } : {}),
  };
}

/**
 * The DNS records of our computer name in our zone. The host name is derived from the NAME
 * (`<name lowercase>.<domain>`), never read from the object. A refusal (DirectoryRefused) is
 * returned as `failed` (the reason, naming the host) instead of thrown; anything else throws.
 */
export async function deleteOurDnsRecords(name: string, deps: Deps): Promise<{ removed: number; failed?: string }> {
  const hostname = hostFqdn(name, deps.settings.directory.domain);
  try {
    return { removed: await deps.directory.deleteDnsRecords(hostname) };
  } catch (err) {
    if (!(err instanceof DirectoryRefused)) throw err;
    deps.logger.warn('DNS records not removed (the directory refused)', { hostname, cause: err.message });
    return { removed: 0, failed: `DNS records of ${hostname} not removed: ${err.message}`.slice(0, 500) };
  }
}

export function countDeletes(results: DeleteItemResult[]): DeleteCounts {
  const c: DeleteCounts = { deleted: 0, alreadyGone: 0, skipped: 0, failed: 0, dnsRecordsRemoved: 0, dnsFailed: 0 };
  for (const r of results) {
    if (r.deleted === true) c.deleted++;
    else if (r.outcome === 'failed') c.failed++;
    else if (r.outcome === 'skipped') c.skipped++;
    else if (r.deleted === false) c.alreadyGone++;
    else c.failed++; // an item we cannot read is never counted as a success
    if (typeof r.dnsRecordsRemoved === 'number') c.dnsRecordsRemoved += r.dnsRecordsRemoved;
    if (r.dnsFailed === true) c.dnsFailed++;
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
