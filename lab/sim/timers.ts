/**
 * Discrete-event time for burst runs: replaces the process's setTimeout / setInterval /
 * performance.now (and Math.random, seeded) so that every timer — the engine's Wait states and
 * retry pauses, the simulated latencies, the modelled SDK back-off — fires in virtual time. The
 * driver fires the earliest timer only when everything runnable has run (one real setImmediate
 * turn: all pending promise work drains before it), so time jumps straight over idle stretches
 * and 1,000 concurrent executions run as fast as the CPU computes them, in the order AWS
 * would see them.
 *
 *   const time = new DiscreteTime({ seed: 'burst' }).install();
 *   const clock = new ScaledClock(start, 1);   // reads the patched performance.now()
 *   try { await time.run(Promise.all(work)); } finally { time.uninstall(); }
 *
 * Callbacks keep their async context (AsyncLocalStorage), as real timers do. Only for scale
 * runs in their own process: while installed, nothing else in the process sees real time.
 */
import { AsyncResource } from 'node:async_hooks';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  everyMs?: number;
  cancelled: boolean;
}

/** A handle shaped like Node's Timeout (ref/unref/hasRef/refresh, usable as a number). */
class Handle {
  constructor(readonly timer: Timer) {}
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  refresh(): this {
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.timer.seq;
  }
}

/** Seeded uniform [0, 1) (mulberry32 over a string hash). */
export function seededUniform(seed: string): () => number {
  let h = 1779033703 ^ seed.length;
  for (let i = 0; i < seed.length; i++) {
    h = Math.imul(h ^ seed.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class DiscreteTime {
  /** Virtual milliseconds since install(). */
  nowMs = 0;
  /** Timers fired so far. */
  fired = 0;
  private heap: Timer[] = [];
  private seq = 1;
  private readonly byId = new Map<number, Timer>();
  private saved: Record<string, unknown> | undefined;
  private readonly random: (() => number) | undefined;

  constructor(options: { seed?: string } = {}) {
    this.random = options.seed !== undefined ? seededUniform(options.seed) : undefined;
  }

  install(): this {
    if (this.saved) return this;
    const g = globalThis as unknown as Record<string, unknown>;
    this.saved = {
      setTimeout: g.setTimeout,
      clearTimeout: g.clearTimeout,
      setInterval: g.setInterval,
      clearInterval: g.clearInterval,
      now: performance.now.bind(performance),
      random: Math.random,
    };
    const schedule = (fn: unknown, ms: unknown, args: unknown[], every: boolean): Handle => {
      if (typeof fn !== 'function') throw new TypeError('DiscreteTime: callback must be a function');
      // As Node does: a delay under 1 ms (or not a number, or too large) is 1 ms.
      const n = Number(ms);
      const delay = n >= 1 && n <= 2 ** 31 - 1 ? n : 1;
      const bound = AsyncResource.bind(() => (fn as (...a: unknown[]) => void)(...args));
      const t: Timer = { at: this.nowMs + delay, seq: this.seq++, fn: bound, cancelled: false, ...(every ? { everyMs: Math.max(1, delay) } : {}) };
      this.push(t);
      return new Handle(t);
    };
    const cancel = (h: unknown): void => {
      const t = h instanceof Handle ? h.timer : typeof h === 'number' ? this.byId.get(h) : undefined;
      if (t) {
        t.cancelled = true;
        this.byId.delete(t.seq);
      }
    };
    g.setTimeout = (fn: unknown, ms?: unknown, ...args: unknown[]) => schedule(fn, ms, args, false);
    g.setInterval = (fn: unknown, ms?: unknown, ...args: unknown[]) => schedule(fn, ms, args, true);
    g.clearTimeout = cancel;
    g.clearInterval = cancel;
    performance.now = () => this.nowMs;
    if (this.random) Math.random = this.random;
    return this;
  }

  uninstall(): void {
    const s = this.saved;
    if (!s) return;
    const g = globalThis as unknown as Record<string, unknown>;
    for (const k of ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval']) g[k] = s[k];
    performance.now = s.now as typeof performance.now;
    Math.random = s.random as typeof Math.random;
    this.saved = undefined;
  }

  /** Runs timers in virtual-time order until `work` settles; rejects if it can never settle. */
  async run<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const watched = work.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined);
    const immediate = (): Promise<void> => new Promise((r) => setImmediate(r));
    for (;;) {
      await immediate();
      if (settled) break;
      const t = this.pop();
      if (t === undefined) {
        await immediate();
        if (settled) break;
        throw new Error(`DiscreteTime: nothing left to run at ${this.nowMs} ms and the work has not settled`);
      }
      this.nowMs = Math.max(this.nowMs, t.at);
      this.fired += 1;
      if (t.everyMs !== undefined) {
        t.at = this.nowMs + t.everyMs;
        this.push(t);
      }
      else this.byId.delete(t.seq);
      t.fn();
    }
    return watched;
  }

  // ---- a binary heap on (at, seq) ----

  private push(t: Timer): void {
    this.byId.set(t.seq, t);
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i] as Timer, h[p] as Timer)) break;
      [h[i], h[p]] = [h[p] as Timer, h[i] as Timer];
      i = p;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    while (h.length > 0) {
      const top = h[0] as Timer;
      const last = h.pop() as Timer;
      if (h.length > 0) {
        h[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < h.length && before(h[l] as Timer, h[m] as Timer)) m = l;
          if (r < h.length && before(h[r] as Timer, h[m] as Timer)) m = r;
          if (m === i) break;
          [h[i], h[m]] = [h[m] as Timer, h[i] as Timer];
          i = m;
        }
      }
      if (!top.cancelled) return top;
    }
    return undefined;
  }
}

const before = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);
