/**
 * An execution as a timeline: one row per state visit (a state entered and left, or failed),
 * with its duration on the execution's clock, how often it was retried and how it ended. What
 * `adjoin executions describe` prints, and what tests assert the path of a run with.
 */
import type { ExecutionRecord } from './record';

export interface TimelineRow {
  state: string;
  type: string;
  /** ISO time the state was entered (virtual time for virtual-clock runs). */
  start: string;
  durationMs: number;
  retries: number;
  outcome: 'succeeded' | 'failed' | 'caught' | 'running';
  /** Error name of the last failure in this visit (the one that ended it, when failed/caught). */
  error?: string;
  cause?: string;
  /** Map iteration index, for states inside a Map. */
  index?: number;
  /** 0 = the first run, n = the n-th redrive. */
  part: number;
}

export function timeline(record: ExecutionRecord): TimelineRow[] {
  const rows: TimelineRow[] = [];
  const open = new Map<string, { row: TimelineRow; startMs: number }>();
  const slot = (state: string, index: number | undefined, part: number): string => `${part}/${index ?? ''}/${state}`;
  for (const e of record.events) {
    if (e.state === undefined || !e.type.startsWith('State')) continue;
    const key = slot(e.state, e.index, e.part);
    const t = new Date(e.time).getTime();
    if (e.type === 'StateEntered') {
      const row: TimelineRow = { state: e.state, type: e.stateType ?? '', start: e.time, durationMs: 0, retries: 0, outcome: 'running', part: e.part };
      if (e.index !== undefined) row.index = e.index;
      rows.push(row);
      open.set(key, { row, startMs: t });
      continue;
    }
    const cur = open.get(key);
    if (cur === undefined) continue;
    cur.row.durationMs = Math.max(0, t - cur.startMs);
    if (e.type === 'StateRetried') cur.row.retries += 1;
    else if (e.type === 'StateFailed') {
      cur.row.error = e.error;
      cur.row.cause = e.cause;
      cur.row.outcome = 'failed';
    } else if (e.type === 'StateCaught') {
      cur.row.outcome = 'caught';
      open.delete(key);
    } else if (e.type === 'StateExited') {
      cur.row.outcome = 'succeeded';
      delete cur.row.error;
      delete cur.row.cause;
      open.delete(key);
    }
  }
  // A visit whose last failure was retried is still running unless the execution ended there.
  for (const { row } of open.values()) if (row.outcome === 'failed' && record.status === 'RUNNING') row.outcome = 'running';
  return rows;
}

/** The states entered, in order (top level only unless `nested`), for asserting a run's path. */
export function statePath(record: ExecutionRecord, opts: { nested?: boolean; part?: number } = {}): string[] {
  return record.events
    .filter((e) => e.type === 'StateEntered' && (opts.nested === true || e.index === undefined) && (opts.part === undefined || e.part === opts.part))
    .map((e) => e.state ?? '');
}

/** State-transition counts from the event log: states entered, retries, and their total. */
export function transitions(record: ExecutionRecord): { statesEntered: number; retries: number; total: number } {
  const statesEntered = record.events.filter((e) => e.type === 'StateEntered').length;
  const retries = record.events.filter((e) => e.type === 'StateRetried').length;
  return { statesEntered, retries, total: statesEntered + retries };
}
