/**
 * The one boundary between the CLI and the lab: the lab world (lab/world: up, down, status,
 * launch, terminate, exec), the execution store (engine/store.ts, readable without root), and
 * the lab runtime (lab-runtime.ts, loaded lazily): the local engine wired to the lab world's
 * ports, which runs an execution for an EC2 event and redrives a recorded one.
 */
import * as world from '../lab/world';
import { ExecutionStore } from '../engine';
import { failed } from './exit';
import type { LifecycleAction } from '../tasks/lib/ports';
import type { LabRuntime } from './lab-runtime';

export type LabWorld = Pick<
  typeof world,
  'up' | 'down' | 'status' | 'launch' | 'terminate' | 'exec' | 'dcLdapSearch' | 'isUp' | 'stopDc' | 'startDc' | 'isolateDc' | 'reconnectDc' | 'pauseReplicationToDc2' | 'resumeReplicationToDc2'
>;

export const labWorld: LabWorld = world;

export const labStore = (): ExecutionStore => new ExecutionStore();

/** What `lab launch --asg` and `lab status` need of the lab's groups (LabAutoScaling.inLab()). */
export interface LabGroups {
  /** Adds the group with our launch and terminate hooks, unless it is there already. */
  addGroup(spec: { name: string; hooks: { launch: string; terminate: string }; heartbeatTimeoutSeconds: number; defaultResult: 'ABANDON' | 'CONTINUE' }): void;
  /** The instance launched into the group: its launch action (it waits in Pending:Wait). */
  launched(instanceId: string, group: string): LifecycleAction | undefined;
  membership(instanceId: string): { group: string; lifecycleState: string } | undefined;
}

/** The lab's simulated Auto Scaling groups (a journal in the lab's state directory: every process sees them). */
export const labGroups = async (): Promise<LabGroups> => (await import('../lab/world/autoscaling')).LabAutoScaling.inLab();

/** The account and Region the lab's instances live in. */
export const labIdentity = { account: world.LAB_ACCOUNT, region: world.LAB_REGION };

/**
 * Loads the lab runtime (engine + lab deps + the ASL synthesized from infra/). It needs the lab
 * up (its settings come from the lab's state); when it is not, this fails with a clear message.
 */
export async function loadLabRuntime(): Promise<LabRuntime> {
  if (!(await world.isUp().catch(() => false))) {
    throw failed('The lab is not up.', 'Run `adjoin lab up` first (as root).');
  }
  const { makeLabRuntime } = await import('./lab-runtime');
  return makeLabRuntime({ store: labStore() });
}
