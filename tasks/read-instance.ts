/**
 * "Read instance": validates the EC2 event, reads the instance, decides whether to join it,
 * and claims it (status tags) so duplicate events and concurrent executions leave it alone.
 * InvalidInput (malformed event or login-group tag) fails the execution with nothing done.
 */
import { defaultDeps } from './adapters/default-deps';
import { readInstance } from './lib/claim';
import type { DepsProvider } from './lib/deps';
import { makeTask } from './lib/task';
import { parseReadInstanceInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Read instance' }, deps, parseReadInstanceInput, readInstance);
export const handler = makeHandler(defaultDeps);
