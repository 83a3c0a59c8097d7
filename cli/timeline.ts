/**
 * An execution's history (GetExecutionHistory events, in order) turned into what an operator
 * reads: one row per state and redrive round, with start, time spent, visits, retries, the
 * error and cause, and the state the execution failed in. Pure: no SDK calls here.
 *
 * The lab's engine records its runs as the same event shape, so `show` reads both alike.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { isObj } from '../tasks/lib/validate';

/** JSON.parse that never throws: the raw text when it is not JSON. */
export function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export type StateKind = 'Task' | 'Choice' | 'Wait' | 'Pass' | 'Map' | 'Parallel' | 'Succeed' | 'Fail' | 'State';

export interface StepFailure {
  error: string;
  cause?: string;
  at: Date;
}

export interface TimelineStep {
  name: string;
  kind: StateKind;
  /** 0 for the first run, n after the n-th redrive. */
  round: number;
  start: Date;
  end?: Date;
  /** Time spent in this state, summed over its visits (polling loops visit a state many times). */
  durationMs?: number;
  visits: number;
  /** Task invocations (including retries). */
  attempts: number;
  retries: number;
  /** Errors that were retried and then got past (name → count). */
  retried: Record<string, number>;
  /** The error this state ended with: the execution failed here, or a Catch took it. */
  error?: string;
  cause?: string;
  /** The execution failed (timed out, was aborted) in this state. */
  failed: boolean;
  /** A Catch routed the error on (the state did not fail the execution). */
  caught: boolean;
  input?: string;
  output?: string;
}

export interface RunSummary {
  instanceId?: string;
  outcome?: string;
  reason?: string;
  computerName?: string;
  computerDn?: string;
  computerAction?: string;
  /** SSM command IDs in the order they were sent (join and verify, over all redrives). */
  commandIds: string[];
  /** leave / reconcile: objects deleted. */
  deleted: string[];
  /** reconcile: the counts of its report. */
  counts?: Record<string, number>;
}

export interface TimelineEnd {
  status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  at: Date;
  error?: string;
  cause?: string;
  output?: string;
}

export interface Timeline {
  steps: TimelineStep[];
  /** Redrive rounds after the first: when each started. */
  redrives: { round: number; at: Date }[];
  start?: Date;
  input?: string;
  end?: TimelineEnd;
  /** The state the last failure happened in. */
  failedState?: string;
  summary: RunSummary;
  eventCount: number;
}

interface Visit {
  step: TimelineStep;
  start: Date;
  end?: Date;
  scheduled: number;
  failures: StepFailure[];
  lastTaskOk: boolean;
}

const KIND_BY_PREFIX: [string, StateKind][] = [
  ['Task', 'Task'],
  ['Choice', 'Choice'],
  ['Wait', 'Wait'],
  ['Pass', 'Pass'],
  ['Map', 'Map'],
  ['Parallel', 'Parallel'],
  ['Succeed', 'Succeed'],
  ['Fail', 'Fail'],
];

const kindOf = (type: string): StateKind => KIND_BY_PREFIX.find(([p]) => type.startsWith(p))?.[1] ?? 'State';

const SCHEDULED = new Set(['LambdaFunctionScheduled', 'TaskScheduled', 'ActivityScheduled']);
const SUCCEEDED = new Set(['LambdaFunctionSucceeded', 'TaskSucceeded', 'ActivitySucceeded']);

/** The error and cause of a failure event, or undefined when the event is no failure. */
function failureOf(e: HistoryEvent): { error: string; cause?: string } | undefined {
  const d =
    e.lambdaFunctionFailedEventDetails ??
    e.lambdaFunctionTimedOutEventDetails ??
    e.lambdaFunctionScheduleFailedEventDetails ??
    e.lambdaFunctionStartFailedEventDetails ??
    e.taskFailedEventDetails ??
    e.taskTimedOutEventDetails ??
    e.taskStartFailedEventDetails ??
    e.taskSubmitFailedEventDetails ??
    e.activityFailedEventDetails ??
    e.activityTimedOutEventDetails ??
    e.activityScheduleFailedEventDetails ??
    e.evaluationFailedEventDetails;
  if (d === undefined) {
    if (e.type === 'MapStateFailed' || e.type === 'ParallelStateFailed') return { error: 'States.BranchFailed' };
    return undefined;
  }
  const error = 'error' in d && typeof d.error === 'string' ? d.error : (e.type ?? 'Error');
  const cause = 'cause' in d && typeof d.cause === 'string' ? d.cause : undefined;
  return { error: e.type?.endsWith('TimedOut') && error === (e.type ?? '') ? 'States.Timeout' : error, cause };
}

export function buildTimeline(events: readonly HistoryEvent[]): Timeline {
  const sorted = [...events].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  const steps: TimelineStep[] = [];
  const stepByKey = new Map<string, TimelineStep>();
  const visitByEvent = new Map<number, Visit>();
  const open: Visit[] = [];
  const redrives: Timeline['redrives'] = [];
  const timeline: Timeline = { steps, redrives, summary: { commandIds: [], deleted: [] }, eventCount: events.length };
  const taskVisits = new Map<TimelineStep, number>();
  let round = 0;

  const closeVisit = (v: Visit, at: Date): void => {
    v.end = at;
    v.step.end = at;
    v.step.durationMs = (v.step.durationMs ?? 0) + Math.max(0, at.getTime() - v.start.getTime());
    const idx = open.indexOf(v);
    if (idx >= 0) open.splice(idx, 1);
  };

  const lastOpenTask = (): Visit | undefined => {
    for (let i = open.length - 1; i >= 0; i--) if (open[i]?.step.kind === 'Task') return open[i];
    return undefined;
  };

  for (const e of sorted) {
    const type = e.type ?? '';
    const at = e.timestamp ?? new Date(0);
    const prev = e.previousEventId !== undefined ? visitByEvent.get(e.previousEventId) : undefined;

    if (type === 'ExecutionStarted') {
      timeline.start = at;
      timeline.input = e.executionStartedEventDetails?.input;
      continue;
    }
    if (type === 'ExecutionRedriven') {
      round = e.executionRedrivenEventDetails?.redriveCount ?? round + 1;
      redrives.push({ round, at });
      timeline.end = undefined;
      continue;
    }
    if (type.endsWith('StateEntered') && e.stateEnteredEventDetails?.name !== undefined) {
      const name = e.stateEnteredEventDetails.name;
      // A state that moved on without an Exited event (a Catch took its error): close it.
      if (prev && prev.end === undefined && prev.step.kind !== 'Map' && prev.step.kind !== 'Parallel') {
        settleVisit(prev);
        closeVisit(prev, at);
      }
      const key = `${round}\u0000${name}`;
      let step = stepByKey.get(key);
      if (step === undefined) {
        step = { name, kind: kindOf(type), round, start: at, visits: 0, attempts: 0, retries: 0, retried: {}, failed: false, caught: false };
        stepByKey.set(key, step);
        steps.push(step);
      }
      step.visits += 1;
      step.input = e.stateEnteredEventDetails.input;
      const visit: Visit = { step, start: at, scheduled: 0, failures: [], lastTaskOk: true };
      open.push(visit);
      if (e.id !== undefined) visitByEvent.set(e.id, visit);
      continue;
    }
    if (type.endsWith('StateExited') && e.stateExitedEventDetails?.name !== undefined) {
      const name = e.stateExitedEventDetails.name;
      const visit = prev?.step.name === name && prev.end === undefined ? prev : open.find((v) => v.step.name === name);
      if (visit) {
        visit.step.output = e.stateExitedEventDetails.output;
        settleVisit(visit);
        closeVisit(visit, at);
        collectSummary(timeline.summary, e.stateExitedEventDetails.output);
      }
      continue;
    }
    if (type === 'ExecutionSucceeded' || type === 'ExecutionFailed' || type === 'ExecutionTimedOut' || type === 'ExecutionAborted') {
      const d = e.executionFailedEventDetails ?? e.executionTimedOutEventDetails ?? e.executionAbortedEventDetails;
      const status = type === 'ExecutionSucceeded' ? 'SUCCEEDED' : type === 'ExecutionFailed' ? 'FAILED' : type === 'ExecutionTimedOut' ? 'TIMED_OUT' : 'ABORTED';
      timeline.end = { status, at, error: d?.error, cause: d?.cause, output: e.executionSucceededEventDetails?.output };
      // A failed round's command is named only in its cause ("Join command <id> on …").
      for (const m of (d?.cause ?? '').matchAll(/\bcommand ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b/gi))
        if (m[1] && !timeline.summary.commandIds.includes(m[1])) timeline.summary.commandIds.push(m[1]);
      if (status === 'SUCCEEDED') {
        for (const v of [...open]) {
          settleVisit(v);
          closeVisit(v, at);
        }
        collectSummary(timeline.summary, e.executionSucceededEventDetails?.output);
      } else {
        // Every state still open failed with the execution; the innermost (last entered) is "the" failing state.
        const stillOpen = [...open];
        for (const v of stillOpen) {
          const own = v.failures[v.failures.length - 1];
          v.step.failed = true;
          v.step.caught = false;
          v.step.error = own?.error ?? d?.error ?? (status === 'TIMED_OUT' ? 'States.Timeout' : status);
          v.step.cause = own?.cause ?? d?.cause;
          countRetried(v, own ? 1 : 0);
          closeVisit(v, at);
        }
        const failing = stillOpen[stillOpen.length - 1];
        timeline.failedState = failing?.step.name;
        const failStep = steps.filter((s) => s.round === round && s.kind === 'Fail').pop();
        if (failing === undefined && failStep) {
          failStep.failed = true;
          failStep.error = d?.error;
          failStep.cause = d?.cause;
          timeline.failedState = failStep.name;
        }
      }
      continue;
    }

    // Task-level events belong to the visit they follow (or the last open Task state).
    const visit = prev ?? lastOpenTask();
    if (visit === undefined) continue;
    if (e.id !== undefined) visitByEvent.set(e.id, visit);
    if (SCHEDULED.has(type)) {
      if (visit.scheduled === 0) taskVisits.set(visit.step, (taskVisits.get(visit.step) ?? 0) + 1);
      visit.scheduled += 1;
      visit.step.attempts += 1;
      visit.lastTaskOk = true;
    } else if (SUCCEEDED.has(type)) {
      visit.lastTaskOk = true;
    } else {
      const f = failureOf(e);
      if (f) {
        visit.failures.push({ ...f, at });
        visit.lastTaskOk = false;
      }
    }
  }
  // Still running: open visits keep no end.
  for (const s of steps) s.retries = Math.max(0, s.attempts - (taskVisits.get(s) ?? 0));
  return timeline;
}

/** A visit that exited: its failures were either retried away or caught by a Catch. */
function settleVisit(v: Visit): void {
  if (v.failures.length === 0) return;
  if (!v.lastTaskOk) {
    const last = v.failures[v.failures.length - 1];
    v.step.caught = true;
    v.step.error = last?.error;
    v.step.cause = last?.cause;
    countRetried(v, 1);
  } else {
    countRetried(v, 0);
  }
}

function countRetried(v: Visit, exceptLast: number): void {
  const n = v.failures.length - exceptLast;
  for (let i = 0; i < n; i++) {
    const f = v.failures[i];
    if (f) v.step.retried[f.error] = (v.step.retried[f.error] ?? 0) + 1;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** What was done, read from the state data (never a secret: tasks do not return one). */
function collectSummary(summary: RunSummary, text: string | undefined): void {
  const data = parseJson(text);
  if (!isObj(data)) return;
  const instance = isObj(data.instance) ? data.instance : isObj(data.found) ? data.found : undefined;
  summary.instanceId = str(instance?.instanceId) ?? str(data.instanceId) ?? summary.instanceId;
  if (isObj(data.computer)) {
    summary.computerName = str(data.computer.name) ?? summary.computerName;
    summary.computerDn = str(data.computer.dn) ?? summary.computerDn;
    summary.computerAction = str(data.computer.action) ?? summary.computerAction;
  }
  summary.computerName = str(data.computerName) ?? summary.computerName;
  for (const key of ['join', 'verify', 'joinStatus', 'verifyStatus']) {
    const ref = data[key];
    const id = isObj(ref) ? str(ref.commandId) : undefined;
    if (id && !summary.commandIds.includes(id)) summary.commandIds.push(id);
  }
  const direct = str(data.commandId);
  if (direct && !summary.commandIds.includes(direct)) summary.commandIds.push(direct);
  if (Array.isArray(data.deleted)) {
    for (const d of data.deleted) {
      const dn = isObj(d) && d.deleted === true ? str(d.dn) : undefined;
      if (dn && !summary.deleted.includes(dn)) summary.deleted.push(dn);
    }
  }
  const outcome = str(data.outcome) ?? (isObj(data.instance) && data.instance.outcome !== 'proceed' ? str(data.instance.outcome) : undefined);
  if (outcome) summary.outcome = outcome;
  const reason = str(data.reason);
  if (reason) summary.reason = reason;
  const counts: Record<string, number> = {};
  for (const k of ['scanned', 'stale', 'deleted', 'skipped', 'failed']) if (typeof data[k] === 'number') counts[k] = data[k];
  if (Object.keys(counts).length > 0) summary.counts = counts;
}
