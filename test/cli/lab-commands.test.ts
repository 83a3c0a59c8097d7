/** `adjoin lab …` wiring, with a fake lab world and backend (the real world needs root: test/lab). */
import type { Backend, ExecutionSummary, StartRequest, StartResult } from '../../cli/backend';
import type { LabControl } from '../../cli/lab-commands';
import type { LabWorld } from '../../cli/lab-link';
import type { Targets } from '../../cli/program';
import { NOW, cli } from './helpers';

type Launched = Awaited<ReturnType<LabWorld['launch']>>;
type Status = Awaited<ReturnType<LabWorld['status']>>;

function fakeLab(opts: { up?: boolean; joinStatus?: ExecutionSummary['status'] } = {}) {
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
  } as unknown as LabWorld;
  const backend = {
    start: (r: StartRequest): Promise<StartResult> => {
      started.push(r);
      const status = r.workflow === 'join' ? (opts.joinStatus ?? 'SUCCEEDED') : 'SUCCEEDED';
      return Promise.resolve({ input: {}, execution: { id: `arn:${r.workflow}`, name: `${r.workflow}-${r.instanceId ?? 'cli'}-x`, workflow: r.workflow, status, startDate: NOW, instanceId: r.instanceId, ...(status === 'FAILED' ? { failedState: 'Run join document', error: 'JoinCommandFailed' } : {}) } });
    },
  } as unknown as Backend;
  const control: LabControl = { world, backend: () => Promise.resolve(backend) };
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
