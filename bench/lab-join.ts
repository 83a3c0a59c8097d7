/**
 * Join and leave on the real lab, timed: a real Samba AD DC, instances in namespaces with real
 * adcli and SSSD, the join / leave ASL synthesized from infra/ on the local engine in real time.
 *
 *   npx tsx bench/lab-join.ts [--batches 1,5,10] [--json]          (root)
 *
 * Prints: lab up time; for each batch, N instances launched and their "running" events emitted
 * at once (N concurrent join executions): join time from event to verified (execution start →
 * "Run join document" succeeded — the one command joins and verifies — from the execution record), then all N terminated at once
 * (N concurrent leave executions): leave time (execution start → end); median and max per
 * batch; lab down time. Everything is bounded in time; the lab is torn down at the end, also
 * after a failure or Ctrl-C.
 */
import '../engine/polyfill';
import * as path from 'node:path';
import * as world from '../lab/world';
import { LabFleet, labDepsProvider, labSettings } from '../lab/world/fleet';
import { ExecutionStore, timeline, type ExecutionRecord } from '../engine';
import { makeLabRuntime, type LabRuntime } from '../cli/lab-runtime';
import { acquireFreshLab } from '../cli/demo';
import { ec2StateEvent, executionName } from '../cli/ec2-event';

/** Real-time bound of one batch (launch, joins, terminate, leaves). */
const BATCH_DEADLINE_MS = 360_000;

export interface BatchResult {
  size: number;
  launchSeconds: number;
  /** First event → last execution verified (wall time of the batch's joins). */
  joinWallSeconds: number;
  join: number[];
  leave: number[];
  joinFailed: string[];
  leaveFailed: string[];
  retries: number;
  /** The real join.sh run inside each instance (agent start → exit), from the lab's command records. */
  joinScript: number[];
  /** Polls of the join command per execution ("Run join document" visits + its retries). */
  joinPolls: number[];
}

export interface LabJoinBench {
  upSeconds: number;
  downSeconds: number;
  batches: BatchResult[];
  problems: string[];
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const max = (xs: number[]): number => (xs.length ? Math.max(...xs) : NaN);
const secs = (ms: number): number => Math.round(ms / 100) / 10;

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** Execution start → the end of the last successful "Run join document" visit (join + verify). */
export function joinToVerifiedMs(r: ExecutionRecord): number | undefined {
  if (r.status !== 'SUCCEEDED') return undefined;
  const rows = timeline(r).filter((x) => x.state === 'Run join document' && x.outcome === 'succeeded');
  const last = rows[rows.length - 1];
  if (!last) return undefined;
  return Date.parse(last.start) + last.durationMs - Date.parse(r.startDate);
}

const runMs = (r: ExecutionRecord): number => (r.stopDate ? Date.parse(r.stopDate) : Date.now()) - Date.parse(r.startDate);

function event(instanceId: string, state: 'running' | 'terminated'): unknown {
  return ec2StateEvent({ instanceId, state, account: world.LAB_ACCOUNT, region: world.LAB_REGION });
}

async function batch(runtime: LabRuntime, fleet: LabFleet, size: number, log: (l: string) => void): Promise<BatchResult> {
  const t0 = Date.now();
  const ids: string[] = [];
  // Launches one after another (each ~0.2-0.5 s: namespaces, veth, bind mounts), then every
  // "running" event at once, as an Auto Scaling group's burst arrives.
  for (let i = 0; i < size; i++) ids.push((await world.launch({ tags: { 'Domain:Join': 'true', Name: `bench-${size}-${i}` }, ssmDelaySeconds: 0 })).instanceId);
  const launchSeconds = secs(Date.now() - t0);
  const tj = Date.now();
  const joins = await Promise.all(ids.map((id) => runtime.start('join', event(id, 'running'), executionName('join', id))));
  const joinWallSeconds = secs(Date.now() - tj);
  const join: number[] = [];
  const joinFailed: string[] = [];
  let retries = 0;
  const joinPolls: number[] = [];
  for (const r of joins) {
    const ms = joinToVerifiedMs(r);
    const rows = timeline(r);
    retries += rows.reduce((n, x) => n + x.retries, 0);
    joinPolls.push(rows.filter((x) => x.state === 'Run join document').reduce((n, x) => n + 1 + x.retries, 0));
    const out = r.output as { outcome?: string } | undefined;
    if (ms === undefined || out?.outcome !== 'joined') joinFailed.push(`${r.name}: ${r.status} ${out?.outcome ?? ''} ${r.failedState ?? ''} ${r.error ?? ''}`.trim());
    else join.push(ms / 1000);
  }
  log(`  joins: ${join.length}/${size} verified in ${joinWallSeconds} s`);
  const joinScript: number[] = [];
  for (const id of ids)
    for (const c of fleet.listCommands(id))
      if (c.document === 'join' && c.startedAt && c.finishedAt) joinScript.push((Date.parse(c.finishedAt) - Date.parse(c.startedAt)) / 1000);
  const leaves = await Promise.all(
    ids.map(async (id) => {
      await world.terminate(id);
      return runtime.start('leave', event(id, 'terminated'), executionName('leave', id));
    }),
  );
  const leave: number[] = [];
  const leaveFailed: string[] = [];
  for (const r of leaves) {
    if (r.status !== 'SUCCEEDED') leaveFailed.push(`${r.name}: ${r.status} ${r.failedState ?? ''} ${r.error ?? ''}`.trim());
    else leave.push(runMs(r) / 1000);
  }
  log(`  leaves: ${leave.length}/${size} succeeded`);
  return { size, launchSeconds, joinWallSeconds, join, leave, joinFailed, leaveFailed, retries, joinScript, joinPolls };
}

export async function runLabJoinBench(sizes: number[], log: (l: string) => void = () => undefined): Promise<LabJoinBench> {
  const problems: string[] = [];
  const batches: BatchResult[] = [];
  let upSeconds = NaN;
  let downSeconds: number;
  let release: () => void = () => undefined;
  try {
    log('lab up…');
    const tu = Date.now();
    const lab = await acquireFreshLab(log);
    release = lab.release;
    upSeconds = lab.status.upSeconds ?? secs(Date.now() - tu);
    const fleet = new LabFleet();
    const settings = labSettings();
    const store = new ExecutionStore(path.join(world.labPaths().root, 'executions'));
    const runtime = makeLabRuntime({ store, settings, deps: labDepsProvider({ fleet }) });
    for (const n of sizes) {
      log(`batch of ${n}…`);
      try {
        batches.push(await withDeadline(batch(runtime, fleet, n, log), BATCH_DEADLINE_MS, `batch of ${n}`));
      } catch (err) {
        problems.push(`batch of ${n}: ${err instanceof Error ? err.message : String(err)}`);
        break;
      }
      await withDeadline(fleet.settle(), 60_000, 'commands to settle').catch((err: unknown) => problems.push(String(err)));
    }
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
  } finally {
    release();
    const td = Date.now();
    const report = await world.down();
    downSeconds = secs(Date.now() - td);
    problems.push(...report.problems);
    const left = await world.leftovers();
    if (left.netns.length || left.processes.length || left.mounts.length || left.hostLink) problems.push(`left behind after down: ${JSON.stringify(left)}`);
  }
  return { upSeconds, downSeconds, batches, problems };
}

const f = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(1)} s` : '-');

export function benchTable(b: LabJoinBench): string {
  const rows: string[][] = [['lab up', '', f(b.upSeconds), '', '', '']];
  for (const r of b.batches) {
    rows.push([`join, event → verified`, String(r.size), f(median(r.join)), f(max(r.join)), `${r.joinFailed.length}`, `all verified after ${f(r.joinWallSeconds)}; ${r.retries} retries; polls ${median(r.joinPolls)} (max ${max(r.joinPolls)})`]);
    rows.push([`  join.sh in the instance`, String(r.joinScript.length), f(median(r.joinScript)), f(max(r.joinScript)), '', `launches before the burst: ${f(r.launchSeconds)}`]);
    rows.push([`leave, event → deleted`, String(r.size), f(median(r.leave)), f(max(r.leave)), `${r.leaveFailed.length}`, '']);
  }
  rows.push(['lab down', '', f(b.downSeconds), '', '', '']);
  const header = ['PHASE', 'N', 'MEDIAN', 'MAX', 'FAILED', 'NOTES'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Ctrl-C or SIGTERM tears the lab down and exits 130; the result says whether that began. */
export function downOnSignal(log: (l: string) => void): () => boolean {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    log('interrupted: tearing the lab down…');
    void world.down().finally(() => process.exit(130));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return () => stopping;
}

if (require.main === module) {
  const i = process.argv.indexOf('--batches');
  const sizes = (i >= 0 ? (process.argv[i + 1] ?? '') : '1,5,10').split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 40)) {
    process.stderr.write('--batches: comma-separated whole numbers from 1 to 40\n');
    process.exit(2);
  }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    process.stderr.write('bench/lab-join.ts needs root (the lab: network namespaces, Samba AD DC): sudo npx tsx bench/lab-join.ts\n');
    process.exit(2);
  }
  const json = process.argv.includes('--json');
  const log = (l: string): void => void process.stderr.write(`${l}\n`);
  const stopping = downOnSignal(log);
  runLabJoinBench(sizes, log).then(
    (b) => {
      if (stopping()) return; // the signal handler tears down and exits
      process.stdout.write(json ? `${JSON.stringify(b, null, 2)}\n` : `${benchTable(b)}\n`);
      for (const r of b.batches) for (const x of [...r.joinFailed, ...r.leaveFailed]) process.stdout.write(`failed: ${x}\n`);
      for (const p of b.problems) process.stdout.write(`problem: ${p}\n`);
      const bad = b.problems.length > 0 || b.batches.some((r) => r.joinFailed.length + r.leaveFailed.length > 0);
      process.exit(bad ? 1 : 0);
    },
    (err: unknown) => {
      if (stopping()) return;
      log(`bench/lab-join: ${err instanceof Error ? err.message : String(err)}`);
      void world.down().finally(() => process.exit(1));
    },
  );
}
