/**
 * What every workflow shares: the props each workflow Construct takes, the retry policies the
 * README's "Errors" table lists (built from the error catalogue tasks/lib/errors.ts, never
 * retyped), the JSONPath and Lambda task helpers, and the StateMachine conventions (logging,
 * tracing, timeout). workflows/join.ts, leave.ts and reconcile.ts all build their machines with
 * these, so the three read the same way.
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { LambdaServiceErrors, LambdaThrottleErrors, TransientErrors, type ErrorName } from '../tasks/lib/errors';
import type { TaskId } from '../tasks/registry';
import type { Settings } from '../tasks/lib/settings';

/** One Lambda function per task id (infra/functions.ts makes them). */
export type TaskFunctions = Record<TaskId, lambda.IFunction>;

/** The constructor props of every workflow Construct (JoinWorkflow, LeaveWorkflow, ReconcileWorkflow). */
export interface WorkflowProps {
  /** The task Lambdas, by task id. */
  readonly functions: TaskFunctions;
  /** The runtime settings (timings, reconcile limits) the machine's waits and deadlines come from. */
  readonly settings: Settings;
  /** The state machine's name, e.g. `adjoin-join`. */
  readonly stateMachineName: string;
  /** Where the machine logs (level ALL, execution data excluded). */
  readonly logGroup: logs.ILogGroup;
}

/** Every workflow Construct exposes its machine. */
export interface Workflow {
  readonly stateMachine: sfn.StateMachine;
}

/** A retry policy in seconds, as the README's "Errors" table writes them. */
export interface RetryPolicy {
  errors: readonly string[];
  intervalSeconds: number;
  backoffRate: number;
  maxAttempts: number;
  maxDelaySeconds?: number;
  jitter?: boolean;
}

/** Lambda's own service errors: 2 s, x2, 3 attempts. */
export const LambdaServiceRetry: RetryPolicy = {
  errors: LambdaServiceErrors,
  intervalSeconds: 2,
  backoffRate: 2,
  maxAttempts: 3,
};

/**
 * Lambda.TooManyRequestsException (a function at its reserved concurrency): 2 s, x2, at most 30 s,
 * 12 attempts, full jitter — up to about 5 minutes, so a burst of launches queues behind the
 * directory tasks' concurrency limit instead of failing.
 */
export const LambdaThrottleRetry: RetryPolicy = {
  errors: LambdaThrottleErrors,
  intervalSeconds: 2,
  backoffRate: 2,
  maxAttempts: 12,
  maxDelaySeconds: 30,
  jitter: true,
};

/** DirectoryUnavailable, Throttled, AwsUnavailable, AwsUnreachable: 5 s, x2, at most 60 s, 6 attempts, full jitter. */
export const TransientRetry: RetryPolicy = {
  errors: TransientErrors,
  intervalSeconds: 5,
  backoffRate: 2,
  maxAttempts: 6,
  maxDelaySeconds: 60,
  jitter: true,
};

/**
 * How many retries (MaxAttempts) it takes for the waits between them to add up to at least
 * `deadlineSeconds`. Retry n waits min(interval * backoff^(n-1), maxDelay) seconds.
 * attemptsForDeadline(10, 1.5, 60, 600) === 13.
 */
export function attemptsForDeadline(
  intervalSeconds: number,
  backoffRate: number,
  maxDelaySeconds: number,
  deadlineSeconds: number,
): number {
  if (intervalSeconds <= 0 || backoffRate < 1 || maxDelaySeconds <= 0) {
    throw new RangeError('attemptsForDeadline: interval and max delay must be > 0 and backoff >= 1');
  }
  let attempts = 0;
  let waited = 0;
  while (waited < deadlineSeconds) {
    waited += Math.min(intervalSeconds * backoffRate ** attempts, maxDelaySeconds);
    attempts += 1;
  }
  return Math.max(attempts, 1);
}

/** Adds a retry policy to a task (order matters only for overlapping names; ours do not overlap). */
export function addRetry(state: sfn.TaskStateBase | sfn.Parallel | sfn.Map, policy: RetryPolicy): void {
  state.addRetry({
    errors: [...policy.errors],
    interval: Duration.seconds(policy.intervalSeconds),
    backoffRate: policy.backoffRate,
    maxAttempts: policy.maxAttempts,
    ...(policy.maxDelaySeconds !== undefined ? { maxDelay: Duration.seconds(policy.maxDelaySeconds) } : {}),
    ...(policy.jitter ? { jitterStrategy: sfn.JitterType.FULL } : {}),
  });
}

/** Payload fields: a literal value or a JSONPath (keys ending in `.$` in the ASL). */
export type Payload = Record<string, unknown>;

/** A string field of the state data, e.g. at('$.instance.instanceId'). */
export const at = (path: string): string => sfn.JsonPath.stringAt(path);
/** An object field of the state data, e.g. obj('$.instance'). */
export const obj = (path: string) => sfn.JsonPath.objectAt(path);

export interface InvokeOptions {
  /**
   * Where the result goes in the state data, e.g. `$.instance`. Left out, the result REPLACES
   * the state's input (see `invokeReplacing`).
   */
  resultPath?: string;
  /** Extra retries placed BEFORE the standard ones (e.g. SsmAgentNotOnline). */
  retries?: RetryPolicy[];
  /** Leave out the TransientErrors retry (tasks that never throw them). Default: included. */
  noTransientRetry?: boolean;
  comment?: string;
}

/**
 * A Lambda Task with our conventions: the Resource is the function ARN itself
 * (payloadResponseOnly), the Payload is given explicitly, the result goes to `resultPath`,
 * and it retries Lambda service errors (2 s, x2, 3), Lambda throttling (2 s, x2, 30 s, 12, full
 * jitter) and TransientErrors (5 s, x2, 60 s max, 6,
 * full jitter). CDK's own service-exception retry is turned off so only the policies of the
 * README's "Errors" table apply.
 */
export function invoke(
  scope: Construct,
  stateName: string,
  fn: lambda.IFunction,
  payload: Payload,
  options: InvokeOptions,
): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, stateName, {
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject(payload),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    ...(options.resultPath !== undefined ? { resultPath: options.resultPath } : {}),
    ...(options.comment ? { comment: options.comment } : {}),
  });
  for (const policy of options.retries ?? []) addRetry(task, policy);
  addRetry(task, LambdaServiceRetry);
  addRetry(task, LambdaThrottleRetry);
  if (!options.noTransientRetry) addRetry(task, TransientRetry);
  return task;
}

/**
 * Like `invoke`, but the result REPLACES the state's input (no ResultPath at all): a Map item's
 * output is then just the task's small result, and the execution's output is the last task's
 * result. (An explicit `"ResultPath": "$"` means the same in AWS, but aws-local-stepfunctions
 * 3.0.0 writes the result under a key named "$" instead.)
 */
export function invokeReplacing(
  scope: Construct,
  stateName: string,
  fn: lambda.IFunction,
  payload: Payload,
  retries: RetryPolicy[] = [],
): tasks.LambdaInvoke {
  return invoke(scope, stateName, fn, payload, { retries });
}

/** Catch these errors into a compensation, error object at `resultPath` (default `$.error`). */
export function catchInto(
  states: readonly sfn.TaskStateBase[],
  errors: readonly ErrorName[],
  handler: sfn.IChainable,
  resultPath = '$.error',
): void {
  for (const state of states) state.addCatch(handler, { errors: [...errors], resultPath });
}

/** The execution name, from the context object. */
export const executionName = sfn.JsonPath.stringAt('$$.Execution.Name');

export interface MachineOptions {
  definition: sfn.IChainable;
  timeout: Duration;
  comment?: string;
}

/**
 * A Standard state machine with our conventions: fixed name, JSONPath, logging level ALL
 * without execution data (state data must never reach logs), X-Ray tracing, a timeout.
 */
export function makeStateMachine(scope: Construct, props: WorkflowProps, options: MachineOptions): sfn.StateMachine {
  return new sfn.StateMachine(scope, 'StateMachine', {
    stateMachineName: props.stateMachineName,
    stateMachineType: sfn.StateMachineType.STANDARD,
    queryLanguage: sfn.QueryLanguage.JSON_PATH,
    definitionBody: sfn.DefinitionBody.fromChainable(options.definition),
    timeout: options.timeout,
    tracingEnabled: true,
    logs: { destination: props.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    ...(options.comment ? { comment: options.comment } : {}),
  });
}

/** A Pass state that ends an execution early with a small, readable output. */
export function outcome(scope: Construct, stateName: string, parameters: Payload): sfn.Pass {
  return new sfn.Pass(scope, stateName, { parameters });
}
