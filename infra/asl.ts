/**
 * The state machines as plain ASL JSON, straight from the CDK app: build the stacks in process
 * (no esbuild bundling), take the orchestrator template and resolve each state machine's
 * DefinitionString (Fn::Join, Fn::GetAtt …Arn of our fixed-name Lambdas, Ref of pseudo
 * parameters, DefinitionSubstitutions). The properties are resolved in the stack itself, which
 * is what the template would hold, without the seconds a full synthesis costs. The lab and the workflow tests run exactly this.
 *
 *   const { join, leave, reconcile, functionNames } = synthesizeDefinitions();
 *   const { join } = synthesizeDefinitions({ timings: { settleSeconds: 0 } });
 *
 * Results are cached per (overrides, options): call it once per test file freely.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { ConfigurationError } from '../tasks/lib/errors';
import type { Settings } from '../tasks/lib/settings';
import { functionName, TaskIds, type TaskId } from '../tasks/registry';
import { resolveConfig, toSettings, type AdjoinConfigInput } from './config';
import { createStacks } from './stacks';

export const SampleConfigFile = path.join(__dirname, 'sample-config.json');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
const isObj = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Overrides merged over infra/sample-config.json (objects merge, arrays and values replace). */
export type ConfigOverrides = DeepPartial<AdjoinConfigInput>;
export type DeepPartial<T> = T extends (infer U)[] ? U[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

export interface SynthesizeOptions {
  /** Account and Region of the function ARNs. Default: the configuration's env (the sample's
   *  111111111111 / eu-west-1), else 123456789012 / us-east-1. */
  account?: string;
  region?: string;
  /** Start from this config instead of the sample (relative names resolve against baseDir). */
  baseConfig?: AdjoinConfigInput;
  baseDir?: string;
}

export interface Definitions {
  join: JsonObject;
  'join-cleanup'?: JsonObject;
  leave?: JsonObject;
  reconcile?: JsonObject;
  /** Lambda function name per task (`${prefix}-${id}`). */
  functionNames: Record<TaskId, string>;
  /** Lambda function ARN per task, as it appears in the ASL Resource fields. */
  functionArns: Record<TaskId, string>;
  /** Function ARN → task id (what the lab maps to `makeHandler`). */
  taskByArn: Record<string, TaskId>;
  settings: Settings;
  account: string;
  region: string;
}

const cache = new Map<string, Definitions>();

/** The join/leave/reconcile ASL of the app built from the sample config (plus overrides). */
export function synthesizeDefinitions(overrides: ConfigOverrides = {}, options: SynthesizeOptions = {}): Definitions {
  const key = JSON.stringify([overrides, options]);
  const hit = cache.get(key);
  if (hit) return structuredClone(hit);

  const base = options.baseConfig ?? (JSON.parse(fs.readFileSync(SampleConfigFile, 'utf8')) as AdjoinConfigInput);
  const baseDir = options.baseConfig ? options.baseDir ?? process.cwd() : path.dirname(SampleConfigFile);
  const config = resolveConfig(deepMerge(base as unknown as JsonObject, overrides as unknown as JsonObject), { baseDir });
  const account = options.account ?? config.env.account ?? '123456789012';
  const region = options.region ?? config.env.region ?? 'us-east-1';

  // Resolving the CfnStateMachine properties in the stack gives what the template holds, without
  // a full synthesis (which costs seconds: asset staging, validation, manifest).
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const { orchestrator } = createStacks(app, config, { members: false });
  const lambdaNames: Record<string, string> = {};
  const machineNodes: sfn.CfnStateMachine[] = [];
  for (const node of orchestrator.node.findAll()) {
    if (node instanceof lambda.CfnFunction && typeof node.functionName === 'string') {
      lambdaNames[orchestrator.resolve(node.logicalId) as string] = node.functionName;
    } else if (node instanceof sfn.CfnStateMachine) machineNodes.push(node);
  }

  const resolver = new Resolver(lambdaNames, { account, region, partition: 'aws' });
  const machines: Record<string, JsonObject> = {};
  for (const node of machineNodes) {
    const name = resolver.resolve(orchestrator.resolve(node.stateMachineName) as Json);
    let text = resolver.resolve(orchestrator.resolve(node.definitionString) as Json);
    const substitutions = orchestrator.resolve(node.definitionSubstitutions) as Json | undefined;
    if (isObj(substitutions)) {
      for (const [k, v] of Object.entries(substitutions)) text = text.split(`\${${k}}`).join(resolver.resolve(v));
    }
    const workflow = name.startsWith(`${config.resourcePrefix}-`) ? name.slice(config.resourcePrefix.length + 1) : name;
    machines[workflow] = JSON.parse(text) as JsonObject;
  }
  const join = machines.join;
  if (!join) throw new ConfigurationError(['synthesizeDefinitions: the app has no join state machine']);

  const functionNames = Object.fromEntries(TaskIds.map((id) => [id, functionName(config.resourcePrefix, id)])) as Record<TaskId, string>;
  const functionArns = Object.fromEntries(TaskIds.map((id) => [id, `arn:aws:lambda:${region}:${account}:function:${functionNames[id]}`])) as Record<TaskId, string>;
  const result: Definitions = {
    join,
    ...(machines['join-cleanup'] ? { 'join-cleanup': machines['join-cleanup'] } : {}),
    ...(machines.leave ? { leave: machines.leave } : {}),
    ...(machines.reconcile ? { reconcile: machines.reconcile } : {}),
    functionNames,
    functionArns,
    taskByArn: Object.fromEntries(TaskIds.map((id) => [functionArns[id], id])),
    settings: toSettings(config),
    account,
    region,
  };
  cache.set(key, result);
  return structuredClone(result);
}

function deepMerge(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = out[k];
    out[k] = isObj(b) && isObj(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/** Resolves the CloudFormation intrinsics CDK uses in a DefinitionString to plain strings. */
class Resolver {
  constructor(
    /** Logical ID → function name of our fixed-name Lambda functions. */
    private readonly lambdaNames: Record<string, string>,
    private readonly env: { account: string; region: string; partition: string },
  ) {}

  resolve(value: Json | undefined): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (!isObj(value)) throw new ConfigurationError([`synthesizeDefinitions: cannot resolve ${JSON.stringify(value)}`]);
    const join = value['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) return join[1].map((p) => this.resolve(p)).join(join[0]);
    const ref = value.Ref;
    if (typeof ref === 'string') return this.ref(ref);
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && typeof getAtt[1] === 'string') return this.getAtt(getAtt[0], getAtt[1]);
    throw new ConfigurationError([`synthesizeDefinitions: unsupported intrinsic ${JSON.stringify(value).slice(0, 200)}`]);
  }

  private ref(name: string): string {
    switch (name) {
      case 'AWS::AccountId': return this.env.account;
      case 'AWS::Region': return this.env.region;
      case 'AWS::Partition': return this.env.partition;
      case 'AWS::URLSuffix': return 'amazonaws.com';
      default: {
        const fn = this.lambdaName(name);
        if (fn) return fn;
        throw new ConfigurationError([`synthesizeDefinitions: cannot resolve Ref ${name}`]);
      }
    }
  }

  private getAtt(logicalId: string, attribute: string): string {
    const fn = this.lambdaName(logicalId);
    if (fn && attribute === 'Arn') return `arn:${this.env.partition}:lambda:${this.env.region}:${this.env.account}:function:${fn}`;
    throw new ConfigurationError([`synthesizeDefinitions: cannot resolve Fn::GetAtt ${logicalId}.${attribute} (only our fixed-name Lambda functions)`]);
  }

  private lambdaName(logicalId: string): string | undefined {
    return this.lambdaNames[logicalId];
  }
}
