/**
 * "Find stale objects" (reconcile): pages the managed OU(s), cross-checks EC2 in batches per
 * account and Region, and returns counts plus a bounded list of objects every safety rule
 * allows deleting. Any EC2 error throws (retried, then the run fails): never "instance gone".
 */
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { findStaleObjects } from './lib/reconcile';
import { makeTask } from './lib/task';
import { parseFindStaleInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) => makeTask({ workflow: 'reconcile', step: 'Find stale objects' }, deps, parseFindStaleInput, findStaleObjects);
export const handler = makeHandler(defaultDeps);
