/**
 * The chaos suite on the REAL lab (lab/chaos.ts): a fault at each join state — every DC
 * unreachable for the tasks during Prepare (recovered by its retries), SSM never Online, the
 * service account denied creating computers in the instance's OU (fails Prepare), every DC
 * unreachable from the instance, the join command failing (adcli broken), the instance
 * terminated mid-join, the "joined" tag write refused (fails Record result after a real join),
 * the claims table refusing the claim (fails Read instance), a duplicate event — each checked with real tools after every run
 * (ldapsearch and kinit in the DC, the lab's parameter store on disk), every failed execution
 * redriven once its fault is removed, then every instance's leave. bench/chaos.ts prints the
 * same figures. Root only (jest.lab.config.js).
 */
import { EXPECTED_END, FAULTS, chaosTable, runChaos, type ChaosReport } from '../../lab/chaos';
import { ensureLab } from './helpers';

let restore: () => Promise<void> = () => Promise.resolve();
let report: ChaosReport;

beforeAll(async () => {
  ({ restore } = await ensureLab());
  report = await runChaos({ log: (l) => process.stderr.write(`[chaos] ${l}\n`) });
  process.stderr.write(`${chaosTable(report)}\n`);
}, 600_000);

afterAll(async () => {
  await restore();
}, 300_000);

describe('chaos on the real lab: every path ends clean', () => {
  test('every fault was injected and ran; no invariant was violated', () => {
    expect(report.results.map((r) => r.fault).sort()).toEqual([...FAULTS].sort());
    expect(report.faults).toBe(FAULTS.length);
    expect(report.violations).toEqual([]);
  });

  test.each([...FAULTS])('%s: the first run ends where it should', (fault) => {
    const r = report.results.find((x) => x.fault === fault);
    const e = EXPECTED_END[fault];
    expect(r?.endState).toBe(e.status === 'SUCCEEDED' ? `SUCCEEDED (${e.outcome ?? ''})` : `${e.status} at ${e.failedState ?? ''} (${e.error ?? ''})`);
  });

  test('faults at Read instance, Prepare and Record result each fail there with a cause that says what to fix, and redrive to a join', () => {
    const prepare = report.results.find((r) => r.fault === 'ou-create-denied');
    const record = report.results.find((r) => r.fault === 'tag-write-refused');
    expect(prepare?.endState).toBe('FAILED at Prepare computer object (DirectoryRefused)');
    expect(prepare?.cause).toMatch(/\(LDAP result 50\)\. The bind account lacks a right .*README "Directory permissions"/);
    expect(record?.endState).toBe('FAILED at Record result (AwsRefused)');
    expect(record?.cause).toMatch(/CreateTags: TagPolicyViolation/);
    const read = report.results.find((r) => r.fault === 'claims-refused');
    expect(read?.endState).toBe('FAILED at Read instance (AwsRefused)');
    expect(read?.cause).toMatch(/not authorized to perform dynamodb:PutItem/);
    for (const r of [read, prepare, record]) expect(r?.redrive?.endState).toBe('SUCCEEDED (joined)');
  });

  test('every failed run was redriven to a join once its fault was removed; the others were not redriven', () => {
    for (const r of report.results) {
      if (EXPECTED_END[r.fault].status === 'FAILED') expect(r.redrive?.endState).toBe('SUCCEEDED (joined)');
      else expect(r.redrive).toBeUndefined();
    }
  });

  test('the checks ran: kinit with every one-time password written, objects, planted objects, leaves', () => {
    // joins (the duplicate twice) + redrives + one leave per instance
    const redriven = FAULTS.filter((f) => EXPECTED_END[f].status === 'FAILED').length;
    expect(redriven).toBe(6);
    expect(report.runs).toBe(FAULTS.length + 1 + redriven + FAULTS.length);
    expect(report.cleanups).toBeGreaterThanOrEqual(6);
    expect(report.otpsTried).toBeGreaterThanOrEqual(5);
    expect(report.checks).toBeGreaterThan(50);
    expect(report.parametersLeft).toBe(0);
  });

  test('a duplicate event sends one join command; a failed-then-redriven join, one per round that reached it (none again after Record result)', () => {
    expect(report.results.find((r) => r.fault === 'duplicate-event')?.joinCommands).toBe(1);
    expect(report.results.find((r) => r.fault === 'dc-down-for-tasks')?.joinCommands).toBe(1);
    expect(report.results.find((r) => r.fault === 'ssm-never-online')?.joinCommands).toBe(1);
    expect(report.results.find((r) => r.fault === 'join-command-fails')?.joinCommands).toBe(2);
    expect(report.results.find((r) => r.fault === 'ou-create-denied')?.joinCommands).toBe(1);
    expect(report.results.find((r) => r.fault === 'tag-write-refused')?.joinCommands).toBe(1);
    expect(report.results.find((r) => r.fault === 'claims-refused')?.joinCommands).toBe(1);
  });
});
