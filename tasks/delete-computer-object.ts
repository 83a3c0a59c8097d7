/**
 * "Delete computer object" (a Map item of leave and reconcile): reads the object again, asks
 * EC2 again, re-checks every safety rule (marker, managed OU, age, instance gone, no join
 * running) and only then removes its DNS records and tree-deletes it. A refusal throws
 * UnsafeDeleteRefused (the workflows count it as skipped); an absent object is "already gone".
 */
import { defaultDeps } from './adapters/default-deps';
import type { DeleteObjectInput } from './lib/contracts';
import { deleteComputerObject } from './lib/delete';
import type { DepsProvider } from './lib/deps';
import { makeTask, type TaskMeta } from './lib/task';
import { parseDeleteObjectInput } from './lib/validate';

/** Reconcile passes its grace period with every item; leave never does. */
const meta: TaskMeta<DeleteObjectInput> = {
  workflow: (input) => (input.graceSeconds === undefined ? 'leave' : 'reconcile'),
  step: 'Delete computer object',
};

export const makeHandler = (deps: DepsProvider) => makeTask(meta, deps, parseDeleteObjectInput, deleteComputerObject);
export const handler = makeHandler(defaultDeps);
