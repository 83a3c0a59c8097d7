/**
 * "Clean up failed join" (the join-cleanup machine): a join execution ended FAILED, TIMED_OUT or
 * ABORTED; revoke its one-time password, delete the parameter, mark the claim failed and tag the
 * instance. Input: the Step Functions status-change event's detail.
 */
import { defaultDeps } from './adapters/default-deps';
import { cleanUpFailedJoin } from './lib/cleanup';
import type { DepsProvider } from './lib/deps';
import { makeTask } from './lib/task';
import { parseCleanupInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join-cleanup', step: 'Clean up failed join' }, deps, parseCleanupInput, cleanUpFailedJoin);
export const handler = makeHandler(defaultDeps);
