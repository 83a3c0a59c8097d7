/** The one "instance is gone" rule (tasks/lib/gone.ts), for a join and for a delete. */
import { InstanceGone } from '../../../../tasks/lib/errors';
import { assertNotGone, isGone } from '../../../../tasks/lib/gone';
import type { InstanceInfo } from '../../../../tasks/lib/ports';
import { instance, INSTANCE, world } from '../../../fakes';

const states: InstanceInfo['state'][] = ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'];

describe('isGone', () => {
  it('counts an instance unknown to EC2 as gone, for a join and for a delete', () => {
    // Prepare / Act / Assess
    expect(isGone(undefined, 'join')).toBe(true);
    expect(isGone(undefined, 'delete')).toBe(true);
  });

  it.each(states)('a join gives up on %s only when terminated or shutting down', (state) => {
    // Prepare
    const info = instance({ state });
    // Act
    const gone = isGone(info, 'join');
    // Assess
    expect(gone).toBe(state === 'terminated' || state === 'shutting-down');
  });

  it.each(states)('a delete goes ahead on %s only when terminated', (state) => {
    // Prepare
    const info = instance({ state });
    // Act
    const gone = isGone(info, 'delete');
    // Assess
    expect(gone).toBe(state === 'terminated');
  });
});

describe('assertNotGone', () => {
  it('returns what EC2 said about a live instance', async () => {
    // Prepare
    const w = world();
    w.fleet.instances.set(INSTANCE, instance({ state: 'stopped' }));
    // Act
    const info = await assertNotGone(w.fleet, INSTANCE);
    // Assess
    expect(info.state).toBe('stopped');
  });

  it.each([['shutting-down'], ['terminated'], ['unknown to EC2']])('throws InstanceGone naming the state (%s)', async (state) => {
    // Prepare
    const w = world();
    if (state !== 'unknown to EC2') w.fleet.instances.set(INSTANCE, instance({ state: state as InstanceInfo['state'] }));
    // Act
    const check = assertNotGone(w.fleet, INSTANCE);
    // Assess
    await expect(check).rejects.toThrow(InstanceGone);
    await expect(assertNotGone(w.fleet, INSTANCE)).rejects.toThrow(`is ${state}: the join is abandoned`);
  });

  it('lets an EC2 error through: an error is never "gone"', async () => {
    // Prepare
    const w = world();
    w.fleet.describeInstance = () => Promise.reject(new Error('throttled'));
    // Act
    const check = assertNotGone(w.fleet, INSTANCE);
    // Assess
    await expect(check).rejects.toThrow('throttled');
  });
});
