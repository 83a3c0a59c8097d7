/**
 * Reconcile at scale: the listing + EC2 cross-check over N marked computer objects, as
 * "Find stale objects" does it (paged listing, DescribeInstances batched per account and
 * Region), next to the naive approach (one LDAP search and one DescribeInstances per object) on
 * the same data.
 *
 *   npx tsx --expose-gc bench/reconcile.ts [--sizes 10000,50000] [--naive-sample N] [--json]
 *
 * Measured in process: wall time, peak RSS and heap (sampled every 5 ms), LDAP round trips
 * (pages + searches) and EC2 calls. By default against lab/sim's SimDirectory and SimFleet;
 * `benchReconcile` takes any Directory and FleetFor, so it can be pointed at the lab's Samba DC.
 *
 * Round trips are what a real run pays for, so the table also MODELS the time on AWS from the
 * counts (assumptions, not measurements, printed with the table): an LDAP page of 1,000 objects
 * 125 ms and a single indexed lookup 1.5 ms (Samba: lab/world/README.md, "Facts the code relies
 * on"), a DescribeInstances call
 * 150 ms (one ID) / 300 ms (200 IDs), DESCRIBE_CONCURRENCY batched calls in flight (naive:
 * one at a time), and EC2's throttle for non-mutating calls (bucket 100, refill 20/s). SimDirectory answers findByMarker by scanning every object (a real DC uses an
 * index), so for the naive run the simulated world puts an index in front of it; against a real
 * DC pass the directory as it is. --naive-sample N checks only the first N objects and scales
 * the counts (printed as such).
 */
import '../engine/polyfill';
import { simDeps, type SimDirectory } from '../lab/sim';
import { parseMarker } from '../tasks/lib/marker';
import type { Deps } from '../tasks/lib/deps';
import type { ComputerObject, Directory, Fleet, FleetFor, InstanceInfo, Marker } from '../tasks/lib/ports';
import { DESCRIBE_CONCURRENCY, findStaleObjects } from '../tasks/lib/reconcile';
import { decideDeletion, refuseIfYoung, refuseUnlessInManagedOu, refuseUnlessOurs, safetySettings } from '../tasks/lib/safety';

// ---- counting wrappers (work over any Directory / Fleet) -----------------------------------

export interface Counts {
  ldapPages: number;
  ldapSearches: number;
  ec2Calls: number;
  ec2Ids: number;
}

export function countingDirectory(inner: Directory, counts: Counts): Directory {
  return {
    findByMarker: (m) => ((counts.ldapSearches += 1), inner.findByMarker(m)),
    findByName: (n) => ((counts.ldapSearches += 1), inner.findByName(n)),
    createComputer: (s) => inner.createComputer(s),
    resetPassword: (dn, p) => inner.resetPassword(dn, p),
    deleteComputer: (dn) => inner.deleteComputer(dn),
    deleteDnsRecords: (h) => inner.deleteDnsRecords(h),
    listManaged: () => ({
      async *[Symbol.asyncIterator]() {
        for await (const page of inner.listManaged()) {
          counts.ldapPages += 1;
          yield page;
        }
      },
    }),
  };
}

export function countingFleetFor(inner: FleetFor, counts: Counts): FleetFor {
  return (target) => {
    const f = inner(target);
    const wrapped: Fleet = {
      ...f,
      describeInstance: (id) => ((counts.ec2Calls += 1), (counts.ec2Ids += 1), f.describeInstance(id)),
      describeInstances: (ids) => ((counts.ec2Calls += 1), (counts.ec2Ids += ids.length), f.describeInstances(ids)),
    };
    return wrapped;
  };
}

// ---- measuring -----------------------------------------------------------------------------

export interface Measure extends Counts {
  approach: 'batched' | 'naive';
  objects: number;
  /** Objects actually processed (the naive run may take a sample). */
  processed: number;
  stale: number;
  wallMs: number;
  peakRssMiB: number;
  peakHeapMiB: number;
  /** Heap growth over the heap before the run (the world itself excluded). */
  heapGrowthMiB: number;
  /** Counts scaled from a sample to all objects. */
  scaled: boolean;
}

const MiB = 1024 * 1024;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

async function measure<T>(run: () => Promise<T>): Promise<{ result: T; wallMs: number; peakRss: number; peakHeap: number; heapBefore: number }> {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let peakRss = process.memoryUsage().rss;
  let peakHeap = heapBefore;
  const sample = (): void => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  const timer = setInterval(sample, 5);
  const t0 = performance.now();
  try {
    const result = await run();
    sample();
    return { result, wallMs: performance.now() - t0, peakRss, peakHeap, heapBefore };
  } finally {
    clearInterval(timer);
  }
}

export interface BenchTarget {
  directory: Directory;
  /** The directory the naive approach searches one object at a time (default: `directory`). */
  lookupDirectory?: Directory;
  fleetFor: FleetFor;
  /** Deps for the task (settings, clock, logger...); directory and fleetFor are replaced. */
  deps: Deps;
  objects: number;
}

/** The way "Find stale objects" does it. */
export async function benchBatched(t: BenchTarget): Promise<Measure> {
  const counts: Counts = { ldapPages: 0, ldapSearches: 0, ec2Calls: 0, ec2Ids: 0 };
  const deps: Deps = { ...t.deps, directory: countingDirectory(t.directory, counts), fleetFor: countingFleetFor(t.fleetFor, counts) };
  const m = await measure(() => findStaleObjects({ dryRun: true }, deps));
  return {
    approach: 'batched',
    objects: t.objects,
    processed: m.result.scanned,
    stale: m.result.stale,
    wallMs: m.wallMs,
    peakRssMiB: m.peakRss / MiB,
    peakHeapMiB: m.peakHeap / MiB,
    heapGrowthMiB: (m.peakHeap - m.heapBefore) / MiB,
    scaled: false,
    ...counts,
  };
}

/** The naive way: list, then per object one LDAP search (by marker) and one DescribeInstances. */
export async function benchNaive(t: BenchTarget, sample = Infinity): Promise<Measure> {
  const counts: Counts = { ldapPages: 0, ldapSearches: 0, ec2Calls: 0, ec2Ids: 0 };
  const directory = countingDirectory(t.lookupDirectory ?? t.directory, counts);
  const fleetFor = countingFleetFor(t.fleetFor, counts);
  const safety = safetySettings(t.deps.settings, { graceSeconds: t.deps.settings.reconcile.graceSeconds });
  const now = t.deps.clock.now();
  const m = await measure(async () => {
    let processed = 0;
    let stale = 0;
    const fleets = new Map<string, Fleet>();
    outer: for await (const page of directory.listManaged()) {
      for (const listed of page) {
        if (processed >= sample) break outer;
        processed += 1;
        if (refuseUnlessOurs(listed) || refuseUnlessInManagedOu(listed.dn, safety.managedOus) || refuseIfYoung(listed, safety.graceSeconds, now)) continue;
        const marker = listed.marker as Marker;
        const found: ComputerObject | undefined = (await directory.findByMarker(marker)).find((o) => o.dn === listed.dn);
        if (!found) continue;
        const key = `${marker.account}/${marker.region}`;
        let fleet = fleets.get(key);
        if (!fleet) fleets.set(key, (fleet = fleetFor(marker)));
        const info: InstanceInfo | undefined = await fleet.describeInstance(marker.instanceId);
        if (decideDeletion(found, info, safety, now).delete) stale += 1;
      }
    }
    return { processed, stale };
  });
  const scale = m.result.processed < t.objects ? t.objects / m.result.processed : 1;
  return {
    approach: 'naive',
    objects: t.objects,
    processed: m.result.processed,
    stale: Math.round(m.result.stale * scale),
    wallMs: m.wallMs * scale,
    peakRssMiB: m.peakRss / MiB,
    peakHeapMiB: m.peakHeap / MiB,
    heapGrowthMiB: (m.peakHeap - m.heapBefore) / MiB,
    scaled: scale !== 1,
    ldapPages: Math.ceil(t.objects / 1000),
    ldapSearches: Math.round(counts.ldapSearches * scale),
    ec2Calls: Math.round(counts.ec2Calls * scale),
    ec2Ids: Math.round(counts.ec2Ids * scale),
  };
}

// ---- the modeled time on AWS (assumptions, stated) ------------------------------------------

export const Model = {
  ldapPerListedObjectMs: 0.125, // a page of 1,000 in ~125 ms (lab/world/README.md facts: 2,000 computers in ~0.25 s)
  ldapLookupMs: 1.5, // an indexed single-value lookup 1-2 ms (lab/world/README.md facts)
  ec2SingleMs: 150,
  ec2BatchMs: 300,
  ec2Burst: 100,
  ec2RefillPerSecond: 20,
} as const;

/** Seconds on AWS, EC2's token bucket applied; batched calls DESCRIBE_CONCURRENCY at a time, naive ones one by one. */
export function modeledSeconds(m: Measure): number {
  const ldap = (m.objects * Model.ldapPerListedObjectMs + m.ldapSearches * Model.ldapLookupMs) / 1000;
  const perCall = m.approach === 'batched' ? Model.ec2BatchMs / DESCRIBE_CONCURRENCY : Model.ec2SingleMs;
  const rtt = (m.ec2Calls * perCall) / 1000;
  const throttle = Math.max(0, (m.ec2Calls - Model.ec2Burst) / Model.ec2RefillPerSecond);
  return ldap + Math.max(rtt, throttle);
}

// ---- the simulated world --------------------------------------------------------------------

const FLEETS = [
  { account: '111111111111', region: 'eu-west-1' },
  { account: '111111111111', region: 'us-east-1' },
  { account: '222222222222', region: 'eu-west-1' },
];

/** N marked objects in the managed OU over 3 fleets: 80% running, 10% terminated, 10% unknown to EC2. */
export function simTarget(n: number): BenchTarget {
  const sim = simDeps({ settings: { reconcile: { maxDeletions: 10_000, graceSeconds: 3600 } } });
  const ou = sim.settings.directory.managedOus[0] as string;
  const created = new Date(sim.clock.now().getTime() - 7 * 86400_000);
  for (let k = 0; k < n; k++) {
    const fleet = FLEETS[k % FLEETS.length] as (typeof FLEETS)[number];
    const instanceId = `i-0${k.toString(16).padStart(16, '0')}`;
    const name = `EC2-${k.toString(36).toUpperCase().padStart(8, '0')}`;
    sim.directory.add({ name, ou, marker: { ...fleet, instanceId }, whenCreated: created });
    const r = k % 10;
    if (r < 8) sim.fleet.addInstance({ instanceId, ...fleet, state: 'running' });
    else if (r === 8) sim.fleet.addInstance({ instanceId, ...fleet, state: 'terminated' });
  }
  return { directory: sim.directory, lookupDirectory: indexedLookups(sim.directory, ou), fleetFor: sim.fleetFor, deps: sim, objects: n };
}

/** findByMarker through an index (as AD answers it), everything else from the inner directory. */
function indexedLookups(inner: SimDirectory, ou: string): Directory {
  const key = (m: Marker): string => `${m.account}:${m.region}:${m.instanceId}`;
  const index = new Map<string, ComputerObject[]>();
  for (const o of inner.all()) {
    const marker = parseMarker(o.markerText);
    if (!marker) continue;
    const obj: ComputerObject = { dn: o.dn, name: o.name, marker, whenCreated: new Date(o.whenCreated) };
    index.set(key(marker), [...(index.get(key(marker)) ?? []), obj]);
  }
  return {
    findByMarker: (m) => Promise.resolve((index.get(key(m)) ?? []).filter((o) => o.dn.toLowerCase().endsWith(`,${ou.toLowerCase()}`)).map((o) => ({ ...o }))),
    findByName: (n) => inner.findByName(n),
    createComputer: (s) => inner.createComputer(s),
    resetPassword: (dn, p) => inner.resetPassword(dn, p),
    deleteComputer: (dn) => inner.deleteComputer(dn),
    deleteDnsRecords: (h) => inner.deleteDnsRecords(h),
    listManaged: () => inner.listManaged(),
  };
}

// ---- the table ------------------------------------------------------------------------------

export interface Row {
  n: number;
  batched: Measure;
  naive: Measure;
}

export async function runReconcileBench(sizes: number[], naiveSample: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of sizes) {
    const target = simTarget(n);
    const batched = await benchBatched(target);
    const naive = await benchNaive(target, naiveSample);
    rows.push({ n, batched, naive });
  }
  return rows;
}

function fmt(rows: Row[]): string {
  const f = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const head = ['objects', 'approach', 'wall (in process)', 'peak RSS', 'peak heap', 'heap growth', 'LDAP pages', 'LDAP searches', 'EC2 calls', 'stale', 'modeled on AWS'];
  const lines: string[][] = [head];
  for (const r of rows) {
    for (const m of [r.batched, r.naive])
      lines.push([
        f(r.n),
        m.approach + (m.scaled ? ` (sample ${f(m.processed)}, scaled)` : ''),
        `${f(m.wallMs / 1000, 2)} s`,
        `${f(m.peakRssMiB)} MiB`,
        `${f(m.peakHeapMiB)} MiB`,
        `${f(m.heapGrowthMiB, 1)} MiB`,
        f(m.ldapPages),
        f(m.ldapSearches),
        f(m.ec2Calls),
        f(m.stale),
        `${f(modeledSeconds(m), 1)} s`,
      ]);
    const ratio = (a: number, b: number): string => (b === 0 ? '∞' : `${f(a / b, 1)}x`);
    lines.push([
      '',
      'naive / batched',
      ratio(r.naive.wallMs, r.batched.wallMs),
      '',
      '',
      '',
      '',
      '',
      ratio(r.naive.ec2Calls, r.batched.ec2Calls),
      '',
      ratio(modeledSeconds(r.naive), modeledSeconds(r.batched)),
    ]);
  }
  const widths = head.map((_, c) => Math.max(...lines.map((l) => (l[c] ?? '').length)));
  return lines.map((l) => l.map((cell, c) => cell.padStart(widths[c] ?? 0)).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const sizes = (arg('sizes') ?? '10000,50000').split(',').map(Number);
  if (sizes.some((s) => !Number.isInteger(s) || s < 1 || s > 200_000)) throw new RangeError('--sizes: whole numbers from 1 to 200000');
  const sample = Number(arg('naive-sample') ?? Infinity);
  if (!(sample === Infinity || (Number.isInteger(sample) && sample >= 1))) throw new RangeError('--naive-sample: a whole number >= 1');
  const rows = await runReconcileBench(sizes, sample);
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ rows: rows.map((r) => ({ ...r, modeled: { batched: modeledSeconds(r.batched), naive: modeledSeconds(r.naive) } })), model: Model }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${fmt(rows)}\n\n`);
  process.stdout.write(
    `Modeled on AWS (assumptions): LDAP ${Model.ldapPerListedObjectMs} ms per listed object, ${Model.ldapLookupMs} ms per lookup; ` +
      `DescribeInstances ${Model.ec2SingleMs} ms (1 ID) / ${Model.ec2BatchMs} ms (batch); EC2 throttle bucket ${Model.ec2Burst}, ` +
      `refill ${Model.ec2RefillPerSecond}/s; batched: ${DESCRIBE_CONCURRENCY} calls in flight, naive: one at a time.${(globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for steadier memory figures)'}\n`,
  );
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
