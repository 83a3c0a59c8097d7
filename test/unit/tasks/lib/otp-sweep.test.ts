/**
 * The reconcile's one-time-password sweep (tasks/lib/otp-sweep.ts) against small fakes: the age
 * rule, the live-claim rule, names that are not ours, joined instances (no reset), errors.
 */
import { claimKey } from '../../../../tasks/lib/claims';
import { AwsUnavailable, Throttled } from '../../../../tasks/lib/errors';
import { OTP_SWEEP_MARGIN_SECONDS, otpMaxAgeSeconds, sweepOtpParameters } from '../../../../tasks/lib/otp-sweep';
import { SEND_LINE_ALLOWANCE_SECONDS } from '../../../../tasks/lib/pace';
import { ACCOUNT, NOW, REGION, computer, iid, instanceNo, pagedWorld, refOf } from '../../../fakes';

const HERE = { account: ACCOUNT, region: REGION };
const OTHER = { account: '210987654321', region: REGION };
const old = (): Date => new Date(NOW.getTime() - 4 * 3600_000);
const param = (n: number): string => `/adjoin/otp/${iid(n)}`;
const left = (w: ReturnType<typeof pagedWorld>, where = HERE): string[] => [...(w.fleets.parameters.get(`${where.account}/${where.region}`)?.keys() ?? [])].sort();
const resets = (w: ReturnType<typeof pagedWorld>): string[] => w.directory.calls.filter((c) => c.startsWith('resetPassword '));

describe('one-time-password sweep', () => {
  it('the age limit is settle + the longest command deadline (Windows too) + the margin', () => {
    const w = pagedWorld([]);
    const s = w.deps.settings;
    expect(otpMaxAgeSeconds(s)).toBe(s.timings.settleSeconds + s.timings.commandDeadlineSeconds + OTP_SWEEP_MARGIN_SECONDS);
    const withWindows = { ...s, windows: { commandDeadlineSeconds: s.timings.commandDeadlineSeconds + 1000 } } as unknown as typeof s;
    expect(otpMaxAgeSeconds(withWindows)).toBe(s.timings.settleSeconds + s.timings.commandDeadlineSeconds + 1000 + OTP_SWEEP_MARGIN_SECONDS);
    // SendCommand paced: a join may hold its parameter while it waits in the line, so that wait counts too.
    const paced = { ...s, pacing: { sendCommand: 5 } };
    expect(otpMaxAgeSeconds(paced)).toBe(s.timings.settleSeconds + s.timings.commandDeadlineSeconds + SEND_LINE_ALLOWANCE_SECONDS + OTP_SWEEP_MARGIN_SECONDS);
    expect(otpMaxAgeSeconds({ ...s, pacing: { sendCommand: 0 } })).toBe(otpMaxAgeSeconds({ ...s, pacing: {} }));
  });

  it('old and not joined: our object reset, then the parameter deleted; a joined claim or a joined tag: deleted without a reset', async () => {
    // Prepare
    const w = pagedWorld([computer(1), computer(2), computer(3)]);
    w.fleets.putParameter(param(1), old()); // no claim, instance unknown: reset + delete
    w.fleets.putParameter(param(2), old()); // claim joined: delete only
    w.fleets.putParameter(param(3), old()); // no claim, instance tagged joined: delete only
    const now = Math.floor(NOW.getTime() / 1000);
    await w.deps.claims.take(claimKey(refOf(2)), 'join-2', now - 7200, 3600);
    await w.deps.claims.update(claimKey(refOf(2)), 'join-2', { status: 'joined' });
    w.fleets.put(instanceNo(3, 'running', { 'adjoin:status': 'joined' }));
    // Act
    const out = await sweepOtpParameters([HERE], false, w.deps);
    // Assess
    expect(out).toMatchObject({ listed: 3, swept: 3, passwordsReset: 1, notOurs: 0, young: 0, joinRunning: 0, skippedAccounts: [] });
    expect(resets(w)).toEqual([`resetPassword ${computer(1).dn}`]);
    expect(left(w)).toEqual([]);
  });

  it('left alone: a young parameter, a live joining claim (even when old), a name that is not ours; an expired joining claim is swept', async () => {
    // Prepare
    const w = pagedWorld([computer(1), computer(2), computer(4)]);
    w.fleets.putParameter(param(1), new Date(NOW.getTime() - 60_000)); // young
    w.fleets.putParameter(param(2), old()); // live join
    const now = Math.floor(NOW.getTime() / 1000);
    await w.deps.claims.take(claimKey(refOf(2)), 'join-2', now - 60, 3600);
    w.fleets.putParameter(param(4), old()); // joining, lease expired
    await w.deps.claims.take(claimKey(refOf(4)), 'join-4', now - 7200, 3600);
    for (const hostile of ['/adjoin/otp/i-0123', '/adjoin/otp/i-0123456789ABCDEF0', '/adjoin/otp/not-ours', `/elsewhere/otp/${iid(5)}`, `/adjoin/otp/${iid(5)} `]) w.fleets.putParameter(hostile, new Date(0));
    // Act
    const out = await sweepOtpParameters([HERE], false, w.deps);
    // Assess
    expect(out).toMatchObject({ listed: 8, swept: 1, young: 1, joinRunning: 1, notOurs: 5 });
    expect(w.fleets.parameterDeletes).toEqual([`${ACCOUNT}/${REGION} ${param(4)}`]);
    expect(resets(w)).toEqual([`resetPassword ${computer(4).dn}`]);
  });

  it('an account that cannot be listed is skipped and reported; a throttled listing throws (the state retries); twice is idempotent', async () => {
    // Prepare
    const w = pagedWorld([computer(1)]);
    w.fleets.putParameter(param(1), old());
    w.fleets.putParameter(param(1), old(), OTHER.account);
    w.fleets.listErrors.set(`${OTHER.account}/${OTHER.region}`, [new AwsUnavailable('SSM: 503')]);
    w.fleets.listErrors.set(`${ACCOUNT}/${REGION}`, [new Throttled('GetParametersByPath: Rate exceeded')]);
    // Act / Assess
    await expect(sweepOtpParameters([HERE, OTHER], false, w.deps)).rejects.toMatchObject({ name: 'Throttled' });
    expect(w.fleets.parameterDeletes).toEqual([]);
    const out = await sweepOtpParameters([HERE, OTHER], false, w.deps);
    expect(out).toMatchObject({ swept: 1, skippedAccounts: [{ ...OTHER, error: 'AwsUnavailable', objects: 0 }] });
    expect(left(w)).toEqual([]);
    expect(left(w, OTHER)).toEqual([param(1)]);
    const again = await sweepOtpParameters([HERE, OTHER], false, w.deps);
    expect(again).toMatchObject({ listed: 1, swept: 1, skippedAccounts: [] }); // the other account, now reachable
    expect(left(w, OTHER)).toEqual([]);
    const third = await sweepOtpParameters([HERE, OTHER], false, w.deps);
    expect(third).toMatchObject({ listed: 0, swept: 0 });
  });

  it('a dry run counts and touches nothing', async () => {
    const w = pagedWorld([computer(1)]);
    w.fleets.putParameter(param(1), old());
    const out = await sweepOtpParameters([HERE], true, w.deps);
    expect(out).toMatchObject({ swept: 1, passwordsReset: 0 });
    expect(left(w)).toEqual([param(1)]);
    expect(resets(w)).toEqual([]);
  });
});
