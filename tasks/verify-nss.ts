/**
 * "Verify NSS": sends the verify document (getent passwd / id of the probe users). If the
 * previous verification of this redrive round failed, throws VerificationFailed with its
 * getent/id output.
 */
import { defaultDeps } from './adapters/default-deps';
import { verifyNss } from './lib/commands';
import type { DepsProvider } from './lib/deps';
import { makeTask } from './lib/task';
import { parseRunCommandInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Verify NSS' }, deps, parseRunCommandInput, verifyNss);
export const handler = makeHandler(defaultDeps);
