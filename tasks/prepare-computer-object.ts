/**
 * "Prepare computer object": makes (or reuses) the computer object the instance will join
 * with, with a fresh one-time password stored as a SecureString parameter for the join
 * document (tasks/lib/prepare.ts). The password is never logged or returned.
 */
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { routed } from './lib/routing';
import { prepareComputer } from './lib/prepare';
import { makeTask } from './lib/task';
import { parsePrepareComputerInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Prepare computer object' }, deps, parsePrepareComputerInput, routed(prepareComputer));
export const handler = makeHandler(defaultDeps);
