/**
 * Clocks for the local runtime. `VirtualClock` implements the Clock port: it only moves when
 * told to. The engine advances it by the duration a Wait state or a retry pause would really
 * have taken (while the run itself waits a millisecond), so fakes can say "SSM Online after
 * 90 s" and tests stay fast and deterministic.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Clock } from '../tasks/lib/ports';

/**
 * The time a task spent sleeping on a VirtualClock (in-Lambda polling, tasks/lib/poll.ts): the
 * engine runs each task inside one of these and moves that execution's time by `ms`.
 */
export interface TaskTime {
  /** The clock when the task started. */
  startMs: number;
  /** Slept so far. */
  ms: number;
}
export const taskTime = new AsyncLocalStorage<TaskTime>();

export class VirtualClock implements Clock {
  private ms: number;

  constructor(start: Date | string = '2026-01-01T00:00:00.000Z') {
    this.ms = new Date(start).getTime();
    if (Number.isNaN(this.ms)) throw new RangeError(`VirtualClock: ${String(start)} is not a date`);
  }

  now(): Date {
    return new Date(this.ms);
  }

  /** Milliseconds since the epoch (cheaper than now() for the engine's bookkeeping). */
  nowMs(): number {
    return this.ms;
  }

  /** Moves forward by `seconds` (never backward). */
  advance(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`VirtualClock: cannot advance by ${seconds} s`);
    this.ms += Math.round(seconds * 1000);
  }

  /** Moves forward to `ms` (epoch milliseconds); an earlier instant leaves the clock where it is. */
  advanceTo(ms: number): void {
    if (ms > this.ms) this.ms = ms;
  }

  /**
   * A task's in-Lambda pause, at once (after one turn of the event loop). Inside the engine the
   * task's own time moves (its start + what it slept: concurrent executions each keep their own
   * time, the clock shows the furthest, as for Wait states); outside, the clock moves by `ms`.
   */
  async sleep(ms: number): Promise<void> {
    await new Promise((r) => setImmediate(r));
    const own = taskTime.getStore();
    if (!own) return this.advance(Math.max(0, ms) / 1000);
    own.ms += Math.max(0, Math.round(ms));
    this.advanceTo(own.startMs + own.ms);
  }
}

/** Waits `ms` of real time (timers may be virtual: lab/sim/timers.ts). */
export const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** The wall clock, for the lab running in real time. */
export const realClock: Clock = { now: () => new Date(), sleep: realSleep };

/**
 * Scaled time, for scale runs with real concurrency: virtual time runs `speedup` times faster
 * than the wall clock (speedup 1000: a virtual second lasts a real millisecond). The engine
 * shrinks every Wait, retry pause and execution timeout by the same factor and keeps the real
 * retry policy (backoff and FULL jitter), so many executions interleave in the order AWS would
 * run them and throttling models see realistic call rates. Not deterministic; use VirtualClock
 * for tests.
 */
export class ScaledClock implements Clock {
  private readonly startMs: number;
  private readonly realStart: number;
  private offsetMs = 0;

  constructor(
    start: Date | string = '2026-01-01T00:00:00.000Z',
    readonly speedup = 1000,
  ) {
    this.startMs = new Date(start).getTime();
    if (Number.isNaN(this.startMs)) throw new RangeError(`ScaledClock: ${String(start)} is not a date`);
    if (!Number.isFinite(speedup) || speedup <= 0) throw new RangeError(`ScaledClock: speedup ${speedup} must be > 0`);
    this.realStart = performance.now();
  }

  nowMs(): number {
    return Math.round(this.startMs + this.offsetMs + (performance.now() - this.realStart) * this.speedup);
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /** Jumps forward by `seconds` of virtual time. */
  advance(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`ScaledClock: cannot advance by ${seconds} s`);
    this.offsetMs += seconds * 1000;
  }

  advanceTo(ms: number): void {
    const now = this.nowMs();
    if (ms > now) this.offsetMs += ms - now;
  }

  /** A task's in-Lambda pause: `ms` of virtual time, i.e. ms / speedup of real time. */
  sleep(ms: number): Promise<void> {
    return realSleep(this.realMs(Math.max(0, ms) / 1000));
  }

  /** Real milliseconds a span of virtual seconds lasts. */
  realMs(virtualSeconds: number): number {
    return (virtualSeconds * 1000) / this.speedup;
  }
}
