/**
 * The reconcile state machine as synthesized by infra/ (the deployed ASL), with the real task
 * handlers, over the simulated directory and fleet on a virtual clock.
 */
import { statePath, timeline, type ExecutionRecord } from '../../engine';
import { AwsRefused, AwsUnavailable, DirectoryRefused, Throttled } from '../../tasks/lib/errors';
import type { Marker } from '../../tasks/lib/ports';
import { definitions, workflowWorld, type WorkflowWorld } from './world';

const OLD = new Date('2025-06-01T00:00:00Z');
const id = (n: number): string => `i-0${n.toString(16).padStart(16, '0')}`;
const name = (n: number): string => `EC2-${n.toString(16).padStart(8, '0').toUpperCase()}`;

beforeAll(() => {
  definitions();
}, 120_000);

interface Rec {
  w: WorkflowWorld;
  ou: string;
  marker: (n: number) => Marker;
}

function world(settings: { maxDeletions?: number; dryRun?: boolean } = {}): Rec {
  const w = workflowWorld(['reconcile'], { sim: { settings: { reconcile: settings } } });
  const ou = w.sim.settings.directory.managedOus[0] as string;
  const marker = (n: number): Marker => ({ account: w.defs.account, region: w.defs.region, instanceId: id(n) });
  return { w, ou, marker };
}

/** One object per rule: 1-2 stale (terminated, unknown to EC2), the rest must survive. */
function arrangeEveryRule(r: Rec): void {
  const { w, ou, marker } = r;
  const add = (n: number, extra: { ou?: string; whenCreated?: Date; markerless?: boolean; description?: string; foreign?: boolean } = {}) =>
    w.sim.directory.add({
      name: name(n),
      ou: extra.ou ?? ou,
      ...(extra.foreign ? { owner: 'someone-else' as const } : {}),
      whenCreated: extra.whenCreated ?? OLD,
      ...(extra.markerless ? {} : { marker: marker(n) }),
      ...(extra.description ? { description: extra.description } : {}),
      dnsHostName: `${name(n).toLowerCase()}.${w.sim.settings.directory.domain}`,
    });
  add(1); // terminated → deleted
  w.sim.fleet.addInstance({ instanceId: id(1), state: 'terminated' });
  add(2); // unknown to EC2 → deleted
  for (const [n, state] of [[3, 'running'], [4, 'stopped'], [5, 'pending'], [6, 'stopping'], [7, 'shutting-down']] as const) {
    add(n);
    w.sim.fleet.addInstance({ instanceId: id(n), state });
  }
  add(8, { whenCreated: w.sim.clock.now() }); // young
  w.sim.fleet.addInstance({ instanceId: id(8), state: 'terminated' });
  add(9, { markerless: true, description: `EC2 ${id(9)} ${w.defs.account} ${w.defs.region}` }); // an admin's computer
  add(10, { ou: `OU=Evil\\,${ou}` }); // text ends with the OU, RDNs do not
  w.sim.fleet.addInstance({ instanceId: id(10), state: 'terminated' });
  add(11, { foreign: true }); // terminated, full marker, but created by someone else (a copied marker)
  w.sim.fleet.addInstance({ instanceId: id(11), state: 'terminated' });
}

const deletes = (w: WorkflowWorld): string[] => w.sim.directory.calls.filter((c) => c.op === 'deleteComputer').map((c) => c.arg);
const survivors = (w: WorkflowWorld): string[] => w.sim.directory.all().map((o) => o.name).sort();
const retriesOf = (run: ExecutionRecord, state: string): number => timeline(run).filter((r) => r.state === state).reduce((n, r) => n + r.retries, 0);
const EVERYONE_BUT_1_AND_2 = [3, 4, 5, 6, 7, 8, 9, 10, 11].map(name).sort();

describe('reconcile workflow (synthesized ASL, real tasks, simulated world)', () => {
  test('every never-delete rule holds: only old, marked, managed objects of gone instances are deleted', async () => {
    const r = world();
    arrangeEveryRule(r);
    const run = await r.w.engine.start('reconcile', {}, { name: 'rec-rules' });
    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(['Find stale objects', 'Check deletion cap', 'Dry run?', 'Delete stale objects', 'Report', 'Every account reconciled?', 'Done']);
    expect(survivors(r.w)).toEqual(EVERYONE_BUT_1_AND_2);
    expect(deletes(r.w)).toHaveLength(2);
    expect(run.output).toMatchObject({ stale: 2, deleted: 2, skipped: 0, failed: 0, dryRun: false });
  });

  test('a dry run deletes nothing and reports what it would delete', async () => {
    const r = world();
    arrangeEveryRule(r);
    const run = await r.w.engine.start('reconcile', { dryRun: true }, { name: 'rec-dry' });
    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(['Find stale objects', 'Check deletion cap', 'Dry run?', 'Dry run', 'Report', 'Every account reconciled?', 'Done']);
    expect(deletes(r.w)).toEqual([]);
    expect(run.output).toMatchObject({ stale: 2, deleted: 0, dryRun: true });
  });

  test('dryRun in the settings is honoured, and {"dryRun": false} overrides it', async () => {
    const r = world({ dryRun: true });
    arrangeEveryRule(r);
    const dry = await r.w.engine.start('reconcile', {}, { name: 'rec-dry-settings' });
    expect(dry.output).toMatchObject({ dryRun: true, deleted: 0 });
    expect(deletes(r.w)).toEqual([]);
    const real = await r.w.engine.start('reconcile', { dryRun: false }, { name: 'rec-real' });
    expect(real.output).toMatchObject({ dryRun: false, deleted: 2 });
  });

  test('cap breached: FAILS at "Check deletion cap", the Cause lists what it would have deleted, nothing deleted', async () => {
    const r = world({ maxDeletions: 3 });
    for (let n = 1; n <= 5; n++) r.w.sim.directory.add({ name: name(n), ou: r.ou, marker: r.marker(n), whenCreated: OLD });
    const run = await r.w.engine.start('reconcile', {}, { name: 'rec-cap' });
    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Check deletion cap');
    expect(run.error).toBe('DeletionCapExceeded');
    for (let n = 1; n <= 5; n++) expect(run.cause).toContain(name(n));
    expect(run.cause).toMatch(/5 stale computer objects, more than the cap of 3/);
    expect(deletes(r.w)).toEqual([]);
    expect(survivors(r.w)).toHaveLength(5);
  });

  test('a dry run past the cap does not fail and deletes nothing', async () => {
    const r = world({ maxDeletions: 1 });
    for (let n = 1; n <= 3; n++) r.w.sim.directory.add({ name: name(n), ou: r.ou, marker: r.marker(n), whenCreated: OLD });
    const run = await r.w.engine.start('reconcile', { dryRun: true }, { name: 'rec-cap-dry' });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ stale: 3, deleted: 0, dryRun: true, capExceeded: true });
    expect(deletes(r.w)).toEqual([]);
  });

  test('EC2 throttling during the scan: retried, then the run completes correctly', async () => {
    const r = world();
    arrangeEveryRule(r);
    r.w.sim.fleet.fail('describeInstances', 3, () => new Throttled('DescribeInstances: Rate exceeded'));
    const run = await r.w.engine.start('reconcile', {}, { name: 'rec-throttle' });
    expect(run.status).toBe('SUCCEEDED');
    expect(retriesOf(run, 'Find stale objects')).toBe(3);
    expect(survivors(r.w)).toEqual(EVERYONE_BUT_1_AND_2);
  });

  test('EC2 throttled for good during the scan: FAILS at "Find stale objects", never deletes', async () => {
    const r = world();
    arrangeEveryRule(r);
    r.w.sim.fleet.fail('describeInstances', 1000, () => new Throttled('DescribeInstances: Rate exceeded'));
    const run = await r.w.engine.start('reconcile', {}, { name: 'rec-ec2-down-Throttled' });
    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Find stale objects');
    expect(run.error).toBe('Throttled');
    expect(deletes(r.w)).toEqual([]);
  });

  test('EC2 unavailable for good during the scan (the only account): its objects are skipped, the run ends in "Reconcile incomplete", never deletes', async () => {
    const r = world();
    arrangeEveryRule(r);
    r.w.sim.fleet.fail('describeInstances', 1000, () => new AwsUnavailable('DescribeInstances: 503 Service Unavailable'));
    const run = await r.w.engine.start('reconcile', {}, { name: 'rec-ec2-down-AwsUnavailable' });
    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Reconcile incomplete');
    expect(run.error).toBe('ReconcileIncomplete');
    expect(run.cause).toContain(`${r.w.defs.account}/${r.w.defs.region}`);
    expect(run.cause).toContain('AwsUnavailable');
    expect(deletes(r.w)).toEqual([]);
  });

  test('EC2 throttled for good during the deletes (each item asks again): FAILS at "Delete stale objects", never deletes', async () => {
    const r = world();
    arrangeEveryRule(r);
    r.w.sim.fleet.fail('describeInstance', 1000, () => new Throttled('DescribeInstances: Rate exceeded'));
    const run = await r.w.engine.start('reconcile', {}, { name: 'rec-ec2-throttled-delete' });
    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Delete stale objects');
    expect(run.error).toBe('Throttled');
    expect(deletes(r.w)).toEqual([]);
  });

  test('directory down mid-run: FAILS at "Delete stale objects"; a redrive resumes there and finishes', async () => {
    const r = world();
    arrangeEveryRule(r);
    r.w.sim.directory.fail('deleteComputer', 14); // 2 items x (1 attempt + 6 retries)
    const failed = await r.w.engine.start('reconcile', {}, { name: 'rec-dir-down' });
    expect(failed.status).toBe('FAILED');
    expect(failed.failedState).toBe('Delete stale objects');
    expect(failed.error).toBe('DirectoryUnavailable');
    expect(survivors(r.w)).toContain(name(1));

    const run = await r.w.engine.redrive(failed);
    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run, { part: 1 })).toEqual(['Delete stale objects', 'Report', 'Every account reconciled?', 'Done']);
    expect(survivors(r.w)).toEqual(EVERYONE_BUT_1_AND_2);
  });

  test('an item the re-check refuses is skipped; a refused directory call is counted as failed; the run succeeds', async () => {
    const r = world();
    arrangeEveryRule(r);
    // the delete of the first item sees the instance running again; the second is refused by the directory
    let n = 0;
    r.w.sim.fleet.before('describeInstance', (iid, fleet) => {
      n += 1;
      if (n === 1) fleet.addInstance({ instanceId: iid, state: 'running' });
    }, 1);
    r.w.sim.directory.fail('deleteComputer', 1, () => Object.assign(new Error('Insufficient access rights'), { name: 'DirectoryRefused' }));
    const run = await r.w.engine.start('reconcile', {}, { name: 'rec-skip-fail' });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ stale: 2, deleted: 0, skipped: 1, failed: 1 });
    expect(statePath(run, { nested: true })).toEqual(expect.arrayContaining(['Delete refused', 'Delete failed']));
  });

  test('a big backlog: state data stays under 256 KB; what does not fit is left for the next run', async () => {
    const r = world({ maxDeletions: 2000 });
    const deepOu = r.ou; // the longest real OU DNs are ~120 characters: make the names long too
    for (let n = 1; n <= 700; n++) r.w.sim.directory.add({ name: name(n), ou: deepOu, marker: r.marker(n), whenCreated: OLD });
    const run = await r.w.engine.start('reconcile', {}, { name: 'rec-backlog' });
    expect(run.status).toBe('SUCCEEDED');
    const out = run.output as { stale: number; deleted: number; notListed: number };
    expect(out.stale).toBe(700);
    expect(out.deleted + out.notListed).toBe(700);
    expect(out.deleted).toBeGreaterThan(300);
    const biggest = Math.max(...run.events.flatMap((e) => [e.input, e.output]).map((v) => (v === undefined ? 0 : Buffer.byteLength(JSON.stringify(v)))));
    expect(biggest).toBeLessThan(256 * 1024);
    const again = await r.w.engine.start('reconcile', {}, { name: 'rec-backlog-2' });
    expect(again.output).toMatchObject({ stale: out.notListed, deleted: out.notListed });
    expect(survivors(r.w)).toEqual([]);
  });

  test('a refused DNS delete: the object is deleted anyway, the DNS failure is counted (dnsFailed) and the run succeeds', async () => {
    const r = world();
    arrangeEveryRule(r);
    r.w.sim.directory.addDnsRecord(`${name(1).toLowerCase()}.${r.w.sim.settings.directory.domain}`);
    r.w.sim.directory.fail('deleteDnsRecords', 1, () => new DirectoryRefused('LDAP delete failed: Insufficient access rights (LDAP result 50)'));
    const run = await r.w.engine.start('reconcile', {}, { name: 'rec-dns-refused' });
    expect(run.status).toBe('SUCCEEDED');
    expect(survivors(r.w)).toEqual(EVERYONE_BUT_1_AND_2);
    expect(run.output).toMatchObject({ stale: 2, deleted: 2, failed: 0, dnsFailed: 1, complete: true });
  });

  test('one member account unreachable: its objects are skipped (never deleted), the others are deleted, then the run ends in "Reconcile incomplete"', async () => {
    const r = world();
    const { w, ou, marker } = r;
    const OTHER_ACCOUNT = '210987654321';
    const domain = w.sim.settings.directory.domain;
    const add = (n: number, account: string): void => {
      w.sim.directory.add({ name: name(n), ou, marker: { ...marker(n), account }, whenCreated: OLD, dnsHostName: `${name(n).toLowerCase()}.${domain}` });
      w.sim.fleet.addInstance({ instanceId: id(n), account, region: w.defs.region, state: 'terminated' });
    };
    add(1, w.defs.account);
    add(2, w.defs.account);
    add(3, OTHER_ACCOUNT);
    add(4, OTHER_ACCOUNT);
    // The member role of OTHER_ACCOUNT refuses: every call for its instances fails
    w.sim.fleet.before('describeInstances', (ids) => {
      if (ids.includes(id(3)) || ids.includes(id(4)))
        throw new AwsRefused(`AssumeRole arn:aws:iam::${OTHER_ACCOUNT}:role/adjoin-member: AccessDenied`);
    }, 1000);
    const run = await w.engine.start('reconcile', {}, { name: 'rec-account-down' });
    expect(run.status).toBe('FAILED');
    expect(statePath(run)).toEqual(['Find stale objects', 'Check deletion cap', 'Dry run?', 'Delete stale objects', 'Report', 'Every account reconciled?', 'Reconcile incomplete']);
    expect(run.failedState).toBe('Reconcile incomplete');
    expect(run.error).toBe('ReconcileIncomplete');
    expect(run.cause).toContain(`${OTHER_ACCOUNT}/${w.defs.region}: 2 object(s), AwsRefused`);
    expect(run.cause).toContain('(2 deleted)');
    expect(run.cause).not.toContain(`${w.defs.account}/`);
    expect(survivors(w)).toEqual([3, 4].map(name));
    // "Report" saw everything before the Fail: the counts are in its output
    const report = run.events.find((e) => e.state === 'Report' && e.output !== undefined);
    expect(report?.output).toMatchObject({ deleted: 2, unreachable: 2, complete: false, skippedAccounts: [{ account: OTHER_ACCOUNT, objects: 2, error: 'AwsRefused' }] });
  });

  test('a malformed input fails at "Find stale objects" with InvalidInput, nothing done', async () => {
    const r = world();
    arrangeEveryRule(r);
    const run = await r.w.engine.start('reconcile', { dryRun: 'yes' }, { name: 'rec-bad' });
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('InvalidInput');
    expect(deletes(r.w)).toEqual([]);
  });
});

describe('reconcile sweeps one-time passwords (synthesized ASL, real tasks, simulated world)', () => {
  const HOUR = 3600_000;
  /** Instance n: a young object (never deleted by the scan) of a failed join, its password still the one in the parameter. */
  async function failedJoinLeftOtp(r: Rec, n: number, account = r.w.defs.account): Promise<string> {
    const { w, ou, marker } = r;
    const o = w.sim.directory.add({ name: name(n), ou, marker: { ...marker(n), account }, whenCreated: w.sim.clock.now() });
    await w.sim.directory.resetPassword(o.dn, `otp-${n}`);
    w.sim.fleet.addInstance({ instanceId: id(n), account, region: w.defs.region, state: 'running' });
    const param = `/adjoin/otp/${id(n)}`;
    w.sim.fleet.putParameter(param, `otp-${n}`, new Date(w.sim.clock.now().getTime() - 2 * HOUR), { account, region: w.defs.region });
    return param;
  }

  test('an old parameter of a failed join: password reset first, parameter deleted; young ones, a live join and a hostile name are left alone; a second run does nothing more', async () => {
    const r = world();
    const { w } = r;
    const old = await failedJoinLeftOtp(r, 1);
    await w.sim.claims.take(`${w.defs.account}/${w.defs.region}/${id(1)}`, 'join-1', Math.floor(w.sim.clock.now().getTime() / 1000) - 7200, 3600);
    await w.sim.claims.update(`${w.defs.account}/${w.defs.region}/${id(1)}`, 'join-1', { status: 'failed' });
    const young = `/adjoin/otp/${id(2)}`;
    w.sim.fleet.putParameter(young, 'a-join-that-just-started');
    const running = await failedJoinLeftOtp(r, 3);
    await w.sim.claims.take(`${w.defs.account}/${w.defs.region}/${id(3)}`, 'join-3', Math.floor(w.sim.clock.now().getTime() / 1000), 3600);
    const hostile = '/adjoin/otp/not-an-instance';
    w.sim.fleet.putParameter(hostile, 'someone-elses', new Date(0));
    const run = await w.engine.start('reconcile', {}, { name: 'rec-otp' });
    expect(run.status).toBe('SUCCEEDED');
    expect(w.sim.fleet.parameter(old)).toBeUndefined();
    expect(w.sim.directory.passwordMatches(name(1), 'otp-1')).toBe(false); // the leftover opens nothing
    expect(w.sim.fleet.parameter(young)).toBe('a-join-that-just-started');
    expect(w.sim.fleet.parameter(running)).toBe('otp-3');
    expect(w.sim.directory.passwordMatches(name(3), 'otp-3')).toBe(true);
    expect(w.sim.fleet.parameter(hostile)).toBe('someone-elses');
    expect(run.output).toMatchObject({ otpSwept: 1, otpPasswordsReset: 1, otpLeftAlone: { notOurs: 1, young: 1, joinRunning: 1 }, complete: true });
    const again = await w.engine.start('reconcile', {}, { name: 'rec-otp-again' });
    expect(again.status).toBe('SUCCEEDED');
    expect(again.output).toMatchObject({ otpSwept: 0, otpPasswordsReset: 0, otpLeftAlone: { notOurs: 1, young: 1, joinRunning: 1 } });
  });

  test('a dry run counts what it would sweep and touches nothing', async () => {
    const r = world();
    const param = await failedJoinLeftOtp(r, 1);
    const run = await r.w.engine.start('reconcile', { dryRun: true }, { name: 'rec-otp-dry' });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ otpSwept: 1, otpPasswordsReset: 0 });
    expect(r.w.sim.fleet.parameter(param)).toBe('otp-1');
    expect(r.w.sim.directory.passwordMatches(name(1), 'otp-1')).toBe(true);
  });

  test('the parameter listing throttled: the state retries, then sweeps', async () => {
    const r = world();
    const param = await failedJoinLeftOtp(r, 1);
    r.w.sim.fleet.fail('listOtpParameters', 2, () => new Throttled('GetParametersByPath: Rate exceeded'));
    const run = await r.w.engine.start('reconcile', {}, { name: 'rec-otp-throttle' });
    expect(run.status).toBe('SUCCEEDED');
    expect(retriesOf(run, 'Find stale objects')).toBe(2);
    expect(r.w.sim.fleet.parameter(param)).toBeUndefined();
  });

  test('an account whose parameters cannot be listed: skipped and reported (run incomplete), the other account swept', async () => {
    const r = world();
    const OTHER_ACCOUNT = '210987654321';
    const ours = await failedJoinLeftOtp(r, 1);
    const theirs = await failedJoinLeftOtp(r, 2, OTHER_ACCOUNT);
    r.w.sim.fleet.before('listOtpParameters', () => {
      throw new AwsRefused(`AssumeRole arn:aws:iam::${OTHER_ACCOUNT}:role/adjoin-member: AccessDenied`);
    }, 1);
    const run = await r.w.engine.start('reconcile', {}, { name: 'rec-otp-account-down' });
    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Reconcile incomplete');
    const report = run.events.find((e) => e.state === 'Report' && e.output !== undefined);
    expect(report?.output).toMatchObject({ otpSwept: 1, skippedAccounts: [{ error: 'AwsRefused', objects: 0 }] });
    expect([r.w.sim.fleet.parameter(ours), r.w.sim.fleet.parameter(theirs)].filter((v) => v === undefined)).toHaveLength(1);
  });
});
