/**
 * A simulated Windows SSM Agent running the Windows join document
 * (infra/documents/join-windows.ps1), judged from the simulated world, with the document's
 * outcomes and output lines:
 *
 *   joined as ComputerName already        → Success, exit 0, "already joined", no reboot; but
 *     when its password was changed since the join and the secure channel fails (the directory
 *     no longer accepts the machine password: the clean-up reset it, a redrive prepared a fresh
 *     one-time password) and a one-time password is given → leaves the domain locally (the
 *     object untouched), reboots, joins again with that password (the local machine password
 *     becomes it: PasswordPass), reboots, and runs as run 2 below. The two reboots and the join
 *     run between them are one offline window here (the poller sees Delayed throughout).
 *   joined to the domain as another name  → Failed, exit 5
 *   the one-time password parameter gone  → Failed (the agent cannot resolve {{ssm-secure:…}})
 *   no computer object / password refused → Failed, exit 5 (Add-Computer refused the join)
 *   otherwise: run 1 joins and exits 3010; the agent reboots the instance (offline for
 *   rebootSeconds: GetCommandInvocation says Delayed, the ping ConnectionLost) and runs the
 *   document again; run 2 finds the instance joined, changes the machine password (the OTP no
 *   longer works), adds the login groups, verifies: exit 0, or exit 7 when a probe user does
 *   not resolve or the secure channel is broken (SimInstanceSpec.windows traits).
 *
 * The world changes (joined, password rotated) are applied when the command is sent, as the
 * Linux agent of lab/sim/fleet.ts does; the timing (runs, reboot) is what the poller sees.
 */
import type { CommandResult, SendCommandRequest } from '../../tasks/lib/ports';
import type { SimDirectory } from './directory';

/** How a simulated Windows instance behaves under the join document. */
export interface WindowsTraits {
  /** Seconds the instance is away for the reboot (default 120). */
  rebootSeconds?: number;
  /** Probe users that do not resolve to a SID through the domain (verification fails, exit 7). */
  unresolvableUsers?: string[];
  /** Test-ComputerSecureChannel fails after the reboot (verification fails, exit 7). */
  secureChannelBroken?: boolean;
}

/** Seconds of the first run (DNS, join) and of the second run (password, groups, verification). */
export const WINDOWS_RUN_SECONDS = { first: 60, second: 40, already: 30 } as const;
export const WINDOWS_REBOOT_SECONDS = 120;

export interface WindowsRun {
  result: CommandResult;
  /** Seconds from send to the final status. */
  durationSeconds: number;
  /** When the instance is offline for the reboot, in seconds after send (absent: no reboot). */
  reboot?: { fromSeconds: number; toSeconds: number };
}

/**
 * The simulated machine's join state: joined name, its own (local) machine password and whether
 * that was changed since the join (the document's "PasswordRetired" registry value). The secure
 * channel works while the directory accepts the machine password (unknown password: joined
 * outside the model, the traits decide).
 */
export interface WindowsMachine {
  joinedAs?: string;
  machinePassword?: string;
  passwordRetired?: boolean;
}

export interface WindowsAgentWorld {
  directory: SimDirectory | undefined;
  /** The SecureString parameter a `{{ssm-secure:NAME}}` reference names (undefined: none). */
  parameter: (name: string) => string | undefined;
  /** The instance, changed in place as the document would change it. */
  machine: WindowsMachine;
  traits: WindowsTraits;
}

const SECURE = /^\{\{ssm-secure:([^}]+)\}\}$/;
const say = (lines: string[]): string => lines.map((l) => `adjoin: ${l}`).join('\n');
const failed = (exitCode: number, stdout: string[], message: string): CommandResult => ({
  status: 'Failed',
  exitCode,
  stdout: say(stdout),
  stderr: `adjoin: FAILED: ${message}`,
});

/** The parameters of the Windows join document as the script reads them (defaults applied). */
function params(req: SendCommandRequest) {
  const p = req.parameters;
  const list = (v: string | undefined): string[] => (v === undefined || v.trim() === '-' ? [] : v.split(',').map((s) => s.trim()).filter((s) => s !== ''));
  return {
    domain: (p.DomainName ?? '').toLowerCase(),
    netbios: p.NetbiosName ?? '',
    name: p.ComputerName ?? '',
    fqdn: p.HostFqdn ?? '',
    ou: p.ComputerOu ?? '',
    loginGroups: list(p.LoginGroups),
    adminGroups: list(p.AdminGroups),
    rdp: p.RemoteDesktopGroup ?? 'Remote Desktop Users',
    admins: p.AdministratorsGroup ?? 'Administrators',
    probeUsers: list(p.ProbeUsers),
  };
}

/** A stable fake SID per name (the output shape only). */
const sidOf = (name: string): string => `S-1-5-21-1111111111-2222222222-3333333333-${1000 + [...name].reduce((n, c) => (n * 31 + c.charCodeAt(0)) % 90000, 7)}`;

export function runWindowsJoin(req: SendCommandRequest, world: WindowsAgentWorld): WindowsRun {
  const p = params(req);
  const m = world.machine;
  const head = `joining ${p.fqdn} as ${p.name} to ${p.domain} (${p.netbios}), object in ${p.ou}`;
  const ref = SECURE.exec(req.parameters.OneTimePassword ?? '');
  const otp = ref?.[1] !== undefined ? world.parameter(ref[1]) : undefined;
  if (m.joinedAs !== undefined && m.joinedAs.toLowerCase() === p.name.toLowerCase()) {
    const already = [head, `already joined to ${p.domain} as ${p.name}`];
    if (!(m.passwordRetired === true && !channelWorks(world, p.name) && otp !== undefined && otp.length >= 8)) {
      const second = secondRun(p, world, already, true);
      return { result: second, durationSeconds: WINDOWS_RUN_SECONDS.already };
    }
    // The machine password is not the directory's: leave locally, reboot, join with the fresh password.
    m.joinedAs = undefined;
    m.machinePassword = undefined;
    m.passwordRetired = false;
    const leave = [...already, `secure channel to ${p.domain} fails: the directory no longer accepts this machine's password (the object was prepared again)`,
      `left ${p.domain} locally (the computer object is untouched): restarting (exit 3010) to join again with the new one-time password`];
    const reboot = world.traits.rebootSeconds ?? WINDOWS_REBOOT_SECONDS;
    const rejoin = freshJoin(req, world, otp);
    const offset = WINDOWS_RUN_SECONDS.already + reboot;
    return {
      result: { ...rejoin.result, stdout: `${say(leave)}\n${rejoin.result.stdout}` },
      durationSeconds: offset + rejoin.durationSeconds,
      reboot: { fromSeconds: WINDOWS_RUN_SECONDS.already, toSeconds: offset + (rejoin.reboot?.toSeconds ?? 0) },
    };
  }
  if (m.joinedAs !== undefined)
    return { result: failed(5, [head], `this instance is joined to ${p.domain} as ${m.joinedAs}, not ${p.name}: leave the domain first`), durationSeconds: 10 };
  // The agent resolves {{ssm-secure:…}} before the script starts: a missing parameter fails the command.
  if (otp === undefined)
    return { result: { status: 'Failed', exitCode: 1, stdout: '', stderr: 'ParameterNotFound: the one-time password parameter does not exist' }, durationSeconds: 5 };
  return freshJoin(req, world, otp);
}

/** Does the secure channel work: the directory accepts the machine's own password (unknown: the traits decide). */
function channelWorks(world: WindowsAgentWorld, name: string): boolean {
  if (world.traits.secureChannelBroken) return false;
  const password = world.machine.machinePassword;
  return password === undefined || !world.directory || world.directory.passwordMatches(name, password);
}

/** Run 1 on a workgroup machine (DNS, the unsecured join with `otp`, exit 3010), the reboot, run 2. */
function freshJoin(req: SendCommandRequest, world: WindowsAgentWorld, otp: string): WindowsRun {
  const p = params(req);
  const m = world.machine;
  const head = `joining ${p.fqdn} as ${p.name} to ${p.domain} (${p.netbios}), object in ${p.ou}`;
  const firstLines = [head, `DNS: Ethernet ask ${req.parameters.DomainControllers ?? ''}`, `DNS: ${p.domain} resolves`, 'joining with the one-time password'];
  const refused = !world.directory
    ? undefined
    : !world.directory.byName(p.name)
      ? 'The specified account does not exist'
      : !world.directory.passwordMatches(p.name, otp)
        ? 'The user name or password is incorrect'
        : undefined;
  if (refused)
    return {
      result: failed(5, firstLines, `Add-Computer refused the join: Computer '${p.name}' failed to join domain '${p.domain}' from its current workgroup 'WORKGROUP' with following error message: ${refused}. (a used or wrong one-time password, or a missing computer object: prepare it again)`),
      durationSeconds: WINDOWS_RUN_SECONDS.first,
    };

  // Run 1: joined (PasswordPass: the machine's own password is the one-time password), exit 3010;
  // SSM reboots the instance and runs the document again.
  m.joinedAs = p.name;
  m.machinePassword = otp;
  m.passwordRetired = false;
  const reboot = world.traits.rebootSeconds ?? WINDOWS_REBOOT_SECONDS;
  const run1 = [...firstLines, `joined ${p.domain} as ${p.name}: restarting (exit 3010: SSM reboots and runs this document again)`];
  // Run 2 changes the machine password (Reset-ComputerMachinePassword: the machine's and the
  // directory's together): the one-time password no longer works.
  const rotated = world.directory?.rotatePassword(p.name);
  if (rotated !== undefined) m.machinePassword = rotated;
  m.passwordRetired = true;
  const second = secondRun(p, world, [head, `already joined to ${p.domain} as ${p.name}`, 'machine password changed'], false);
  return {
    // SSM keeps the output of the run that ended the command (run 1's lines are in its history).
    result: { ...second, stdout: `${say(run1)}\n${second.stdout}` },
    durationSeconds: WINDOWS_RUN_SECONDS.first + reboot + WINDOWS_RUN_SECONDS.second,
    reboot: { fromSeconds: WINDOWS_RUN_SECONDS.first, toSeconds: WINDOWS_RUN_SECONDS.first + reboot },
  };
}

/** Run 2 (or the run of an instance already joined): access, then the verification. */
function secondRun(p: ReturnType<typeof params>, world: WindowsAgentWorld, lines: string[], already: boolean): CommandResult {
  const traits = world.traits;
  const out = [...lines];
  for (const g of p.loginGroups) out.push(`access: ${p.netbios}\\${g} added to ${p.rdp}`);
  for (const g of p.adminGroups) out.push(`access: ${p.netbios}\\${g} added to ${p.admins}`);
  if (p.loginGroups.length === 0) out.push(`access: no login groups: ${p.rdp} unchanged`);
  const problems: string[] = [];
  if (!channelWorks(world, p.name)) problems.push(`Test-ComputerSecureChannel fails for ${p.domain}`);
  else out.push(`verify: secure channel to ${p.domain} works`);
  const missing = new Set((traits.unresolvableUsers ?? []).map((u) => u.toLowerCase()));
  for (const u of p.probeUsers) {
    if (missing.has(u.toLowerCase()))
      problems.push(`user ${p.netbios}\\${u} does not resolve through the domain: Some or all identity references could not be translated.`);
    else out.push(`verify: ${p.netbios}\\${u} is ${sidOf(u)}`);
  }
  for (const g of p.loginGroups) out.push(`verify: ${p.netbios}\\${g} (${sidOf(g)}) is in ${p.rdp}`);
  if (problems.length > 0) return failed(7, out, `verification failed: ${problems.join('; ')}`);
  out.push(already ? 'done: already joined' : 'done: joined');
  return { status: 'Success', exitCode: 0, stdout: say(out), stderr: '' };
}
