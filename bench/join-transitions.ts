/**
 * Reference scenario: one successful join, counted from the engine's event log.
 *
 *   npx tsx bench/join-transitions.ts [--ssm-online 90] [--join-seconds 30] [--json]
 *
 * The synthesized join ASL (infra/asl.ts, sample configuration), the real task handlers, the
 * simulated world on a virtual clock: the SSM agent comes Online 90 s after launch, the join
 * command (join + verification, one command) takes 30 s. Prints the state transitions (states
 * entered + retries — every new invocation of "Wait for SSM Online" and "Run join document" is a retry —
 * which is what Standard workflows bill), the Lambda invocations and the virtual duration.
 * The polls inside one invocation are not transitions (each invocation polls up to ~60 s).
 * Reference (2026-11-30, in-Lambda polling, tasks/lib/poll.ts): 8 transitions (7 entered + 1
 * retry), 6 Lambda invocations, 125.2 s; with Retry-based polling (one invocation per poll):
 * 19 transitions (7 + 12), 17 invocations, 124.6 s; before the redesign (settle 60 s, Wait/Check
 * loops): 27 transitions (24 + 3), 13 invocations, 142.5 s.
 */
import '../engine/polyfill';
import { synthesizeDefinitions } from '../infra/asl';
import { LocalEngine, timeline, transitions } from '../engine';
import { simDeps } from '../lab/sim';

const ID = 'i-0123456789abcdef0';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`--${name}: not a number of seconds`);
  return v;
}

export interface JoinTransitions {
  ssmOnlineAfterSeconds: number;
  joinCommandSeconds: number;
  settleSeconds: number;
  status: string;
  statesEntered: number;
  retries: number;
  total: number;
  lambdaInvocations: number;
  virtualSeconds: number;
  rows: { state: string; visits: number; retries: number; seconds: number }[];
}

export async function joinTransitions(ssmOnlineAfterSeconds = 90, joinCommandSeconds = 30): Promise<JoinTransitions> {
  const defs = synthesizeDefinitions();
  const sim = simDeps({ baseSettings: defs.settings, account: defs.account, region: defs.region });
  const engine = new LocalEngine({ join: defs.join }, { deps: sim.provider, clock: sim.clock, account: defs.account, region: defs.region });
  sim.fleet.addInstance({ instanceId: ID, tags: { [defs.settings.tags.optIn.key]: defs.settings.tags.optIn.value }, ssmOnlineAfterSeconds });
  sim.fleet.script('join', { status: 'Success', durationSeconds: joinCommandSeconds, stdout: 'joined' });
  const event = {
    version: '0',
    id: 'bench',
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: defs.account,
    region: defs.region,
    time: sim.clock.now().toISOString(),
    resources: [],
    detail: { 'instance-id': ID, state: 'running' },
  };
  const run = await engine.start('join', event, { name: 'bench-join' });
  const counts = transitions(run);
  const rows = new Map<string, { state: string; visits: number; retries: number; seconds: number }>();
  for (const r of timeline(run)) {
    const row = rows.get(r.state) ?? { state: r.state, visits: 0, retries: 0, seconds: 0 };
    row.visits += 1;
    row.retries += r.retries;
    row.seconds += r.durationMs / 1000;
    rows.set(r.state, row);
  }
  const taskStates = new Set(run.events.filter((e) => e.type === 'StateEntered' && e.stateType === 'Task').map((e) => e.state));
  const lambdaInvocations = run.events.filter((e) => (e.type === 'StateEntered' || e.type === 'StateRetried') && taskStates.has(e.state)).length;
  return {
    ssmOnlineAfterSeconds,
    joinCommandSeconds,
    settleSeconds: defs.settings.timings.settleSeconds,
    status: run.status,
    ...counts,
    lambdaInvocations,
    virtualSeconds: (Date.parse(run.stopDate ?? run.startDate) - Date.parse(run.startDate)) / 1000,
    rows: [...rows.values()],
  };
}

async function main(): Promise<void> {
  const r = await joinTransitions(arg('ssm-online', 90), arg('join-seconds', 30));
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    if (r.status !== 'SUCCEEDED') process.exitCode = 1;
    return;
  }
  const out: string[] = [];
  out.push(`join, one instance: settle ${r.settleSeconds} s, SSM Online after ${r.ssmOnlineAfterSeconds} s, join command ${r.joinCommandSeconds} s (virtual time)`);
  out.push('');
  out.push(`${'state'.padEnd(28)}${'visits'.padStart(7)}${'retries'.padStart(9)}${'seconds'.padStart(9)}`);
  for (const row of r.rows) out.push(`${row.state.padEnd(28)}${String(row.visits).padStart(7)}${String(row.retries).padStart(9)}${row.seconds.toFixed(1).padStart(9)}`);
  out.push('');
  out.push(`status ${r.status}`);
  out.push(`state transitions: ${r.total} (${r.statesEntered} states entered + ${r.retries} retries)`);
  out.push(`Lambda invocations: ${r.lambdaInvocations}`);
  out.push(`virtual duration: ${r.virtualSeconds.toFixed(1)} s`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (r.status !== 'SUCCEEDED') process.exitCode = 1;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
