/**
 * What every join test checks at the end, for one instance: the objects of ours, the one-time
 * passwords handed out, and the invariant of every failing end (test/workflows/join*.test.ts).
 */
import type { ExecutionRecord } from '../../engine';
import { formatMarker } from '../../tasks/lib/marker';
import type { WorkflowWorld } from './world';

/** The simulated directory's objects carrying the instance's marker. */
export function oursOf(w: WorkflowWorld, instanceId: string) {
  const marker = formatMarker({ account: w.defs.account, region: w.defs.region, instanceId });
  return w.sim.directory.all().filter((o) => o.markerText === marker);
}

/** The claims table key of an instance. */
export const claimKeyOf = (w: WorkflowWorld, instanceId: string): string => `${w.defs.account}/${w.defs.region}/${instanceId}`;

/** Every one-time password the join documents were sent with (read from the parameter at send time). */
export function watchOtps(w: WorkflowWorld): string[] {
  const otps: string[] = [];
  w.sim.fleet.before('sendCommand', (id, fleet) => {
    const v = fleet.parameter(`/adjoin/otp/${id}`);
    if (v !== undefined) otps.push(v);
  }, 1000);
  return otps;
}

/**
 * The invariant of every failing end: the cleanup ran once and succeeded, the OTP parameter is
 * gone, no object of ours still has a one-time password that was handed out, the claim says
 * failed (with the state), the instance is tagged failed.
 */
export function expectCleanEnd(w: WorkflowWorld, run: ExecutionRecord, otps: string[], instanceId: string): void {
  expect(w.cleanups.map((c) => [c.status, (c.output as { outcome?: string }).outcome])).toEqual([['SUCCEEDED', 'cleaned']]);
  expect(w.sim.fleet.parameterNames()).toEqual([]);
  for (const o of oursOf(w, instanceId)) for (const otp of otps) expect(w.sim.directory.passwordMatches(o.name, otp)).toBe(false);
  expect(w.sim.claims.item(claimKeyOf(w, instanceId))).toMatchObject({ execution: run.name, status: 'failed', failedState: run.failedState });
  expect(w.sim.fleet.instance(instanceId)?.tags).toMatchObject({ 'adjoin:status': 'failed', 'adjoin:failed-state': run.failedState, 'adjoin:execution': run.name });
}
