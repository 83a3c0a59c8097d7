/**
 * "Wait for SSM Online": the instance's SSM agent must be Online before a command is sent.
 * One invocation checks every ~5 s (jittered) for up to a bounded time (tasks/lib/poll.ts), then
 * throws SsmAgentNotOnline (retried by the state machine up to the deadline). Instance gone
 * (tasks/lib/gone.ts; asked on the last check of each invocation, ~once a minute) → InstanceGone
 * (compensation). No AWS or LDAP import: ports only.
 *
 * With the SSM Online board (tasks/lib/ssm-board.ts: a pacer and pacing.describeInstanceInformation
 * set, as deployed by default) the join puts its claim on the board and reads its claim on each
 * poll; one waiting Lambda per account and Region sweeps every ~5 s, 50 agents per
 * DescribeInstanceInformation call, and marks the Online ones. A sweep that fails for anything
 * but throttling is logged as an error and the agent is checked on its own. Without the board
 * each check is one DescribeInstanceInformation call for this instance, in the account's line.
 *
 * Per-platform deadlines (issue 14): with Windows enabled, the state's retries cover the longer
 * of timings.ssmOnlineDeadlineSeconds and windows.ssmOnlineDeadlineSeconds (Windows agents come
 * Online later: first boot, sysprep), and this task ends each platform's wait at its own
 * deadline. The round's wait starts at its first not-Online check, kept in the join claim
 * (ssmWaitSince, ssmRound = $$.Execution.RedriveCount: a redrive waits afresh); past the
 * deadline the task checks once and throws SsmAgentNotOnline naming the deadline's key (the
 * remaining retries each end the same way after one check). Windows disabled: nothing kept,
 * the retries alone are the (Linux) deadline, as before.
 */
import { claimKey } from './claims';
import type { CheckSsmAgentInput, CheckSsmAgentOutput, ReadInstanceOutput } from './contracts';
import type { Deps } from './deps';
import { SsmAgentNotOnline } from './errors';
import { assertNotGone } from './gone';
import { waitInLine } from './pace';
import { boardKey, boardOn, failing, registered, registration, registrationAging, seenOnline, sweepIfDue } from './ssm-board';
import { InLambdaWait, pollWithin, throttling, type Invocation } from './poll';
import type { Claim, Fleet, PingStatus } from './ports';
import type { Settings } from './settings';

/** The SSM Online deadline of an instance (seconds) and the configuration key that sets it. */
export function ssmOnlineDeadline(instance: Pick<ReadInstanceOutput, 'platform'>, settings: Settings): { seconds: number; key: string } {
  if (instance.platform === 'windows' && settings.windows)
    return { seconds: settings.windows.ssmOnlineDeadlineSeconds, key: 'windows.ssmOnlineDeadlineSeconds' };
  return { seconds: settings.timings.ssmOnlineDeadlineSeconds, key: 'timings.ssmOnlineDeadlineSeconds' };
}

/** Where this round's wait began (epoch s), kept in the claim; undefined: not tracked (no claim of ours, Windows disabled). */
function waitStart(input: CheckSsmAgentInput, claim: Claim | undefined, deps: Deps, nowSeconds: number): { since: number; kept: boolean } | undefined {
  if (!deps.settings.windows || !claim) return undefined;
  const round = input.redriveCount ?? 0;
  if (claim.ssmRound === round && claim.ssmWaitSince !== undefined) return { since: claim.ssmWaitSince, kept: true };
  return { since: nowSeconds, kept: false };
}

/** This execution's claim, read once per invocation when the Windows deadline or the board needs it; undefined otherwise (or not ours). */
async function ourClaim(input: CheckSsmAgentInput, deps: Deps, fleet: Fleet): Promise<Claim | undefined> {
  if (input.executionName === undefined || (!deps.settings.windows && !boardOn(deps, fleet))) return undefined;
  const claim = await deps.claims.get(claimKey(input.instance));
  return claim?.execution === input.executionName ? claim : undefined;
}

export async function checkSsmAgent(input: CheckSsmAgentInput, deps: Deps, invocation: Invocation = {}): Promise<CheckSsmAgentOutput> {
  const { instanceId } = input.instance;
  const fleet = deps.fleetFor(input.instance);
  const nowSeconds = (): number => Math.floor(deps.clock.now().getTime() / 1000);
  const deadline = ssmOnlineDeadline(input.instance, deps.settings);
  const claim = await ourClaim(input, deps, fleet);
  const start = waitStart(input, claim, deps, nowSeconds());
  const leftSeconds = (): number => (start === undefined ? Infinity : start.since + deadline.seconds - nowSeconds());
  const board = await onBoard(input, claim, deps, fleet, nowSeconds());
  if (board === 'online') return { pingStatus: 'Online' };
  const boardWait = board === 'waiting';
  let ping: PingStatus | undefined;
  let state: string | undefined;
  const stillWaiting = (detail: string): SsmAgentNotOnline => {
    const past = leftSeconds() <= 0 && start !== undefined;
    const waited = past ? `not Online ${nowSeconds() - start.since} s after the first check, past its deadline of ${deadline.seconds} s (${deadline.key}); ` : '';
    return new SsmAgentNotOnline(
      `SSM agent of ${instanceId} is not Online (ping status ${ping ?? (boardWait ? 'not Online in the board\'s sweeps' : 'unknown')}, instance ${state ?? 'unknown'}; ${waited}${detail}). Check: the SSM agent is installed and ` +
        'running; the instance profile grants AmazonSSMManagedInstanceCore; the instance can reach the SSM endpoints ' +
        '(ssm, ssmmessages, ec2messages) through a NAT/internet route or VPC interface endpoints, with HTTPS allowed by its security group.',
    );
  };
  // Past the deadline one check is left (budget 0); otherwise at most the time to the deadline.
  const maxSeconds = Math.max(0, Math.min(InLambdaWait.maxSeconds, leftSeconds()));
  /** One check of this agent alone, in the account's DescribeInstanceInformation line: Online? */
  const checkOwn = async (deadlineMs: number): Promise<boolean> => {
    if (!(await waitInLine(deps, input.instance, 'describeInstanceInformation', deadlineMs)).slot) return false;
    ping = await fleet.ssmPingStatus(instanceId);
    return ping === 'Online';
  };
  try {
    if (boardWait)
      return await pollWithin(deps.clock, invocation, { intervalSeconds: InLambdaWait.ssmIntervalSeconds, stillWaiting, maxSeconds }, async ({ first, last, deadlineMs }) => {
        // The board (tasks/lib/ssm-board.ts): the claim says Online once a sweep saw it; this
        // Lambda sweeps when its turn comes. EC2's word on the instance on the last check, as below.
        if (!first && seenOnline(await deps.claims.get(claimKey(input.instance)), input.redriveCount ?? 0)) return { pingStatus: 'Online' as const };
        try {
          const sweep = await sweepIfDue(input.instance, deps, fleet, deadlineMs);
          if (sweep) deps.logger.debug('SSM Online board swept', { checked: sweep.checked, online: sweep.online.size, calls: sweep.calls });
          if (sweep?.online.has(instanceId)) return { pingStatus: 'Online' as const };
        } catch (err) {
          if (throttling(err)) throw err;
          // A board that cannot be swept (the index missing, access denied) must not stop joins:
          // said loudly, and this agent checked on its own (one paced call), as without a board.
          deps.logger.error('SSM Online board: the sweep failed; this agent is checked on its own', { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
          await deps.board?.recordSweep(boardKey(input.instance), 'failed', nowSeconds()).catch(() => undefined);
          if (await checkOwn(deadlineMs)) return { pingStatus: 'Online' as const };
        }
        if (last) {
          // A failing board (its last sweep failed): this agent is checked on its own once per invocation.
          if (deps.board && failing(await deps.board.sweepHealth(boardKey(input.instance))) && (await checkOwn(deadlineMs))) return { pingStatus: 'Online' as const };
          state = (await assertNotGone(fleet, instanceId)).state;
        }
        return undefined;
      });
    return await pollWithin(deps.clock, invocation, { intervalSeconds: InLambdaWait.ssmIntervalSeconds, stillWaiting, maxSeconds }, async ({ last, deadlineMs }) => {
      // Online answers everything (one call); an agent not Online needs EC2's word on the instance,
      // asked on the invocation's last check only (DescribeInstances is shared by every join).
      // Each check waits for its slot in the account's DescribeInstanceInformation line (tasks/lib/pace.ts);
      // none before the budget ends: no check this time.
      if (await checkOwn(deadlineMs)) return { pingStatus: 'Online' as const };
      if (last) state = (await assertNotGone(fleet, instanceId)).state;
      return undefined;
    });
  } catch (err) {
    // The round's first not-Online invocation keeps its start in the claim (a lost write: the next one keeps it).
    if (err instanceof SsmAgentNotOnline && start !== undefined && !start.kept && input.executionName !== undefined)
      await deps.claims.update(claimKey(input.instance), input.executionName, { ssmWaitSince: start.since, ssmRound: input.redriveCount ?? 0 });
    throw err;
  }
}

/**
 * The board's view at the start of an invocation: not used (no board, no claim of ours), 'online'
 * (a sweep saw it this round), or 'waiting' (on the board: registered now if it was not).
 */
async function onBoard(input: CheckSsmAgentInput, claim: Claim | undefined, deps: Deps, fleet: Fleet, nowSeconds: number): Promise<'off' | 'online' | 'waiting'> {
  const { executionName } = input;
  if (executionName === undefined || !claim || !boardOn(deps, fleet)) return 'off';
  const round = input.redriveCount ?? 0;
  const key = claimKey(input.instance);
  if (seenOnline(claim, round)) return 'online';
  if (registered(claim, round)) {
    // Waiting longer than the sweeps look back: refresh ssmWaitAt only (a mark in between keeps ssmWait removed).
    if (!registrationAging(claim, deps, nowSeconds)) return 'waiting';
    return (await deps.claims.update(key, executionName, { ssmWaitAt: nowSeconds })) ? 'waiting' : 'off';
  }
  return (await deps.claims.update(key, executionName, registration(input.instance, round, nowSeconds))) ? 'waiting' : 'off';
}
