/**
 * One-time join passwords: long, random, every character class (real AD may enforce
 * complexity for computer accounts; Samba does not). The alphabet leaves out quotes, spaces,
 * backslash, `$` and backtick, so the value survives shell quoting in the join document.
 * The value goes only to the directory (unicodePwd) and to a SecureString parameter.
 */
import type { Random } from './ports';

const CLASSES = [
  'ABCDEFGHJKLMNPQRSTUVWXYZ',
  'abcdefghijkmnopqrstuvwxyz',
  '23456789',
  '-_.+=@%:,~',
] as const;
const ALL = CLASSES.join('');
export const OTP_LENGTH = 40;

/** An unbiased random index below `n` (rejection sampling over single bytes). */
function pick(random: Random, n: number): number {
  const limit = 256 - (256 % n);
  let b = 0;
  for (let i = 0; i < 64; i++) {
    b = random.bytes(1)[0] ?? 0;
    if (b < limit) break;
  }
  return b % n; // after 64 rejections (p < 2^-64 with a real source) accept a tiny bias
}

export function generateOneTimePassword(random: Random, length = OTP_LENGTH): string {
  const size = Math.max(32, Math.floor(length));
  const chars: string[] = CLASSES.map((c) => c[pick(random, c.length)] as string);
  while (chars.length < size) chars.push(ALL[pick(random, ALL.length)] as string);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = pick(random, i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

/** True when a password has every character class (for tests and defensive checks). */
export function hasEveryClass(password: string): boolean {
  return CLASSES.every((c) => [...password].some((ch) => c.includes(ch)));
}
