/**
 * Shared set-up for workflow tests: the REAL synthesized ASL (infra/asl.ts), the REAL task
 * handlers, the simulated ports (lab/sim) on a virtual clock, run by the local engine.
 *
 *   const w = workflowWorld(['join']);
 *   w.sim.fleet.addInstance({ instanceId: ID, tags: { 'Domain:Join': 'true' } });
 *   const run = await w.engine.start('join', w.ec2Event(ID, 'running'), { name: 'join-1' });
 */
import { synthesizeDefinitions, type ConfigOverrides, type Definitions } from '../../infra/asl';
import { LocalEngine, type EngineOptions, type ExecutionRecord } from '../../engine';
import { cleanUpFailedJoins, simDeps, type SimDeps, type SimDepsOptions } from '../../lab/sim';
import type { Ec2StateEvent } from '../../tasks/lib/contracts';

export type WorkflowName = 'join' | 'join-cleanup' | 'leave' | 'reconcile';

export interface WorkflowWorld {
  defs: Definitions;
  sim: SimDeps;
  engine: LocalEngine;
  /** The join-cleanup executions the engine started (a join ended FAILED / TIMED_OUT / ABORTED), in order. */
  cleanups: ExecutionRecord[];
  /** An EventBridge EC2 state-change event in the synthesized app's account and Region. */
  ec2Event(instanceId: string, state: string): Ec2StateEvent;
}

/** The synthesized definitions (cached by infra/asl.ts; the first call takes a few seconds). */
export const definitions = (overrides: ConfigOverrides = {}): Definitions => synthesizeDefinitions(overrides);

export function workflowWorld(
  workflows: WorkflowName[],
  options: {
    config?: ConfigOverrides;
    sim?: Omit<SimDepsOptions, 'baseSettings' | 'account' | 'region'>;
    engine?: Partial<EngineOptions>;
    /** Change the synthesized definitions before the engine loads them (e.g. a short TimeoutSeconds). */
    patch?: (defs: Definitions) => void;
  } = {},
): WorkflowWorld {
  const defs = definitions(options.config);
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
  const ec2Event = (instanceId: string, state: string): Ec2StateEvent => ({
    version: '0',
    id: `evt-${instanceId}-${state}`,
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: defs.account,
    region: defs.region,
    time: sim.clock.now().toISOString(),
    resources: [`arn:aws:ec2:${defs.region}:${defs.account}:instance/${instanceId}`],
    detail: { 'instance-id': instanceId, state },
  });
  return { defs, sim, engine, cleanups, ec2Event };
}
