/**
 * "Find computer objects" (leave), handler in, JSON out, against small fakes.
 */
jest.mock('../../../tasks/adapters/default-deps', () => ({ defaultDeps: () => Promise.reject(new Error('unit tests pass their own deps')) }));

import { makeHandler as makeFind } from '../../../tasks/find-computer-objects';
import { claimKey } from '../../../tasks/lib/claims';
import { AwsRefused, Throttled } from '../../../tasks/lib/errors';
import { ACCOUNT, ADMIN_SID, goodEvent, NOW, REGION, computer, guidOf, iid, instanceNo, aString, pagedWorld, refOf } from '../../fakes';

const event = (n: number, over: Record<string, unknown> = {}) => ({
  ...goodEvent,
  time: NOW.toISOString(),
  resources: [],
  detail: { 'instance-id': iid(n), state: 'terminated' },
  ...over,
});
const world = (objects = [computer(1)]) => {
  const w = pagedWorld(objects);
  return { ...w, find: makeFind(w.provider) };
};

describe('Find computer objects', () => {
  it('refuses a malformed event before any call', async () => {
    // Prepare
    const w = world();
    // Act / Assess
    await expect(w.find({ event: event(1, { account: '12' }), executionName: 'x' })).rejects.toMatchObject({ name: 'InvalidInput' });
    await expect(w.find({ event: { ...event(1), detail: { 'instance-id': 'i-;rm', state: 'terminated' } } })).rejects.toMatchObject({ name: 'InvalidInput' });
    expect(w.directory.calls).toEqual([]);
    expect(w.fleets.describeCalls).toEqual([]);
  });

  it.each(['running', 'stopped', 'pending', 'stopping', 'shutting-down'] as const)('an instance that is %s: instance-alive, the directory is not even read', async (state) => {
    // Prepare
    const w = world();
    w.fleets.put(instanceNo(1, state));
    // Act
    const out = await w.find({ event: event(1), executionName: 'x' });
    // Assess
    expect(out).toMatchObject({ outcome: 'instance-alive', objects: [], instanceId: iid(1) });
    expect(w.directory.calls).toEqual([]);
  });

  it('an EC2 error throws (retried by the workflow) and nothing is read or listed', async () => {
    // Prepare
    const w = world();
    w.fleets.error = new Throttled('DescribeInstances: Rate exceeded');
    // Act / Assess
    await expect(w.find({ event: event(1), executionName: 'x' })).rejects.toMatchObject({ name: 'Throttled' });
    expect(w.directory.calls).toEqual([]);
  });

  it('gone: deletes its one-time-password parameter, objects found or not; alive: leaves it', async () => {
    // Prepare
    const w = world([]);
    w.fleets.putParameter(`/adjoin/otp/${iid(1)}`, NOW);
    w.fleets.putParameter(`/adjoin/otp/${iid(2)}`, NOW);
    w.fleets.put(instanceNo(2, 'running'));
    // Act
    const gone = await w.find({ event: event(1), executionName: 'x' });
    const alive = await w.find({ event: event(2), executionName: 'x' });
    // Assess
    expect(gone).toMatchObject({ outcome: 'nothing', objects: [] });
    expect(alive).toMatchObject({ outcome: 'instance-alive' });
    expect(w.fleets.parameterDeletes).toEqual([`${ACCOUNT}/${REGION} /adjoin/otp/${iid(1)}`]);
    expect([...(w.fleets.parameters.get(`${ACCOUNT}/${REGION}`)?.keys() ?? [])]).toEqual([`/adjoin/otp/${iid(2)}`]);
  });

  it('a refused parameter delete does not stop the leave (reported; the reconcile sweeps it); a transient one is retried by the state', async () => {
    // Prepare
    const w = world([computer(1)]);
    w.fleets.put(instanceNo(1, 'terminated'));
    const fleetFor = w.deps.fleetFor;
    let error: Error = new AwsRefused('SSM DeleteParameter: AccessDeniedException');
    w.deps.fleetFor = (t) => ({ ...fleetFor(t), deleteJoinSecret: () => Promise.reject(error) });
    // Act
    const out = await w.find({ event: event(1), executionName: 'x' });
    // Assess
    expect(out).toMatchObject({ outcome: 'delete', objects: [expect.objectContaining({ dn: computer(1).dn })], otpNotDeleted: 'AwsRefused: SSM DeleteParameter: AccessDeniedException' });
    error = new Throttled('SSM DeleteParameter: Rate exceeded');
    await expect(w.find({ event: event(1), executionName: 'x' })).rejects.toMatchObject({ name: 'Throttled' });
  });

  it('terminated (or unknown to EC2): lists the objects with its marker', async () => {
    // Prepare
    const w = world([computer(1), computer(2)]);
    w.fleets.put(instanceNo(1, 'terminated'));
    // Act
    const out = await w.find({ event: event(1), executionName: 'x' });
    // Assess
    expect(out).toEqual({ ...refOf(1), outcome: 'delete', reason: aString(), objects: [{ dn: computer(1).dn, name: computer(1).name, guid: guidOf(1) }] });
    const unknown = await w.find({ event: event(2), executionName: 'x' });
    expect(unknown.objects).toEqual([{ dn: computer(2).dn, name: computer(2).name, guid: guidOf(2) }]);
  });

  it('nothing with its marker: "nothing", even when an admin\'s computer names the instance in its description', async () => {
    // Prepare
    const admin = computer(1, { marker: undefined, description: `${iid(1)} ${ACCOUNT} ${REGION}` });
    const w = world([admin]);
    // Act
    const out = await w.find({ event: event(1), executionName: 'x' });
    // Assess
    expect(out).toMatchObject({ outcome: 'nothing', objects: [] });
    expect(out.reason).toMatch(/no computer object carries the marker/);
  });

  it('leaves out an object outside the managed OU, one someone else created, and one whose GUID is not the recorded one', async () => {
    // Prepare
    const outside = computer(1, { dn: 'CN=EC2-1,OU=Servers,DC=corp,DC=example,DC=com' });
    const w = world([outside]);
    w.fleets.put(instanceNo(1, 'terminated'));
    // Act / Assess
    expect(await w.find({ event: event(1), executionName: 'x' })).toMatchObject({ outcome: 'nothing', objects: [] });

    const w2 = world([computer(3, { createdByUs: false, ownerSid: ADMIN_SID })]);
    w2.fleets.put(instanceNo(3, 'terminated'));
    const out = await w2.find({ event: event(3), executionName: 'x' });
    expect(out).toMatchObject({ outcome: 'nothing', objects: [] });
    expect(out.reason).toContain(ADMIN_SID);

    const w3 = world([computer(4)]);
    w3.fleets.put(instanceNo(4, 'terminated'));
    const mismatch = await w3.find({ event: event(4), expectedGuid: guidOf(5), executionName: 'x' });
    expect(mismatch).toMatchObject({ outcome: 'nothing', objects: [] });
    expect(mismatch.reason).toContain(`${guidOf(4)}, not the recorded ${guidOf(5)}`);
    expect((await w3.find({ event: event(4), expectedGuid: guidOf(4), executionName: 'x' })).objects).toEqual([{ dn: computer(4).dn, name: computer(4).name, guid: guidOf(4) }]);
    await expect(w3.find({ event: event(4), expectedGuid: 'not-a-guid' })).rejects.toMatchObject({ name: 'InvalidInput' });
  });

  it('the join claim recorded an objectGUID: an object whose GUID differs is not deleted (named reason); the recorded one is', async () => {
    // Prepare: the claim of instance 4 recorded guidOf(5) at create; the object under its marker has guidOf(4)
    const w = world([computer(4)]);
    w.fleets.put(instanceNo(4, 'terminated'));
    await w.deps.claims.take(claimKey(refOf(4)), 'join-4', NOW.getTime() / 1000, 600);
    await w.deps.claims.update(claimKey(refOf(4)), 'join-4', { status: 'failed', objectGuid: guidOf(5) });
    // Act
    const out = await w.find({ event: event(4), executionName: 'x' });
    // Assess
    expect(out).toMatchObject({ outcome: 'nothing', objects: [] });
    expect(out.reason).toContain(`objectGUID ${guidOf(4)}, not the recorded ${guidOf(5)}`);
    expect(w.directory.calls.filter((c) => c.startsWith('delete'))).toEqual([]);

    // Prepare: the claim recorded the object's own GUID
    const w2 = world([computer(4)]);
    w2.fleets.put(instanceNo(4, 'terminated'));
    await w2.deps.claims.take(claimKey(refOf(4)), 'join-4', NOW.getTime() / 1000, 600);
    await w2.deps.claims.update(claimKey(refOf(4)), 'join-4', { objectGuid: guidOf(4) });
    // Act / Assess
    expect(await w2.find({ event: event(4), executionName: 'x' })).toMatchObject({ outcome: 'delete', objects: [{ dn: computer(4).dn, guid: guidOf(4) }] });
  });

  it('no claim (an instance joined before claims, or by hand): the owner-SID rule decides', async () => {
    // Prepare: no claim item for either instance
    const w = world([computer(6), computer(7, { createdByUs: false, ownerSid: ADMIN_SID })]);
    w.fleets.put(instanceNo(6, 'terminated'));
    w.fleets.put(instanceNo(7, 'terminated'));
    // Act
    const ours = await w.find({ event: event(6), executionName: 'x' });
    const foreign = await w.find({ event: event(7), executionName: 'x' });
    // Assess
    expect(await w.deps.claims.get(claimKey(refOf(6)))).toBeUndefined();
    expect(ours).toMatchObject({ outcome: 'delete', objects: [{ dn: computer(6).dn }] });
    expect(foreign).toMatchObject({ outcome: 'nothing', objects: [] });
    expect(foreign.reason).toContain(ADMIN_SID);
  });

  it('terminated with a fresh "joining" claim (a join that failed or never finished): listed all the same', async () => {
    // Prepare
    const w = world([computer(3)]);
    w.fleets.put(instanceNo(3, 'terminated', { 'adjoin:status': 'joining', 'adjoin:claimed-at': NOW.toISOString() }));
    // Act
    const out = await w.find({ event: event(3), executionName: 'x' });
    // Assess
    expect(out).toMatchObject({ outcome: 'delete', objects: [{ dn: computer(3).dn }] });
  });
});
