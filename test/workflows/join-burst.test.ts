/**
 * An Auto Scaling burst, in scaled time (real concurrency, the real retry policy with jitter):
 * SendCommand (below the pace the joins keep: the SDK's retry takes the rest), CreateTags and the
 * claims table are throttled, 5 % of the launches get a duplicate event at the same time, and no
 * execution may fail for any of it.
 */
import { statePath } from '../../engine';
import { Errors, Throttled } from '../../tasks/lib/errors';
import { definitions, workflowWorld } from './world';

beforeAll(() => {
  definitions();
}, 120_000);

test('a burst of 200 launches under throttling with 5 % duplicate events: 0 failed, exactly one object and one join command per instance', async () => {
  const w = workflowWorld(['join'], { sim: { speedup: 200, latencyMs: () => 1 } });
  w.sim.fleet.throttle('sendCommand', { ratePerSecond: 3, burst: 10 });
  w.sim.fleet.throttle('tagInstance', { ratePerSecond: 5, burst: 20 });
  w.sim.claims.throttle({ ratePerSecond: 20, burst: 40 });
  // Whatever the machine's speed, at least these five are throttled.
  w.sim.fleet.fail('sendCommand', 5, () => new Throttled('SendCommand: Rate exceeded (injected)'));
  const ids = Array.from({ length: 200 }, (_, i) => `i-${(0x20000000 + i).toString(16)}`);
  for (const id of ids) w.sim.fleet.addInstance({ instanceId: id, tags: { 'Domain:Join': 'true' }, ssmOnlineAfterSeconds: 45 });
  const duplicated = ids.filter((_, i) => i % 20 === 7); // 10 of 200: 5 %

  const runs = await Promise.all([
    ...ids.map((id, i) => w.engine.start('join', w.ec2Event(id, 'running'), { name: `burst-${i}` })),
    ...duplicated.map((id, i) => w.engine.start('join', w.ec2Event(id, 'running'), { name: `burst-dup-${i}` })),
  ]);

  expect(runs.filter((r) => r.status !== 'SUCCEEDED').map((r) => `${r.name}: ${r.error ?? ''} at ${r.failedState ?? ''}`)).toEqual([]);
  const outcome = (r: (typeof runs)[number]): string => (r.output as { outcome?: string }).outcome ?? '';
  expect(runs.filter((r) => outcome(r) === 'joined')).toHaveLength(200);
  expect(runs.filter((r) => outcome(r) !== 'joined').map(outcome).every((o) => o === 'in-progress' || o === 'already-joined')).toBe(true);
  // Exactly one object and one join command per instance.
  const objects = w.sim.directory.all();
  expect(objects).toHaveLength(200);
  expect(new Set(objects.map((o) => o.markerText)).size).toBe(200);
  const commands = w.sim.fleet.sentCommands();
  expect(commands).toHaveLength(200);
  expect(new Set(commands.map((c) => c.request.instanceId)).size).toBe(200);
  expect(w.sim.fleet.parameterNames()).toEqual([]);
  expect(w.cleanups).toEqual([]);
  const throttleRetries = runs.flatMap((r) => r.events).filter((e) => e.type === 'StateRetried' && e.retry?.errorEquals.includes(Errors.Throttled));
  expect(throttleRetries.length).toBeGreaterThanOrEqual(5);
  expect(runs.filter((r) => outcome(r) === 'joined').every((r) => statePath(r).slice(-3).join() === 'Run join document,Record result,Done')).toBe(true);
  // As deployed by default: the agents were seen through the SSM Online board (batched
  // DescribeInstanceInformation calls, fewer than instances), and the SSM calls took pacing slots.
  const pings = w.sim.fleet.calls.filter((c) => c.op === 'ssmPingStatus');
  expect(pings.some((c) => c.arg.split(',').length > 1)).toBe(true);
  expect(pings.length).toBeLessThan(ids.length);
  expect(w.sim.pacer.calls.filter((c) => c.key.endsWith('/sendCommand')).length).toBeGreaterThanOrEqual(200);
}, 300_000);
