import { VerificationFailed } from '../../../tasks/lib/errors';
import { verifyNss } from '../../../tasks/lib/commands';
import { world, failedJoin, runInput } from '../../fakes';

describe('Verify NSS', () => {
  it('sends the verify document with the probe users', async () => {
    // Prepare
    const w = world();
    // Act
    const out = await verifyNss(runInput, w.deps);
    // Assess
    expect(out.document).toBe('verify');
    expect(w.fleet.sent[0]).toMatchObject({
      document: 'verify',
      parameters: { DomainName: 'corp.example.com', ProbeUsers: 'alice,bob', LoginGroups: 'linux-admins' },
    });
  });

  it('throws VerificationFailed with the getent/id output', async () => {
    // Prepare
    const w = world();
    const previous = { ...failedJoin, document: 'verify' as const, output: 'getent passwd alice: not found' };
    // Act
    const err = await verifyNss({ ...runInput, previous }, w.deps).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(VerificationFailed);
    expect((err as Error).message).toContain('getent passwd alice: not found');
  });
});
