import { randomBytes } from 'node:crypto';
import { generateOneTimePassword, hasEveryClass, OTP_LENGTH } from '../../../../tasks/lib/otp';
import { seqRandom } from '../../../fakes';

describe('generateOneTimePassword', () => {
  it('is long, has every class, and no shell/LDAP-hostile character', () => {
    for (let i = 0; i < 500; i++) {
      // Act
      const p = generateOneTimePassword({ bytes: randomBytes });
      // Assess
      expect(p).toHaveLength(OTP_LENGTH);
      expect(hasEveryClass(p)).toBe(true);
      expect(p).not.toMatch(/["'`$\\\s]/);
    }
  });

  it('takes its randomness from the Random port (deterministic with a fake)', () => {
    expect(generateOneTimePassword(seqRandom(1))).toBe(generateOneTimePassword(seqRandom(1)));
    expect(generateOneTimePassword(seqRandom(1))).not.toBe(generateOneTimePassword(seqRandom(2)));
  });

  it('never goes below 32 characters and still has every class with a degenerate source', () => {
    const p = generateOneTimePassword({ bytes: (n) => Buffer.alloc(n, 0) }, 8);
    expect(p.length).toBeGreaterThanOrEqual(32);
    expect(hasEveryClass(p)).toBe(true);
  });

  it('differs from call to call with a real source', () => {
    const seen = new Set(Array.from({ length: 200 }, () => generateOneTimePassword({ bytes: randomBytes })));
    expect(seen.size).toBe(200);
  });
});
