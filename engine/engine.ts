/**
 * The local runtime: runs the product's synthesized ASL in process with aws-local-stepfunctions,
 * each Lambda mapped to its task's `makeHandler(deps)`.
 *
 *   const engine = new LocalEngine({ join: joinAsl }, { deps, clock });
 *   const run = await engine.start('join', event, { name: 'join-1' });
 *   run.status; run.failedState; timeline(run);
 *   const again = await engine.redrive(run);   // resumes at run.failedState
 *
 * With a VirtualClock, each Wait state and each retry pause takes ~1 ms of real time and moves
 * the clock by the time it would really have taken (retry pauses from the state's own Retry
 * policy, no jitter), so fakes that say "Online after 90 s" behave as in AWS.
 *
 * Differences from AWS that are emulated here: redrive (a copy of the definition starting at the
 * failed top-level state, fed that state's recorded input, RedriveCount + 1, same name), the
 * execution timeout in virtual time, $$.Execution.StartTime on the execution's clock (the
 * engine itself would give the wall-clock time of each (re)start), no timeout on a Task without
 * TimeoutSeconds (aws-local-stepfunctions would give it 60 s). Known differences that
 * remain: a redriven Map re-runs all its items (AWS re-runs the failed ones); task errors' Cause is the error message (AWS wraps
 * it in a JSON document with errorType/errorMessage/trace).
 */
import { randomUUID } from 'node:crypto';
import { ExecutionTimeoutError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { DepsProvider } from '../tasks/lib/deps';
import { ConfigurationError, InvalidInput } from '../tasks/lib/errors';
import type { TaskId } from '../tasks/registry';
import {
  allStates,
  asDefinition,
  assertSupported,
  cloneJson,
  isObject,
  readPath,
  type AslDefinition,
  type AslState,
  type Json,
} from './asl';
import { ScaledClock, VirtualClock, taskTime } from './clock';
import { bindTasks, loadTaskHandler, localHandler, type LocalHandler, type TaskHandler } from './handlers';
import type { ExecutionEvent, ExecutionEventType, ExecutionRecord, ExecutionStatus } from './record';
import type { ExecutionStore } from './store';

export interface EngineOptions {
  /** Ports for every task handler (the lab's real ones, or lab/sim's fakes). */
  deps: DepsProvider;
  /** Function name prefix (function = `<prefix>-<task id>`). Default "adjoin". */
  prefix?: string;
  /**
   * VirtualClock: Wait states and retry pauses advance this clock instead of really waiting
   * (deterministic; tests). ScaledClock: everything runs `speedup` times faster than real time,
   * with the real retry policy including jitter (scale runs). None: real time.
   */
  clock?: VirtualClock | ScaledClock;
  /** Real milliseconds each Wait state takes. Default 1 with a virtual clock, else the real duration. */
  waitMs?: number;
  /** Real milliseconds of each retry pause. Default 1 with a virtual clock, else the real policy. */
  retryMs?: number;
  /** Record every execution here (RUNNING at start, final at the end). */
  store?: ExecutionStore;
  /** Replace chosen tasks' handlers (tests that need a misbehaving task). */
  handlers?: Partial<Record<TaskId, TaskHandler>>;
  account?: string;
  region?: string;
  /**
   * Called when an execution (or a redrive of it) has ended, before start()/redrive() resolve:
   * what EventBridge's "Step Functions Execution Status Change" event starts in AWS (the lab
   * starts the join-cleanup machine from here: lab/sim/cleanup.ts).
   */
  onEnd?: (record: ExecutionRecord, engine: LocalEngine) => Promise<void> | void;
}

export interface StartOptions {
  /** Execution name (default: a random UUID, like StartExecution). */
  name?: string;
}

interface Workflow {
  name: string;
  definition: AslDefinition;
  states: Map<string, AslState>;
  handlers: Record<string, LocalHandler>;
  machines: Map<string, StateMachine>;
}

interface EngineEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string; input: unknown; output?: unknown };
  index?: number;
  parentState?: { name: string };
  input?: unknown;
  output?: unknown;
  Error?: string;
  Cause?: unknown;
  retry?: { retrier: { ErrorEquals: string[] }; attempt: number };
  catch?: { catcher: { ErrorEquals: string[]; Next: string } };
}

const TASK_WILDCARD = 'States.TaskFailed';
/** Where this runtime puts the execution's start time in the context object (see machine()). */
const START_TIME_FIELD = 'AdjoinStartTime';

export class LocalEngine {
  private readonly workflows = new Map<string, Workflow>();
  private readonly prefix: string;
  private readonly account: string;
  private readonly region: string;
  private readonly names = new Set<string>();
  private readonly running = new Map<string, { abort: () => void }>();

  constructor(
    definitions: Record<string, unknown>,
    private readonly options: EngineOptions,
  ) {
    this.prefix = options.prefix ?? 'adjoin';
    this.account = options.account ?? '123456789012';
    this.region = options.region ?? 'eu-west-1';
    const loaded = new Map<TaskId, TaskHandler>();
    for (const [name, raw] of Object.entries(definitions)) {
      const definition = assertSupported(asDefinition(raw, name), name);
      const handlers: Record<string, LocalHandler> = {};
      for (const binding of bindTasks(definition, this.prefix, name)) {
        let handler = options.handlers?.[binding.taskId] ?? loaded.get(binding.taskId);
        if (handler === undefined) {
          handler = loadTaskHandler(binding.taskId, options.deps);
          loaded.set(binding.taskId, handler);
        }
        handlers[binding.state] = localHandler(binding, handler);
      }
      const states = new Map(allStates(definition).map((s) => [s.name, s.state]));
      const wf: Workflow = { name, definition, states, handlers, machines: new Map() };
      this.machine(wf, definition.StartAt);
      this.workflows.set(name, wf);
    }
  }

  /** StopExecution: aborts a running execution (it ends ABORTED). False when it is not running. */
  stop(workflow: string, name: string): boolean {
    const run = this.running.get(`${workflow}/${name}`);
    if (run === undefined) return false;
    run.abort();
    return true;
  }

  /** The workflows this engine runs. */
  workflowNames(): string[] {
    return [...this.workflows.keys()];
  }

  /** The definition a workflow runs (a copy). */
  definition(workflow: string): AslDefinition {
    return cloneJson(this.workflow(workflow).definition);
  }

  /** Starts an execution and resolves when it ends (it never rejects for a failed execution). */
  async start(workflow: string, input: unknown, opts: StartOptions = {}): Promise<ExecutionRecord> {
    const wf = this.workflow(workflow);
    const name = opts.name ?? randomUUID();
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name))
      throw new InvalidInput(`Execution name ${JSON.stringify(name)}: 1-80 letters, digits, - or _`);
    if (this.names.has(`${workflow}/${name}`) || this.options.store?.get(name, workflow) !== undefined)
      throw new InvalidInput(`ExecutionAlreadyExists: ${workflow} already has an execution named ${name}`);
    this.names.add(`${workflow}/${name}`);
    const json = cloneJson((input ?? null) as Json);
    const record: ExecutionRecord = {
      name,
      workflow,
      executionArn: this.arn('execution', workflow, name),
      stateMachineArn: this.arn('stateMachine', workflow),
      input: json,
      status: 'RUNNING',
      clock: this.stepped ? 'virtual' : this.scaled ? 'scaled' : 'real',
      startDate: this.now().toISOString(),
      redriveCount: 0,
      redrives: [],
      events: [],
    };
    this.options.store?.save(record);
    await this.execute(wf, record, wf.definition.StartAt, json, 0);
    return record;
  }

  /**
   * Redrive emulation: resumes a FAILED / TIMED_OUT / ABORTED execution at the top-level state it
   * failed in, with that state's recorded input, RedriveCount + 1 and the same name. Returns the
   * combined record (both parts' events; status and result of the redrive).
   */
  async redrive(previous: ExecutionRecord): Promise<ExecutionRecord> {
    const wf = this.workflow(previous.workflow);
    if (previous.status === 'RUNNING' || previous.status === 'SUCCEEDED')
      throw new InvalidInput(`ExecutionNotRedrivable: ${previous.name} is ${previous.status}`);
    const from = previous.failedState;
    if (from === undefined || !(from in wf.definition.States))
      throw new InvalidInput(`ExecutionNotRedrivable: ${previous.name} has no failed top-level state to resume at`);
    const entered = [...previous.events].reverse().find((e) => e.type === 'StateEntered' && e.state === from && e.index === undefined);
    if (entered === undefined) throw new InvalidInput(`ExecutionNotRedrivable: no recorded input for state "${from}"`);
    const record: ExecutionRecord = cloneJson(previous);
    const redriveCount = previous.redriveCount + 1;
    const date = this.now().toISOString();
    record.status = 'RUNNING';
    record.redriveCount = redriveCount;
    record.redrives.push({ redriveCount, fromState: from, date });
    delete record.stopDate;
    delete record.output;
    delete record.error;
    delete record.cause;
    delete record.failedState;
    record.events.push({ seq: record.events.length, type: 'ExecutionRedriven', time: date, realTime: new Date().toISOString(), part: redriveCount, state: from });
    this.options.store?.save(record);
    await this.execute(wf, record, from, cloneJson(entered.input ?? null), redriveCount);
    return record;
  }

  // ---------------------------------------------------------------------------------------

  private workflow(name: string): Workflow {
    const wf = this.workflows.get(name);
    if (wf === undefined) throw new ConfigurationError([`workflow ${JSON.stringify(name)}: not loaded (have ${this.workflowNames().join(', ')})`]);
    return wf;
  }

  private machine(wf: Workflow, startAt: string): StateMachine {
    let m = wf.machines.get(startAt);
    if (m === undefined && this.scaled) {
      m = new StateMachine(scaledCopy(wf.definition, startAt, this.scaled) as unknown as StateMachineDefinition, { validationOptions: { noValidate: true } });
      wf.machines.set(startAt, m);
    }
    if (m === undefined) {
      const copy = localCopy(wf.definition, startAt);
      // The first build validates the definition as written; a redrive copy (same states, another
      // StartAt) may leave states unreachable, which the validator would reject.
      const noValidate = startAt !== wf.definition.StartAt;
      m = new StateMachine(copy as unknown as StateMachineDefinition, { validationOptions: { noValidate } });
      wf.machines.set(startAt, m);
    }
    return m;
  }

  private now(): Date {
    return this.options.clock ? this.options.clock.now() : new Date();
  }

  /** The stepped virtual clock, when the engine runs on one. */
  private get stepped(): VirtualClock | undefined {
    return this.options.clock instanceof VirtualClock ? this.options.clock : undefined;
  }

  private get scaled(): ScaledClock | undefined {
    return this.options.clock instanceof ScaledClock ? this.options.clock : undefined;
  }

  private arn(kind: 'execution' | 'stateMachine', workflow: string, name?: string): string {
    const base = `arn:aws:states:${this.region}:${this.account}:${kind}:${this.prefix}-${workflow}`;
    return name === undefined ? base : `${base}:${name}`;
  }

  private overrides(wf: Workflow): { waitTimeOverrides: Record<string, number>; retryIntervalOverrides: Record<string, number> } {
    const virtual = this.stepped !== undefined;
    const waitMs = this.options.waitMs ?? (virtual ? 1 : undefined);
    const retryMs = this.options.retryMs ?? (virtual ? 1 : undefined);
    const waitTimeOverrides: Record<string, number> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    const scaled = this.scaled;
    if (scaled) {
      for (const [name, state] of wf.states)
        if (state.Type === 'Wait' && typeof state.Seconds === 'number') waitTimeOverrides[name] = Math.max(1, scaled.realMs(state.Seconds));
      return { waitTimeOverrides, retryIntervalOverrides };
    }
    for (const [name, state] of wf.states) {
      // At least 1 ms: the engine skips a 0 ms pause synchronously, before this runtime has seen
      // the event that advances the virtual clock.
      if (state.Type === 'Wait' && waitMs !== undefined) waitTimeOverrides[name] = Math.max(1, waitMs);
      if (Array.isArray(state.Retry) && retryMs !== undefined) retryIntervalOverrides[name] = Math.max(1, retryMs);
    }
    return { waitTimeOverrides, retryIntervalOverrides };
  }

  private async execute(wf: Workflow, record: ExecutionRecord, startAt: string, input: Json, part: number): Promise<void> {
    const machine = this.machine(wf, startAt);
    const clock = this.stepped;
    const scaled = this.scaled;
    const tracker = new VirtualTime(wf, clock, this.now().getTime());
    const context = {
      Execution: {
        Id: record.executionArn,
        Name: record.name,
        StartTime: record.startDate,
        [START_TIME_FIELD]: record.startDate,
        RedriveCount: part,
        RoleArn: `arn:aws:iam::${this.account}:role/${this.prefix}-${wf.name}`,
      },
      StateMachine: { Id: record.stateMachineArn, Name: `${this.prefix}-${wf.name}` },
    };
    // A stopped (or timed-out) execution invokes nothing more, as in AWS: aws-local-stepfunctions
    // would go on with a pending retry after abort(), calling the task again.
    let ended = false;
    const handlers: Record<string, LocalHandler> = {};
    for (const [state, h] of Object.entries(wf.handlers))
      handlers[state] = async (...args: Parameters<LocalHandler>) => {
        if (ended) throw Object.assign(new Error('the execution was stopped'), { name: 'States.Aborted' });
        if (!clock) return h(...args);
        // On a stepped clock, what the task slept (VirtualClock.sleep) is this execution's time too.
        const own = { startMs: clock.nowMs(), ms: 0 };
        try {
          return await taskTime.run(own, () => h(...args));
        } finally {
          tracker.taskSlept(state, own.ms);
        }
      };
    const run = machine.run(input, {
      overrides: { taskResourceLocalHandlers: handlers, ...this.overrides(wf) },
      context,
      noThrowOnAbort: true,
    });
    this.running.set(`${wf.name}/${record.name}`, {
      abort: () => {
        ended = true;
        run.abort();
      },
    });
    let timedOut = false;
    const timeoutMs = typeof wf.definition.TimeoutSeconds === 'number' ? wf.definition.TimeoutSeconds * 1000 : undefined;
    const consume = (async (): Promise<void> => {
      for await (const raw of run.eventLogs) {
        const ev = raw as unknown as EngineEvent;
        const { before, retry } = tracker.observe(ev);
        const time = clock ? new Date(before).toISOString() : scaled ? scaled.now().toISOString() : undefined;
        record.events.push(toEvent(ev, record.events.length, part, time, retry));
        if (clock && timeoutMs !== undefined && !timedOut && tracker.elapsedMs() > timeoutMs) {
          timedOut = true;
          ended = true;
          run.abort();
        }
      }
    })();
    let output: Json | undefined;
    let failure: unknown;
    try {
      output = await run.result;
    } catch (err) {
      failure = err;
    }
    await consume;

    const stop = clock ? new Date(tracker.rootMs()).toISOString() : this.now().toISOString();
    if (failure instanceof ExecutionTimeoutError) timedOut = true;
    const failed = [...record.events].reverse().find((e) => e.type === 'ExecutionFailed' && e.part === part);
    if (timedOut) {
      // The execution ends at its deadline (a retry pause that would run past it is cut short).
      const at = clock && timeoutMs !== undefined ? new Date(tracker.startMs + timeoutMs).toISOString() : stop;
      this.finish(record, 'TIMED_OUT', at, { error: 'States.Timeout', cause: `Execution timed out after ${(timeoutMs ?? 0) / 1000} s` });
      const last = record.events.at(-1);
      if (last?.type === 'ExecutionAborted' && last.part === part) {
        last.type = 'ExecutionTimedOut'; // our abort was the timeout
        last.time = at;
      } else if (last?.type !== 'ExecutionTimedOut') {
        record.events.push({ seq: record.events.length, type: 'ExecutionTimedOut', time: at, realTime: new Date().toISOString(), part });
      }
    } else if (failure === undefined && output === null && record.events.some((e) => e.type === 'ExecutionAborted' && e.part === part)) {
      this.finish(record, 'ABORTED', stop, {});
    } else if (failure === undefined) {
      this.finish(record, 'SUCCEEDED', stop, { output });
    } else {
      const cause = failure instanceof Error && failure.cause instanceof Error ? failure.cause : failure;
      this.finish(record, 'FAILED', stop, {
        error: failed?.error ?? (cause instanceof Error ? cause.name : 'Error'),
        cause: failed?.cause ?? (cause instanceof Error ? cause.message : JSON.stringify(cause)),
      });
    }
    if (record.status !== 'SUCCEEDED') record.failedState = failedTopLevelState(record.events, part);
    this.running.delete(`${wf.name}/${record.name}`);
    this.options.store?.save(record);
    await this.options.onEnd?.(record, this);
  }

  private finish(record: ExecutionRecord, status: ExecutionStatus, stop: string, result: { output?: Json; error?: string; cause?: string }): void {
    record.status = status;
    record.stopDate = stop;
    if (result.output !== undefined) record.output = result.output;
    if (result.error !== undefined) record.error = result.error;
    if (result.cause !== undefined) record.cause = result.cause;
  }
}

/**
 * The copy the engine runs (its validator mutates what it is given). aws-local-stepfunctions
 * overwrites $$.Execution.StartTime with the wall-clock time of the run: the copy's references
 * point at a field this runtime fills instead (the record's start, on the execution's clock,
 * unchanged by a redrive as in AWS).
 */
function localCopy(def: AslDefinition, startAt: string): AslDefinition {
  const text = JSON.stringify(def).split('$$.Execution.StartTime').join(`$$.Execution.${START_TIME_FIELD}`);
  const copy = JSON.parse(text) as AslDefinition;
  copy.StartAt = startAt;
  // AWS puts no timeout on a Task without TimeoutSeconds (the Lambda's own timeout ends it);
  // aws-local-stepfunctions would give it 60 s. The longest timer Node keeps instead.
  for (const { state } of allStates(copy))
    if (state.Type === 'Task' && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) state.TimeoutSeconds = NO_TASK_TIMEOUT_SECONDS;
  return copy;
}

/** setTimeout's largest delay (2^31 − 1 ms), in whole seconds: ~24.8 days. */
const NO_TASK_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** The top-level state entered last and never left, in the given part of the record. */
function failedTopLevelState(events: ExecutionEvent[], part: number): string | undefined {
  let open: string | undefined;
  for (const e of events) {
    if (e.part !== part || e.index !== undefined || e.state === undefined) continue;
    if (e.type === 'StateEntered') open = e.state;
    else if ((e.type === 'StateExited' || e.type === 'StateCaught') && e.state === open) open = undefined;
  }
  return open;
}

const causeText = (c: unknown): string | undefined => {
  if (c === undefined || c === null) return undefined;
  if (typeof c === 'string') return c;
  if (c instanceof Error) return c.message;
  return JSON.stringify(c);
};

function toEvent(ev: EngineEvent, seq: number, part: number, time: string | undefined, retry: ExecutionEvent['retry']): ExecutionEvent {
  const realTime = new Date(ev.timestamp).toISOString();
  const type = ev.type === 'ExecutionTimeout' ? 'ExecutionTimedOut' : (ev.type as ExecutionEventType);
  const out: ExecutionEvent = { seq, type, time: time ?? realTime, realTime, part };
  if (ev.state) {
    out.state = ev.state.name;
    out.stateType = ev.state.type;
    if (ev.type === 'StateEntered') out.input = cloneJson((ev.state.input ?? null) as Json);
    if (ev.type === 'StateExited') out.output = cloneJson((ev.state.output ?? null) as Json);
  }
  if (ev.index !== undefined) out.index = ev.index;
  if (ev.parentState) out.parent = ev.parentState.name;
  if (ev.type === 'ExecutionStarted') out.input = cloneJson((ev.input ?? null) as Json);
  if (ev.type === 'ExecutionSucceeded') out.output = cloneJson((ev.output ?? null) as Json);
  if (ev.Error !== undefined) out.error = ev.Error;
  const cause = causeText(ev.Cause);
  if (cause !== undefined) out.cause = cause;
  if (retry) out.retry = retry;
  if (ev.retry && !retry) out.retry = { errorEquals: ev.retry.retrier.ErrorEquals, attempt: ev.retry.attempt, delaySeconds: 0 };
  if (ev.catch) out.catch = { errorEquals: ev.catch.catcher.ErrorEquals, next: ev.catch.catcher.Next };
  return out;
}

/**
 * Follows the event log and moves the virtual clock as AWS time would have moved: by each Wait
 * state's duration and each retry pause (IntervalSeconds × BackoffRate^n, capped at
 * MaxDelaySeconds, no jitter). Each Map iteration keeps its own cursor (iterations run side by
 * side); the Map ends at the latest of them. Also records the retry pause of every retried error.
 */
class VirtualTime {
  private readonly cursors = new Map<string, number>();
  private readonly attempts = new Map<string, number[]>();
  private readonly pending = new Map<string, { errorEquals: string[]; attempt: number; delaySeconds: number }>();
  private readonly slept = new Map<string, number[]>();

  constructor(
    private readonly wf: Workflow,
    private readonly clock: VirtualClock | undefined,
    readonly startMs: number,
  ) {
    this.cursors.set('root', startMs);
  }

  /** A task of `state` ended after sleeping `ms` (taken into the execution's time when its end is observed). */
  taskSlept(state: string, ms: number): void {
    this.slept.set(state, [...(this.slept.get(state) ?? []), ms]);
  }

  rootMs(): number {
    return this.cursors.get('root') ?? this.startMs;
  }

  elapsedMs(): number {
    return this.rootMs() - this.startMs;
  }

  /** Returns the event's time (before any pause it starts) and, for a retried failure, the pause. */
  observe(ev: EngineEvent): { before: number; retry?: ExecutionEvent['retry'] } {
    const key = ev.index === undefined ? 'root' : `i${ev.index}`;
    if (ev.type === 'MapIterationStarted') this.cursors.set(key, this.rootMs());
    let before = this.cursors.get(key) ?? this.rootMs();
    const name = ev.state?.name;
    const state = name === undefined ? undefined : this.wf.states.get(name);
    if (state?.Type === 'Task' && name !== undefined && (ev.type === 'StateExited' || ev.type === 'StateFailed')) {
      const ms = this.slept.get(name)?.shift() ?? 0;
      if (ms > 0) this.cursors.set(key, (before += ms));
    }
    let delayMs = 0;
    let retry: ExecutionEvent['retry'];
    const slot = `${key}/${name ?? ''}`;
    if (ev.type === 'StateEntered' && state) {
      this.attempts.delete(slot);
      if (state.Type === 'Wait') delayMs = waitMs(state, (ev.state?.input ?? null) as Json, before);
    } else if (ev.type === 'StateFailed' && state) {
      retry = this.retryOf(state, slot, ev.Error ?? '');
      if (retry) {
        delayMs = retry.delaySeconds * 1000;
        this.pending.set(slot, retry);
      }
    } else if (ev.type === 'StateRetried') {
      retry = this.pending.get(slot);
      this.pending.delete(slot);
    } else if (key === 'root' && state && (state.Type === 'Map' || state.Type === 'Parallel') && ev.type !== 'StateEntered') {
      // The Map/Parallel state ended: the execution continues from its latest iteration.
      let latest = this.rootMs();
      for (const [k, v] of this.cursors) if (k !== 'root') latest = Math.max(latest, v);
      for (const k of [...this.cursors.keys()]) if (k !== 'root') this.cursors.delete(k);
      this.cursors.set('root', latest);
    }
    if (delayMs > 0) this.cursors.set(key, before + delayMs);
    if (this.clock) this.clock.advanceTo(Math.max(...this.cursors.values()));
    return { before, retry };
  }

  /** Mirrors aws-local-stepfunctions' retry decision (first matching retrier wins), without jitter. */
  private retryOf(state: AslState, slot: string, error: string): ExecutionEvent['retry'] {
    const retriers = Array.isArray(state.Retry) ? state.Retry : [];
    if (error === 'States.Runtime') return undefined;
    const counts = this.attempts.get(slot) ?? retriers.map(() => 0);
    this.attempts.set(slot, counts);
    for (let i = 0; i < retriers.length; i++) {
      const r = retriers[i];
      if (!isObject(r) || !Array.isArray(r.ErrorEquals)) continue;
      const names = r.ErrorEquals.filter((x): x is string => typeof x === 'string');
      const match = names.some((n) => n === error || n === 'States.ALL' || (n === TASK_WILDCARD && state.Type === 'Task' && error !== 'States.Timeout'));
      if (!match) continue;
      const max = typeof r.MaxAttempts === 'number' ? r.MaxAttempts : 3;
      const done = counts[i] ?? 0;
      if (done >= max) return undefined;
      counts[i] = done + 1;
      const interval = typeof r.IntervalSeconds === 'number' ? r.IntervalSeconds : 1;
      const backoff = typeof r.BackoffRate === 'number' ? r.BackoffRate : 2;
      let delay = interval * Math.pow(backoff, done);
      if (typeof r.MaxDelaySeconds === 'number' && r.MaxDelaySeconds > 0) delay = Math.min(delay, r.MaxDelaySeconds);
      return { errorEquals: names, attempt: done + 1, delaySeconds: delay };
    }
    return undefined;
  }
}

/** How long a Wait state waits, in ms, at virtual time `nowMs`. */
function waitMs(state: AslState, rawInput: Json, nowMs: number): number {
  const input = typeof state.InputPath === 'string' ? readPath(rawInput, state.InputPath) : rawInput;
  if (typeof state.Seconds === 'number') return state.Seconds * 1000;
  if (typeof state.SecondsPath === 'string') {
    const s = readPath(input, state.SecondsPath);
    return typeof s === 'number' && s > 0 ? s * 1000 : 0;
  }
  const ts = typeof state.Timestamp === 'string' ? state.Timestamp : typeof state.TimestampPath === 'string' ? readPath(input, state.TimestampPath) : undefined;
  if (typeof ts === 'string') {
    const at = new Date(ts).getTime();
    return Number.isNaN(at) ? 0 : Math.max(0, at - nowMs);
  }
  return 0;
}

/**
 * A copy of the definition for scaled time: every Wait, retry interval, retry cap and timeout
 * divided by the speedup (the engine does the arithmetic in fractional seconds). Waits whose
 * duration comes from the input or a timestamp cannot be scaled statically: refused.
 */
function scaledCopy(def: AslDefinition, startAt: string, clock: ScaledClock): AslDefinition {
  const copy = localCopy(def, startAt);
  const f = 1 / clock.speedup;
  const problems: string[] = [];
  if (typeof copy.TimeoutSeconds === 'number') copy.TimeoutSeconds = copy.TimeoutSeconds * f;
  for (const { name, state } of allStates(copy)) {
    if (state.Type === 'Wait' && typeof state.Seconds !== 'number')
      problems.push(`state "${name}": a Wait without Seconds cannot run in scaled time (use a VirtualClock)`);
    if (typeof state.TimeoutSeconds === 'number') state.TimeoutSeconds = state.TimeoutSeconds * f;
    if (!Array.isArray(state.Retry)) continue;
    for (const r of state.Retry) {
      if (!isObject(r)) continue;
      r.IntervalSeconds = (typeof r.IntervalSeconds === 'number' ? r.IntervalSeconds : 1) * f;
      if (typeof r.MaxDelaySeconds === 'number') r.MaxDelaySeconds = r.MaxDelaySeconds * f;
    }
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return copy;
}
