/**
 * The shape of every task handler: validate the input, add log context, call one domain
 * function with its ports, return plain JSON. Handlers stay a few lines:
 *
 *   export const makeHandler = (deps: DepsProvider) =>
 *     makeTask({ workflow: 'join', step: 'Read instance' }, deps, parseReadInstanceInput, readInstance);
 *   export const handler = makeHandler(defaultDeps);
 *
 * The lab and the workflow tests call `makeHandler` with their own ports.
 */
import type { Deps, DepsProvider } from './deps';
import { AdjoinError } from './errors';
import { MetricNames } from './metrics';
import type { Invocation } from './poll';

export type WorkflowName = 'join' | 'join-cleanup' | 'leave' | 'reconcile';

/**
 * Where the task runs, for the log context. A task used by two states (or two workflows) derives
 * the name from its parsed input; until the input is parsed (and when it is invalid) the log
 * carries only the fixed parts.
 */
export interface TaskMeta<I> {
  workflow: WorkflowName | ((input: I) => WorkflowName);
  /** The state name, as the operator reads it in the console. */
  step: string | ((input: I) => string);
}

/** Lambda's context, only the parts we read (absent when the lab calls a handler). */
export interface LambdaContextLike {
  awsRequestId?: string;
  /** Milliseconds before the invocation's timeout (the polling tasks budget their in-Lambda wait by it). */
  getRemainingTimeInMillis?: () => number;
}

/** Input fields every Payload may carry for log context. */
interface LogContextFields {
  executionName?: unknown;
  instance?: { instanceId?: unknown };
  event?: { detail?: { 'instance-id'?: unknown } };
}

export function makeTask<I, O>(
  meta: TaskMeta<I>,
  deps: DepsProvider,
  parse: (raw: unknown) => I,
  run: (input: I, deps: Deps, invocation: Invocation) => O | Promise<O>,
): (event: unknown, context?: LambdaContextLike) => Promise<O> {
  return async (event, context) => {
    const d = await deps();
    const fields = (typeof event === 'object' && event !== null ? event : {}) as LogContextFields;
    const instanceId = fields.instance?.instanceId ?? fields.event?.detail?.['instance-id'];
    d.logger.resetKeys();
    d.logger.appendKeys({
      ...(typeof meta.workflow === 'string' ? { workflow: meta.workflow } : {}),
      ...(typeof meta.step === 'string' ? { step: meta.step } : {}),
      ...(typeof fields.executionName === 'string' ? { executionName: fields.executionName } : {}),
      ...(typeof instanceId === 'string' && /^i-[0-9a-f]{8,17}$/.test(instanceId) ? { instanceId } : {}),
      ...(context?.awsRequestId ? { requestId: context.awsRequestId } : {}),
    });
    let parsed: I | undefined;
    try {
      const input = parse(event);
      parsed = input;
      if (typeof meta.workflow === 'function') d.logger.appendKeys({ workflow: meta.workflow(input) });
      if (typeof meta.step === 'function') d.logger.appendKeys({ step: meta.step(input) });
      const remaining = context?.getRemainingTimeInMillis?.bind(context);
      const output = await run(input, d, remaining ? { remainingMs: remaining } : {});
      d.logger.info('Step finished');
      countOutcome(d, meta, input, output);
      return output;
    } catch (err) {
      countFailure(d, meta, parsed, err);
      if (err instanceof AdjoinError) {
        d.logger.warn('Step failed', { error: err.name, cause: err.message, transient: err.transient });
      } else {
        d.logger.error('Step failed with an unexpected error', { error: err instanceof Error ? err.name : String(err) });
      }
      throw err;
    }
  };
}

// ---- metrics (tasks/lib/metrics.ts) -----------------------------------------------------------

const named = <I>(v: string | ((input: I) => string), input: I | undefined): string | undefined =>
  typeof v === 'string' ? v : input === undefined ? undefined : v(input);

/** StepOutcome{Workflow, Outcome} when the step's output carries a string `outcome`. */
function countOutcome<I>(d: Deps, meta: TaskMeta<I>, input: I, output: unknown): void {
  const outcome = typeof output === 'object' && output !== null ? (output as { outcome?: unknown }).outcome : undefined;
  const workflow = named(meta.workflow, input);
  if (d.metrics && typeof outcome === 'string' && workflow) d.metrics.count(MetricNames.StepOutcome, { Workflow: workflow, Outcome: outcome });
}

/** StepFailed{Workflow, Step, Error}: the catalogue name, or "Unexpected" for anything else. */
function countFailure<I>(d: Deps, meta: TaskMeta<I>, input: I | undefined, err: unknown): void {
  if (!d.metrics) return;
  // Names derived from the input are known only once it parsed ("unknown" for an invalid input).
  const workflow = named(meta.workflow, input) ?? 'unknown';
  const step = named(meta.step, input) ?? 'unknown';
  d.metrics.count(MetricNames.StepFailed, { Workflow: workflow, Step: step, Error: err instanceof AdjoinError ? err.name : 'Unexpected' });
}
