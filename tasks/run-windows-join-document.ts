/**
 * "Run Windows join document": sends the Windows join document (join-windows.ps1: unsecured
 * join with the one-time password, exit 3010 and SSM's reboot, the second run retires the
 * password, grants RDP, verifies) once per redrive round, and polls it (JoinStillRunning while
 * it runs, the reboot included). A failed command fails the execution here (JoinCommandFailed,
 * or VerificationFailed for exit 7) with the command's output; tasks/lib/windows-join.ts.
 */
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { withHeartbeat } from './lib/lifecycle';
import { routed } from './lib/routing';
import { makeTask } from './lib/task';
import { parseRunJoinInput } from './lib/validate';
import { runWindowsJoinDocument } from './lib/windows-join';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Run Windows join document' }, deps, parseRunJoinInput, withHeartbeat(routed(runWindowsJoinDocument)));
export const handler = makeHandler(defaultDeps);
