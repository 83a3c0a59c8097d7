/**
 * `npm run lab` in process: the demo's own expectations (joins, NSS inside an instance, the
 * skipped instance, leave, reconcile deleting nothing live, a clean machine after down) must
 * all hold. Root only; it brings its own lab up and takes it down (run in band, like the suite).
 */
import * as world from '../../lab/world';
import { runDemo } from '../../cli/demo';

test('the lab demo passes every expectation and leaves nothing behind', async () => {
  let text = '';
  const result = await runDemo({ write: (t) => void (text += t), colour: false, installPackages: false, handleSignals: false });

  expect(result.failures).toEqual([]);
  expect(result.exitCode).toBe(0);
  expect(result.rows.map((r) => [r.label, r.optedIn, r.outcome])).toEqual([
    ['web-1', true, 'joined'],
    ['admin-1', true, 'joined'],
    ['batch-1', false, 'skipped'],
  ]);
  for (const r of result.rows.slice(0, 2)) {
    expect(r.computerName).toMatch(/^[A-Za-z0-9-]{1,15}$/);
    expect(r.joinSeconds).toBeGreaterThan(0);
  }
  expect(result.rows[2]?.computerName).toBeUndefined();
  // The late SSM agent: "Wait for SSM Online" found it not Online at its first check and polled
  // on (inside its Lambda: the next check comes at least 2.5 s later), so the state took ≥ 2 s.
  expect(result.rows[1]?.ssmWaitSeconds).toBeGreaterThanOrEqual(2);
  // Every execution the demo ran: three joins, one leave, two reconciles, all SUCCEEDED.
  const runs = Object.values(result.executions);
  expect(runs.map((r) => r.workflow).sort()).toEqual(['join', 'join', 'join', 'leave', 'reconcile', 'reconcile']);
  expect(runs.every((r) => r.status === 'SUCCEEDED')).toBe(true);

  expect(text).toMatch(/getent passwd alice\n\s+alice:\*:\d+:\d+:/);
  expect(text).toContain('Lab demo passed');
  expect(text).not.toContain('\u001b['); // no colour when not asked for

  const left = await world.leftovers();
  expect(left).toEqual({ netns: [], mounts: [], processes: [], hostLink: false });
}, 400_000);
