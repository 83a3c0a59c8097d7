/**
 * Lambda resources → local task handlers. Every Task state of a definition must resolve to a
 * task of tasks/registry.ts (function name `<prefix>-<task id>`); the handler is the task
 * module's own `makeHandler(deps)`, the very code that runs in Lambda.
 *
 * Two Resource shapes are understood:
 *  - the function ARN or name (CDK LambdaInvoke with payloadResponseOnly): input = Payload,
 *    output = the function's return value;
 *  - `arn:aws:states:::lambda:invoke` with Parameters.FunctionName: input = { FunctionName,
 *    Payload }, output = { Payload, StatusCode: 200, ... } like the real integration.
 */
import { ConfigurationError } from '../tasks/lib/errors';
import type { DepsProvider } from '../tasks/lib/deps';
import { TaskIds, functionName, type TaskId } from '../tasks/registry';
import { allStates, cloneJson, isObject, type AslDefinition, type Json } from './asl';

/** A task handler as the engine calls it: JSON in, JSON out (or a promise of it), errors thrown with their name. */
export type TaskHandler = (input: unknown) => unknown;
export type LocalHandler = (input: Json) => Promise<Json>;

const LAMBDA_INVOKE = /^arn:aws[a-z-]*:states:::lambda:invoke$/;
const FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]+)(:[A-Za-z0-9_$-]+)?$/;

/** The function name a Lambda ARN / name / partial ARN refers to, or undefined. */
export function functionNameOf(resource: string): string | undefined {
  const arn = FUNCTION_ARN.exec(resource);
  if (arn) return arn[1];
  if (/^[A-Za-z0-9_-]{1,64}$/.test(resource)) return resource;
  const partial = /^\d{12}:function:([A-Za-z0-9_-]+)$/.exec(resource);
  return partial?.[1];
}

export interface TaskBinding {
  state: string;
  taskId: TaskId;
  /** true: Resource is lambda:invoke and the result is wrapped in { Payload }. */
  wrapped: boolean;
}

/** Resolves every Task state to a task id; throws ConfigurationError naming each one that does not. */
export function bindTasks(def: AslDefinition, prefix: string, label: string): TaskBinding[] {
  const byName = new Map<string, TaskId>(TaskIds.map((id) => [functionName(prefix, id), id]));
  const problems: string[] = [];
  const out: TaskBinding[] = [];
  for (const { name, state, parents } of allStates(def)) {
    if (state.Type !== 'Task') continue;
    const where = `${label}: state "${[...parents, name].join(' / ')}"`;
    const resource = state.Resource;
    if (typeof resource !== 'string') {
      problems.push(`${where}: field Resource: missing`);
      continue;
    }
    let fn: string | undefined;
    let wrapped = false;
    if (LAMBDA_INVOKE.test(resource)) {
      wrapped = true;
      const params = state.Parameters;
      const target = isObject(params) ? params.FunctionName : undefined;
      if (typeof target !== 'string') {
        problems.push(`${where}: field Parameters.FunctionName: must be a fixed function name or ARN for the local engine`);
        continue;
      }
      fn = functionNameOf(target);
    } else {
      fn = functionNameOf(resource);
    }
    const taskId = fn === undefined ? undefined : byName.get(fn);
    if (taskId === undefined) {
      problems.push(`${where}: field Resource: ${JSON.stringify(resource)} is not a task of tasks/registry.ts (expected function ${prefix}-<task id>)`);
      continue;
    }
    out.push({ state: name, taskId, wrapped });
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return out;
}

interface TaskModule {
  makeHandler?: unknown;
}

/** Loads tasks/<id>.ts and calls its makeHandler(deps). Throws loudly when the module is missing. */
export function loadTaskHandler(taskId: TaskId, deps: DepsProvider): TaskHandler {
  let mod: TaskModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(`../tasks/${taskId}`) as TaskModule;
  } catch (err) {
    throw new ConfigurationError([`tasks/${taskId}.ts: cannot be loaded (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`]);
  }
  if (typeof mod.makeHandler !== 'function')
    throw new ConfigurationError([`tasks/${taskId}.ts: does not export makeHandler(deps)`]);
  const handler: unknown = (mod.makeHandler as (d: DepsProvider) => unknown)(deps);
  if (typeof handler !== 'function') throw new ConfigurationError([`tasks/${taskId}.ts: makeHandler(deps) did not return a function`]);
  return handler as TaskHandler;
}

/**
 * The engine-facing handler: JSON-copies input and output (as Lambda's wire does: a Date becomes
 * a string, undefined fields vanish) and wraps the result for lambda:invoke resources.
 */
export function localHandler(binding: TaskBinding, handler: TaskHandler): LocalHandler {
  return async (input: Json): Promise<Json> => {
    const payload: Json = binding.wrapped ? (isObject(input) ? (input.Payload ?? null) : null) : input;
    const result = await handler(cloneJson(payload));
    const json: Json = result === undefined ? null : cloneJson(result as Json);
    return binding.wrapped ? { ExecutedVersion: '$LATEST', Payload: json, StatusCode: 200 } : json;
  };
}
