/**
 * "Record leave": the outcome of a leave (what was deleted, what was skipped and why), logged
 * and returned as the execution's output. No tags are written on the terminated instance.
 */
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { recordLeave } from './lib/leave';
import { makeTask } from './lib/task';
import { parseRecordLeaveInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) => makeTask({ workflow: 'leave', step: 'Record leave' }, deps, parseRecordLeaveInput, recordLeave);
export const handler = makeHandler(defaultDeps);
