/** `adjoin lab …` wiring, with a fake lab world and backend (the real world needs root: test/lab). */
import type { Backend, ExecutionSummary, StartRequest, StartResult } from '../../cli/backend';
import { labStatusText, type LabControl } from '../../cli/lab-commands';
import { makeStyle } from '../../cli/format';
import type { LabWorld } from '../../cli/lab-link';
import type { Targets } from '../../cli/program';
import { LabAutoScaling } from '../../lab/world/autoscaling';
import { NOW, cli } from './helpers';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const plainStyle = makeStyle(false);
type Launched = Awaited<ReturnType<LabWorld['launch']>>;
type Status = Awaited<ReturnType<LabWorld['status']>>;

function fakeLab(opts: { up?: boolean; joinStatus?: ExecutionSummary['status']; groups?: LabAutoScaling } = {}) {
  const launched: Launched[] = [];
  const started: StartRequest[] = [];
  const terminated: string[] = [];
  const execs: { id: string; argv: string[]; timeoutMs?: number }[] = [];
  let n = 0;
  const status = (): Status => ({ up: opts.up ?? true, dir: '/tmp/lab', account: '111122223333', region: 'eu-west-1', instances: launched.map((i) => ({ ...i })) });
  const world = {
    up: jest.fn(({ log }: { log?: (l: string) => void } = {}) => {
      log?.('provisioning the DC');
      return Promise.resolve(status());
    }),
    down: jest.fn(() => Promise.resolve({ netns: ['adjoin-dc'], killed: 3, unmounted: 4, problems: [], removedState: true })),
    status: jest.fn(() => Promise.resolve(status())),
    launch: jest.fn(({ tags }: { tags?: Record<string, string> } = {}) => {
      n += 1;
      const inst: Launched = { instanceId: `i-0000000000000000${n}`, state: 'running', tags: tags ?? {}, ip: `10.77.0.${9 + n}`, hostname: `ip-10-77-0-${9 + n}`, netns: 'x', mountNsFile: 'y', launchTime: NOW.toISOString() };
      launched.push(inst);
      return Promise.resolve(inst);
    }),
    terminate: jest.fn((id: string) => {
      terminated.push(id);
      return Promise.resolve();
    }),
    exec: jest.fn((id: string, argv: string[], o: { timeoutMs?: number } = {}) => {
      execs.push({ id, argv, timeoutMs: o.timeoutMs });
      return Promise.resolve({ exitCode: argv[0] === 'false' ? 1 : 0, stdout: 'alice:*:200500:200513::/home/alice:/bin/bash\n', stderr: '' });
    }),
    dcLdapSearch: jest.fn(),
    isUp: jest.fn(() => Promise.resolve(opts.up ?? true)),
    stopDc: jest.fn(() => Promise.resolve()),
    startDc: jest.fn(() => Promise.resolve()),
    isolateDc: jest.fn(() => Promise.resolve()),
    reconnectDc: jest.fn(() => Promise.resolve()),
    pauseReplicationToDc2: jest.fn(() => Promise.resolve()),
    resumeReplicationToDc2: jest.fn(() => Promise.resolve()),
  } as unknown as LabWorld;
  const backend = {
    start: (r: StartRequest): Promise<StartResult> => {
      started.push(r);
      const status = r.workflow === 'join' ? (opts.joinStatus ?? 'SUCCEEDED') : 'SUCCEEDED';
      return Promise.resolve({ input: {}, execution: { id: `arn:${r.workflow}`, name: `${r.workflow}-${r.instanceId ?? 'cli'}-x`, workflow: r.workflow, status, startDate: NOW, instanceId: r.instanceId, ...(status === 'FAILED' ? { failedState: 'Run join document', error: 'JoinCommandFailed' } : {}) } });
    },
  } as unknown as Backend;
  const control: LabControl = { world, backend: () => Promise.resolve(backend), ...(opts.groups ? { groups: () => Promise.resolve(opts.groups as LabAutoScaling) } : {}) };
  const targets: Targets = {
    aws: () => {
      throw new Error('no AWS here');
    },
    lab: () => Promise.resolve(backend),
    labControl: () => Promise.resolve(control),
  };
  return { targets, launched, started, terminated, execs, world };
}

describe('adjoin lab', () => {
  it('up prints the status, progress on stderr', async () => {
    const lab = fakeLab();
    const { code, io } = await cli(['lab', 'up'], lab.targets);
    expect(code).toBe(0);
    expect(io.outText).toMatch(/^lab up {2}\/tmp\/lab {2}account 111122223333 {2}eu-west-1/);
    expect(io.errText).toContain('provisioning the DC');
  });

  it('up passes --dcs (default 2) and refuses other counts', async () => {
    const lab = fakeLab();
    expect((await cli(['lab', 'up'], lab.targets)).code).toBe(0);
    expect((await cli(['lab', 'up', '--dcs', '1'], lab.targets)).code).toBe(0);
    expect((lab.world.up as jest.Mock).mock.calls.map((c: [{ dcs?: number }]) => c[0].dcs)).toEqual([2, 1]);
    const bad = await cli(['lab', 'up', '--dcs', '3'], lab.targets);
    expect(bad.code).toBe(2);
    expect(bad.io.errText).toContain('--dcs must be 1 or 2');
  });

  it('dc and replication levers call the world', async () => {
    const lab = fakeLab();
    for (const verb of ['stop', 'start', 'isolate', 'reconnect']) expect((await cli(['lab', 'dc', verb, 'dc2'], lab.targets)).code).toBe(0);
    expect((await cli(['lab', 'replication', 'pause'], lab.targets)).code).toBe(0);
    const { code, io } = await cli(['lab', 'replication', 'resume', '--json'], lab.targets);
    expect(code).toBe(0);
    expect(JSON.parse(io.outText)).toEqual({ replication: 'running' });
    for (const f of ['stopDc', 'startDc', 'isolateDc', 'reconnectDc'] as const) expect((lab.world[f] as jest.Mock).mock.calls).toEqual([['dc2']]);
    expect(lab.world.pauseReplicationToDc2).toHaveBeenCalledTimes(1);
    expect(lab.world.resumeReplicationToDc2).toHaveBeenCalledTimes(1);
  });

  it('status lists every DC with its state', () => {
    const text = labStatusText(
      {
        up: true, dir: '/tmp/lab', account: '111122223333', region: 'eu-west-1', instances: [],
        domain: {
          realm: 'LAB.EXAMPLE.COM', dcFqdn: 'DC1.lab.example.com', dcIp: '10.77.0.2', managedOu: 'OU=adjoin', loginGroup: 'linux-admins', users: ['alice'], replicationPaused: true,
          domainControllers: [
            { name: 'dc1', hostName: 'DC1.lab.example.com', ip: '10.77.0.2', state: 'stopped', isolated: false },
            { name: 'dc2', hostName: 'DC2.lab.example.com', ip: '10.77.0.3', state: 'running', isolated: true },
          ],
        },
      },
      plainStyle,
    );
    expect(text).toContain('domain    LAB.EXAMPLE.COM  replication to DC2 paused');
    expect(text).toContain('dc1       DC1.lab.example.com (10.77.0.2)  stopped');
    expect(text).toContain('dc2       DC2.lab.example.com (10.77.0.3)  running  isolated');
  });

  it('status exits 3 when the lab is down', async () => {
    const { code, io } = await cli(['lab', 'status', '--json'], fakeLab({ up: false }).targets);
    expect(code).toBe(3);
    expect(JSON.parse(io.outText)).toMatchObject({ up: false });
  });

  it('down reports what it removed', async () => {
    const { code, io } = await cli(['lab', 'down'], fakeLab().targets);
    expect(code).toBe(0);
    expect(io.outText).toBe('Lab down: 1 namespace(s) removed, 3 process(es) stopped, 4 mount(s) released.');
  });

  it('launch --count 2 --tag … launches, then a join runs for each (the "running" event)', async () => {
    const lab = fakeLab();
    const { code, io } = await cli(['lab', 'launch', '--count', '2', '--tag', 'Domain:Join=true', '--tag', 'adGroupName=linux-admins', '--json'], lab.targets);

    expect(code).toBe(0);
    expect(lab.world.launch).toHaveBeenCalledWith({ tags: { 'Domain:Join': 'true', adGroupName: 'linux-admins' } });
    expect(lab.started).toEqual([
      { workflow: 'join', instanceId: 'i-00000000000000001' },
      { workflow: 'join', instanceId: 'i-00000000000000002' },
    ]);
    const out = JSON.parse(io.outText) as { instances: unknown[]; executions: { status: string }[] };
    expect(out.instances).toHaveLength(2);
    expect(out.executions.map((e) => e.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  });

  it('launch exits 1 when a join failed, and says where', async () => {
    const { code, io } = await cli(['lab', 'launch', '--tag', 'Domain:Join=true'], fakeLab({ joinStatus: 'FAILED' }).targets);
    expect(code).toBe(1);
    expect(io.outText).toMatch(/join join-i-00000000000000001-x {2}FAILED {2}failed in Run join document \(JoinCommandFailed\)/);
  });

  it('launch --distro trixie asks the world for that rootfs (and reports it)', async () => {
    const lab = fakeLab();
    const { code } = await cli(['lab', 'launch', '--distro', 'trixie', '--no-join'], lab.targets);
    expect(code).toBe(0);
    const calls = (lab.world.launch as jest.Mock).mock.calls as [{ tags: Record<string, string>; distro?: string; log?: unknown }][];
    expect(calls.map(([o]) => [o.tags, o.distro, typeof o.log])).toEqual([[{}, 'trixie', 'function']]);
  });

  it('launch --no-join emits no event', async () => {
    const lab = fakeLab();
    const { code } = await cli(['lab', 'launch', '--no-join'], lab.targets);
    expect(code).toBe(0);
    expect(lab.started).toEqual([]);
  });

  it('terminate emits "terminated": a leave runs', async () => {
    const lab = fakeLab();
    const { code, io } = await cli(['lab', 'terminate', 'i-0123456789abcdef0'], lab.targets);
    expect(code).toBe(0);
    expect(lab.terminated).toEqual(['i-0123456789abcdef0']);
    expect(lab.started).toEqual([{ workflow: 'leave', instanceId: 'i-0123456789abcdef0' }]);
    expect(io.outText).toMatch(/^i-0123456789abcdef0 terminated\n {2}leave leave-i-0123456789abcdef0-x {2}SUCCEEDED$/);
  });

  it('launch --region picks the second lab Region: the world launches there and the join event carries it; terminate --region likewise', async () => {
    const lab = fakeLab();
    expect((await cli(['lab', 'launch', '--region', 'eu-central-1', '--tag', 'Domain:Join=true'], lab.targets)).code).toBe(0);
    const calls = (lab.world.launch as jest.Mock).mock.calls as [{ region?: string }][];
    expect(calls.map(([o]) => o.region)).toEqual(['eu-central-1']);
    expect(lab.started).toEqual([{ workflow: 'join', instanceId: 'i-00000000000000001', region: 'eu-central-1' }]);
    expect((await cli(['lab', 'terminate', '--region', 'eu-central-1', 'i-00000000000000001'], lab.targets)).code).toBe(0);
    expect(lab.started[1]).toEqual({ workflow: 'leave', instanceId: 'i-00000000000000001', region: 'eu-central-1' });
  });

  it('launch/terminate --region: only the two lab Regions (usage error otherwise, nothing launched)', async () => {
    const lab = fakeLab();
    for (const argv of [['lab', 'launch', '--region', 'us-east-1'], ['lab', 'terminate', '--region', 'us-east-1', 'i-0123456789abcdef0'], ['lab', 'launch', '--region', 'eu-central-1', '--asg', 'web']]) {
      const { code, io } = await cli(argv, lab.targets);
      expect(code).toBe(2);
      expect(io.errText).toMatch(/--region must be a lab Region \(eu-west-1, eu-central-1\)|--asg: the lab's Auto Scaling groups are in eu-west-1 only/);
    }
    expect(lab.world.launch).not.toHaveBeenCalled();
    expect(lab.terminated).toEqual([]);
    expect((await cli(['lab', 'launch', '--region', 'eu-west-1', '--no-join'], lab.targets)).code).toBe(0);
  });

  it('status shows a REGION column only when an instance lives in another lab Region', () => {
    const inst = { instanceId: 'i-00000000000000001', state: 'running', ip: '10.77.0.10', hostname: 'ip-10-77-0-10', launchTime: NOW.toISOString(), tags: {} };
    const base = { up: true, dir: '/tmp/lab', account: '111122223333', region: 'eu-west-1' };
    expect(labStatusText({ ...base, instances: [inst] }, plainStyle)).not.toContain('REGION');
    const text = labStatusText({ ...base, instances: [inst, { ...inst, instanceId: 'i-00000000000000002', region: 'eu-central-1' }] }, plainStyle);
    expect(text).toMatch(/INSTANCE +STATE +REGION +IP/);
    expect(text).toMatch(/i-00000000000000001 +running +eu-west-1 +10\.77\.0\.10/);
    expect(text).toMatch(/i-00000000000000002 +running +eu-central-1 +10\.77\.0\.10/);
  });

  it('exec passes the command after -- and exits with its exit code', async () => {
    const lab = fakeLab();
    const ok = await cli(['lab', 'exec', 'i-0123456789abcdef0', '--', 'getent', 'passwd', 'alice'], lab.targets);
    expect(ok.code).toBe(0);
    expect(ok.io.outText).toBe('alice:*:200500:200513::/home/alice:/bin/bash');
    expect(lab.execs[0]).toEqual({ id: 'i-0123456789abcdef0', argv: ['getent', 'passwd', 'alice'], timeoutMs: 60_000 });

    const bad = await cli(['lab', 'exec', 'i-0123456789abcdef0', '--timeout', '5', '--', 'false'], lab.targets);
    expect(bad.code).toBe(1);
    expect(lab.execs[1]?.timeoutMs).toBe(5000);
  });
});

describe('adjoin lab launch --asg (the lab\'s Auto Scaling groups, kept in the lab state directory)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-asg-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('launches into the group (made with our hooks), holds it in Pending:Wait and starts the join from the launch hook\'s event', async () => {
    const lab = fakeLab({ groups: LabAutoScaling.inLab(dir) });
    const { code, io } = await cli(['lab', 'launch', '--asg', 'web', '--tag', 'Domain:Join=true', '--json'], lab.targets);
    expect(code).toBe(0);
    const id = lab.launched[0]?.instanceId ?? '';
    expect(lab.started).toEqual([{ workflow: 'join', instanceId: id, lifecycle: expect.objectContaining({ autoScalingGroupName: 'web', lifecycleHookName: 'adjoin-join', transition: 'launch', lifecycleActionToken: expect.any(String) as string }) as unknown }]);
    expect((JSON.parse(io.outText) as { instances: unknown[] }).instances).toEqual([expect.objectContaining({ instanceId: id, autoScaling: { group: 'web', lifecycleState: 'Pending:Wait' } })]);
    // Another process (a fresh reader of the same directory) sees the group and the waiting instance.
    const other = LabAutoScaling.inLab(dir);
    expect(other.groupNames()).toEqual(['web']);
    expect(other.membership(id)).toEqual({ group: 'web', lifecycleState: 'Pending:Wait' });
  });

  it('status shows the group and lifecycle state of grouped instances', async () => {
    const groups = LabAutoScaling.inLab(dir);
    const lab = fakeLab({ groups });
    expect((await cli(['lab', 'launch', '--asg', 'web', '--no-join'], lab.targets)).code).toBe(0);
    expect((await cli(['lab', 'launch', '--no-join'], lab.targets)).code).toBe(0);
    const { code, io } = await cli(['lab', 'status'], lab.targets);
    expect(code).toBe(0);
    expect(io.outText).toMatch(/INSTANCE\s+STATE\s+GROUP\s+IP/);
    expect(io.outText).toMatch(/i-00000000000000001\s+running\s+web Pending:Wait/);
    expect(io.outText).toMatch(/i-00000000000000002\s+running\s+-\s+10\.77/);
  });

  it.each([
    [['--asg', 'bad name'], /--asg: a group name is 1-64/],
    [['--asg', ''], /--asg: a group name/],
    [['--asg', 'web', '--hook-timeout', '5'], /--hook-timeout must be 30-7200/],
    [['--hook-timeout', '60'], /--hook-timeout needs --asg/],
  ])('refuses %j (exit 2, nothing launched)', async (args, message) => {
    const lab = fakeLab({ groups: LabAutoScaling.inLab(dir) });
    const { code, io } = await cli(['lab', 'launch', ...args], lab.targets);
    expect(code).toBe(2);
    expect(io.errText).toMatch(message);
    expect(lab.launched).toEqual([]);
  });
});
