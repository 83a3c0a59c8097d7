/**
 * Command output as it may appear in state data and error Causes: the bounded tail of stdout
 * and stderr, with any line that looks like it carries a password value masked (defence in
 * depth: the documents never print one).
 */
export const OUTPUT_TAIL_BYTES = 2048;

// `passwd` counts only as a key (`passwd=`, `passwd:`), not as in `getent passwd alice`,
// whose output is exactly what a VerificationFailed cause must show.
const SECRETISH = /(password|passwd(?!\s)|one-?time|otp|secret|token)/i;

/** Masks values on lines that mention a password-like word (keeps the line's key). */
export function scrubSecrets(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      if (!SECRETISH.test(line)) return line;
      const m = /^(.*?(?:password|passwd(?!\s)|one-?time|otp|secret|token)[^=:]*[=:])\s*\S.*$/i.exec(line);
      return m ? `${m[1]} ****` : line.replace(/(--?[A-Za-z-]*(?:password|otp|secret|token)[A-Za-z-]*[= ])\S+/gi, '$1****');
    })
    .join('\n');
}

/** The last `max` bytes (UTF-8, on a character boundary) of a text, marked when cut. */
export function tail(text: string, max = OUTPUT_TAIL_BYTES): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= max) return text;
  let start = buf.length - max;
  while (start < buf.length && ((buf[start] as number) & 0xc0) === 0x80) start++;
  return `…${buf.subarray(start).toString('utf8')}`;
}

/** stdout and stderr, joined, scrubbed, cut to the tail. */
export function commandOutput(stdout: string, stderr: string, max = OUTPUT_TAIL_BYTES): string {
  const parts = [stdout.trimEnd(), stderr.trim() === '' ? '' : `--- stderr ---\n${stderr.trimEnd()}`].filter((p) => p !== '');
  return tail(scrubSecrets(parts.join('\n')), max);
}
