/**
 * "Verify NSS": sends the verify document (getent passwd / id of the probe users). If the
 * previous verification of this redrive round failed, throws VerificationFailed with its
 * getent/id output.
 */
import { defaultDeps } from './adapters/default-deps';
import { sendDocument, verifyParameters } from './lib/commands';
import type { CommandRef, RunCommandInput } from './lib/contracts';
import type { Deps, DepsProvider } from './lib/deps';
import { makeTask } from './lib/task';
import { parseRunCommandInput } from './lib/validate';

export const verifyNss = (input: RunCommandInput, deps: Deps): Promise<CommandRef> =>
  sendDocument(input, 'verify', verifyParameters(deps.settings, input.instance), deps);

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Verify NSS' }, deps, parseRunCommandInput, verifyNss);
export const handler = makeHandler(defaultDeps);
