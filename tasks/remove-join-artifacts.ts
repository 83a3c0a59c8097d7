/**
 * "Remove what the join made" (compensation, for an instance that is gone): deletes the
 * computer objects that carry this instance's marker inside the managed OUs (nothing else),
 * their DNS records, and the join secret. Idempotent: a second run finds nothing to delete.
 */
import { defaultDeps } from './adapters/default-deps';
import { removeJoinArtifacts } from './lib/compensate';
import type { DepsProvider } from './lib/deps';
import { routed } from './lib/routing';
import { makeTask } from './lib/task';
import { parseCompensationInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Remove what the join made' }, deps, parseCompensationInput, routed(removeJoinArtifacts));
export const handler = makeHandler(defaultDeps);
