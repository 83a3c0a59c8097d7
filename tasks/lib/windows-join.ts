/**
 * "Run Windows join document": the Windows branch of the join machine. The send / poll / redrive
 * / claim logic is the Linux one (tasks/lib/commands.ts runJoinDocument); what differs is here:
 *
 *   document   joinWindows (infra/documents/join-windows.ps1, `<prefix>-join-windows`)
 *   parameters windowsJoinParameters() (tasks/lib/windows.ts): the one-time password only as
 *              `{{ssm-secure:…}}`, the local groups from settings.windows
 *   deadline   settings.windows.commandDeadlineSeconds (default 1800 s): the join, the reboot
 *              the SSM Agent makes for exit 3010, the agent coming back, the second run
 *   the wait   while the instance reboots, GetCommandInvocation says InProgress or Delayed (and
 *              the agent's ping ConnectionLost): commandState() counts both as running, so the
 *              state keeps polling until the deadline; only a final status ends it
 *   failures   the document's exit codes (the same catalogue as join.sh), each with its meaning
 *              and the command's output in the Cause: 7 → VerificationFailed, else
 *              JoinCommandFailed
 */
import { runJoinDocument, type JoinCommand } from './commands';
import type { Invocation } from './poll';
import type { RunJoinInput, RunJoinOutput } from './contracts';
import type { Deps } from './deps';
import { JoinCommandFailed, VerificationFailed, type AdjoinError } from './errors';
import type { CommandResult } from './ports';
import { windowsJoinParameters } from './windows';
import { WINDOWS_DEFAULTS } from './windows-settings';

/** join-windows.ps1's exit codes and what each means to an operator. */
export const WindowsExitCodes: Record<number, string> = {
  2: 'a document parameter is missing or not valid',
  4: 'the domain does not resolve through the domain controllers (DNS) or they cannot be reached',
  5: 'the domain refused the join (a used or wrong one-time password, a missing computer object, the instance is joined elsewhere, or it could not leave the domain locally to join again)',
  6: 'the login groups could not be added to the local groups',
  7: 'the join worked but the verification failed (secure channel, probe users, local groups)',
};

export function windowsFailure(instanceId: string, commandId: string, result: CommandResult, output: string): AdjoinError {
  const code = result.exitCode !== undefined && result.exitCode >= 0 ? result.exitCode : undefined;
  const meaning = code !== undefined ? WindowsExitCodes[code] : undefined;
  const what = `Windows join command ${commandId} on ${instanceId} ended ${result.status}${code !== undefined ? ` (exit code ${code}${meaning ? `: ${meaning}` : ''})` : ''}.`;
  const tail = ` Fix the cause and redrive the execution. Output:\n${output}`;
  return code === 7 ? new VerificationFailed(what + tail) : new JoinCommandFailed(what + tail);
}

export const WindowsJoin: JoinCommand = {
  document: 'joinWindows',
  parameters: (settings, instance, computer) => windowsJoinParameters(settings, instance, computer),
  deadlineSeconds: (settings) => (settings.windows ?? WINDOWS_DEFAULTS).commandDeadlineSeconds,
  fail: windowsFailure,
};

export const runWindowsJoinDocument = (input: RunJoinInput, deps: Deps, invocation: Invocation = {}): Promise<RunJoinOutput> =>
  runJoinDocument(input, deps, invocation, WindowsJoin);
