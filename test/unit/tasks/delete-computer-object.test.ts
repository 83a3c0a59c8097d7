/**
 * "Delete computer object" (leave, and reconcile's per-item delete), handler in, JSON out, against small fakes.
 */
jest.mock('../../../tasks/adapters/default-deps', () => ({ defaultDeps: () => Promise.reject(new Error('unit tests pass their own deps')) }));

import { makeHandler as makeDelete } from '../../../tasks/delete-computer-object';
import { DirectoryRefused, DirectoryUnavailable, Throttled } from '../../../tasks/lib/errors';
import { ACCOUNT, ADMIN_SID, NOW, REGION, computer, guidOf, iid, instanceNo, markerOf, aString, pagedWorld, refOf } from '../../fakes';

const world = (objects = [computer(1)]) => {
  const w = pagedWorld(objects);
  return { ...w, del: makeDelete(w.provider) };
};

describe('Delete computer object', () => {
  const item = (n: number, over: Record<string, unknown> = {}) => ({ object: { dn: computer(n).dn, name: computer(n).name }, instance: refOf(n), ...over });

  it('re-reads the object, asks EC2 again, removes DNS records, then tree-deletes it', async () => {
    // Prepare
    const w = world();
    w.fleets.put(instanceNo(1, 'terminated'));
    // Act
    const out = await w.del(item(1));
    // Assess
    expect(out).toEqual({ dn: computer(1).dn, deleted: true, dnsRecordsRemoved: 1, reason: aString(/terminated/) });
    expect(w.directory.calls).toEqual([
      `findByMarker ${iid(1)}`,
      `deleteDnsRecords ${computer(1).dnsHostName}`,
      `deleteComputer ${computer(1).dn}`,
    ]);
    expect(w.fleets.describeCalls).toEqual([{ target: `${ACCOUNT}/${REGION}`, ids: [iid(1)] }]);
  });

  it('DNS records are those of OUR name in OUR zone: a dNSHostName rewritten to a DC\'s name is ignored, the DC\'s record stays', async () => {
    // Prepare
    const DC = 'dc1.corp.example.com';
    const w = world([computer(1, { dnsHostName: DC })]);
    w.directory.dnsRecords.set(DC, 1);
    w.directory.dnsRecords.set('ec2-00000001.corp.example.com', 1);
    w.fleets.put(instanceNo(1, 'terminated'));
    // Act
    const out = await w.del(item(1));
    // Assess
    expect(out).toMatchObject({ deleted: true, dnsRecordsRemoved: 1 });
    expect(w.directory.calls.filter((c) => c.startsWith('deleteDnsRecords'))).toEqual(['deleteDnsRecords ec2-00000001.corp.example.com']);
    expect(w.directory.dnsRecords.get(DC)).toBe(1);
  });

  it('a refused DNS delete: the object is deleted anyway and the output says dnsFailed, naming the host', async () => {
    // Prepare
    const w = world();
    w.fleets.put(instanceNo(1, 'terminated'));
    w.directory.failOn.set('deleteDnsRecords', new DirectoryRefused('LDAP delete failed: Insufficient access rights (LDAP result 50)'));
    // Act
    const out = await w.del(item(1));
    // Assess
    expect(out).toMatchObject({ dn: computer(1).dn, deleted: true, dnsRecordsRemoved: 0, dnsFailed: true, dnsReason: aString(/ec2-00000001\.corp\.example\.com.*Insufficient access/) });
    expect(w.directory.deletes).toEqual([`deleteComputer ${computer(1).dn}`]);
  });

  it('a DNS delete that fails for another reason (outage) throws: retried, the object is not deleted first', async () => {
    // Prepare
    const w = world();
    w.fleets.put(instanceNo(1, 'terminated'));
    w.directory.failOn.set('deleteDnsRecords', new DirectoryUnavailable('timeout'));
    // Act / Assess
    await expect(w.del(item(1))).rejects.toMatchObject({ name: 'DirectoryUnavailable' });
    expect(w.directory.deletes).toEqual([]);
  });

  it('the GUID seen when found pins the object: another object under the same DN and marker is refused, naming both GUIDs', async () => {
    // Prepare
    const w = world([computer(1, { guid: guidOf(77) })]);
    w.fleets.put(instanceNo(1, 'terminated'));
    // Act / Assess
    await expect(w.del(item(1, { object: { dn: computer(1).dn, name: computer(1).name, guid: guidOf(1) } }))).rejects.toMatchObject({
      name: 'UnsafeDeleteRefused',
      message: aString(new RegExp(`${guidOf(77)}.*${guidOf(1)}`)),
    });
    expect(w.directory.deletes).toEqual([]);
  });

  it('with no GUID: refuses an object the service account did not create (a copied marker)', async () => {
    // Prepare
    const w = world([computer(1, { createdByUs: false, ownerSid: ADMIN_SID })]);
    w.fleets.put(instanceNo(1, 'terminated'));
    // Act / Assess
    await expect(w.del(item(1))).rejects.toMatchObject({ name: 'UnsafeDeleteRefused', message: aString(/not created by the service account/) });
    expect(w.directory.deletes).toEqual([]);
  });

  it('is idempotent: an absent object is "already gone", nothing else is touched', async () => {
    // Prepare
    const w = world();
    // Act
    await w.del(item(1));
    const again = await w.del(item(1));
    // Assess
    expect(again).toEqual({ dn: computer(1).dn, deleted: false, dnsRecordsRemoved: 0, reason: 'already gone' });
    expect(w.directory.deletes).toHaveLength(1);
    expect(w.directory.calls.filter((c) => c.startsWith('deleteDnsRecords'))).toHaveLength(1);
  });

  it('refuses when the object lost its marker since it was found (read again just before deleting)', async () => {
    // Prepare
    const w = world([computer(1, { marker: undefined })]);
    // Act / Assess
    await expect(w.del(item(1))).rejects.toMatchObject({ name: 'UnsafeDeleteRefused', message: aString(/not ours/) });
    expect(w.directory.deletes).toEqual([]);
  });

  it('refuses when the object now carries another instance\'s marker', async () => {
    // Prepare
    const w = world([computer(1, { marker: markerOf(9) })]);
    // Act / Assess
    await expect(w.del(item(1))).rejects.toMatchObject({ name: 'UnsafeDeleteRefused' });
    expect(w.directory.deletes).toEqual([]);
  });

  it('refuses an object outside the managed OU', async () => {
    // Prepare
    const dn = 'CN=EC2-1,OU=NotAdjoin,OU=Computers,DC=corp,DC=example,DC=com';
    const w = world([computer(1, { dn })]);
    // Act / Assess
    await expect(w.del({ object: { dn, name: computer(1).name }, instance: refOf(1) })).rejects.toMatchObject({ name: 'UnsafeDeleteRefused', message: aString(/managed OU/) });
    expect(w.directory.deletes).toEqual([]);
  });

  it('refuses when EC2 now says the instance is alive', async () => {
    // Prepare
    const w = world();
    w.fleets.put(instanceNo(1, 'running'));
    // Act / Assess
    await expect(w.del(item(1))).rejects.toMatchObject({ name: 'UnsafeDeleteRefused', message: aString(/running/) });
    expect(w.directory.deletes).toEqual([]);
  });

  it('an EC2 error is thrown as it is (retried), never read as "gone"', async () => {
    // Prepare
    const w = world();
    w.fleets.error = new Throttled('Rate exceeded');
    // Act / Assess
    await expect(w.del(item(1))).rejects.toMatchObject({ name: 'Throttled' });
    expect(w.directory.deletes).toEqual([]);
  });

  it('honours the grace period it is given (reconcile), and not otherwise (leave)', async () => {
    // Prepare
    const w = world([computer(1, { whenCreated: new Date(NOW.getTime() - 60_000) })]);
    // Act / Assess
    await expect(w.del(item(1, { graceSeconds: 3600 }))).rejects.toMatchObject({ name: 'UnsafeDeleteRefused', message: aString(/grace/) });
    expect(w.directory.deletes).toEqual([]);
    expect(await w.del(item(1))).toMatchObject({ deleted: true });
  });

  it('a directory outage throws DirectoryUnavailable; the retry finishes the job', async () => {
    // Prepare
    const w = world();
    w.directory.failOn.set('deleteComputer', new DirectoryUnavailable('connect ECONNREFUSED'));
    // Act / Assess
    await expect(w.del(item(1))).rejects.toMatchObject({ name: 'DirectoryUnavailable' });
    w.directory.failOn.clear();
    expect(await w.del(item(1))).toMatchObject({ deleted: true, dnsRecordsRemoved: 0 });
    expect(w.directory.objects.size).toBe(0);
  });

  it('refuses malformed items', async () => {
    // Prepare
    const w = world();
    // Act / Assess
    await expect(w.del({ object: { dn: computer(1).dn }, instance: refOf(1) })).rejects.toMatchObject({ name: 'InvalidInput' });
    await expect(w.del({ object: item(1).object, instance: { ...refOf(1), account: 'x' } })).rejects.toMatchObject({ name: 'InvalidInput' });
    await expect(w.del(item(1, { graceSeconds: -1 }))).rejects.toMatchObject({ name: 'InvalidInput' });
    expect(w.directory.deletes).toEqual([]);
  });
});

describe('Delete computer object: the workflow it logs as', () => {
  it.each([
    ['leave', {}],
    ['reconcile', { graceSeconds: 3600 }],
  ] as const)('runs for %s', async (workflow, over) => {
    // Prepare
    const w = world();
    w.fleets.put(instanceNo(1, 'terminated'));
    const keys = jest.spyOn(w.deps.logger, 'appendKeys');
    // Act
    await w.del({ object: { dn: computer(1).dn, name: computer(1).name }, instance: refOf(1), ...over });
    // Assess
    expect(keys.mock.calls.flatMap(([k]) => (k.workflow === undefined ? [] : [k.workflow]))).toEqual([workflow]);
  });
});

