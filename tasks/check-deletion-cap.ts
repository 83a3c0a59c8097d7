/**
 * "Check deletion cap" (reconcile): a dry run deletes nothing; more stale objects than
 * reconcile.maxDeletions throws DeletionCapExceeded, its Cause listing what would have been
 * deleted, and the run fails before any delete.
 */
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { checkDeletionCap } from './lib/reconcile';
import { makeTask } from './lib/task';
import { parseCheckCapInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) => makeTask({ workflow: 'reconcile', step: 'Check deletion cap' }, deps, parseCheckCapInput, checkDeletionCap);
export const handler = makeHandler(defaultDeps);
