/**
 * The reconcile's sweep of one-time passwords (part of "Find stale objects"): in every account
 * and Region the run covers, every parameter directly under `/<prefix>/otp/` is listed (name and
 * LastModifiedDate, never the value) and
 *
 *   - a name that is not `<path><instance-id>` is not ours: ignored (never deleted);
 *   - a parameter whose instance's join claim is `joining` with a live lease is left alone;
 *   - a parameter younger than otpMaxAgeSeconds is left alone (a join may still use it);
 *   - every other one is deleted, and first, when the claim is not joined (and adcli did not
 *     rotate it: phase joined-verified), our computer object's password is reset to a random
 *     value nobody keeps (tasks/lib/cleanup.ts revokePassword: only objects the safety rules
 *     prove ours). A claim gone (its TTL) with the instance tagged joined: no reset.
 *
 * The age rule: Prepare (or a new round of "Run join document") writes the parameter just before
 * the command is sent; the run polls that command for at most the longest command deadline
 * (timings.commandDeadlineSeconds, windows.commandDeadlineSeconds), then Record result or the
 * join-cleanup deletes it. A join that still runs therefore never holds a parameter older than
 * settleSeconds + that deadline + OTP_SWEEP_MARGIN_SECONDS (the margin: state retries and Lambda
 * retries around the write and the delete), + SEND_LINE_ALLOWANCE_SECONDS when SendCommand is
 * paced (a join may wait that long in the line between the write and the send: tasks/lib/pace.ts).
 * The live-claim rule covers anything longer.
 *
 * An account/Region whose parameters cannot be listed (AwsRefused, AwsUnavailable,
 * AwsUnreachable) is skipped and reported; any other error (throttling) throws: the state
 * retries it, and a second run finds nothing more to do. A dry run counts, touches nothing.
 * No AWS or LDAP import: ports only.
 */
import { claimKey } from './claims';
import { revokePassword } from './cleanup';
import type { OtpSweepOutput } from './contracts';
import type { Deps } from './deps';
import { AdjoinError, Errors } from './errors';
import { INSTANCE_ID, joinSecretPath } from './naming';
import { SEND_LINE_ALLOWANCE_SECONDS } from './pace';
import { scopedDeps } from './routing';
import type { Settings } from './settings';
import { statusTagKeys } from './tags';

/** Errors that mean "this account/Region cannot be asked now" (its role, its endpoint): skip it, go on. */
export function isAccountUnreachable(err: unknown): err is AdjoinError {
  return err instanceof AdjoinError && (err.name === Errors.AwsRefused || err.name === Errors.AwsUnavailable || err.name === Errors.AwsUnreachable);
}

/** Added to the longest command deadline: state and Lambda retries around the parameter's write and delete. */
export const OTP_SWEEP_MARGIN_SECONDS = 15 * 60;

/** A parameter older than this is never held by a join that still runs (see the module comment). */
export function otpMaxAgeSeconds(settings: Pick<Settings, 'timings' | 'windows' | 'pacing'>): number {
  const longest = Math.max(settings.timings.commandDeadlineSeconds, settings.windows?.commandDeadlineSeconds ?? 0);
  const line = (settings.pacing?.sendCommand ?? 0) > 0 ? SEND_LINE_ALLOWANCE_SECONDS : 0;
  return settings.timings.settleSeconds + longest + line + OTP_SWEEP_MARGIN_SECONDS;
}

export async function sweepOtpParameters(targets: { account: string; region: string }[], dryRun: boolean, deps: Deps): Promise<OtpSweepOutput> {
  const { settings, logger } = deps;
  const path = joinSecretPath(settings.documents.join);
  const maxAgeSeconds = otpMaxAgeSeconds(settings);
  const now = deps.clock.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const out: OtpSweepOutput = { maxAgeSeconds, listed: 0, swept: 0, passwordsReset: 0, notOurs: 0, young: 0, joinRunning: 0, skippedAccounts: [] };
  for (const target of targets) {
    const fleet = deps.fleetFor(target);
    let params;
    try {
      params = await fleet.listOtpParameters();
    } catch (err) {
      if (!isAccountUnreachable(err)) throw err;
      out.skippedAccounts.push({ ...target, error: err.name, reason: `one-time passwords not swept: ${err.message.slice(0, 260)}`, objects: 0 });
      logger.warn('Account skipped: its one-time passwords could not be listed', { ...target, error: err.name, cause: err.message });
      continue;
    }
    for (const p of params) {
      out.listed++;
      const instanceId = p.name.startsWith(path) ? p.name.slice(path.length) : '';
      if (!INSTANCE_ID.test(instanceId)) {
        out.notOurs++;
        logger.warn('Parameter under the one-time-password path is not ours: left alone', { name: p.name.slice(0, 300) });
        continue;
      }
      const ref = { ...target, instanceId };
      const claim = await deps.claims.get(claimKey(ref));
      if (claim?.status === 'joining' && claim.leaseUntil > nowSeconds) {
        out.joinRunning++;
        continue;
      }
      if ((now.getTime() - p.lastModified.getTime()) / 1000 < maxAgeSeconds) {
        out.young++;
        continue;
      }
      out.swept++;
      if (dryRun) continue;
      // adcli rotated the password of a joined instance: only an unjoined object's is reset.
      const joined = claim?.status === 'joined' || claim?.phase === 'joined-verified' ||
        (claim === undefined && (await fleet.describeInstance(instanceId))?.tags[statusTagKeys(settings.tags.statusPrefix).status] === 'joined');
      if (!joined && (await revokePassword(ref, claim, scopedDeps(deps, settings.directories ? claim?.directory : undefined)))) out.passwordsReset++;
      await fleet.deleteJoinSecret(instanceId);
      logger.info('Stale one-time password swept', { ...ref, passwordReset: !joined });
    }
  }
  return out;
}
