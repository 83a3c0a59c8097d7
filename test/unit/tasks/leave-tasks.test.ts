/**
 * Leave tasks, handler in, JSON out, against small fakes: "Find computer objects",
 * "Delete computer object" (also reconcile's per-item delete) and "Record leave".
 */
jest.mock('../../../tasks/adapters/default-deps', () => ({ defaultDeps: () => Promise.reject(new Error('unit tests pass their own deps')) }));

import { makeHandler as makeFind } from '../../../tasks/find-computer-objects';
import { makeHandler as makeDelete } from '../../../tasks/delete-computer-object';
import { makeHandler as makeRecord } from '../../../tasks/record-leave';
import { DirectoryUnavailable, Throttled } from '../../../tasks/lib/errors';
import type { Deps } from '../../../tasks/lib/deps';
import { ACCOUNT, goodEvent, PagedDirectory, FakeFleets, NOW, OU, REGION, computer, iid, instanceNo, makeDeps, markerOf, testSettings, aString } from '../../fakes';

const event = (n: number, over: Record<string, unknown> = {}) => ({
  ...goodEvent,
  time: NOW.toISOString(),
  resources: [],
  detail: { 'instance-id': iid(n), state: 'terminated' },
  ...over,
});
const ref = (n: number) => ({ instanceId: iid(n), account: ACCOUNT, region: REGION });
const world = (objects = [computer(1)]) => {
  const directory = new PagedDirectory(objects);
  const fleets = new FakeFleets();
  const deps = makeDeps(directory, fleets);
  const provider = (): Promise<Deps> => Promise.resolve(deps);
  return { directory, fleets, deps, find: makeFind(provider), del: makeDelete(provider), record: makeRecord(provider) };
};

describe('Find computer objects', () => {
  it('refuses a malformed event before any call', async () => {
    const w = world();
    await expect(w.find({ event: event(1, { account: '12' }), executionName: 'x' })).rejects.toMatchObject({ name: 'InvalidInput' });
    await expect(w.find({ event: { ...event(1), detail: { 'instance-id': 'i-;rm', state: 'terminated' } } })).rejects.toMatchObject({ name: 'InvalidInput' });
    expect(w.directory.calls).toEqual([]);
    expect(w.fleets.describeCalls).toEqual([]);
  });

  it.each(['running', 'stopped', 'pending', 'stopping', 'shutting-down'] as const)('an instance that is %s: instance-alive, the directory is not even read', async (state) => {
    const w = world();
    w.fleets.put(instanceNo(1, state));
    const out = await w.find({ event: event(1), executionName: 'x' });
    expect(out).toMatchObject({ outcome: 'instance-alive', objects: [], instanceId: iid(1) });
    expect(w.directory.calls).toEqual([]);
  });

  it('an EC2 error throws (retried by the workflow) and nothing is read or listed', async () => {
    const w = world();
    w.fleets.error = new Throttled('DescribeInstances: Rate exceeded');
    await expect(w.find({ event: event(1), executionName: 'x' })).rejects.toMatchObject({ name: 'Throttled' });
    expect(w.directory.calls).toEqual([]);
  });

  it('terminated (or unknown to EC2): lists the objects with its marker', async () => {
    const w = world([computer(1), computer(2)]);
    w.fleets.put(instanceNo(1, 'terminated'));
    const out = await w.find({ event: event(1), executionName: 'x' });
    expect(out).toEqual({ ...ref(1), outcome: 'delete', reason: aString(), objects: [{ dn: computer(1).dn, name: computer(1).name }] });
    const unknown = await w.find({ event: event(2), executionName: 'x' });
    expect(unknown.objects).toEqual([{ dn: computer(2).dn, name: computer(2).name }]);
  });

  it('nothing with its marker: "nothing", even when an admin\'s computer names the instance in its description', async () => {
    const admin = computer(1, { marker: undefined, description: `${iid(1)} ${ACCOUNT} ${REGION}` });
    const w = world([admin]);
    const out = await w.find({ event: event(1), executionName: 'x' });
    expect(out).toMatchObject({ outcome: 'nothing', objects: [] });
    expect(out.reason).toMatch(/no computer object carries the marker/);
  });

  it('leaves out an object outside the managed OU and one a running join still claims', async () => {
    const outside = computer(1, { dn: 'CN=EC2-1,OU=Servers,DC=corp,DC=example,DC=com' });
    const w = world([outside]);
    w.fleets.put(instanceNo(1, 'terminated'));
    expect(await w.find({ event: event(1), executionName: 'x' })).toMatchObject({ outcome: 'nothing', objects: [] });

    const w2 = world([computer(3)]);
    w2.fleets.put(instanceNo(3, 'terminated', { 'adjoin:status': 'joining', 'adjoin:claimed-at': NOW.toISOString() }));
    const out = await w2.find({ event: event(3), executionName: 'x' });
    expect(out).toMatchObject({ outcome: 'nothing', objects: [] });
    expect(out.reason).toMatch(/join/);
  });
});

describe('Delete computer object', () => {
  const item = (n: number, over: Record<string, unknown> = {}) => ({ object: { dn: computer(n).dn, name: computer(n).name }, instance: ref(n), ...over });

  it('re-reads the object, asks EC2 again, removes DNS records, then tree-deletes it', async () => {
    const w = world();
    w.fleets.put(instanceNo(1, 'terminated'));
    const out = await w.del(item(1));
    expect(out).toEqual({ dn: computer(1).dn, deleted: true, dnsRecordsRemoved: 1, reason: aString(/terminated/) });
    expect(w.directory.calls).toEqual([
      `findByMarker ${iid(1)}`,
      `deleteDnsRecords ${computer(1).dnsHostName}`,
      `deleteComputer ${computer(1).dn}`,
    ]);
    expect(w.fleets.describeCalls).toEqual([{ target: `${ACCOUNT}/${REGION}`, ids: [iid(1)] }]);
  });

  it('is idempotent: an absent object is "already gone", nothing else is touched', async () => {
    const w = world();
    await w.del(item(1));
    const again = await w.del(item(1));
    expect(again).toEqual({ dn: computer(1).dn, deleted: false, dnsRecordsRemoved: 0, reason: 'already gone' });
    expect(w.directory.deletes).toHaveLength(1);
    expect(w.directory.calls.filter((c) => c.startsWith('deleteDnsRecords'))).toHaveLength(1);
  });

  it('refuses when the object lost its marker since it was found (read again just before deleting)', async () => {
    const w = world([computer(1, { marker: undefined })]);
    await expect(w.del(item(1))).rejects.toMatchObject({ name: 'UnsafeDeleteRefused', message: aString(/not ours/) });
    expect(w.directory.deletes).toEqual([]);
  });

  it('refuses when the object now carries another instance\'s marker', async () => {
    const w = world([computer(1, { marker: markerOf(9) })]);
    await expect(w.del(item(1))).rejects.toMatchObject({ name: 'UnsafeDeleteRefused' });
    expect(w.directory.deletes).toEqual([]);
  });

  it('refuses an object outside the managed OU', async () => {
    const dn = 'CN=EC2-1,OU=NotAdjoin,OU=Computers,DC=corp,DC=example,DC=com';
    const w = world([computer(1, { dn })]);
    await expect(w.del({ object: { dn, name: computer(1).name }, instance: ref(1) })).rejects.toMatchObject({ name: 'UnsafeDeleteRefused', message: aString(/managed OU/) });
    expect(w.directory.deletes).toEqual([]);
  });

  it('refuses when EC2 now says the instance is alive', async () => {
    const w = world();
    w.fleets.put(instanceNo(1, 'running'));
    await expect(w.del(item(1))).rejects.toMatchObject({ name: 'UnsafeDeleteRefused', message: aString(/running/) });
    expect(w.directory.deletes).toEqual([]);
  });

  it('an EC2 error is thrown as it is (retried), never read as "gone"', async () => {
    const w = world();
    w.fleets.error = new Throttled('Rate exceeded');
    await expect(w.del(item(1))).rejects.toMatchObject({ name: 'Throttled' });
    expect(w.directory.deletes).toEqual([]);
  });

  it('honours the grace period it is given (reconcile), and not otherwise (leave)', async () => {
    const w = world([computer(1, { whenCreated: new Date(NOW.getTime() - 60_000) })]);
    await expect(w.del(item(1, { graceSeconds: 3600 }))).rejects.toMatchObject({ name: 'UnsafeDeleteRefused', message: aString(/grace/) });
    expect(w.directory.deletes).toEqual([]);
    expect(await w.del(item(1))).toMatchObject({ deleted: true });
  });

  it('a directory outage throws DirectoryUnavailable; the retry finishes the job', async () => {
    const w = world();
    w.directory.failOn.set('deleteComputer', new DirectoryUnavailable('connect ECONNREFUSED'));
    await expect(w.del(item(1))).rejects.toMatchObject({ name: 'DirectoryUnavailable' });
    w.directory.failOn.clear();
    expect(await w.del(item(1))).toMatchObject({ deleted: true, dnsRecordsRemoved: 0 });
    expect(w.directory.objects.size).toBe(0);
  });

  it('refuses malformed items', async () => {
    const w = world();
    await expect(w.del({ object: { dn: computer(1).dn }, instance: ref(1) })).rejects.toMatchObject({ name: 'InvalidInput' });
    await expect(w.del({ object: item(1).object, instance: { ...ref(1), account: 'x' } })).rejects.toMatchObject({ name: 'InvalidInput' });
    await expect(w.del(item(1, { graceSeconds: -1 }))).rejects.toMatchObject({ name: 'InvalidInput' });
    expect(w.directory.deletes).toEqual([]);
  });
});

describe('Record leave', () => {
  it('summarises deleted, already gone, skipped and failed items', async () => {
    const w = world();
    const out = await w.record({
      instance: { ...ref(1), outcome: 'delete', objects: [] },
      deleted: [
        { dn: 'CN=A', deleted: true, dnsRecordsRemoved: 1, reason: 'gone' },
        { dn: 'CN=B', deleted: false, dnsRecordsRemoved: 0, reason: 'already gone' },
      ],
      executionName: 'x',
    });
    expect(out).toEqual({ ...ref(1), outcome: 'left', deleted: 1, alreadyGone: 1, skipped: 0, failed: 0, dnsRecordsRemoved: 1, deletedDns: ['CN=A'], notDeleted: [] });
    const partial = await w.record({ instance: ref(1), deleted: [{ dn: 'CN=C', deleted: false, outcome: 'skipped', reason: 'Refused to delete CN=C: x' }] });
    expect(partial).toMatchObject({ outcome: 'partial', skipped: 1, notDeleted: [{ dn: 'CN=C', reason: 'Refused to delete CN=C: x' }] });
    expect(testSettings().directory.managedOus).toEqual([OU]);
    // in AWS a caught Lambda error's Cause is a JSON document: the message is what is recorded
    const aws = await w.record({ instance: ref(1), deleted: [{ dn: 'CN=D', deleted: false, outcome: 'skipped', reason: JSON.stringify({ errorType: 'UnsafeDeleteRefused', errorMessage: 'Refused to delete CN=D: y', trace: ['at x'] }) }] });
    expect(aws.notDeleted).toEqual([{ dn: 'CN=D', reason: 'Refused to delete CN=D: y' }]);
  });
});
