/**
 * An Auto Scaling burst, in scaled time (real concurrency, the real retry policy with jitter):
 * SendCommand and CreateTags are throttled, and no execution may fail for it.
 */
import { statePath } from '../../engine';
import { Errors, Throttled } from '../../tasks/lib/errors';
import { definitions, workflowWorld } from './world';

beforeAll(() => {
  definitions();
}, 120_000);

test('a burst of 100 launches under throttling: every instance joins, throttling is retried, never fatal', async () => {
  const w = workflowWorld(['join'], { sim: { speedup: 200, latencyMs: () => 1 } });
  w.sim.fleet.throttle('sendCommand', { ratePerSecond: 3, burst: 10 });
  w.sim.fleet.throttle('tagInstance', { ratePerSecond: 5, burst: 20 });
  // Whatever the machine's speed, at least these five are throttled.
  w.sim.fleet.fail('sendCommand', 5, () => new Throttled('SendCommand: Rate exceeded (injected)'));
  const ids = Array.from({ length: 100 }, (_, i) => `i-${(0x20000000 + i).toString(16)}`);
  for (const id of ids) w.sim.fleet.addInstance({ instanceId: id, tags: { 'Domain:Join': 'true' }, ssmOnlineAfterSeconds: 45 });

  const runs = await Promise.all(ids.map((id, i) => w.engine.start('join', w.ec2Event(id, 'running'), { name: `burst-${i}` })));

  expect(runs.filter((r) => r.status !== 'SUCCEEDED').map((r) => `${r.name}: ${r.error ?? ''} at ${r.failedState ?? ''}`)).toEqual([]);
  expect(runs.every((r) => (r.output as { outcome?: string }).outcome === 'joined')).toBe(true);
  expect(w.sim.directory.all()).toHaveLength(100);
  const throttleRetries = runs.flatMap((r) => r.events).filter((e) => e.type === 'StateRetried' && e.retry?.errorEquals.includes(Errors.Throttled));
  expect(throttleRetries.length).toBeGreaterThanOrEqual(5);
  expect(runs.every((r) => statePath(r).slice(-3).join() === 'Record result,Joined,Done')).toBe(true);
});
