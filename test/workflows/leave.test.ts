/**
 * The leave state machine as synthesized by infra/ (the deployed ASL), with the real task
 * handlers, over the simulated directory and fleet on a virtual clock.
 */
import { statePath, timeline, type ExecutionRecord } from '../../engine';
import { DirectoryRefused, Throttled } from '../../tasks/lib/errors';
import { definitions, workflowWorld, type WorkflowWorld } from './world';

const ID = 'i-0aaaaaaaaaaaaaaa1';
const OTHER = 'i-0bbbbbbbbbbbbbbb2';
const OLD = new Date('2025-06-01T00:00:00Z');

beforeAll(() => {
  definitions();
}, 120_000);

interface Leave {
  w: WorkflowWorld;
  ou: string;
  dn: string;
  host: string;
}

/** A terminated instance with its computer object and DNS record, plus objects that are not its. */
function world(state: 'terminated' | 'running' | 'stopped' | 'shutting-down' = 'terminated'): Leave {
  const w = workflowWorld(['leave']);
  const ou = w.sim.settings.directory.managedOus[0] as string;
  const marker = { account: w.defs.account, region: w.defs.region, instanceId: ID };
  const host = `ec2-aaaaaaa1.${w.sim.settings.directory.domain}`;
  const obj = w.sim.directory.add({ name: 'EC2-AAAAAAA1', ou, marker, whenCreated: OLD, dnsHostName: host });
  w.sim.directory.addDnsRecord(host);
  // another instance's object, and an admin's computer that names the instance in its description
  w.sim.directory.add({ name: 'EC2-BBBBBBB2', ou, marker: { ...marker, instanceId: OTHER }, whenCreated: OLD });
  w.sim.directory.add({ name: 'ADMIN-PC', ou, description: `${ID} ${w.defs.account} ${w.defs.region}`, whenCreated: OLD });
  w.sim.fleet.addInstance({ instanceId: ID, state });
  w.sim.fleet.addInstance({ instanceId: OTHER, state: 'terminated' });
  return { w, ou, dn: obj.dn, host };
}

const deletes = (w: WorkflowWorld): string[] => w.sim.directory.calls.filter((c) => c.op === 'deleteComputer').map((c) => c.arg);
const names = (w: WorkflowWorld): string[] => w.sim.directory.all().map((o) => o.name).sort();
const retriesOf = (run: ExecutionRecord, state: string): number => timeline(run).filter((r) => r.state === state).reduce((n, r) => n + r.retries, 0);
const start = (l: Leave, name: string): Promise<ExecutionRecord> => l.w.engine.start('leave', l.w.ec2Event(ID, 'terminated'), { name });

describe('leave workflow (synthesized ASL, real tasks, simulated world)', () => {
  test('terminated: deletes exactly its object and DNS record, nothing else', async () => {
    const l = world();
    const run = await start(l, 'leave-happy');
    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(['Find computer objects', 'Anything to delete?', 'Delete computer objects', 'Record leave', 'Done']);
    expect(deletes(l.w)).toEqual([l.dn]);
    expect(names(l.w)).toEqual(['ADMIN-PC', 'EC2-BBBBBBB2']);
    expect(l.w.sim.directory.dnsRecordCount(l.host)).toBe(0);
    expect(run.output).toMatchObject({ instanceId: ID, outcome: 'left', deleted: 1, skipped: 0, failed: 0, dnsRecordsRemoved: 1, deletedDns: [l.dn] });
  });

  test.each(['running', 'stopped', 'shutting-down'] as const)('an instance that is %s (late or duplicate event): nothing is deleted, the directory is not read', async (state) => {
    const l = world(state);
    const run = await start(l, `leave-alive-${state}`);
    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(['Find computer objects', 'Anything to delete?', 'Nothing to delete', 'Done']);
    expect(run.output).toMatchObject({ outcome: 'instance-alive', instanceId: ID });
    expect(l.w.sim.directory.calls).toEqual([]);
    expect(names(l.w)).toHaveLength(3);
  });

  test('nothing to delete (no object carries its marker): succeeds, touches nothing', async () => {
    const w = workflowWorld(['leave']);
    const ou = w.sim.settings.directory.managedOus[0] as string;
    w.sim.directory.add({ name: 'ADMIN-PC', ou, description: `EC2 ${ID}`, whenCreated: OLD });
    const run = await w.engine.start('leave', w.ec2Event(ID, 'terminated'), { name: 'leave-nothing' });
    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(['Find computer objects', 'Anything to delete?', 'Nothing to delete', 'Done']);
    expect(run.output).toMatchObject({ outcome: 'nothing', instanceId: ID });
    expect(deletes(w)).toEqual([]);
  });

  test('an object outside the managed OU that a sloppy directory returns is never deleted', async () => {
    const w = workflowWorld(['leave']);
    const ou = w.sim.settings.directory.managedOus[0] as string;
    // "CN=EC2-AAAAAAA1,OU=Evil\,<managed OU>": its text ends with the OU, its RDNs do not
    w.sim.directory.add({ name: 'EC2-AAAAAAA1', ou: `OU=Evil\\,${ou}`, marker: { account: w.defs.account, region: w.defs.region, instanceId: ID }, whenCreated: OLD });
    const run = await w.engine.start('leave', w.ec2Event(ID, 'terminated'), { name: 'leave-outside' });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'nothing' });
    expect(deletes(w)).toEqual([]);
  });

  test.each([
    ['a failed join', (): Record<string, string> => ({ 'adjoin:status': 'failed', 'adjoin:failed-state': 'Run join document' })],
    ['a fresh "joining" claim', (now: Date): Record<string, string> => ({ 'adjoin:status': 'joining', 'adjoin:claimed-at': now.toISOString() })],
    ['a "joining" claim dated in the future', (): Record<string, string> => ({ 'adjoin:status': 'joining', 'adjoin:claimed-at': '2099-01-01T00:00:00.000Z' })],
    ['a "joining" claim with no date', (): Record<string, string> => ({ 'adjoin:status': 'joining' })],
  ])('a terminated instance with %s: its object is deleted all the same (EC2 says terminated)', async (_what, tags) => {
    const l = world();
    const i = l.w.sim.fleet.instance(ID);
    if (i) i.tags = tags(l.w.sim.clock.now());
    const run = await start(l, 'leave-claimed');
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'left', deleted: 1 });
    expect(deletes(l.w)).toEqual([l.dn]);
  });

  test('an object with our exact marker that someone else created (a copied marker): never deleted', async () => {
    const w = workflowWorld(['leave']);
    const ou = w.sim.settings.directory.managedOus[0] as string;
    w.sim.directory.add({ name: 'EC2-AAAAAAA1', ou, marker: { account: w.defs.account, region: w.defs.region, instanceId: ID }, whenCreated: OLD, owner: 'someone-else' });
    w.sim.fleet.addInstance({ instanceId: ID, state: 'terminated' });
    const run = await w.engine.start('leave', w.ec2Event(ID, 'terminated'), { name: 'leave-foreign' });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({ outcome: 'nothing', reason: expect.stringMatching(/not created by the service account/) as string });
    expect(deletes(w)).toEqual([]);
  });

  test('dNSHostName rewritten to a DC\'s name: the records deleted are those of OUR name; the DC\'s record is untouched', async () => {
    const l = world();
    const dcHost = `dc1.${l.w.sim.settings.directory.domain}`;
    l.w.sim.directory.addDnsRecord(dcHost);
    l.w.sim.directory.setDnsHostName(l.dn, dcHost);
    const run = await start(l, 'leave-dns-rewritten');
    expect(run.status).toBe('SUCCEEDED');
    expect(l.w.sim.directory.dnsRecordCount(dcHost)).toBe(1);
    expect(l.w.sim.directory.dnsRecordCount(l.host)).toBe(0);
    expect(l.w.sim.directory.calls.filter((c) => c.op === 'deleteDnsRecords').map((c) => c.arg)).toEqual([l.host]);
    expect(run.output).toMatchObject({ outcome: 'left', deleted: 1, dnsRecordsRemoved: 1 });
  });

  test('a refused DNS delete: the object is deleted anyway; the leave is "partial" and names the records left', async () => {
    const l = world();
    l.w.sim.directory.fail('deleteDnsRecords', 1, () => new DirectoryRefused('LDAP delete failed: Insufficient access rights (LDAP result 50)'));
    const run = await start(l, 'leave-dns-refused');
    expect(run.status).toBe('SUCCEEDED');
    expect(deletes(l.w)).toEqual([l.dn]);
    expect(names(l.w)).toEqual(['ADMIN-PC', 'EC2-BBBBBBB2']);
    expect(run.output).toMatchObject({
      outcome: 'partial',
      deleted: 1,
      failed: 0,
      dnsFailed: 1,
      dnsNotRemoved: [{ dn: l.dn, reason: expect.stringContaining(l.host) as string }],
    });
  });

  test('the instance comes back between find and delete: the re-check refuses, recorded as skipped', async () => {
    const l = world();
    let describes = 0;
    l.w.sim.fleet.before('describeInstance', (id, fleet) => {
      describes += 1;
      if (describes === 2) {
        const i = fleet.instance(id);
        if (i) i.state = 'running';
      }
    }, 2);
    const run = await start(l, 'leave-race');
    expect(run.status).toBe('SUCCEEDED');
    expect(deletes(l.w)).toEqual([]);
    expect(run.output).toMatchObject({ outcome: 'partial', deleted: 0, skipped: 1, notDeleted: [{ dn: l.dn, reason: expect.stringMatching(/running/) as string }] });
    expect(statePath(run, { nested: true })).toContain('Delete refused');
  });

  test('directory down at the delete: retried, then FAILS at "Delete computer objects"; a redrive finishes', async () => {
    const l = world();
    l.w.sim.directory.fail('deleteComputer', 9); // 1 attempt + 8 retries
    const failed = await start(l, 'leave-dir-down');
    expect(failed.status).toBe('FAILED');
    expect(failed.failedState).toBe('Delete computer objects');
    expect(failed.error).toBe('DirectoryUnavailable');
    expect(retriesOf(failed, 'Delete computer object')).toBe(8);
    expect(names(l.w)).toContain('EC2-AAAAAAA1');

    const run = await l.w.engine.redrive(failed);
    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run, { part: 1 })).toEqual(['Delete computer objects', 'Record leave', 'Done']);
    expect(names(l.w)).toEqual(['ADMIN-PC', 'EC2-BBBBBBB2']);
    expect(run.output).toMatchObject({ outcome: 'left', deleted: 1 });
  });

  test('EC2 throttling: retried and then done; throttled for good: FAILS at "Find computer objects", nothing deleted', async () => {
    const l = world();
    l.w.sim.fleet.fail('describeInstance', 2, () => new Throttled('DescribeInstances: Rate exceeded'));
    const run = await start(l, 'leave-throttled');
    expect(run.status).toBe('SUCCEEDED');
    expect(retriesOf(run, 'Find computer objects')).toBe(2);
    expect(deletes(l.w)).toEqual([l.dn]);

    const l2 = world();
    l2.w.sim.fleet.fail('describeInstance', 1000, () => new Throttled('DescribeInstances: Rate exceeded'));
    const failed = await start(l2, 'leave-throttled-for-good');
    expect(failed.status).toBe('FAILED');
    expect(failed.failedState).toBe('Find computer objects');
    expect(failed.error).toBe('Throttled');
    expect(l2.w.sim.directory.calls).toEqual([]);
  });

  test('a malformed event fails at "Find computer objects" with InvalidInput, nothing done', async () => {
    const l = world();
    const run = await l.w.engine.start('leave', { ...l.w.ec2Event(ID, 'terminated'), account: 'nope' }, { name: 'leave-bad' });
    expect(run.status).toBe('FAILED');
    expect(run.failedState).toBe('Find computer objects');
    expect(run.error).toBe('InvalidInput');
    expect(l.w.sim.directory.calls).toEqual([]);
  });

  test('a terminated instance whose failed join left its one-time password: the leave deletes the parameter (objects found or not), twice is harmless', async () => {
    const l = world();
    const param = `/adjoin/otp/${ID}`;
    const others = `/adjoin/otp/${OTHER}`;
    l.w.sim.fleet.putParameter(param, 'left-by-a-failed-join');
    l.w.sim.fleet.putParameter(others, 'another-instance');
    const run = await start(l, 'leave-otp');
    expect(run.status).toBe('SUCCEEDED');
    expect(l.w.sim.fleet.parameter(param)).toBeUndefined();
    expect(l.w.sim.fleet.parameter(others)).toBe('another-instance'); // only its own
    // Again, now with no object left and no parameter: nothing to delete, no error.
    l.w.sim.fleet.putParameter(param, 'left-again');
    const again = await start(l, 'leave-otp-again');
    expect(again.status).toBe('SUCCEEDED');
    expect(statePath(again)).toEqual(['Find computer objects', 'Anything to delete?', 'Nothing to delete', 'Done']);
    expect(l.w.sim.fleet.parameter(param)).toBeUndefined();
    const third = await start(l, 'leave-otp-third');
    expect(third.status).toBe('SUCCEEDED');
  });

  test('an instance that is alive (late event): its one-time password is left to its join', async () => {
    const l = world('running');
    const param = `/adjoin/otp/${ID}`;
    l.w.sim.fleet.putParameter(param, 'a-join-in-flight');
    const run = await start(l, 'leave-otp-alive');
    expect(run.status).toBe('SUCCEEDED');
    expect(l.w.sim.fleet.parameter(param)).toBe('a-join-in-flight');
  });

  test('a duplicate event after the leave: succeeds with nothing to delete', async () => {
    const l = world();
    expect((await start(l, 'leave-1')).status).toBe('SUCCEEDED');
    const again = await start(l, 'leave-2');
    expect(again.status).toBe('SUCCEEDED');
    expect(again.output).toMatchObject({ outcome: 'nothing' });
    expect(deletes(l.w)).toHaveLength(1);
  });
});
