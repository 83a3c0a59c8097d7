import { makeHandler } from '../../../tasks/clean-up-failed-join';
import { claimKey } from '../../../tasks/lib/claims';
import { cleanUpFailedJoin } from '../../../tasks/lib/cleanup';
import type { CleanupInput } from '../../../tasks/lib/contracts';
import { AwsRefused } from '../../../tasks/lib/errors';
import { markerDescription } from '../../../tasks/lib/marker';
import type { ClaimChanges } from '../../../tasks/lib/ports';
import { goodEvent, instance, INSTANCE, NOW, prepared, proceed, world, type TestWorld } from '../../fakes';

const KEY = claimKey(proceed);
const ARN = 'arn:aws:states:eu-west-1:123456789012:execution:adjoin-join:exec-1';
const input: CleanupInput = { executionArn: ARN, name: 'exec-1', status: 'FAILED', input: JSON.stringify(goodEvent), error: 'JoinCommandFailed', cause: 'adcli: exit 3' };
const marker = { account: proceed.account, region: proceed.region, instanceId: INSTANCE };
const OU = prepared.dn.replace(/^CN=[^,]+,/, '');

/** The world a failed join leaves: our object with the OTP, the parameter, the claim of exec-1. */
async function failedJoin(w: TestWorld, claim: ClaimChanges = {}): Promise<void> {
  w.fleet.instances.set(INSTANCE, instance());
  await w.directory.createComputer({ ou: OU, name: prepared.name, fqdn: prepared.fqdn, marker, description: markerDescription(marker), password: 'the-otp' });
  w.fleet.secrets.set(INSTANCE, 'the-otp');
  await w.claims.take(KEY, 'exec-1', NOW.getTime() / 1000 - 600, 900);
  await w.claims.update(KEY, 'exec-1', { phase: 'command-sent', dn: prepared.dn, commandId: 'cmd-1', round: 0, ...claim });
  w.deps.executions = { lastFailure: () => Promise.resolve({ state: 'Run join document', error: 'JoinCommandFailed', cause: 'adcli: exit 3' }) };
}

describe('Clean up failed join', () => {
  it('revokes the one-time password of our object, deletes the parameter, marks the claim failed, tags the instance', async () => {
    // Prepare
    const w = world();
    await failedJoin(w);
    // Act
    const out = await cleanUpFailedJoin(input, w.deps);
    // Assess
    expect(out).toEqual({ outcome: 'cleaned', instanceId: INSTANCE, reason: 'exec-1 ended FAILED at Run join document', passwordReset: true, failedState: 'Run join document' });
    expect(w.directory.objects[0]?.password).not.toBe('the-otp');
    expect(w.fleet.secrets.size).toBe(0);
    expect(w.claims.item(KEY)).toMatchObject({ status: 'failed', failedState: 'Run join document', error: 'JoinCommandFailed: adcli: exit 3' });
    expect(w.fleet.calls).toContainEqual(['tagInstance', INSTANCE, { 'adjoin:status': 'failed', 'adjoin:failed-state': 'Run join document', 'adjoin:execution': 'exec-1' }]);
  });

  it('is idempotent: a second run changes nothing more', async () => {
    const w = world();
    await failedJoin(w);
    await cleanUpFailedJoin(input, w.deps);
    const password = w.directory.objects[0]?.password;
    await cleanUpFailedJoin(input, w.deps);
    expect(w.claims.item(KEY)?.status).toBe('failed');
    expect(w.fleet.secrets.size).toBe(0);
    expect(typeof password).toBe('string');
  });

  it('does not reset the password after the command joined (adcli rotated it)', async () => {
    const w = world();
    await failedJoin(w, { phase: 'joined-verified' });
    const out = await cleanUpFailedJoin(input, w.deps);
    expect(out.passwordReset).toBe(false);
    expect(w.directory.calls.filter((c) => c[0] === 'resetPassword')).toEqual([]);
    expect(w.fleet.secrets.size).toBe(0);
  });

  it('leaves an object whose GUID is not the recorded one', async () => {
    const w = world();
    await failedJoin(w, { objectGuid: 'recorded-guid' });
    const o = w.directory.objects[0];
    if (o) o.guid = 'another-guid';
    const out = await cleanUpFailedJoin(input, w.deps);
    expect(out.passwordReset).toBe(false);
    expect(o?.password).toBe('the-otp');
    expect(w.fleet.secrets.size).toBe(0); // the parameter goes anyway: nobody can use it then
  });

  it.each([
    ['held by another execution', async (w: TestWorld) => { await w.claims.take(KEY, 'exec-0', NOW.getTime() / 1000, 900); }],
    ['joined', async (w: TestWorld) => { await failedJoin(w); await w.claims.update(KEY, 'exec-1', { status: 'joined' }); }],
    ['never claimed', () => Promise.resolve()],
  ])('does nothing when the claim is %s', async (_case, arrange) => {
    const w = world();
    await arrange(w);
    const before = w.claims.item(KEY);
    const out = await cleanUpFailedJoin(input, w.deps);
    expect(out.outcome).toBe('nothing');
    expect(w.claims.item(KEY)).toEqual(before);
    expect(w.directory.calls.filter((c) => c[0] === 'resetPassword')).toEqual([]);
    expect(w.fleet.calls.filter((c) => c[0] === 'tagInstance')).toEqual([]);
  });

  it('an instance that is gone is not tagged, and that is no error', async () => {
    const w = world();
    await failedJoin(w);
    w.fleet.instances.delete(INSTANCE);
    w.fleet.tagInstance = () => Promise.reject(new AwsRefused('CreateTags: InvalidInstanceID.NotFound'));
    await expect(cleanUpFailedJoin(input, w.deps)).resolves.toMatchObject({ outcome: 'cleaned' });
    expect(w.claims.item(KEY)?.status).toBe('failed');
  });

  it('an execution whose input names no instance: nothing', async () => {
    const w = world();
    await expect(cleanUpFailedJoin({ ...input, input: '{"not":"an event"}' }, w.deps)).resolves.toMatchObject({ outcome: 'nothing' });
  });

  it('handler: reads the status-change detail (and refuses SUCCEEDED)', async () => {
    const w = world();
    await failedJoin(w);
    const handler = makeHandler(() => Promise.resolve(w.deps));
    await expect(handler({ ...input, status: 'SUCCEEDED' })).rejects.toMatchObject({ name: 'InvalidInput' });
    await expect(handler({ ...input, stateMachineArn: 'x', output: null })).resolves.toMatchObject({ outcome: 'cleaned' });
  });
});
