/**
 * "Find stale objects" (reconcile) against small fakes: paging, batching per fleet, every rule, EC2 errors abort.
 */
jest.mock('../../../tasks/adapters/default-deps', () => ({ defaultDeps: () => Promise.reject(new Error('unit tests pass their own deps')) }));

import { makeHandler as makeFind } from '../../../tasks/find-stale-objects';
import { AwsRefused, AwsUnavailable, DirectoryUnavailable, Throttled } from '../../../tasks/lib/errors';
import type { ComputerObject } from '../../../tasks/lib/ports';
import { DESCRIBE_BATCH, DESCRIBE_CONCURRENCY, STALE_LIST_MAX_BYTES, STALE_LIST_MAX_ITEMS } from '../../../tasks/lib/reconcile';
import type { ScanOutput, StaleItem } from '../../../tasks/lib/contracts';
import { ACCOUNT, ADMIN_SID, NOW, REGION, computer, guidOf, iid, instanceNo, markerOf, pagedWorld, range } from '../../fakes';

const world = (objects: ComputerObject[], reconcile: Parameters<typeof pagedWorld>[1] = {}) => {
  const w = pagedWorld(objects, reconcile);
  return { ...w, find: makeFind(w.provider) };
};

describe('Find stale objects', () => {
  it('applies every rule: only old objects with our marker, in the OU, whose instance is gone', async () => {
    // Prepare
    const objects = [
      computer(1), // terminated → stale
      computer(2), // unknown to EC2 → stale
      computer(3), // running
      computer(4), // stopped
      computer(5, { whenCreated: new Date(NOW.getTime() - 60_000) }), // young
      computer(6, { marker: undefined, description: `EC2 ${iid(6)}` }), // admin's: not ours
      computer(7, { dn: 'CN=EC2-7,OU=NotAdjoin,OU=Computers,DC=corp,DC=example,DC=com' }), // outside
      computer(8), // terminated: a join claim on it does not block
      computer(9, { createdByUs: false, ownerSid: ADMIN_SID }), // terminated, full marker, created by someone else
    ];
    const w = world(objects);
    w.fleets.put(instanceNo(1, 'terminated'));
    w.fleets.put(instanceNo(3, 'running'));
    w.fleets.put(instanceNo(4, 'stopped'));
    w.fleets.put(instanceNo(8, 'terminated', { 'adjoin:status': 'joining', 'adjoin:claimed-at': NOW.toISOString() }));
    w.fleets.put(instanceNo(9, 'terminated'));
    // Act
    const scan = await w.find({ input: {}, executionName: 'r' });
    // Assess
    expect(scan).toMatchObject({
      scanned: 9,
      stale: 3,
      notOurs: 1,
      outsideManagedOu: 1,
      notProvenOurs: 1,
      young: 1,
      alive: 2,
      joinRunning: 0,
      unreachable: 0,
      skippedAccounts: [],
      notListed: 0,
      dryRun: false,
      graceSeconds: 3600,
    });
    expect(scan.staleList.map((s: StaleItem) => s.instance.instanceId)).toEqual([iid(1), iid(2), iid(8)]);
    expect(scan.staleList[0]).toEqual({ object: { dn: computer(1).dn, name: computer(1).name, guid: guidOf(1) }, instance: markerOf(1) });
    // not-ours, outside, not-proven-ours and young objects cost no EC2 call
    expect(w.fleets.describeCalls.flatMap((c) => c.ids).sort()).toEqual([iid(1), iid(2), iid(3), iid(4), iid(8)]);
  });

  it('pages the directory and batches DescribeInstances per account and Region', async () => {
    // Prepare
    const objects = [...range(0, 450).map((n) => computer(n)), ...range(1000, 1010).map((n) => computer(n, { marker: markerOf(n, '999988887777', 'us-east-1') }))];
    const w = world(objects, { maxDeletions: 10_000 });
    w.directory.pageSize = 100;
    // Act
    const scan = await w.find({ input: {}, executionName: 'r' });
    // Assess
    expect(scan).toMatchObject({ scanned: 460, stale: 460, ldapPages: 5, fleets: 2, ec2Calls: 4 });
    const sizes = w.fleets.describeCalls.map((c) => `${c.target}:${c.ids.length}`);
    expect(sizes).toEqual([`${ACCOUNT}/eu-west-1:200`, `${ACCOUNT}/eu-west-1:200`, `${ACCOUNT}/eu-west-1:50`, '999988887777/us-east-1:10']);
    expect(Math.max(...w.fleets.describeCalls.map((c) => c.ids.length))).toBeLessThanOrEqual(DESCRIBE_BATCH);
  });

  it.each([['Throttled', new Throttled('Rate exceeded')], ['DirectoryUnavailable', new DirectoryUnavailable('down')]])('an error that is not "this account cannot be asked" (%s) aborts the scan: it throws, nothing is reported stale', async (_name, err) => {
    // Prepare
    const w = world([computer(1), computer(2)]);
    w.fleets.error = err;
    // Act / Assess
    await expect(w.find({ input: {}, executionName: 'r' })).rejects.toBe(err);
  });

  it.each([['AwsRefused', new AwsRefused('AssumeRole: AccessDenied')], ['AwsUnavailable', new AwsUnavailable('503')]])('one account whose EC2 cannot be asked (%s): its objects are skipped and reported, the others are judged', async (name, err) => {
    // Prepare
    const OTHER = '999988887777';
    const objects = [computer(1), computer(2), ...range(10, 13).map((n) => computer(n, { marker: markerOf(n, OTHER, REGION) }))];
    const w = world(objects);
    w.fleets.put(instanceNo(1, 'terminated'));
    w.fleets.put(instanceNo(2, 'running'));
    for (const n of range(10, 13)) w.fleets.put(instanceNo(n, 'terminated'), OTHER, REGION);
    w.fleets.errorFor.set(`${OTHER}/${REGION}`, err);
    // Act
    const scan = await w.find({ input: {} });
    // Assess
    expect(scan).toMatchObject({ scanned: 5, stale: 1, alive: 1, unreachable: 3 });
    expect(scan.staleList.map((s: StaleItem) => s.instance.instanceId)).toEqual([iid(1)]);
    expect(scan.skippedAccounts).toEqual([{ account: OTHER, region: REGION, error: name, reason: err.message, objects: 3 }]);
  });

  it(`keeps at most ${DESCRIBE_CONCURRENCY} DescribeInstances calls in flight`, async () => {
    // Prepare
    const w = world(range(0, 2000).map((n) => computer(n)), { maxDeletions: 10_000 });
    w.fleets.delayMs = 5;
    // Act
    const scan = await w.find({ input: {} });
    // Assess
    expect(scan).toMatchObject({ scanned: 2000, stale: 2000, ec2Calls: 10 });
    expect(w.fleets.maxInFlight).toBe(DESCRIBE_CONCURRENCY);
  });

  it('an error in one of the parallel calls aborts the scan; no call starts after it', async () => {
    // Prepare
    const w = world(range(0, 3000).map((n) => computer(n)), { maxDeletions: 10_000 });
    w.fleets.delayMs = 5;
    w.fleets.failCall = { n: 2, error: new Throttled('DescribeInstances: Rate exceeded') };
    // Act / Assess
    await expect(w.find({ input: {} })).rejects.toMatchObject({ name: 'Throttled' });
    expect(w.fleets.describeCalls.length).toBeLessThanOrEqual(DESCRIBE_CONCURRENCY + 1);
    await new Promise((r) => setTimeout(r, 30)); // in-flight calls settle without an unhandled rejection
  });

  it('dryRun in the input overrides the settings, both ways; anything else is refused', async () => {
    // Prepare / Act / Assess
    expect((await world([], { dryRun: false }).find({ input: { dryRun: true } })).dryRun).toBe(true);
    expect((await world([], { dryRun: true }).find({ input: { dryRun: false } })).dryRun).toBe(false);
    expect((await world([], { dryRun: true }).find({ input: {} })).dryRun).toBe(true);
    await expect(world([]).find({ input: { dryRun: 'yes' } })).rejects.toMatchObject({ name: 'InvalidInput' });
    await expect(world([]).find({ input: [] })).rejects.toMatchObject({ name: 'InvalidInput' });
  });

  it('keeps the stale list bounded (state data stays small); the rest is counted', async () => {
    // Prepare
    const w = world(range(0, STALE_LIST_MAX_ITEMS + 120).map((n) => computer(n)), { maxDeletions: 10_000 });
    // Act
    const scan: ScanOutput = await w.find({ input: {} });
    // Assess
    expect(scan.stale).toBe(STALE_LIST_MAX_ITEMS + 120);
    expect(scan.staleList.length + scan.notListed).toBe(scan.stale);
    expect(scan.staleList.length).toBeLessThanOrEqual(STALE_LIST_MAX_ITEMS);
    expect(Buffer.byteLength(JSON.stringify(scan))).toBeLessThan(STALE_LIST_MAX_BYTES + 2000);
  });
});
