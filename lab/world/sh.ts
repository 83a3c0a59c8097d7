/**
 * Running commands for the lab: every call has a time bound, output is collected, nothing is
 * printed. A command that outlives its bound is killed (its whole process group).
 */
import { spawn } from 'node:child_process';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Kill the command after this long (default 60 s). */
  timeoutMs?: number;
  /** Written to the command's standard input (then closed). */
  input?: string;
  /** Extra file descriptor 3 content (then closed): used to hand a script to bash without a file. */
  fd3?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Keep at most this many characters of each stream (default 1 MiB). */
  maxOutput?: number;
}

/** Exit code reported when the command was killed for running too long. */
export const TIMED_OUT = 124;

/** Runs argv (no shell), resolves with its exit code and output; never rejects for a non-zero exit. */
export function run(argv: string[], opts: RunOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.reject(new Error('run: empty command'));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const max = opts.maxOutput ?? 1 << 20;
  return new Promise((resolve) => {
    const stdio: ('pipe' | 'ignore')[] = [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'];
    if (opts.fd3 !== undefined) stdio.push('pipe');
    const child = spawn(cmd, args, {
      stdio,
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      detached: true, // own process group, so a timeout kills the command and its children
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let exitCode: number | undefined;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      resolve({ exitCode: timedOut ? TIMED_OUT : (exitCode ?? 1), stdout, stderr: timedOut ? `${stderr}\n[timed out after ${timeoutMs} ms]` : stderr });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    let grace: NodeJS.Timeout | undefined;
    child.stdout?.on('data', (d: Buffer) => {
      if (stdout.length < max) stdout += d.toString('utf8');
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < max) stderr += d.toString('utf8');
    });
    child.on('error', (err) => {
      stderr += `${err.message}\n`;
      exitCode = 127;
      finish();
    });
    child.on('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 + 9 : 1);
      // A daemon started by the command may hold our pipes open: do not wait for it.
      grace = setTimeout(finish, 500);
    });
    child.on('close', finish);
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
    if (opts.fd3 !== undefined) {
      const s = child.stdio[3];
      if (s && 'end' in s) {
        s.on('error', () => undefined);
        s.end(opts.fd3);
      }
    }
  });
}

/** Runs argv and throws (with its stderr, never its input) unless it exits 0. */
export async function runOk(argv: string[], opts: RunOptions = {}, what = argv.slice(0, 3).join(' ')): Promise<ExecResult> {
  const r = await run(argv, opts);
  if (r.exitCode !== 0) {
    throw new Error(`${what} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  }
  return r;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True while a process with this PID exists (signal 0 probes without touching it). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
