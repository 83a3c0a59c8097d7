/**
 * "Run join document": sends the join document (adcli join with the one-time password, SSSD,
 * login groups, then the verification) once per redrive round, and polls it (JoinStillRunning
 * while it runs). A failed command fails the execution here (JoinCommandFailed, or
 * VerificationFailed for exit 7); a redrive sends anew with a fresh one-time password.
 */
import { defaultDeps } from './adapters/default-deps';
import { runJoinDocument } from './lib/commands';
import type { DepsProvider } from './lib/deps';
import { withHeartbeat } from './lib/lifecycle';
import { routed } from './lib/routing';
import { makeTask } from './lib/task';
import { parseRunJoinInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Run join document' }, deps, parseRunJoinInput, withHeartbeat(routed(runJoinDocument)));
export const handler = makeHandler(defaultDeps);
