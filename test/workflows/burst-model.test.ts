/**
 * The pieces bench/burst.ts models a burst with: discrete virtual time, EC2's tag lag, the
 * directory's capacity, the SDK's client-side retry.
 */
import { VirtualClock } from '../../engine';
import { SimDirectory, SimFleet, SIM_COMPUTER_OU } from '../../lab/sim';
import { SdkClientModel } from '../../lab/sim/rates';
import { DiscreteTime } from '../../lab/sim/timers';
import { Throttled } from '../../tasks/lib/errors';

const ID = 'i-0123456789abcdef0';

test('DiscreteTime fires timers in virtual-time order, jumps idle time, and treats a 0 ms delay as 1 ms', async () => {
  const time = new DiscreteTime({ seed: 't' }).install();
  const seen: string[] = [];
  try {
    const work = Promise.all([
      new Promise<void>((r) => setTimeout(() => (seen.push(`b@${performance.now()}`), r()), 90_000)),
      new Promise<void>((r) => setTimeout(() => (seen.push(`a@${performance.now()}`), r()), 30_000)),
      new Promise<void>((r) => setTimeout(() => (seen.push(`z@${performance.now()}`), r()), 0)),
    ]);
    await time.run(work);
  } finally {
    time.uninstall();
  }
  expect(seen).toEqual(['z@1', 'a@30000', 'b@90000']);
});

test('tags written become visible to DescribeInstances only after the lag', async () => {
  const clock = new VirtualClock();
  const fleet = new SimFleet({ clock, tagVisibleAfterSeconds: () => 1.5 });
  fleet.addInstance({ instanceId: ID, tags: { 'Domain:Join': 'true' } });
  const port = fleet.fleetFor({ account: fleet.account, region: fleet.region });
  await port.tagInstance(ID, { 'adjoin:status': 'joining' });
  expect((await port.describeInstance(ID))?.tags['adjoin:status']).toBeUndefined();
  clock.advance(1.4);
  expect((await port.describeInstance(ID))?.tags['adjoin:status']).toBeUndefined();
  clock.advance(0.1);
  expect((await port.describeInstance(ID))?.tags['adjoin:status']).toBe('joining');
});

test('the directory serves at most `capacity` operations at once; the others queue', async () => {
  const time = new DiscreteTime().install();
  try {
    const dir = new SimDirectory({ clock: new VirtualClock(), managedOus: [SIM_COMPUTER_OU], latencyMs: () => 100, capacity: 2 });
    await time.run(Promise.all(Array.from({ length: 5 }, (_, i) => dir.findByName(`PC${i}`))));
    expect(dir.load).toEqual({ inService: 0, peakInService: 2, peakQueued: 3 });
    expect(time.nowMs).toBe(300);
  } finally {
    time.uninstall();
  }
});

test('the SDK model retries throttling up to maxAttempts, with back-off in (virtual) time, then gives up', async () => {
  const time = new DiscreteTime({ seed: 'sdk' }).install();
  try {
    const sdk = new SdkClientModel(5);
    let attempts = 0;
    const always = (): Promise<never> => {
      attempts += 1;
      return Promise.reject(new Throttled('Rate exceeded'));
    };
    await expect(time.run(sdk.call(always))).rejects.toThrow('Rate exceeded');
    expect(attempts).toBe(5);
    let n = 0;
    const third = (): Promise<string> => (++n < 3 ? Promise.reject(new Throttled('Rate exceeded')) : Promise.resolve('ok'));
    await expect(time.run(sdk.call(third))).resolves.toBe('ok');
    expect(n).toBe(3);
  } finally {
    time.uninstall();
  }
});
