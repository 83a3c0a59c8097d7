/**
 * The execution store of the local runtime: one JSON file per execution, in
 * `$ADJOIN_LAB_DIR/executions` (default `.lab/executions` under the current directory). The
 * engine writes; the CLI (`adjoin … --local`) lists, describes and redrives from it.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidInput } from '../tasks/lib/errors';
import type { ExecutionRecord, ExecutionStatus } from './record';

/** The folder executions are stored in. */
export function executionsDir(env: NodeJS.ProcessEnv = process.env): string {
  const lab = env.ADJOIN_LAB_DIR !== undefined && env.ADJOIN_LAB_DIR !== '' ? env.ADJOIN_LAB_DIR : '.lab';
  return resolve(lab, 'executions');
}

export interface ListFilter {
  workflow?: string;
  status?: ExecutionStatus;
}

const fileName = (workflow: string, name: string): string => `${workflow}--${name}.json`;
/** Execution and workflow names as Step Functions allows them (no path characters). */
const SAFE = /^[A-Za-z0-9_-]{1,80}$/;

export class ExecutionStore {
  readonly dir: string;

  constructor(dir: string = executionsDir()) {
    this.dir = resolve(dir);
  }

  /** Writes (or overwrites) one execution, atomically. */
  save(record: ExecutionRecord): void {
    if (!SAFE.test(record.name) || !SAFE.test(record.workflow))
      throw new InvalidInput(`Execution ${JSON.stringify(record.name)} of ${JSON.stringify(record.workflow)}: names are 1-80 letters, digits, - or _`);
    mkdirSync(this.dir, { recursive: true });
    const path = join(this.dir, fileName(record.workflow, record.name));
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(record, null, 1));
    renameSync(tmp, path);
  }

  /** One execution by name (and workflow, when names repeat across workflows); undefined if absent. */
  get(name: string, workflow?: string): ExecutionRecord | undefined {
    if (!SAFE.test(name) || (workflow !== undefined && !SAFE.test(workflow))) return undefined;
    if (workflow !== undefined) return this.read(fileName(workflow, name));
    const all = this.files().filter((f) => f.name === name && (workflow === undefined || f.workflow === workflow));
    const match = all[0];
    return match === undefined ? undefined : this.read(match.file);
  }

  /** Every stored execution, newest first. */
  list(filter: ListFilter = {}): ExecutionRecord[] {
    return this.files()
      .filter((f) => filter.workflow === undefined || f.workflow === filter.workflow)
      .map((f) => this.read(f.file))
      .filter((r): r is ExecutionRecord => r !== undefined)
      .filter((r) => filter.status === undefined || r.status === filter.status)
      .sort((a, b) => (a.startDate < b.startDate ? 1 : a.startDate > b.startDate ? -1 : b.name.localeCompare(a.name)));
  }

  private files(): { file: string; workflow: string; name: string }[] {
    let entries: string[];
    try {
      entries = readdirSync(this.dir);
    } catch {
      return [];
    }
    return entries
      .map((file) => ({ file, m: /^(.+?)--(.+)\.json$/.exec(file) }))
      .filter((x): x is { file: string; m: RegExpExecArray } => x.m !== null)
      .map(({ file, m }) => ({ file, workflow: m[1] ?? '', name: m[2] ?? '' }));
  }

  private read(file: string): ExecutionRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as ExecutionRecord;
    } catch {
      return undefined;
    }
  }
}

/** The default store ($ADJOIN_LAB_DIR/executions or .lab/executions). */
export const defaultStore = (): ExecutionStore => new ExecutionStore();
/** Stored executions, newest first. */
export const listExecutions = (filter: ListFilter = {}, store: ExecutionStore = defaultStore()): ExecutionRecord[] => store.list(filter);
/** One stored execution by name. */
export const getExecution = (name: string, workflow?: string, store: ExecutionStore = defaultStore()): ExecutionRecord | undefined =>
  store.get(name, workflow);
