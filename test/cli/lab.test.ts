/**
 * `adjoin --local` end to end without root: the CLI's LabBackend over the real local engine
 * running the synthesized ASL and the real task handlers, with lab/sim's simulated directory and
 * fleet instead of the Samba lab (which needs root: see test/lab for that). The operator's loop:
 * a join breaks (the join document fails as when DNS is broken), show it, fix, redrive.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecutionStore } from '../../engine';
import { simDeps, type SimDeps } from '../../lab/sim';
import { historyOf, LabBackend, parseLdif } from '../../cli/lab-backend';
import { makeLabRuntime, type LabRuntime } from '../../cli/lab-runtime';
import type { Targets } from '../../cli/program';
import { buildTimeline } from '../../cli/timeline';
import { NOW, cli, fakeIo } from './helpers';

const IID = 'i-0123456789abcdef0';
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

let dir: string;
let store: ExecutionStore;
let sim: SimDeps;
let runtime: LabRuntime;
let targets: Targets;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'adjoin-cli-lab-'));
  store = new ExecutionStore(join(dir, 'executions'));
  sim = simDeps({ account: ACCOUNT, region: REGION, start: new Date(NOW.getTime() - 3600_000) });
  runtime = makeLabRuntime({ store, deps: sim.provider, settings: sim.settings, clock: sim.clock, account: ACCOUNT, region: REGION });
  const backend = new LabBackend({
    store,
    runtime: () => Promise.resolve(runtime),
    identity: { account: ACCOUNT, region: REGION },
    statusPrefix: 'adjoin:',
    describeInstance: (id) => sim.fleetFor({ account: ACCOUNT, region: REGION }).describeInstance(id),
    now: () => sim.clock.now(),
  });
  targets = {
    aws: () => {
      throw new Error('AWS must not be used with --local');
    },
    lab: () => Promise.resolve(backend),
    labControl: () => Promise.reject(new Error('no lab world in this test')),
  };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('adjoin --local: break, show, fix, redrive', () => {
  let name = '';

  it('a join whose document fails (DNS broken) fails at "Run join document"; join exits 1', async () => {
    sim.fleet.addInstance({ instanceId: IID, tags: { 'Domain:Join': 'true' } });
    sim.fleet.script('join', { status: 'Failed', exitCode: 3, stderr: "adcli: couldn't lookup domain lab.example.com: DNS lookup failed" });

    const { code, io } = await cli(['--local', 'join', IID, '--json'], targets);

    expect(code).toBe(1);
    const out = JSON.parse(io.outText) as { execution: { name: string; status: string; failedState: string }; input: { detail: { state: string } } };
    expect(out.execution).toMatchObject({ status: 'FAILED', failedState: 'Run join document' });
    expect(out.input.detail).toEqual({ 'instance-id': IID, state: 'running' });
    name = out.execution.name;
    expect(name).toMatch(new RegExp(`^join-${IID}-`));
  });

  it('lists it among the failed executions, with the instance and the failing state', async () => {
    const { code, io } = await cli(['--local', 'executions', '--status', 'FAILED'], targets);

    expect(code).toBe(0);
    expect(io.outText.split('\n')[1]).toMatch(new RegExp(`^${name}\\s+join\\s+${IID}\\s+FAILED\\s+.*Run join document JoinCommandFailed$`));
  });

  it('shows the timeline with the failing state and the command output as cause', async () => {
    const { code, io } = await cli(['--local', 'show', name], targets);

    expect(code).toBe(0);
    expect(io.outText).toMatch(/✗\s+Run join document/);
    expect(io.outText).toContain("adcli: couldn't lookup domain lab.example.com");
    expect(io.outText).toContain(`Fix the cause, then: adjoin --local redrive ${name}`);
    expect(io.outText).toMatch(/✓\s+Prepare computer object/);
  });

  it('after the fix, redrive resumes at the failed state and the join completes', async () => {
    // The fix: the scripted failure was the only one; the agent joins normally from now on.
    const { code, io } = await cli(['--local', 'redrive', name], targets);

    expect(code).toBe(0);
    expect(io.outText).toMatch(new RegExp(`^Redriven ${name} at .* — resumes at "Run join document"`));

    const shown = await cli(['--local', 'show', name, '--json'], targets);
    const out = JSON.parse(shown.io.outText) as { execution: { status: string; redriveCount: number }; timeline: { redrives: unknown[]; summary: { outcome: string; computerName: string; commandIds: string[] } } };
    expect(out.execution).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    expect(out.timeline.redrives).toHaveLength(1);
    expect(out.timeline.summary.outcome).toBe('joined');
    expect(out.timeline.summary.commandIds.length).toBeGreaterThanOrEqual(2); // the failed join, the join (which verifies too)
  });

  it('refuses to redrive it again, saying why', async () => {
    const { code, io } = await cli(['--local', 'redrive', name], targets);

    expect(code).toBe(1);
    expect(io.errText).toMatch(/Cannot redrive .* \(SUCCEEDED\): it succeeded/);
  });

  it('status shows the instance, our status tags and its executions', async () => {
    const { code, io } = await cli(['--local', 'status', IID], targets);

    expect(code).toBe(0);
    expect(io.outText).toMatch(new RegExp(`^${IID}  running`));
    expect(io.outText).toMatch(/adjoin:status = joined/);
    expect(io.outText).toContain(name);
  });

  it('leave after termination runs the leave workflow with a "terminated" event', async () => {
    sim.fleet.terminate(IID);

    const { code, io } = await cli(['--local', 'leave', IID, '--json'], targets);

    expect(code).toBe(0);
    const out = JSON.parse(io.outText) as { execution: { status: string; workflow: string }; input: { detail: { state: string } } };
    expect(out.execution).toMatchObject({ workflow: 'leave', status: 'SUCCEEDED' });
    expect(out.input.detail.state).toBe('terminated');
    expect(sim.directory.all()).toHaveLength(0);
  });

  it('redrive --failed finds nothing left to redrive', async () => {
    const { code, io } = await cli(['--local', 'redrive', '--failed', '--yes'], targets, fakeIo());

    expect(code).toBe(0);
    expect(io.outText).toBe('No failed executions to redrive.');
  });
});

describe('lab records read as a Step Functions history', () => {
  it('turns every stored execution into a timeline consistent with the record', () => {
    for (const record of store.list()) {
      const t = buildTimeline(historyOf(record));
      expect(t.end?.status).toBe(record.status);
      expect(t.steps.length).toBeGreaterThan(0);
    }
  });

  it('reads ldapsearch LDIF (plain and base64 values)', () => {
    const ldif = 'dn: CN=LAB1,OU=adjoin,DC=lab,DC=example,DC=com\ncn: LAB1\ndescription:: YWRqb2luOiBFQzI=\n\n';
    expect(parseLdif(ldif)).toEqual([{ dn: 'CN=LAB1,OU=adjoin,DC=lab,DC=example,DC=com', cn: 'LAB1', description: 'adjoin: EC2' }]);
  });
});
