/**
 * "Delete computer object" (a Map item of leave and reconcile): reads the object again, asks
 * EC2 again, re-checks every safety rule (marker, managed OU, age, instance gone, no join
 * running) and only then removes its DNS records and tree-deletes it. A refusal throws
 * UnsafeDeleteRefused (the workflows count it as skipped); an absent object is "already gone".
 */
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { deleteComputerObject, parseDeleteObjectInput } from './lib/leave';
import { makeTask } from './lib/task';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'leave', step: 'Delete computer object' }, deps, parseDeleteObjectInput, deleteComputerObject);
export const handler = makeHandler(defaultDeps);
