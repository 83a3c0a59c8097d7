/**
 * "Clean up failed join" (the join-cleanup machine, started when a join execution ends FAILED,
 * TIMED_OUT or ABORTED): every end of a join is clean. When that execution holds the instance's
 * claim and the instance is not joined:
 *
 *   1. the computer object's password is reset to a random value nobody keeps — only OUR object
 *      (full marker of this instance, inside a managed OU, the GUID the claim recorded), and not
 *      when the command already joined (phase joined-verified: adcli rotated it);
 *   2. the one-time password parameter is deleted;
 *   3. the claim becomes failed (with the failed state and error, from the execution history):
 *      a new execution may then join the instance, and a redrive re-takes it;
 *   4. the instance is tagged <prefix>status=failed, <prefix>failed-state, <prefix>execution.
 *
 *   5. a launch hook is answered (cleanUpFailedJoin): CONTINUE when joined, else
 *      lifecycle.onJoinFailure (default ABANDON).
 *
 * Idempotent; an instance that is gone is no error. No AWS or LDAP import: ports only.
 */
import { ourObjects } from './claim';
import { claimKey } from './claims';
import type { CleanupInput, CleanupOutput, InstanceRef } from './contracts';
import type { Deps } from './deps';
import { parseEntry } from './entry';
import { AdjoinError, DirectoryRefused, InvalidInput } from './errors';
import { answerLifecycle, onJoinFailure, type WithLifecycle } from './lifecycle';
import { generateOneTimePassword } from './otp';
import type { Claim } from './ports';
import { scopedDeps } from './routing';
import { statusTagKeys } from './tags';

/** The state that makes the computer object (workflows/join.ts). */
const PREPARE_STATE = 'Prepare computer object';

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}…` : s);

/** The instance (and launch hook) a join execution was started for (its input is the entry event), or undefined. */
function instanceOfJoinInput(text: string, deps: Deps): WithLifecycle | undefined {
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    return undefined;
  }
  try {
    const e = parseEntry(event, deps.settings);
    return { instanceId: e.instanceId, account: e.account, region: e.region, ...(e.lifecycle ? { lifecycle: e.lifecycle } : {}) };
  } catch (err) {
    if (err instanceof InvalidInput) return undefined;
    throw err;
  }
}

/** Resets the password of our object(s) of this claim to a random value no one keeps (the cleanup; the reconcile's sweep, tasks/lib/otp-sweep.ts). */
export async function revokePassword(ref: InstanceRef, claim: Claim | undefined, deps: Deps): Promise<boolean> {
  const ours = await ourObjects(ref, claim, deps);
  let reset = false;
  for (const o of ours) {
    try {
      await deps.directory.resetPassword(o.dn, generateOneTimePassword(deps.random));
      reset = true;
    } catch (err) {
      if (!(err instanceof DirectoryRefused)) throw err;
      deps.logger.warn('Password reset refused: the one-time password parameter is deleted anyway', { dn: o.dn, cause: err.message });
    }
  }
  return reset;
}

/**
 * The cleanup, then the launch hook of the failed execution (when it came with one) is answered:
 * CONTINUE when the instance is joined anyway, else lifecycle.onJoinFailure (default ABANDON) —
 * also when this execution never held the claim (e.g. refused at "Read instance"): its hook is
 * its own, and must not wait for its timeout.
 */
export async function cleanUpFailedJoin(input: CleanupInput, deps: Deps): Promise<CleanupOutput> {
  const ref = instanceOfJoinInput(input.input, deps);
  if (ref === undefined) return { outcome: 'nothing', reason: `execution ${input.name}: its input names no instance (nothing was claimed)`, passwordReset: false };
  deps.logger.appendKeys({ instanceId: ref.instanceId, executionName: input.name });
  const claim = await deps.claims.get(claimKey(ref));
  const out = await cleanUp(input, ref, claim, deps);
  const joined = claim?.status === 'joined';
  const answer = await answerLifecycle(ref, 'launch', joined ? 'CONTINUE' : onJoinFailure(deps), deps);
  return { ...out, ...(answer ? { lifecycle: answer } : {}) };
}

async function cleanUp(input: CleanupInput, ref: InstanceRef, claim: Claim | undefined, allDeps: Deps): Promise<CleanupOutput> {
  const nothing = (reason: string): CleanupOutput => ({ outcome: 'nothing', instanceId: ref.instanceId, reason, passwordReset: false });
  const key = claimKey(ref);
  if (claim === undefined || claim.execution !== input.name)
    return nothing(`${ref.instanceId}: the join claim is ${claim ? `held by ${claim.execution}` : 'absent'}, not by ${input.name}`);
  if (claim.status === 'joined') return nothing(`${ref.instanceId}: joined (claim of ${input.name})`);
  const deps = scopedDeps(allDeps, claim.directory); // the directory the join was routed to

  const failure = await deps.executions.lastFailure(input.executionArn);
  const failedState = failure?.state ?? claim.failedState ?? 'unknown';
  const error = clip(`${failure?.error ?? input.error ?? input.status}${failure?.cause ?? input.cause ? `: ${failure?.cause ?? input.cause ?? ''}` : ''}`, 500);

  // Nothing to revoke when the command already joined (adcli rotated the password), or when the
  // execution ended before Prepare ever ran (no phase recorded, and it did not fail in Prepare).
  const beforePrepare = claim.phase === undefined && failedState !== PREPARE_STATE && failedState !== 'unknown';
  const passwordReset = claim.phase === 'joined-verified' || beforePrepare ? false : await revokePassword(ref, claim, deps);
  const fleet = deps.fleetFor(ref);
  await fleet.deleteJoinSecret(ref.instanceId);
  await deps.claims.update(key, input.name, { status: 'failed', failedState, error }, { unlessJoined: true });

  const keys = statusTagKeys(deps.settings.tags.statusPrefix);
  try {
    await fleet.tagInstance(ref.instanceId, { [keys.status]: 'failed', [keys.failedState]: clip(failedState, 250), [keys.execution]: input.name });
  } catch (err) {
    if (!(err instanceof AdjoinError) || err.transient || (await fleet.describeInstance(ref.instanceId)) !== undefined) throw err;
    deps.logger.info('Instance gone: not tagged');
  }
  deps.logger.info('Failed join cleaned up', { failedState, passwordReset, status: input.status });
  return { outcome: 'cleaned', instanceId: ref.instanceId, reason: `${input.name} ended ${input.status} at ${failedState}`, passwordReset, failedState };
}
