import { recordResult } from '../../../tasks/lib/record';
import { claimKey } from '../../../tasks/lib/claims';
import { ClaimLost } from '../../../tasks/lib/errors';
import { INSTANCE, NOW, prepared, proceed, world } from '../../fakes';

const KEY = claimKey(proceed);

describe('Record result', () => {
  it('tags the instance joined, deletes the join secret, marks the claim joined; its output is the execution output', async () => {
    // Prepare
    const w = world();
    w.fleet.secrets.set(INSTANCE, 'otp');
    await w.claims.take(KEY, 'exec-1', NOW.getTime() / 1000, 900);
    // Act
    const out = await recordResult({ instance: proceed, computer: prepared, join: { commandId: 'cmd-1' }, executionName: 'exec-1' }, w.deps);
    const tags = {
      'adjoin:status': 'joined',
      'adjoin:computer-name': prepared.name,
      'adjoin:execution': 'exec-1',
      'adjoin:joined-at': NOW.toISOString(),
    };
    // Assess
    expect(out).toEqual({ outcome: 'joined', instanceId: INSTANCE, computerName: prepared.name, commandId: 'cmd-1', tags });
    expect(w.claims.item(KEY)).toMatchObject({ status: 'joined', phase: 'joined-verified', computerName: prepared.name });
    expect(w.fleet.calls).toEqual([
      ['tagInstance', INSTANCE, tags],
      ['deleteJoinSecret', INSTANCE],
    ]);
    expect(w.fleet.secrets.size).toBe(0);
  });

  it('a claim another execution holds: ClaimLost (after the tags and the secret)', async () => {
    const w = world();
    await w.claims.take(KEY, 'exec-0', NOW.getTime() / 1000, 900);
    await expect(recordResult({ instance: proceed, computer: prepared, join: { commandId: 'cmd-1' }, executionName: 'exec-1' }, w.deps)).rejects.toThrow(ClaimLost);
    expect(w.claims.item(KEY)?.status).toBe('joining');
  });
});
