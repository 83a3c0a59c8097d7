/**
 * "Run join document": sends the join document (adcli join with the one-time password, SSSD,
 * login groups). If the previous join command of this redrive round failed, throws
 * JoinCommandFailed with its output: the execution fails here and a redrive sends anew.
 */
import { defaultDeps } from './adapters/default-deps';
import { runJoinDocument } from './lib/commands';
import type { DepsProvider } from './lib/deps';
import { makeTask } from './lib/task';
import { parseRunCommandInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Run join document' }, deps, parseRunCommandInput, runJoinDocument);
export const handler = makeHandler(defaultDeps);
