/**
 * Clocks for the local runtime. `VirtualClock` implements the Clock port: it only moves when
 * told to. The engine advances it by the duration a Wait state or a retry pause would really
 * have taken (while the run itself waits a millisecond), so fakes can say "SSM Online after
 * 90 s" and tests stay fast and deterministic.
 */
import type { Clock } from '../../tasks/lib/ports';

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
}

/** The wall clock, for the lab running in real time. */
export const realClock: Clock = { now: () => new Date() };
