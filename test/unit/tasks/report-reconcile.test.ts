/**
 * "Report" (reconcile) against small fakes: the summary and its EMF metrics.
 */
jest.mock('../../../tasks/adapters/default-deps', () => ({ defaultDeps: () => Promise.reject(new Error('unit tests pass their own deps')) }));

import { makeHandler as makeReport } from '../../../tasks/report-reconcile';
import type { ComputerObject } from '../../../tasks/lib/ports';
import { NOW, pagedWorld, scanOf } from '../../fakes';

const world = (objects: ComputerObject[], reconcile: Parameters<typeof pagedWorld>[1] = {}) => {
  const w = pagedWorld(objects, reconcile);
  return { ...w, report: makeReport(w.provider) };
};

describe('Report', () => {
  it('counts the Map results and writes the EMF metrics', async () => {
    // Prepare
    const w = world([]);
    const info = jest.spyOn(w.deps.logger, 'info');
    // Act
    const out = await w.report({
      scan: scanOf(5, 5),
      guard: { dryRun: false, maxDeletions: 50, stale: 5, capExceeded: false, toDelete: 5 },
      deleted: [
        { dn: 'a', deleted: true, dnsRecordsRemoved: 1, reason: '' },
        { dn: 'b', deleted: true, dnsRecordsRemoved: 0, reason: '' },
        { dn: 'c', deleted: false, dnsRecordsRemoved: 0, reason: 'already gone' },
        { dn: 'd', deleted: false, outcome: 'skipped', reason: 'Refused' },
        { dn: 'e', deleted: false, outcome: 'failed', error: 'DirectoryRefused', reason: 'insufficient rights' },
      ],
    });
    // Assess
    expect(out).toEqual({
      scanned: 5,
      stale: 5,
      deleted: 2,
      skipped: 2,
      failed: 1,
      dryRun: false,
      alreadyGone: 1,
      notListed: 0,
      capExceeded: false,
      dnsFailed: 0,
      unreachable: 0,
      skippedAccounts: [],
      complete: true,
      otpSwept: 0,
      otpPasswordsReset: 0,
      otpLeftAlone: { notOurs: 0, young: 0, joinRunning: 0 },
    });
    const emf = info.mock.calls.find((c) => c[0] === 'Reconcile metrics')?.[1] as Record<string, unknown>;
    expect(emf).toMatchObject({
      _aws: { Timestamp: NOW.getTime(), CloudWatchMetrics: [{ Namespace: 'adjoin', Dimensions: [['Workflow', 'DryRun']] }] },
      Workflow: 'reconcile',
      DryRun: 'false',
      Scanned: 5,
      Stale: 5,
      Deleted: 2,
      Skipped: 2,
      Failed: 1,
    });
    const metrics = (emf._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0]?.Metrics.map((m) => m.Name);
    expect(metrics).toEqual(['Scanned', 'Stale', 'Deleted', 'Skipped', 'Failed', 'DnsFailed', 'Unreachable', 'SkippedAccounts', 'OtpSwept', 'OtpLeftAlone']);
  });

  it('reports the one-time-password sweep (counts and metrics); an account the sweep skipped makes the run incomplete, listed once', async () => {
    // Prepare
    const w = world([]);
    const info = jest.spyOn(w.deps.logger, 'info');
    const scanSkipped = { account: '999988887777', region: 'us-east-1', error: 'AwsRefused', reason: 'AssumeRole: AccessDenied', objects: 3 };
    const sweepSkipped = { account: '111122223333', region: 'eu-west-1', error: 'AwsUnavailable', reason: 'one-time passwords not swept: 503', objects: 0 };
    const otp = { maxAgeSeconds: 2700, listed: 9, swept: 4, passwordsReset: 2, notOurs: 1, young: 3, joinRunning: 1, skippedAccounts: [sweepSkipped, { ...scanSkipped, objects: 0 }] };
    // Act
    const out = await w.report({
      scan: { ...scanOf(0, 0), skippedAccounts: [scanSkipped], otp },
      guard: { dryRun: false, maxDeletions: 50, stale: 0, capExceeded: false, toDelete: 0 },
      deleted: [],
    });
    // Assess
    expect(out).toMatchObject({ otpSwept: 4, otpPasswordsReset: 2, otpLeftAlone: { notOurs: 1, young: 3, joinRunning: 1 }, complete: false, skippedAccounts: [scanSkipped, sweepSkipped] });
    expect(out.incompleteCause).toContain('111122223333/eu-west-1: 0 object(s), AwsUnavailable: one-time passwords not swept');
    const emf = info.mock.calls.find((c) => c[0] === 'Reconcile metrics')?.[1] as Record<string, unknown>;
    expect(emf).toMatchObject({ OtpSwept: 4, OtpLeftAlone: 5, SkippedAccounts: 2 });
  });

  it('counts refused DNS deletes and skipped accounts; skipped accounts make the run incomplete, with a cause naming them', async () => {
    // Prepare
    const w = world([]);
    const info = jest.spyOn(w.deps.logger, 'info');
    const skippedAccounts = [
      { account: '999988887777', region: 'us-east-1', error: 'AwsRefused', reason: 'AssumeRole: AccessDenied', objects: 3 },
      { account: '111122223333', region: 'eu-west-1', error: 'AwsUnavailable', reason: '503', objects: 1 },
    ];
    // Act
    const out = await w.report({
      scan: { ...scanOf(2, 2), unreachable: 4, skippedAccounts },
      guard: { dryRun: false, maxDeletions: 50, stale: 2, capExceeded: false, toDelete: 2 },
      deleted: [
        { dn: 'a', deleted: true, dnsRecordsRemoved: 0, reason: '', dnsFailed: true, dnsReason: 'DNS records of a.corp.example.com not removed: refused' },
        { dn: 'b', deleted: true, dnsRecordsRemoved: 1, reason: '' },
      ],
    });
    // Assess
    expect(out).toMatchObject({ deleted: 2, dnsFailed: 1, unreachable: 4, skippedAccounts, complete: false });
    expect(out.incompleteCause).toContain('999988887777/us-east-1: 3 object(s), AwsRefused: AssumeRole: AccessDenied');
    expect(out.incompleteCause).toContain('111122223333/eu-west-1: 1 object(s), AwsUnavailable: 503');
    expect(out.incompleteCause).toContain('(2 deleted)');
    const emf = info.mock.calls.find((c) => c[0] === 'Reconcile metrics')?.[1] as Record<string, unknown>;
    expect(emf).toMatchObject({ DnsFailed: 1, Unreachable: 4, SkippedAccounts: 2 });
  });

  it('a dry run reports what it would delete and deletes nothing', async () => {
    // Prepare
    const out = await world([]).report({ scan: scanOf(4, 4, true), guard: { dryRun: true, maxDeletions: 1, stale: 4, capExceeded: true, toDelete: 0 }, deleted: [] });
    // Act / Assess
    expect(out).toMatchObject({ stale: 4, deleted: 0, dryRun: true, capExceeded: true });
  });
});
