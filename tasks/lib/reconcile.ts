/**
 * Reconcile: page the managed OU(s), cross-check EC2 in batches per account and Region, and
 * delete — under a cap — only what every safety rule allows.
 *
 *   findStaleObjects  one pass over listManaged; the cheap rules (marker, OU, ownership, age)
 *                     first, then DescribeInstances per fleet in batches of DESCRIBE_BATCH ids, a
 *                     few calls in flight while the listing goes on. An account/Region whose
 *                     EC2 refuses or does not answer (AwsRefused, AwsUnavailable, AwsUnreachable: a member role
 *                     missing, an endpoint down) is SKIPPED: its objects are never deleted, it
 *                     is reported in skippedAccounts, and the rest of the run goes on. Any other
 *                     error (throttling, the directory) aborts the run: an unanswered question
 *                     is never "gone". Returns counts and a bounded stale list. Then the
 *                     one-time passwords of every account/Region an object of ours names are
 *                     swept (tasks/lib/otp-sweep.ts; result in `otp`).
 *   checkDeletionCap  dry run → nothing to delete; more stale than the cap → DeletionCapExceeded
 *                     with the list of what it would have deleted (Cause under 30 KB).
 *   reportReconcile   the summary, and CloudWatch EMF metrics in one log line. Skipped accounts
 *                     make it incomplete (complete: false, incompleteCause): the machine then
 *                     ends in "Reconcile incomplete" (ReconcileIncomplete), after the deletes.
 *
 * No AWS or LDAP import: ports only.
 */
import type {
  CheckCapInput,
  FindStaleInput,
  GuardOutput,
  ReconcileSummary,
  ReportInput,
  ScanCounts,
  ScanOutput,
  SkippedAccount,
  StaleItem,
} from './contracts';
import { countDeletes } from './delete';
import type { Deps } from './deps';
import { DeletionCapExceeded } from './errors';
import { isAccountUnreachable, sweepOtpParameters } from './otp-sweep';
import type { ComputerObject, Fleet, InstanceInfo, Marker } from './ports';
import { directoryNames, objectDirectory, scopedDeps } from './routing';
import {
  decideDeletion,
  describeMarker,
  refuseIfYoung,
  refuseUnlessInManagedOu,
  refuseUnlessOurs,
  refuseUnlessOwned,
  safetySettings,
  type RuleId,
} from './safety';
import { MetricsNamespace } from './metrics';

/** Instance IDs per DescribeInstances call (the adapter filters on instance-id: <= 200 values). */
export const DESCRIBE_BATCH = 200;
/** DescribeInstances calls in flight at once (EC2's Describe* bucket: 100, refilled 20/s). */
export const DESCRIBE_CONCURRENCY = 4;
/** Stale objects carried in state data at most (items and JSON bytes): state data is <= 256 KB. */
export const STALE_LIST_MAX_ITEMS = 500;
export const STALE_LIST_MAX_BYTES = 90_000;
/** The DeletionCapExceeded Cause stays under this many bytes (Step Functions allows 32,768). */
export const CAUSE_MAX_BYTES = 30_000;

// ---- Find stale objects ---------------------------------------------------------------------

interface Pending {
  target: { account: string; region: string };
  fleet: Fleet;
  objects: (ComputerObject & { marker: Marker; directory?: string })[];
  ids: Set<string>;
  /** Set when this account/Region could not be asked: its objects are skipped. */
  skipped?: SkippedAccount;
}

export { isAccountUnreachable };

export async function findStaleObjects(input: FindStaleInput, deps: Deps): Promise<ScanOutput> {
  const { settings, logger } = deps;
  const dryRun = input.dryRun ?? settings.reconcile.dryRun;
  const graceSeconds = settings.reconcile.graceSeconds;
  // The safety rules of each directory (its own managed OUs); `undefined`: the one-directory form.
  const safetyOf = new Map<string | undefined, ReturnType<typeof safetySettings>>([[undefined, safetySettings(settings, { graceSeconds })]]);
  const now = deps.clock.now();
  const counts: ScanCounts = {
    scanned: 0,
    stale: 0,
    notOurs: 0,
    outsideManagedOu: 0,
    young: 0,
    alive: 0,
    joinRunning: 0,
    notProvenOurs: 0,
    unreachable: 0,
  };
  const staleList: StaleItem[] = [];
  let listedBytes = 2;
  let ldapPages = 0;
  let ec2Calls = 0;
  const pending = new Map<string, Pending>();
  /** Every account/Region an object proven ours names: the one-time-password sweep covers them. */
  const otpTargets = new Map<string, { account: string; region: string }>();

  const refusedBy = (rule: RuleId | undefined): void => {
    if (rule === 'ours' || rule === 'expected') counts.notOurs++;
    else if (rule === 'managed-ou') counts.outsideManagedOu++;
    else if (rule === 'ownership') counts.notProvenOurs++;
    else if (rule === 'age') counts.young++;
    else if (rule === 'join-running') counts.joinRunning++;
    else counts.alive++; // 'gone' refused: alive, or EC2 answered about another instance
  };
  const addStale = (o: Pending['objects'][number]): void => {
    counts.stale++;
    const item: StaleItem = {
      object: { dn: o.dn, name: o.name, ...(o.guid !== undefined ? { guid: o.guid } : {}), ...(o.directory !== undefined ? { directory: o.directory } : {}) },
      instance: { ...o.marker },
    };
    const bytes = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (staleList.length < STALE_LIST_MAX_ITEMS && listedBytes + bytes <= STALE_LIST_MAX_BYTES) {
      staleList.push(item);
      listedBytes += bytes;
    }
  };
  // DescribeInstances calls run DESCRIBE_CONCURRENCY at a time while the listing goes on. The
  // first error stops everything: no further call starts, and the scan throws it.
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const skip = (p: Pending, n: number): void => {
    counts.unreachable += n;
    if (p.skipped) p.skipped.objects += n;
  };
  const describe = async (p: Pending, batch: Pending['objects'], ids: string[]): Promise<void> => {
    if (p.skipped) return skip(p, batch.length);
    let answers: Map<string, InstanceInfo>;
    try {
      answers = await p.fleet.describeInstances(ids);
    } catch (err) {
      if (!isAccountUnreachable(err)) throw err; // the run aborts
      p.skipped ??= { ...p.target, error: err.name, reason: err.message.slice(0, 300), objects: 0 };
      logger.warn('Account skipped: EC2 could not be asked', { ...p.target, error: err.name, cause: err.message });
      return skip(p, batch.length);
    }
    for (const o of batch) {
      const d = decideDeletion(o, answers.get(o.marker.instanceId), safetyOf.get(o.directory) as ReturnType<typeof safetySettings>, now);
      if (d.delete) addStale(o);
      else refusedBy(d.rule);
    }
  };
  const flush = async (p: Pending): Promise<void> => {
    if (p.objects.length === 0) return;
    const batch = p.objects;
    const ids = [...p.ids];
    p.objects = [];
    p.ids = new Set();
    ec2Calls++;
    const call: Promise<void> = describe(p, batch, ids).then(
      () => void inFlight.delete(call),
      (error: unknown) => {
        inFlight.delete(call);
        failure ??= { error };
      },
    );
    inFlight.add(call);
    while (inFlight.size >= DESCRIBE_CONCURRENCY && failure === undefined) await Promise.race(inFlight);
    if (failure !== undefined) throw failure.error;
  };

  // Every directory in turn (issue 13), each with its own managed OUs; the EC2 batches span them.
  for (const name of directoryNames(settings)) {
    const scoped = scopedDeps(deps, settings.directories ? name : undefined);
    const where = objectDirectory(settings, name);
    const safety = safetySettings(scoped.settings, { graceSeconds });
    safetyOf.set(where.directory, safety);
    for await (const page of scoped.directory.listManaged()) {
      ldapPages++;
      for (const o of page) {
        counts.scanned++;
        // The rules that need no EC2 answer first: no call for what is not ours anyway.
        if (refuseUnlessOurs(o) !== undefined) {
          counts.notOurs++;
          continue;
        }
        if (refuseUnlessInManagedOu(o.dn, safety.managedOus) !== undefined) {
          counts.outsideManagedOu++;
          continue;
        }
        if (refuseUnlessOwned(o, undefined) !== undefined) {
          counts.notProvenOurs++;
          continue;
        }
        const marker = o.marker as Marker;
        otpTargets.set(`${marker.account}/${marker.region}`, { account: marker.account, region: marker.region });
        if (refuseIfYoung(o, graceSeconds, now) !== undefined) {
          counts.young++;
          continue;
        }
        const key = `${marker.account}/${marker.region}`;
        let p = pending.get(key);
        if (p === undefined) {
          const target = { account: marker.account, region: marker.region };
          p = { target, fleet: deps.fleetFor(target), objects: [], ids: new Set() };
          pending.set(key, p);
        }
        p.objects.push({ ...o, marker, ...where });
        p.ids.add(marker.instanceId);
        if (p.ids.size >= DESCRIBE_BATCH) await flush(p);
      }
    }
  }
  for (const p of pending.values()) await flush(p);
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure.error;

  const skippedAccounts = [...pending.values()].flatMap((p) => (p.skipped ? [p.skipped] : []));
  const otp = await sweepOtpParameters([...otpTargets.values()], dryRun, deps);
  const out: ScanOutput = {
    dryRun,
    graceSeconds,
    ...counts,
    staleList,
    notListed: counts.stale - staleList.length,
    ldapPages,
    ec2Calls,
    fleets: pending.size,
    skippedAccounts,
    otp,
  };
  logger.info('Scan finished', { ...counts, notListed: out.notListed, ldapPages, ec2Calls, fleets: out.fleets, skippedAccounts: skippedAccounts.length, dryRun });
  return out;
}

// ---- Check deletion cap ---------------------------------------------------------------------

/** The Cause of a cap breach: what would have been deleted, under CAUSE_MAX_BYTES. */
export function capExceededMessage(scan: Pick<ScanOutput, 'stale' | 'staleList'>, maxDeletions: number): string {
  const head =
    `Reconcile found ${scan.stale} stale computer objects, more than the cap of ${maxDeletions} ` +
    '(reconcile.maxDeletions): NOTHING was deleted. Check why so many instances look gone (a wrong ' +
    'account or Region, a managed OU another tool also uses), then raise the cap or run with ' +
    '{"dryRun": true} to review. It would have deleted:';
  const lines: string[] = [];
  let bytes = Buffer.byteLength(head);
  const tailReserve = 40; // "\n…and N more"
  for (const item of scan.staleList) {
    const line = `\n${item.object.name} (${item.object.dn}) of ${describeMarker(item.instance)}`;
    const b = Buffer.byteLength(line);
    if (bytes + b + tailReserve > CAUSE_MAX_BYTES) break;
    lines.push(line);
    bytes += b;
  }
  const more = scan.stale - lines.length;
  return head + lines.join('') + (more > 0 ? `\n…and ${more} more` : '');
}

export function checkDeletionCap(input: CheckCapInput, deps: Deps): GuardOutput {
  const { scan } = input;
  const maxDeletions = deps.settings.reconcile.maxDeletions;
  const capExceeded = scan.stale > maxDeletions;
  if (scan.dryRun) {
    deps.logger.info('Dry run: nothing will be deleted', { stale: scan.stale, maxDeletions, capExceeded });
    return { dryRun: true, maxDeletions, stale: scan.stale, capExceeded, toDelete: 0 };
  }
  if (capExceeded) throw new DeletionCapExceeded(capExceededMessage(scan, maxDeletions));
  return { dryRun: false, maxDeletions, stale: scan.stale, capExceeded: false, toDelete: scan.staleList.length };
}

// ---- Report ---------------------------------------------------------------------------------

export const METRICS_NAMESPACE = MetricsNamespace;

/** A CloudWatch Embedded Metric Format document for one run. */
export function emfDocument(s: ReconcileSummary, now: Date): Record<string, unknown> {
  const names = ['Scanned', 'Stale', 'Deleted', 'Skipped', 'Failed', 'DnsFailed', 'Unreachable', 'SkippedAccounts', 'OtpSwept', 'OtpLeftAlone'] as const;
  return {
    _aws: {
      Timestamp: now.getTime(),
      CloudWatchMetrics: [
        { Namespace: METRICS_NAMESPACE, Dimensions: [['Workflow', 'DryRun']], Metrics: names.map((Name) => ({ Name, Unit: 'Count' })) },
      ],
    },
    Workflow: 'reconcile',
    DryRun: String(s.dryRun),
    Scanned: s.scanned,
    Stale: s.stale,
    Deleted: s.deleted,
    Skipped: s.skipped,
    Failed: s.failed,
    DnsFailed: s.dnsFailed,
    Unreachable: s.unreachable,
    SkippedAccounts: s.skippedAccounts.length,
    OtpSwept: s.otpSwept,
    OtpLeftAlone: s.otpLeftAlone.notOurs + s.otpLeftAlone.young + s.otpLeftAlone.joinRunning,
  };
}

/** The Cause of ReconcileIncomplete: which accounts were skipped and why, under CAUSE_MAX_BYTES. */
export function incompleteMessage(skipped: SkippedAccount[], deleted: number): string {
  const head =
    `Reconcile skipped ${skipped.length} account/Region(s) whose EC2 (or one-time passwords) could not be asked: their computer objects were ` +
    `NOT deleted. The other accounts were reconciled (${deleted} deleted). Check each member role and endpoint ` +
    '(adjoin doctor), then run reconcile again. Skipped:';
  let text = head;
  for (const [k, a] of skipped.entries()) {
    const line = `\n${a.account}/${a.region}: ${a.objects} object(s), ${a.error}: ${a.reason}`;
    if (Buffer.byteLength(text + line) > CAUSE_MAX_BYTES - 40) return `${text}\n…and ${skipped.length - k} more`;
    text += line;
  }
  return text;
}

export function reportReconcile(input: ReportInput, deps: Deps): ReconcileSummary {
  const c = countDeletes(input.deleted);
  // An account/Region skipped by the scan (EC2) or by the sweep (its parameters): listed once.
  const otp = input.scan.otp;
  const skippedAccounts = [...(input.scan.skippedAccounts ?? [])];
  for (const a of otp?.skippedAccounts ?? []) if (!skippedAccounts.some((s) => s.account === a.account && s.region === a.region)) skippedAccounts.push(a);
  const complete = skippedAccounts.length === 0;
  const summary: ReconcileSummary = {
    scanned: input.scan.scanned,
    stale: input.scan.stale,
    deleted: c.deleted,
    skipped: c.skipped + c.alreadyGone,
    failed: c.failed,
    dryRun: input.guard.dryRun,
    alreadyGone: c.alreadyGone,
    notListed: input.scan.notListed,
    capExceeded: input.guard.capExceeded,
    dnsFailed: c.dnsFailed,
    unreachable: input.scan.unreachable ?? 0,
    skippedAccounts,
    complete,
    ...(complete ? {} : { incompleteCause: incompleteMessage(skippedAccounts, c.deleted) }),
    otpSwept: otp?.swept ?? 0,
    otpPasswordsReset: otp?.passwordsReset ?? 0,
    otpLeftAlone: { notOurs: otp?.notOurs ?? 0, young: otp?.young ?? 0, joinRunning: otp?.joinRunning ?? 0 },
  };
  // The Powertools Logger prints one JSON object per line with these keys at the top level,
  // which is exactly what CloudWatch reads as EMF.
  deps.logger.info('Reconcile metrics', emfDocument(summary, deps.clock.now()));
  return summary;
}
