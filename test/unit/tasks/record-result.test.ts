import { recordResult } from '../../../tasks/lib/record';
import { INSTANCE, NOW, prepared, proceed, world } from '../../fakes';

describe('Record result', () => {
  it('tags the instance joined and deletes the join secret', async () => {
    // Prepare
    const w = world();
    w.fleet.secrets.set(INSTANCE, 'otp');
    // Act
    const out = await recordResult({ instance: proceed, computer: prepared, executionName: 'exec-1' }, w.deps);
    const tags = {
      'adjoin:status': 'joined',
      'adjoin:computer-name': prepared.name,
      'adjoin:execution': 'exec-1',
      'adjoin:joined-at': NOW.toISOString(),
    };
    // Assess
    expect(out).toEqual({ outcome: 'joined', computerName: prepared.name, tags });
    expect(w.fleet.calls).toEqual([
      ['tagInstance', INSTANCE, tags],
      ['deleteJoinSecret', INSTANCE],
    ]);
    expect(w.fleet.secrets.size).toBe(0);
  });
});
