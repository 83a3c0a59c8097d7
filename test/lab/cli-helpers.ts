/** Running the real `adjoin` CLI in process (real targets: the lab world and its local engine). */
import { run, type Io } from '../../cli/program';
import { realTargets } from '../../cli/targets';

interface Captured extends Io {
  stdout: string[];
  stderr: string[];
}

function realIo(): Captured {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (t) => stdout.push(t),
    err: (t) => stderr.push(t),
    isTTY: false,
    stdinIsTTY: false,
    env: {},
    now: () => new Date(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    confirm: () => Promise.resolve(false),
  };
}

/** One CLI run: its exit code, what it printed, and how long it took (ms). */
export async function adjoin(...argv: string[]): Promise<{ code: number; out: string; err: string; ms: number }> {
  const io = realIo();
  const t0 = Date.now();
  const code = await run(argv, io, realTargets(io));
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n'), ms: Date.now() - t0 };
}

export const json = <T>(text: string): T => JSON.parse(text) as T;
