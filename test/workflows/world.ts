/**
 * Shared set-up for workflow tests: the REAL synthesized ASL (infra/asl.ts), the REAL task
 * handlers, the simulated ports (lab/sim) on a virtual clock, run by the local engine.
 *
 *   const w = workflowWorld(['join']);
 *   w.sim.fleet.addInstance({ instanceId: ID, tags: { 'Domain:Join': 'true' } });
 *   const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-1' });
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { synthesizeDefinitions, type ConfigOverrides, type Definitions } from '../../infra/asl';
import type { AdjoinConfigInput } from '../../infra/config';
import { LocalEngine, type EngineOptions, type ExecutionRecord } from '../../engine';
import { cleanUpFailedJoins, simDeps, type SimDeps, type SimDepsOptions } from '../../lab/sim';
import type { SimLifecycleAction } from '../../lab/sim/fleet';
import type { Ec2StateEvent } from '../../tasks/lib/contracts';

/** Where an event comes from (default: the synthesized app's account and Region). */
export interface EventSource {
  account?: string;
  region?: string;
}

export type WorkflowName = 'join' | 'join-cleanup' | 'leave' | 'reconcile';

export interface WorkflowWorld {
  defs: Definitions;
  sim: SimDeps;
  engine: LocalEngine;
  /** The join-cleanup executions the engine started (a join ended FAILED / TIMED_OUT / ABORTED), in order. */
  cleanups: ExecutionRecord[];
  /** An EventBridge EC2 state-change event in the synthesized app's account and Region. */
  ec2Event(instanceId: string, state: string, from?: EventSource): Ec2StateEvent;
  /** The "EC2 Instance-launch/terminate Lifecycle Action" event of a simulated lifecycle action. */
  lifecycleEvent(action: SimLifecycleAction, from?: EventSource): Record<string, unknown>;
  /** A "Tag Change on Resource" event: `tags` is the instance's whole tag set after the change. */
  tagEvent(instanceId: string, changed: string[], tags: Record<string, string>, from?: EventSource): Record<string, unknown>;
}

const ORGANIZATION_SAMPLE = path.join(__dirname, '..', '..', 'infra', 'sample-config.organization.json');

/**
 * The synthesized definitions (cached by infra/asl.ts; the first call takes a few seconds).
 * `organization`: from infra/sample-config.organization.json (every entry point, two directories).
 */
export const definitions = (overrides: ConfigOverrides = {}, organization = false): Definitions =>
  organization
    ? synthesizeDefinitions(overrides, { baseConfig: JSON.parse(fs.readFileSync(ORGANIZATION_SAMPLE, 'utf8')) as AdjoinConfigInput, baseDir: path.dirname(ORGANIZATION_SAMPLE) })
    : synthesizeDefinitions(overrides);

export function workflowWorld(
  workflows: WorkflowName[],
  options: {
    config?: ConfigOverrides;
    /** Start from infra/sample-config.organization.json instead of the one-account sample. */
    organization?: boolean;
    sim?: Omit<SimDepsOptions, 'baseSettings' | 'account' | 'region'>;
    engine?: Partial<EngineOptions>;
    /** Change the synthesized definitions before the engine loads them (e.g. a short TimeoutSeconds). */
    patch?: (defs: Definitions) => void;
  } = {},
): WorkflowWorld {
  const defs = definitions(options.config, options.organization);
  options.patch?.(defs);
  const sim = simDeps({ ...options.sim, baseSettings: defs.settings, account: defs.account, region: defs.region });
  const machines: Record<string, unknown> = {};
  // As deployed: a join that ends badly starts the join-cleanup machine (EventBridge rule).
  const wanted = workflows.includes('join') && !workflows.includes('join-cleanup') ? [...workflows, 'join-cleanup' as const] : workflows;
  const cleanups: ExecutionRecord[] = [];
  for (const w of wanted) {
    const def = defs[w];
    if (def === undefined) throw new Error(`synthesizeDefinitions() has no ${w} state machine`);
    machines[w] = def;
  }
  const engine = new LocalEngine(machines, {
    deps: sim.provider,
    clock: sim.clock,
    account: defs.account,
    region: defs.region,
    onEnd: cleanUpFailedJoins(sim.executions, { onCleanup: (run) => cleanups.push(run) }),
    ...options.engine,
  });
  /** The EventBridge envelope; `resource(account, region)` is the ARN the event names. */
  const envelope = (detailType: string, source: string, id: string, from: EventSource = {}, resource: (account: string, region: string) => string) => {
    const account = from.account ?? defs.account;
    const region = from.region ?? defs.region;
    return { version: '0', id, 'detail-type': detailType, source, account, region, time: sim.clock.now().toISOString(), resources: [resource(account, region)] };
  };
  const instanceArn = (id: string) => (account: string, region: string) => `arn:aws:ec2:${region}:${account}:instance/${id}`;
  const ec2Event = (instanceId: string, state: string, from?: EventSource): Ec2StateEvent => ({
    ...envelope('EC2 Instance State-change Notification', 'aws.ec2', `evt-${instanceId}-${state}`, from, instanceArn(instanceId)),
    detail: { 'instance-id': instanceId, state },
  });
  const lifecycleEvent = (a: SimLifecycleAction, from?: EventSource): Record<string, unknown> => {
    const launch = a.transition === 'launch';
    return {
      ...envelope(launch ? 'EC2 Instance-launch Lifecycle Action' : 'EC2 Instance-terminate Lifecycle Action', 'aws.autoscaling', `evt-${a.lifecycleActionToken}`, from,
        (account, region) => `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:1:autoScalingGroupName/${a.autoScalingGroupName}`),
      detail: {
        LifecycleActionToken: a.lifecycleActionToken,
        AutoScalingGroupName: a.autoScalingGroupName,
        LifecycleHookName: a.lifecycleHookName,
        EC2InstanceId: a.instanceId,
        LifecycleTransition: launch ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING',
      },
    };
  };
  const tagEvent = (instanceId: string, changed: string[], tags: Record<string, string>, from?: EventSource): Record<string, unknown> => ({
    ...envelope('Tag Change on Resource', 'aws.tag', `evt-${instanceId}-tags`, from, instanceArn(instanceId)),
    detail: { 'changed-tag-keys': changed, service: 'ec2', 'resource-type': 'instance', version: 3, tags },
  });
  return { defs, sim, engine, cleanups, ec2Event, lifecycleEvent, tagEvent };
}
