/**
 * Fakes for the pacing tests (tasks/lib/pace.ts): a Lambda's clock that sleeps (virtual), and a
 * join-task world with a pacing line (the simulator's, lab/sim/pacer.ts) and rates.
 */
import { SimPacer } from '../lab/sim/pacer';
import type { Clock, PacingSettings } from '../tasks/lib/ports';
import { NOW, world, type TestWorld } from './fakes';

/** One Lambda's clock: starts at `start` (epoch ms), sleeps by moving on; every pause kept. */
export function lambdaClock(start = NOW.getTime()): Clock & { t: number; slept: number[] } {
  const c = {
    t: start,
    slept: [] as number[],
    now: () => new Date(c.t),
    sleep: (ms: number) => {
      c.slept.push(ms);
      c.t += ms;
      return Promise.resolve();
    },
  };
  return c;
}

/** A clock that cannot sleep (a unit fake, or a Retry-only poll). */
export const stillClock = (t = NOW.getTime()): Clock => ({ now: () => new Date(t) });

/** The join-task world (test/fakes.ts world) with a line shared by its Lambdas and these rates. */
export function pacedWorld(pacing: PacingSettings = { sendCommand: 5, getCommandInvocation: 10, describeInstanceInformation: 10 }): TestWorld & { pacer: SimPacer } {
  const w = world();
  const pacer = new SimPacer();
  w.deps.settings.pacing = pacing;
  w.deps.pacer = pacer;
  return { ...w, pacer };
}
