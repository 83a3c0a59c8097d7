/**
 * The one boundary between the CLI and the lab: the lab world (lab/world: up, down, status,
 * launch, terminate, exec), the execution store (engine/store.ts, readable without root), and
 * the lab runtime (lab-runtime.ts, loaded lazily): the local engine wired to the lab world's
 * ports, which runs an execution for an EC2 event and redrives a recorded one.
 */
import * as world from '../lab/world';
import { ExecutionStore } from '../engine';
import { failed } from './exit';
import type { LabGroups } from './lab-commands';
import type { LabRuntime } from './lab-runtime';

export type LabWorld = Pick<
  typeof world,
  'up' | 'down' | 'status' | 'launch' | 'terminate' | 'exec' | 'dcLdapSearch' | 'isUp' | 'stopDc' | 'startDc' | 'isolateDc' | 'reconnectDc' | 'pauseReplicationToDc2' | 'resumeReplicationToDc2'
>;

export const labWorld: LabWorld = world;

export const labStore = (): ExecutionStore => new ExecutionStore();

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
