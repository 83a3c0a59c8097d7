/**
 * "Run join document": ONE SSM command per redrive round runs the join document — the join
 * (infra/documents/join.sh) with the verification appended (verify.sh: directory users resolve
 * through NSS; exit 7 when they do not). The task both sends and polls; it polls inside the
 * invocation for a bounded time (waitForJoinCommand, tasks/lib/poll.ts):
 *
 *   no command for this round in the claim  → a LIVE one-time password (Prepare's one, or a
 *       fresh one when the old one may be revoked), send, record commandId + round in the
 *       claim, then poll it like below (after a first pause)
 *   a command for this round                → GetCommandInvocation every ~5 s (jittered):
 *       running       → poll again; JoinStillRunning when the invocation's budget is spent
 *                       (the state's retry invokes it again), CommandTimedOut past the command deadline
 *       succeeded     → the result
 *       failed        → JoinCommandFailed (VerificationFailed for exit 7), the output as Cause
 *       undeliverable → InstanceGone when the instance is gone, else JoinCommandFailed
 *
 * Document parameters (the `# param:` headers of join.sh and verify.sh): DomainName, Realm,
 * ComputerName, HostFqdn, DomainControllers, OneTimePassword, LoginGroups, IdMapping, DomainSid,
 * ComputerOu, DomainController (the DC that wrote the object or its password, '-' = any),
 * ProbeUsers. The one-time password is passed only as `{{ssm-secure:<parameter>}}`:
 * SSM resolves it on the instance; the value never appears in the command, its history, or
 * state data. Ports only (no SDK).
 */
import { holdClaim } from './claim';
import { claimKey } from './claims';
import type { PrepareComputerOutput, ReadInstanceOutput, RunJoinInput, RunJoinOutput } from './contracts';
import type { Deps } from './deps';
import { AdjoinError, ClaimLost, CommandTimedOut, JoinCommandFailed, JoinStillRunning, VerificationFailed } from './errors';
import { assertNotGone } from './gone';
import { linuxJoinParameters } from './linux-settings';
import { commandOutput } from './output';
import { waitInLine } from './pace';
import { InLambdaWait, pollBudgetMs, pollWithin, type Invocation } from './poll';
import type { CommandResult, SendCommandRequest } from './ports';
import { prepareComputer } from './prepare';
import type { Settings } from './settings';

/** The exit code of the join document when the join worked but directory users do not resolve. */
export const VERIFICATION_EXIT_CODE = 7;

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
    ProbeUsers: d.probeUsers.join(','),
    DomainController: computer.domainController ?? '-',
    ...linuxJoinParameters(settings.linux),
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
export const commandComment = (executionName: string, document: SendCommandRequest['document']): string =>
  `adjoin ${document} ${executionName}`.slice(0, 100);

/** Run Command status → our state machine's view. */
export function commandState(status: CommandResult['status']): 'running' | 'succeeded' | 'failed' | 'undeliverable' {
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

const fail = (instanceId: string, commandId: string, result: CommandResult, output: string): AdjoinError => {
  const code = result.exitCode !== undefined && result.exitCode >= 0 ? ` (exit code ${result.exitCode})` : '';
  if (result.exitCode === VERIFICATION_EXIT_CODE)
    return new VerificationFailed(
      `The join of ${instanceId} worked, but directory users do not resolve (command ${commandId}${code}). ` +
        `Fix the cause and redrive the execution. Output:\n${output}`,
    );
  return new JoinCommandFailed(
    `Join command ${commandId} on ${instanceId} ended ${result.status}${code}. Fix the cause and redrive the execution. Output:\n${output}`,
  );
};

/**
 * The command is sent: its ID MUST reach the claim, or the retry would send a second command.
 * A transient failure (throttling past the SDK's own retries) is retried here, a few times over
 * about 6 s with full jitter, before it is let through.
 */
async function persist<T>(write: () => Promise<T>, attempts = 6): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await write();
    } catch (err) {
      if (!(err instanceof AdjoinError) || !err.transient || n >= attempts) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 100 * 2 ** n));
    }
  }
}

/**
 * What differs between the join documents (Linux here, Windows in tasks/lib/windows-join.ts):
 * which document, its parameters, its deadline, and how a failed command reads.
 */
export interface JoinCommand {
  document: SendCommandRequest['document'];
  parameters: (settings: Settings, instance: ReadInstanceOutput, computer: PrepareComputerOutput) => Record<string, string>;
  deadlineSeconds: (settings: Settings) => number;
  fail: (instanceId: string, commandId: string, result: CommandResult, output: string) => AdjoinError;
}

/** The Linux join document (join.sh + verify.sh). */
export const LinuxJoin: JoinCommand = {
  document: 'join',
  parameters: joinParameters,
  deadlineSeconds: (settings) => settings.timings.commandDeadlineSeconds,
  fail,
};

export async function runJoinDocument(
  input: RunJoinInput,
  deps: Deps,
  invocation: Invocation = {},
  command: JoinCommand = LinuxJoin,
): Promise<RunJoinOutput> {
  const { instance, redriveCount, executionName } = input;
  const fleet = deps.fleetFor(instance);
  const key = claimKey(instance);
  const claim = await holdClaim(instance, executionName, deps);
  if (claim.status === 'joined' && claim.commandId !== undefined)
    return { commandId: claim.commandId, status: 'Success', redriveCount, output: 'already joined (the claim says so)' };

  if (claim.commandId !== undefined && claim.round === redriveCount)
    return waitForJoinCommand({ instance, executionName, redriveCount, commandId: claim.commandId, sentAt: claim.sentAt }, deps, invocation, command);

  // A new round. Prepare's one-time password is live only when nothing revoked it since
  // (the cleanup resets it and deletes the parameter; a failed command may have used it).
  let computer = input.computer;
  const live = claim.phase === 'prepared' && claim.commandId === undefined && claim.status === 'joining';
  // In line for SendCommand (tasks/lib/pace.ts): FIFO across the account's joins, within this
  // invocation's budget. No slot in time: JoinStillRunning (not yet sent), and the state's retry
  // brings this round back into the line; nothing was done (a fresh one-time password is made
  // only once the slot is ours: the claim keeps the old round's command until the send, so a
  // password made before the wait would be made again by every retry in line).
  const line = await waitInLine(deps, instance, 'sendCommand', deps.clock.now().getTime() + pollBudgetMs(deps.clock, invocation));
  if (!line.slot) {
    const ahead = line.lineEndsMs === undefined ? '' : `; the line reaches ${Math.round((line.lineEndsMs - deps.clock.now().getTime()) / 1000)} s ahead`;
    throw new JoinStillRunning(
      `The join command for ${instance.instanceId} (round ${redriveCount}) is not sent yet: waiting in line for SendCommand ` +
        `(${deps.settings.pacing?.sendCommand ?? 0} per second in ${instance.account}/${instance.region}, pacing.sendCommand${ahead}; ` +
        `waited ${Math.round(line.waitedMs / 1000)} s in this invocation).`,
    );
  }
  if (line.waitedMs >= 1000) deps.logger.info('Waited in line for SendCommand', { waitedMs: Math.round(line.waitedMs) });
  if (!live) computer = await prepareComputer({ instance, executionName }, deps);
  let commandId: string;
  try {
    commandId = await fleet.sendCommand({
      instanceId: instance.instanceId,
      document: command.document,
      parameters: command.parameters(deps.settings, instance, computer),
      comment: commandComment(executionName, command.document),
      timeoutSeconds: command.deadlineSeconds(deps.settings),
    });
  } catch (err) {
    if (err instanceof AdjoinError && !err.transient) await assertNotGone(fleet, instance.instanceId);
    throw err;
  }
  const sentAt = Math.floor(deps.clock.now().getTime() / 1000);
  const recorded = await persist(() => deps.claims.update(key, executionName, { commandId, round: redriveCount, sentAt, phase: 'command-sent' }));
  if (!recorded) throw new ClaimLost(`The join claim of ${instance.instanceId} changed hands after command ${commandId} was sent.`);
  deps.logger.info('Join command sent', { commandId, redriveCount, freshPassword: !live });
  return waitForJoinCommand({ instance, executionName, redriveCount, commandId, sentAt, justSent: true }, deps, invocation, command);
}

/** A join command to wait for: the claim's record of it. */
export interface JoinCommandWait {
  instance: ReadInstanceOutput;
  executionName: string;
  redriveCount: number;
  commandId: string;
  /** When it was sent (epoch seconds; the claim's sentAt). */
  sentAt?: number;
  /** Sent by this invocation a moment ago: pause before the first check. */
  justSent?: boolean;
}

/**
 * Polls a join command (any join document: the Linux one here, the Windows one alike) inside
 * the invocation (tasks/lib/poll.ts): still running → JoinStillRunning at the end of the
 * invocation's budget, or CommandTimedOut past the command deadline; succeeded → the claim
 * records "joined-verified" and the result; failed → JoinCommandFailed (VerificationFailed for
 * exit 7), the output as Cause; undeliverable → InstanceGone when the instance is gone, else
 * JoinCommandFailed.
 */
export async function waitForJoinCommand(
  wait: JoinCommandWait,
  deps: Deps,
  invocation: Invocation = {},
  command: JoinCommand = LinuxJoin,
): Promise<RunJoinOutput> {
  const { instance, commandId, redriveCount } = wait;
  const fleet = deps.fleetFor(instance);
  const deadline = command.deadlineSeconds(deps.settings);
  let seen = 'not yet checked';
  const elapsed = (): number => {
    const now = deps.clock.now().getTime() / 1000;
    return now - (wait.sentAt ?? now);
  };
  const stillWaiting = (detail: string): JoinStillRunning =>
    new JoinStillRunning(
      `Join command ${commandId} ${wait.justSent ? 'sent to' : 'on'} ${instance.instanceId} (round ${redriveCount}) is ${seen} (${Math.round(elapsed())} s; ${detail}).`,
    );
  return pollWithin(deps.clock, invocation, { intervalSeconds: InLambdaWait.commandIntervalSeconds, pauseFirst: wait.justSent === true, stillWaiting }, async ({ deadlineMs }) => {
    // Each check waits for its slot in the account's GetCommandInvocation line; none in time: no check.
    if (!(await waitInLine(deps, instance, 'getCommandInvocation', deadlineMs)).slot) return undefined;
    const result = await fleet.getCommand(commandId, instance.instanceId);
    const output = commandOutput(result.stdout, result.stderr);
    const state = commandState(result.status);
    seen = result.status;
    if (state === 'running') {
      const took = elapsed();
      if (took > deadline)
        throw new CommandTimedOut(
          `Join command ${commandId} on ${instance.instanceId} is still ${result.status} ${Math.round(took)} s after it was sent ` +
            `(deadline ${deadline} s). Check the instance and Run Command history; redrive to send it again.` +
            (output ? `\nOutput so far:\n${output}` : ''),
        );
      return undefined;
    }
    if (state === 'undeliverable') await assertNotGone(fleet, instance.instanceId);
    if (state !== 'succeeded') throw command.fail(instance.instanceId, commandId, result, output);
    await deps.claims.update(claimKey(instance), wait.executionName, { phase: 'joined-verified' });
    return { commandId, status: result.status, redriveCount, output };
  });
}
