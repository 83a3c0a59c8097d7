/**
 * The simulator's SSM Online board (lab/sim/claims.ts `waiting` / `markOnline`, lab/sim/fleet.ts
 * `ssmPingStatuses`) answers as the DynamoDB index and DescribeInstanceInformation do: the
 * burst benches measure the board on these.
 */
import { VirtualClock } from '../../engine/clock';
import { SimClaims } from '../../lab/sim/claims';
import { SimFleet } from '../../lab/sim/fleet';
import { Throttled } from '../../tasks/lib/errors';
import { boardShard, registration } from '../../tasks/lib/ssm-board';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const START = new Date('2026-11-30T10:00:00.000Z');
const NOW = Math.floor(START.getTime() / 1000);
const keyOf = (instanceId: string): string => `${ACCOUNT}/${REGION}/${instanceId}`;
/** Two instance IDs in the same shard and one in another. */
function pickIds(): { same: [string, string]; other: string } {
  const ids = Array.from({ length: 100 }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`);
  const shard = (id: string) => boardShard({ account: ACCOUNT, region: REGION, instanceId: id });
  const a = ids[0] as string;
  const b = ids.find((id) => id !== a && shard(id) === shard(a)) as string;
  const other = ids.find((id) => shard(id) !== shard(a)) as string;
  return { same: [a, b], other };
}

describe('SimClaims as the board', () => {
  const { same, other } = pickIds();
  const [a, b] = same;
  const shard = boardShard({ account: ACCOUNT, region: REGION, instanceId: a });

  /** Takes the claim of `id` and puts it on the board at `at`. */
  async function waitingJoin(claims: SimClaims, id: string, at: number): Promise<void> {
    await claims.take(keyOf(id), `exec-${id}`, at, 900);
    expect(await claims.update(keyOf(id), `exec-${id}`, registration({ account: ACCOUNT, region: REGION, instanceId: id }, 1, at))).toBe(true);
  }

  it('waiting: the keys on the board in this shard, registered at or after the cutoff', async () => {
    // Prepare
    const claims = new SimClaims(new VirtualClock(START));
    await waitingJoin(claims, a, NOW - 100);
    await waitingJoin(claims, b, NOW - 10);
    await waitingJoin(claims, other, NOW - 10);
    await claims.take(keyOf('i-notwaiting000000'), 'exec-x', NOW, 900);
    // Act / Assess
    expect((await claims.waiting(shard, NOW - 100)).sort()).toEqual([keyOf(a), keyOf(b)].sort());
    expect(await claims.waiting(shard, NOW - 99)).toEqual([keyOf(b)]);
    expect(await claims.waiting(shard, NOW)).toEqual([]);
    expect(await claims.waiting(boardShard({ account: ACCOUNT, region: REGION, instanceId: other }), 0)).toEqual([keyOf(other)]);
    expect(claims.calls.filter((c) => c.op === 'waiting').map((c) => c.key)).toEqual([shard, shard, shard, boardShard({ account: ACCOUNT, region: REGION, instanceId: other })]);
  });

  it('markOnline: ssmOnlineAt (whole seconds), off the board; only once, only while on it', async () => {
    // Prepare
    const claims = new SimClaims(new VirtualClock(START));
    await waitingJoin(claims, a, NOW);
    await claims.take(keyOf(b), 'exec-b', NOW, 900); // never on the board
    const before = claims.item(keyOf(b));
    // Act
    const first = await claims.markOnline(keyOf(a), NOW + 7.6);
    const again = await claims.markOnline(keyOf(a), NOW + 9);
    const notWaiting = await claims.markOnline(keyOf(b), NOW + 9);
    const unknown = await claims.markOnline(keyOf('i-unknown00000000'), NOW + 9);
    // Assess
    expect([first, again, notWaiting, unknown]).toEqual([true, false, false, false]);
    const marked = claims.item(keyOf(a));
    expect(marked).toMatchObject({ ssmOnlineAt: NOW + 7, ssmWaitRound: 1, ssmWaitAt: NOW, execution: `exec-${a}` });
    expect(marked).not.toHaveProperty('ssmWait');
    expect(claims.item(keyOf(b))).toEqual(before);
    expect(claims.item('x')).toBeUndefined();
    expect(await claims.waiting(shard, 0)).toEqual([]);
    expect(claims.calls.filter((c) => c.op === 'markOnline')).toHaveLength(4);
  });

  it('both are in the table\'s throttle', async () => {
    // Prepare
    const clock = new VirtualClock(START);
    const claims = new SimClaims(clock).throttle({ ratePerSecond: 1, burst: 1 });
    // Act / Assess
    await expect(claims.waiting(shard, NOW)).resolves.toEqual([]);
    await expect(claims.markOnline(keyOf(a), NOW)).rejects.toThrow(Throttled);
    await expect(claims.waiting(shard, NOW)).rejects.toThrow(Throttled);
    clock.advance(1);
    await expect(claims.markOnline(keyOf(a), NOW)).resolves.toBe(false);
    expect(claims.throttledCount).toBe(2);
  });
});

describe('SimFleet.ssmPingStatuses (DescribeInstanceInformation for many)', () => {
  function world(): { clock: VirtualClock; sim: SimFleet } {
    const clock = new VirtualClock(START);
    const sim = new SimFleet({ clock, account: ACCOUNT, region: REGION });
    sim.addInstance({ instanceId: 'i-00000000000000001', ssmOnlineAfterSeconds: 0 });
    sim.addInstance({ instanceId: 'i-00000000000000002', ssmOnlineAfterSeconds: 60 });
    sim.addInstance({ instanceId: 'i-00000000000000003', state: 'stopped' });
    sim.addInstance({ instanceId: 'i-00000000000000004', region: 'us-east-1' });
    return { clock, sim };
  }
  const asked = ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003', 'i-00000000000000004', 'i-0000000000000dead'];

  it('ONE call, logged as ssmPingStatus with the IDs joined by ","; agents not registered (yet), elsewhere or unknown are absent', async () => {
    // Prepare
    const { clock, sim } = world();
    const fleet = sim.fleetFor({ account: ACCOUNT, region: REGION });
    // Act
    const early = await fleet.ssmPingStatuses?.(asked);
    clock.advance(60);
    const later = await fleet.ssmPingStatuses?.(asked);
    // Assess
    expect(early).toEqual(new Map([['i-00000000000000001', 'Online'], ['i-00000000000000003', 'ConnectionLost']]));
    expect(later).toEqual(new Map([['i-00000000000000001', 'Online'], ['i-00000000000000002', 'Online'], ['i-00000000000000003', 'ConnectionLost']]));
    expect(sim.calls.map((c) => [c.op, c.arg])).toEqual([
      ['ssmPingStatus', asked.join(',')],
      ['ssmPingStatus', asked.join(',')],
    ]);
  });

  it('the same answers as asking one at a time', async () => {
    // Prepare
    const { sim } = world();
    const fleet = sim.fleetFor({ account: ACCOUNT, region: REGION });
    // Act
    const many = await fleet.ssmPingStatuses?.(asked);
    const one = await Promise.all(asked.map(async (id) => [id, await fleet.ssmPingStatus(id)] as const));
    // Assess
    expect(many).toEqual(new Map(one.filter(([, ping]) => ping !== 'NotRegistered')));
  });

  it('more than 50 IDs: RangeError, no call logged (50 is fine)', async () => {
    // Prepare
    const { sim } = world();
    const fleet = sim.fleetFor({ account: ACCOUNT, region: REGION });
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`);
    // Act / Assess
    await expect(fleet.ssmPingStatuses?.(ids(51))).rejects.toThrow(RangeError);
    expect(sim.calls).toHaveLength(0);
    await expect(fleet.ssmPingStatuses?.(ids(50))).resolves.toBeInstanceOf(Map);
    expect(sim.calls).toHaveLength(1);
  });

  it('throttled in the same bucket as ssmPingStatus (one DescribeInstanceInformation quota)', async () => {
    // Prepare
    const { clock, sim } = world();
    sim.throttle('ssmPingStatus', { ratePerSecond: 1, burst: 2 });
    const fleet = sim.fleetFor({ account: ACCOUNT, region: REGION });
    // Act / Assess
    await expect(fleet.ssmPingStatus('i-00000000000000001')).resolves.toBe('Online');
    await expect(fleet.ssmPingStatuses?.(asked)).resolves.toBeInstanceOf(Map);
    await expect(fleet.ssmPingStatuses?.(asked)).rejects.toThrow(Throttled);
    await expect(fleet.ssmPingStatus('i-00000000000000001')).rejects.toThrow(Throttled);
    expect(sim.throttled.get('ssmPingStatus')).toBe(2);
    expect(sim.calls.filter((c) => c.throttled).map((c) => c.arg)).toEqual([asked.join(','), 'i-00000000000000001']);
    clock.advance(1);
    await expect(fleet.ssmPingStatuses?.(asked)).resolves.toBeInstanceOf(Map);
  });
});
