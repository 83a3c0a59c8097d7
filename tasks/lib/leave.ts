/**
 * Leave: an instance is terminated, so the computer objects that carry its marker go. Three
 * domain functions, one per state; the per-object delete is shared with reconcile.
 *
 *   findComputerObjects  EC2 first: not terminated → "instance-alive", nothing is touched.
 *                        Then the objects with this exact marker, each passed through the
 *                        safety rules (tasks/lib/safety.ts).
 *   deleteComputerObject reads the object AGAIN just before deleting (marker, OU, age), asks
 *                        EC2 again, then removes DNS records and tree-deletes the object.
 *                        Any refusal throws UnsafeDeleteRefused. Absent object: "already gone".
 *   recordLeave          the outcome summary.
 *
 * No AWS or LDAP import: ports only.
 */
import type { DeleteObjectInput, DeleteObjectOutput, FindObjectsOutput, InstanceRef } from './contracts';
import type { Deps } from './deps';
import { sameDn } from './dn';
import { InvalidInput, UnsafeDeleteRefused } from './errors';
import { parseEc2StateEvent } from './event';
import { isValidMarker } from './marker';
import type { ComputerObject, Marker } from './ports';
import { decideDeletion, describeMarker, safetySettings } from './safety';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
};

/** An InstanceRef from state data (extra fields, e.g. the rest of $.found, are ignored). */
export function parseInstanceRef(raw: unknown, where = 'instance'): InstanceRef {
  if (!isObj(raw)) throw new InvalidInput(`${where}: must be an object`);
  const { instanceId, account, region } = raw;
  if (typeof instanceId !== 'string' || typeof account !== 'string' || typeof region !== 'string' || !isValidMarker({ instanceId, account, region }))
    throw new InvalidInput(`${where}: not a valid instance reference: ${show({ instanceId, account, region })}`);
  return { instanceId, account, region };
}

// ---- Find computer objects ------------------------------------------------------------------

export interface FindObjectsInput {
  instance: InstanceRef;
}

export function parseFindObjectsInput(raw: unknown): FindObjectsInput {
  if (!isObj(raw)) throw new InvalidInput('Find computer objects: the payload must be an object');
  const event = parseEc2StateEvent(raw.event);
  return { instance: { instanceId: event.detail['instance-id'], account: event.account, region: event.region } };
}

export async function findComputerObjects(input: FindObjectsInput, deps: Deps): Promise<FindObjectsOutput> {
  const { instance } = input;
  const marker: Marker = { ...instance };
  const info = await deps.fleetFor(instance).describeInstance(instance.instanceId); // errors throw: never "gone"
  if (info !== undefined && info.state !== 'terminated') {
    const reason = `EC2 says ${instance.instanceId} is ${info.state}, not terminated: nothing is deleted (a late or duplicate event)`;
    deps.logger.info('Instance is alive', { state: info.state });
    return { ...instance, outcome: 'instance-alive', reason, objects: [] };
  }
  const found = await deps.directory.findByMarker(marker);
  const safety = safetySettings(deps.settings, { expected: marker });
  const now = deps.clock.now();
  const objects: { dn: string; name: string }[] = [];
  const refused: string[] = [];
  for (const o of found) {
    const d = decideDeletion(o, info, safety, now);
    if (d.delete) objects.push({ dn: o.dn, name: o.name });
    else {
      refused.push(d.reason);
      deps.logger.warn('Computer object left alone', { dn: o.dn, rule: d.rule, reason: d.reason });
    }
  }
  if (objects.length > 0)
    return { ...instance, outcome: 'delete', reason: `${objects.length} computer object(s) carry the marker of ${describeMarker(marker)}`, objects };
  const reason =
    found.length === 0
      ? `no computer object carries the marker of ${describeMarker(marker)}`
      : `${found.length} object(s) carry the marker but none may be deleted: ${refused.join('; ')}`;
  return { ...instance, outcome: 'nothing', reason, objects: [] };
}

// ---- Delete computer object (leave and reconcile) -------------------------------------------

export function parseDeleteObjectInput(raw: unknown): DeleteObjectInput {
  if (!isObj(raw)) throw new InvalidInput('Delete computer object: the payload must be an object');
  const o = raw.object;
  if (!isObj(o) || typeof o.dn !== 'string' || o.dn === '' || typeof o.name !== 'string' || o.name === '')
    throw new InvalidInput(`Delete computer object: object must be {dn, name}: ${show(o)}`);
  const instance = parseInstanceRef(raw.instance);
  const g = raw.graceSeconds;
  if (g !== undefined && g !== null && (typeof g !== 'number' || !Number.isFinite(g) || g < 0))
    throw new InvalidInput(`Delete computer object: graceSeconds must be a number >= 0: ${show(g)}`);
  return { object: { dn: o.dn, name: o.name }, instance, ...(typeof g === 'number' ? { graceSeconds: g } : {}) };
}

/** The object at `dn`, read again now: by its marker first, then by name (to see a lost marker). */
async function readAgain(dn: string, name: string, marker: Marker, deps: Deps): Promise<ComputerObject | undefined> {
  const byMarker = (await deps.directory.findByMarker(marker)).find((o) => sameDn(o.dn, dn));
  if (byMarker) return byMarker;
  const byName = await deps.directory.findByName(name);
  return byName && sameDn(byName.dn, dn) ? byName : undefined;
}

export async function deleteComputerObject(input: DeleteObjectInput, deps: Deps): Promise<DeleteObjectOutput> {
  const { object, instance } = input;
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

// ---- Map item results (both workflows) ------------------------------------------------------

/**
 * One Map item's result: the task's own output, or what the workflow's Catch made of an error:
 * a refusal ("skipped") or a non-transient failure ("failed").
 */
export interface DeleteItemResult extends Partial<DeleteObjectOutput> {
  outcome?: 'skipped' | 'failed';
  /** The caught error's name. */
  error?: string;
}

export interface DeleteCounts {
  deleted: number;
  alreadyGone: number;
  skipped: number;
  failed: number;
  dnsRecordsRemoved: number;
}

export function parseDeleteItemResults(raw: unknown, where: string): DeleteItemResult[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new InvalidInput(`${where}: must be a list of delete results`);
  return raw.map((r, k): DeleteItemResult => {
    if (!isObj(r)) throw new InvalidInput(`${where}[${k}]: must be an object`);
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    const out: DeleteItemResult = {};
    if (str(r.dn) !== undefined) out.dn = str(r.dn);
    if (typeof r.deleted === 'boolean') out.deleted = r.deleted;
    if (typeof r.dnsRecordsRemoved === 'number') out.dnsRecordsRemoved = r.dnsRecordsRemoved;
    if (str(r.reason) !== undefined) out.reason = str(r.reason);
    if (r.outcome === 'skipped' || r.outcome === 'failed') out.outcome = r.outcome;
    if (str(r.error) !== undefined) out.error = str(r.error);
    return out;
  });
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

// ---- Record leave ---------------------------------------------------------------------------

export interface RecordLeaveInput {
  instance: InstanceRef;
  deleted: DeleteItemResult[];
}

export interface RecordLeaveOutput extends InstanceRef, DeleteCounts {
  /** left: every object went (or was already gone). partial: some were skipped or failed. */
  outcome: 'left' | 'partial';
  deletedDns: string[];
  notDeleted: { dn: string; reason: string }[];
}

export function parseRecordLeaveInput(raw: unknown): RecordLeaveInput {
  if (!isObj(raw)) throw new InvalidInput('Record leave: the payload must be an object');
  return { instance: parseInstanceRef(raw.instance), deleted: parseDeleteItemResults(raw.deleted, 'deleted') };
}

export function recordLeave(input: RecordLeaveInput, deps: Deps): RecordLeaveOutput {
  const counts = countDeletes(input.deleted);
  const deletedDns = input.deleted.filter((r) => r.deleted === true && typeof r.dn === 'string').map((r) => r.dn as string);
  const notDeleted = input.deleted
    .filter((r) => r.outcome === 'skipped' || r.outcome === 'failed')
    .map((r) => ({ dn: r.dn ?? '(unknown)', reason: readableCause(r.reason ?? r.error ?? '').slice(0, 500) }));
  const outcome = counts.skipped + counts.failed > 0 ? 'partial' : 'left';
  // Tags on a terminated instance are optional and EC2 may refuse them: none are written.
  deps.logger.info('Leave recorded', { outcome, ...counts });
  return { ...input.instance, outcome, ...counts, deletedDns, notDeleted };
}
