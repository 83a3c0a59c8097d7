/**
 * "Record leave", handler in, JSON out, against small fakes.
 */
jest.mock('../../../tasks/adapters/default-deps', () => ({ defaultDeps: () => Promise.reject(new Error('unit tests pass their own deps')) }));

import { makeHandler as makeRecord } from '../../../tasks/record-leave';
import { OU, computer, testSettings, pagedWorld, refOf } from '../../fakes';

const world = (objects = [computer(1)]) => {
  const w = pagedWorld(objects);
  return { ...w, record: makeRecord(w.provider) };
};

describe('Record leave', () => {
  it('summarises deleted, already gone, skipped and failed items', async () => {
    // Prepare
    const w = world();
    // Act
    const out = await w.record({
      instance: { ...refOf(1), outcome: 'delete', objects: [] },
      deleted: [
        { dn: 'CN=A', deleted: true, dnsRecordsRemoved: 1, reason: 'gone' },
        { dn: 'CN=B', deleted: false, dnsRecordsRemoved: 0, reason: 'already gone' },
      ],
      executionName: 'x',
    });
    // Assess
    expect(out).toEqual({
      ...refOf(1),
      outcome: 'left',
      deleted: 1,
      alreadyGone: 1,
      skipped: 0,
      failed: 0,
      dnsRecordsRemoved: 1,
      dnsFailed: 0,
      deletedDns: ['CN=A'],
      notDeleted: [],
      dnsNotRemoved: [],
    });
    const partial = await w.record({ instance: refOf(1), deleted: [{ dn: 'CN=C', deleted: false, outcome: 'skipped', reason: 'Refused to delete CN=C: x' }] });
    expect(partial).toMatchObject({ outcome: 'partial', skipped: 1, notDeleted: [{ dn: 'CN=C', reason: 'Refused to delete CN=C: x' }] });
    expect(testSettings().directory.managedOus).toEqual([OU]);
    // in AWS a caught Lambda error's Cause is a JSON document: the message is what is recorded
    const aws = await w.record({ instance: refOf(1), deleted: [{ dn: 'CN=D', deleted: false, outcome: 'skipped', reason: JSON.stringify({ errorType: 'UnsafeDeleteRefused', errorMessage: 'Refused to delete CN=D: y', trace: ['at x'] }) }] });
    expect(aws.notDeleted).toEqual([{ dn: 'CN=D', reason: 'Refused to delete CN=D: y' }]);
  });

  it('an object deleted whose DNS records the directory refused to delete: "partial", the records named for an operator', async () => {
    // Prepare
    const w = world();
    // Act
    const out = await w.record({
      instance: refOf(1),
      deleted: [{ dn: 'CN=A', deleted: true, dnsRecordsRemoved: 0, reason: 'gone', dnsFailed: true, dnsReason: 'DNS records of a.corp.example.com not removed: refused' }],
    });
    // Assess
    expect(out).toMatchObject({
      outcome: 'partial',
      deleted: 1,
      dnsFailed: 1,
      deletedDns: ['CN=A'],
      notDeleted: [],
      dnsNotRemoved: [{ dn: 'CN=A', reason: 'DNS records of a.corp.example.com not removed: refused' }],
    });
  });
});
