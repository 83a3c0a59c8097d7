/**
 * "Check deletion cap" (reconcile): a dry run deletes nothing; more stale objects than
 * reconcile.maxDeletions throws DeletionCapExceeded, its Cause listing what would have been
 * deleted, and the run fails before any delete.
 */
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { checkDeletionCap, parseCheckCapInput } from './lib/reconcile';
import { makeTask } from './lib/task';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'reconcile', step: 'Check deletion cap' }, deps, parseCheckCapInput, (input, d) => Promise.resolve(checkDeletionCap(input, d)));
export const handler = makeHandler(defaultDeps);
