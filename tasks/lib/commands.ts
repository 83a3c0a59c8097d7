/**
 * Sending our SSM documents and reading their results: shared by "Run join document",
 * "Verify NSS" and the two "Check …" states. Ports only (no SDK).
 *
 * Document parameters (the `# param:` header of infra/documents/join.sh and verify.sh):
 *   join:   DomainName, Realm, ComputerName, HostFqdn, DomainControllers, OneTimePassword,
 *           LoginGroups, IdMapping, DomainSid, ComputerOu, DomainController
 *   verify: DomainName, ProbeUsers, LoginGroups
 * The one-time password is passed only as `{{ssm-secure:<parameter>}}`: SSM resolves it on the
 * instance; the value never appears in the command, its history, or state data.
 */
import type { CheckCommandInput, CheckCommandOutput, CommandRef, PrepareComputerOutput, ReadInstanceOutput, RunCommandInput } from './contracts';
import type { Deps } from './deps';
import { AdjoinError, CommandTimedOut, JoinCommandFailed, VerificationFailed } from './errors';
import { assertNotGone } from './gone';
import { commandOutput } from './output';
import type { CommandResult } from './ports';
import type { Settings } from './settings';

export function joinParameters(settings: Settings, instance: ReadInstanceOutput, computer: PrepareComputerOutput): Record<string, string> {
  const d = settings.directory;
  return {
    DomainName: d.domain.toLowerCase(),
    Realm: d.domain.toUpperCase(),
    ComputerName: computer.name,
    HostFqdn: computer.fqdn,
    DomainControllers: d.dcIps.join(','),
    OneTimePassword: `{{ssm-secure:${computer.secretName}}}`,
    LoginGroups: instance.loginGroups.join(','),
    IdMapping: d.idMapping.mode,
    DomainSid: d.idMapping.mode === 'sid' ? d.idMapping.domainSid : '',
    ComputerOu: d.computerOu,
    DomainController: computer.domainController ?? '-',
  };
}

export function verifyParameters(settings: Settings, instance: ReadInstanceOutput): Record<string, string> {
  return {
    DomainName: settings.directory.domain.toLowerCase(),
    ProbeUsers: settings.directory.probeUsers.join(','),
    LoginGroups: instance.loginGroups.join(','),
  };
}

/** Run Command's comment (<= 100 characters): execution and step, never a secret. */
export const commandComment = (executionName: string, document: 'join' | 'verify'): string =>
  `adjoin ${document} ${executionName}`.slice(0, 100);

/**
 * Sends `document` unless `previous` is a failed command of this redrive round: then it throws
 * (JoinCommandFailed / VerificationFailed) with that command's output, so the execution fails
 * *here* and a redrive (next round) sends a fresh command.
 */
export async function sendDocument(
  input: RunCommandInput,
  document: 'join' | 'verify',
  parameters: Record<string, string>,
  deps: Deps,
): Promise<CommandRef> {
  const { instance, previous, redriveCount, executionName } = input;
  if (previous && previous.state === 'failed' && previous.redriveCount === redriveCount) {
    const what = `${document === 'join' ? 'Join' : 'Verification'} command ${previous.commandId} on ${instance.instanceId} ended ${previous.status}` +
      `${previous.exitCode !== undefined ? ` (exit code ${previous.exitCode})` : ''}. Fix the cause and redrive the execution. Output:\n${previous.output}`;
    throw document === 'join' ? new JoinCommandFailed(what) : new VerificationFailed(what);
  }
  const fleet = deps.fleetFor(instance);
  let commandId: string;
  try {
    commandId = await fleet.sendCommand({
      instanceId: instance.instanceId,
      document,
      parameters,
      comment: commandComment(executionName, document),
      timeoutSeconds: deps.settings.timings.commandDeadlineSeconds,
    });
  } catch (err) {
    if (err instanceof AdjoinError && !err.transient) await assertNotGone(fleet, instance.instanceId);
    throw err;
  }
  deps.logger.info('Command sent', { document, commandId, redriveCount });
  return { commandId, document, sentAt: deps.clock.now().toISOString(), redriveCount };
}

/** "Run join document": the join document with its parameters. */
export const runJoinDocument = (input: RunCommandInput, deps: Deps): Promise<CommandRef> =>
  sendDocument(input, 'join', joinParameters(deps.settings, input.instance, input.computer), deps);

/** "Verify NSS": the verify document (getent passwd / id of the probe users). */
export const verifyNss = (input: RunCommandInput, deps: Deps): Promise<CommandRef> =>
  sendDocument(input, 'verify', verifyParameters(deps.settings, input.instance), deps);

/** Run Command status → our state machine's view. */
export function commandState(status: CommandResult['status']): CheckCommandOutput['state'] | 'undeliverable' {
  switch (status) {
    case 'Pending':
    case 'InProgress':
    case 'Delayed':
    case 'Cancelling':
      return 'running';
    case 'Success':
      return 'succeeded';
    case 'Failed':
    case 'TimedOut':
    case 'Cancelled':
      return 'failed';
    case 'Undeliverable':
    case 'Terminated':
      return 'undeliverable';
  }
}

export async function checkCommand(input: CheckCommandInput, deps: Deps): Promise<CheckCommandOutput> {
  const { instance, command } = input;
  const fleet = deps.fleetFor(instance);
  const result = await fleet.getCommand(command.commandId, instance.instanceId);
  let state = commandState(result.status);
  const output = commandOutput(result.stdout, result.stderr);
  if (state === 'running') {
    const elapsed = (deps.clock.now().getTime() - Date.parse(command.sentAt)) / 1000;
    const deadline = deps.settings.timings.commandDeadlineSeconds;
    if (elapsed > deadline)
      throw new CommandTimedOut(
        `${command.document} command ${command.commandId} on ${instance.instanceId} is still ${result.status} ` +
          `${Math.round(elapsed)} s after it was sent (deadline ${deadline} s). Check the instance and Run Command history; redrive to check again.` +
          (output ? `\nOutput so far:\n${output}` : ''),
      );
  }
  if (state === 'undeliverable') {
    await assertNotGone(fleet, instance.instanceId);
    state = 'failed';
  }
  return {
    commandId: command.commandId,
    document: command.document,
    redriveCount: command.redriveCount,
    state,
    status: result.status,
    ...(result.exitCode !== undefined && result.exitCode >= 0 ? { exitCode: result.exitCode } : {}),
    output,
  };
}
