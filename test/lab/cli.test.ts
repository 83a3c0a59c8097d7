/**
 * The operator loop on the REAL lab (Samba AD DC, instance in namespaces, real adcli/SSSD):
 * break DNS, join fails, show it, fix, redrive, users resolve, terminate, leave.
 *
 * Needs root and the lab: part of the lab suite (`npx jest -c jest.lab.config.js test/lab/cli.test.ts`).
 *
 * "Break DNS": a blackhole route to the DC inside the instance's network namespace, so the join
 * document's own check ("<domain> does not resolve through <DC>") fails; the fix removes it.
 */
import { DC_IP } from '../../lab/world/paths';
import * as world from '../../lab/world';

const dcIps = (): string[] => world.labState().domain.domainControllers?.map((d) => d.ip) ?? [DC_IP];
import { adjoin, json } from './cli-helpers';

let wasUp = false;
let instanceId = '';

beforeAll(async () => {
  wasUp = await world.isUp();
  if (!wasUp) await world.up();
}, 120_000);

afterAll(async () => {
  if (instanceId) await world.terminate(instanceId).catch(() => undefined);
  if (!wasUp) await world.down();
}, 120_000);

describe('adjoin on the real lab: break DNS, show, fix, redrive', () => {
  let name = '';

  it('launches an opted-in instance without a join', async () => {
    const r = await adjoin('lab', 'launch', '--tag', 'Domain:Join=true', '--no-join', '--json');
    expect(r.code).toBe(0);
    instanceId = json<{ instances: { instanceId: string }[] }>(r.out).instances[0]?.instanceId ?? '';
    expect(instanceId).toMatch(/^i-[0-9a-f]{17}$/);
  });

  it('with DNS to the DC broken, the join fails at "Run join document"', async () => {
    // Every DC answers DNS: break the route to each (two in the default lab).
    for (const ip of dcIps()) {
      const broken = await world.exec(instanceId, ['ip', 'route', 'add', 'blackhole', `${ip}/32`]);
      expect(broken.exitCode).toBe(0);
    }

    const r = await adjoin('--local', 'join', instanceId, '--json');

    expect(r.code).toBe(1);
    const out = json<{ execution: { name: string; status: string; failedState: string; error: string } }>(r.out);
    expect(out.execution).toMatchObject({ status: 'FAILED', failedState: 'Run join document', error: 'JoinCommandFailed' });
    name = out.execution.name;
  });

  it('show marks the failing state and gives the document\u2019s own explanation', async () => {
    const r = await adjoin('--local', 'show', name);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/✗\s+Run join document/);
    expect(r.out).toMatch(/does not resolve/);
    expect(r.out).toContain(`adjoin --local redrive ${name}`);
  });

  it('after the fix, redrive completes the join and directory users resolve', async () => {
    for (const ip of dcIps()) {
      const fixed = await world.exec(instanceId, ['ip', 'route', 'del', 'blackhole', `${ip}/32`]);
      expect(fixed.exitCode).toBe(0);
    }

    const r = await adjoin('--local', 'redrive', name, '--wait', '--json');

    expect(r.code).toBe(0);
    expect(json<{ execution: { status: string; redriveCount: number } }>(r.out).execution).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    const user = await adjoin('lab', 'exec', instanceId, '--', 'getent', 'passwd', 'alice');
    expect(user.code).toBe(0);
    expect(user.out).toMatch(/^alice/);
  });

  it('status shows our tags and the computer object with its marker', async () => {
    const r = await adjoin('--local', 'status', instanceId, '--json');
    expect(r.code).toBe(0);
    const s = json<{ statusTags: Record<string, string>; computers: { marker?: string }[] }>(r.out);
    expect(s.computers).toHaveLength(1);
    expect(s.computers[0]?.marker).toMatch(new RegExp(`^adjoin:v1:\\d{12}:[a-z0-9-]+:${instanceId}$`));
    expect(Object.keys(s.statusTags).length).toBeGreaterThan(0);
  });

  it('terminate emits "terminated": the leave deletes the computer object', async () => {
    const r = await adjoin('lab', 'terminate', instanceId, '--json');
    expect(r.code).toBe(0);
    expect(json<{ execution: { workflow: string; status: string } }>(r.out).execution).toMatchObject({ workflow: 'leave', status: 'SUCCEEDED' });
    const s = json<{ computers: unknown[] }>((await adjoin('--local', 'status', instanceId, '--json')).out);
    expect(s.computers).toHaveLength(0);
    instanceId = '';
  });
});
