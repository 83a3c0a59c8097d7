/**
 * Reconcile's "Find stale objects" against the REAL lab directory (Samba AD DC over LDAPS,
 * through the production LdapDirectory), over 10,000 and 50,000 marked computer objects, next to
 * the per-object approach (one LDAP search by marker + one DescribeInstances per object) on the
 * same data. Reuses bench/reconcile.ts (benchBatched / benchNaive, the counting wrappers).
 *
 *   npx tsx --expose-gc bench/reconcile-lab.ts [--sizes 10000,50000] [--naive-sample N]
 *                                              [--concurrency 8] [--json] [--cleanup-only]
 *
 * Root only. What it does:
 *   1. brings the lab up if it is not (and takes a lease on it; down() at the end only if it
 *      brought it up);
 *   2. makes its own OU at the domain root, `OU=adjoin-lab-h-bench`, delegated to the service
 *      account exactly like the lab's managed OU (`(OA;CI;CCDC;<computer>;;<svc SID>)`, with
 *      samba-tool dsacl in the DC), with one sub-OU per 1,000 objects. The run's managed OU
 *      (settings.directory.managedOus) is that OU: no other lab user's reconcile sees these
 *      objects, and this run sees none of theirs;
 *   3. loads the objects over ONE LDAPS connection as the service account (the product's
 *      attribute set without password and SPNs; our full marker), `--concurrency` adds in
 *      flight, progress on stderr; sizes are cumulative (10,000 first, then 40,000 more);
 *   4. per size: benchBatched (findStaleObjects, dry run, the production page size) and
 *      benchNaive (listing + per object: a search by marker over one persistent bound LDAPS
 *      connection — the cheapest per-object variant — and one DescribeInstances). Above
 *      --naive-sample objects (default 2,000 for sizes over 10,000) the naive run takes the
 *      first N listed objects and extrapolates wall time and counts: said so in the table;
 *   5. deletes everything it loaded: one tree delete per 1,000-object sub-OU, then the OU (as
 *      the Administrator) — or, when it brought the lab up, takes the lab down.
 *
 * EC2 is simulated in process: 90% of the instances terminated, 10% running (a Fleet answering
 * for the bench's own instance IDs). Grace period 0, so every object is cross-checked.
 * Network: the LDAP client only ever reaches the lab DC (assertLabRoute before every connect).
 */
import '../engine/polyfill';
import * as fs from 'node:fs';
import { Attribute, Client, Control, type ClientOptions } from 'ldapts';
import { LAB_ACCOUNT, LAB_REGION, assertLabRoute, labDeps } from '../lab/world/fleet';
import * as world from '../lab/world';
import { SERVICE_ACCOUNT } from '../lab/world/paths';
import { COMPUTER_ATTRIBUTES, LdapDirectory, PAGE_SIZE, TREE_DELETE_OID, markerFilter, toComputerObject } from '../tasks/adapters/ldap-directory';
import { AwsRefused } from '../tasks/lib/errors';
import type { Deps } from '../tasks/lib/deps';
import { formatMarker, MARKER_ATTRIBUTE } from '../tasks/lib/marker';
import { computerName, hostFqdn } from '../tasks/lib/naming';
import type { ComputerObject, Directory, Fleet, FleetFor, InstanceInfo, InstanceState, Marker, OtpParameter } from '../tasks/lib/ports';
import { benchBatched, benchNaive, modeledSeconds, type BenchTarget, type Measure } from './reconcile';

export const BENCH_OU_NAME = 'adjoin-lab-h-bench';
const COMPUTER_CLASS = 'bf967a86-0de6-11d0-a285-00aa003049e2';
const BUCKET = 1000;
/** Hard bound on the whole run (load, measure, clean-up). */
const RUN_DEADLINE_MS = 45 * 60_000;
const t0Run = Date.now();
let stopping = false;

const log = (line: string): void => void process.stderr.write(`[reconcile-lab] ${line}\n`);
const overDeadline = (): boolean => Date.now() - t0Run > RUN_DEADLINE_MS;

// ---- the bench's instances and its EC2 ----------------------------------------------------------

/** Instance k: `i-0be5c` + 12 hex digits (17 hex in all): never a lab instance's ID. */
export const benchInstanceId = (k: number): string => `i-0be5c${k.toString(16).padStart(12, '0')}`;
/** 10% running, 90% terminated. */
export const benchState = (k: number): InstanceState => (k % 10 === 0 ? 'running' : 'terminated');

/** EC2 for the lab account and Region, answering for the bench's instance IDs only. */
export class BenchFleet implements Fleet {
  constructor(private readonly size: () => number) {}

  private info(id: string): InstanceInfo | undefined {
    const m = /^i-0be5c([0-9a-f]{12})$/.exec(id);
    if (!m?.[1]) return undefined;
    const k = parseInt(m[1], 16);
    if (k >= this.size()) return undefined;
    return { instanceId: id, state: benchState(k), platform: 'linux', tags: {} };
  }

  describeInstance(id: string): Promise<InstanceInfo | undefined> {
    return Promise.resolve(this.info(id));
  }

  describeInstances(ids: string[]): Promise<Map<string, InstanceInfo>> {
    const out = new Map<string, InstanceInfo>();
    for (const id of ids) {
      const i = this.info(id);
      if (i) out.set(id, i);
    }
    return Promise.resolve(out);
  }

  tagInstance(id: string): Promise<void> {
    return Promise.reject(new AwsRefused(`bench fleet: no tags (${id})`));
  }
  ssmPingStatus(): Promise<'NotRegistered'> {
    return Promise.resolve('NotRegistered');
  }
  putJoinSecret(id: string): Promise<string> {
    return Promise.reject(new AwsRefused(`bench fleet: no parameters (${id})`));
  }
  deleteJoinSecret(): Promise<void> {
    return Promise.resolve();
  }
  listOtpParameters(): Promise<OtpParameter[]> {
    return Promise.resolve([]);
  }
  sendCommand(): Promise<string> {
    return Promise.reject(new AwsRefused('bench fleet: no commands'));
  }
  getCommand(id: string): Promise<never> {
    return Promise.reject(new AwsRefused(`bench fleet: no command ${id}`));
  }
  completeLifecycleAction(): Promise<never> {
    return Promise.reject(new AwsRefused('bench fleet: no Auto Scaling groups'));
  }
  recordLifecycleHeartbeat(): Promise<never> {
    return Promise.reject(new AwsRefused('bench fleet: no Auto Scaling groups'));
  }
}

// ---- LDAP plumbing (lab only) ---------------------------------------------------------------------

function tls(): ClientOptions['tlsOptions'] {
  const d = world.labState().domain;
  return { ca: fs.readFileSync(d.caFile, 'utf8'), servername: d.dcFqdn, rejectUnauthorized: true };
}

async function bound(as: 'admin' | 'service', timeoutMs = 60_000): Promise<Client> {
  const d = world.labState().domain;
  assertLabRoute(d.ldapsUrl);
  const c = new Client({ url: d.ldapsUrl, timeout: timeoutMs, connectTimeout: 5_000, tlsOptions: tls() });
  const [dn, file] = as === 'admin' ? [`CN=Administrator,CN=Users,${d.baseDn}`, d.adminPasswordFile] : [d.bindDn, d.bindPasswordFile];
  await c.bind(dn, fs.readFileSync(file, 'utf8').replace(/\r?\n$/, ''));
  return c;
}

async function withClient<T>(as: 'admin' | 'service', fn: (c: Client) => Promise<T>, timeoutMs?: number): Promise<T> {
  const c = await bound(as, timeoutMs);
  try {
    return await fn(c);
  } finally {
    await c.unbind().catch(() => undefined);
  }
}

const isNoSuchObject = (err: unknown): boolean => /no such object|0x20\b|Code: 0x20/i.test(err instanceof Error ? err.message : String(err));

const benchOu = (): string => `OU=${BENCH_OU_NAME},${world.labState().domain.baseDn}`;
const bucketOu = (b: number): string => `OU=b${String(b).padStart(3, '0')},${benchOu()}`;

/** The bench OU, delegated to the service account like the lab's managed OU. */
async function makeBenchOu(): Promise<void> {
  const ou = benchOu();
  await withClient('admin', (c) => c.add(ou, [new Attribute({ type: 'objectClass', values: ['organizationalUnit'] })]));
  const sam = '/var/lib/samba/private/sam.ldb';
  const show = await world.dcExec(['samba-tool', 'user', 'show', SERVICE_ACCOUNT, '-H', sam, '--attributes=objectSid'], { timeoutMs: 30_000 });
  const sid = /objectSid: (S-1-5-21-[\d-]+)/.exec(show.stdout)?.[1];
  if (!sid) throw new Error(`cannot read the service account's SID (exit ${show.exitCode})`);
  const acl = await world.dcExec(['samba-tool', 'dsacl', 'set', '-H', sam, `--objectdn=${ou}`, `--sddl=(OA;CI;CCDC;${COMPUTER_CLASS};;${sid})`], { timeoutMs: 30_000 });
  if (acl.exitCode !== 0) throw new Error(`samba-tool dsacl set failed (exit ${acl.exitCode}): ${acl.stderr.slice(0, 300)}`);
}

/** Tree-deletes the bench OU one sub-OU at a time (each a bounded transaction), then the OU. */
async function removeBenchOu(): Promise<{ ms: number; subOus: number }> {
  const t = Date.now();
  const ou = benchOu();
  let subOus = 0;
  await withClient(
    'admin',
    async (c) => {
      let subs: string[];
      try {
        subs = (await c.search(ou, { scope: 'one', filter: '(objectClass=organizationalUnit)', attributes: ['1.1'] })).searchEntries.map((e) => e.dn);
      } catch (err) {
        if (isNoSuchObject(err)) return;
        throw err;
      }
      for (const s of subs) {
        await c.del(s, new Control(TREE_DELETE_OID, { critical: true }));
        subOus++;
        if (subOus % 5 === 0) log(`clean-up: ${subOus}/${subs.length} sub-OUs deleted (${((Date.now() - t) / 1000).toFixed(0)} s)`);
      }
      await c.del(ou, new Control(TREE_DELETE_OID, { critical: true }));
    },
    300_000,
  );
  return { ms: Date.now() - t, subOus };
}

/** Loads objects [from, to) over one LDAPS connection as the service account. */
async function load(from: number, to: number, concurrency: number): Promise<{ ms: number; loaded: number }> {
  const t = Date.now();
  const domain = world.labState().domain.dnsDomain;
  let loaded = 0;
  let lastLog = Date.now();
  await withClient('service', async (c) => {
    // Sub-OUs first (the admin makes them; the delegation is inherited).
    await withClient('admin', async (a) => {
      for (let b = Math.floor(from / BUCKET); b <= Math.floor((to - 1) / BUCKET); b++)
        await a.add(bucketOu(b), [new Attribute({ type: 'objectClass', values: ['organizationalUnit'] })]).catch((err: unknown) => {
          if (!/already exists|0x44/i.test(err instanceof Error ? err.message : String(err))) throw err;
        });
    });
    let next = from;
    const worker = async (): Promise<void> => {
      for (;;) {
        if (stopping || overDeadline()) return;
        const k = next++;
        if (k >= to) return;
        const instanceId = benchInstanceId(k);
        const name = computerName(instanceId);
        const marker: Marker = { account: LAB_ACCOUNT, region: LAB_REGION, instanceId };
        await c.add(`CN=${name},${bucketOu(Math.floor(k / BUCKET))}`, [
          new Attribute({ type: 'objectClass', values: ['computer'] }),
          new Attribute({ type: 'sAMAccountName', values: [`${name}$`] }),
          new Attribute({ type: 'userAccountControl', values: ['4096'] }),
          new Attribute({ type: 'dNSHostName', values: [hostFqdn(name, domain)] }),
          new Attribute({ type: 'description', values: [`adjoin bench: EC2 ${instanceId}`] }),
          new Attribute({ type: MARKER_ATTRIBUTE, values: [formatMarker(marker)] }),
        ]);
        loaded++;
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          const rate = loaded / ((Date.now() - t) / 1000);
          log(`load: ${from + loaded}/${to} (${rate.toFixed(0)} adds/s, ~${((to - from - loaded) / rate).toFixed(0)} s left)`);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
  });
  if (stopping || overDeadline()) throw new Error(`load stopped at ${from + loaded}/${to} (${stopping ? 'interrupted' : 'run deadline'})`);
  return { ms: Date.now() - t, loaded };
}

/**
 * The per-object approach's lookups over ONE bound connection (no LDAPS handshake per search:
 * the cheapest honest version of it). Listing is the product's.
 */
class PersistentLookup implements Directory {
  private client: Promise<Client> | undefined;

  constructor(
    private readonly product: LdapDirectory,
    private readonly managedOus: string[],
  ) {}

  async findByMarker(marker: Marker): Promise<ComputerObject[]> {
    this.client ??= bound('service');
    const c = await this.client;
    const out: ComputerObject[] = [];
    for (const ou of this.managedOus) {
      const { searchEntries } = await c.search(ou, { scope: 'sub', filter: markerFilter(marker), attributes: COMPUTER_ATTRIBUTES, sizeLimit: 1000 });
      out.push(...searchEntries.map((e) => toComputerObject(e)));
    }
    return out;
  }
  findByName(name: string): Promise<ComputerObject | undefined> {
    return this.product.findByName(name);
  }
  createComputer(): Promise<ComputerObject> {
    return Promise.reject(new Error('bench: read only'));
  }
  resetPassword(): Promise<void> {
    return Promise.reject(new Error('bench: read only'));
  }
  deleteComputer(): Promise<void> {
    return Promise.reject(new Error('bench: read only'));
  }
  deleteDnsRecords(): Promise<number> {
    return Promise.reject(new Error('bench: read only'));
  }
  listManaged(): AsyncIterable<ComputerObject[]> {
    return this.product.listManaged();
  }
  async close(): Promise<void> {
    if (this.client) await (await this.client).unbind().catch(() => undefined);
    this.client = undefined;
  }
}

// ---- the run --------------------------------------------------------------------------------------

export interface LabRow {
  n: number;
  /** The objects loaded for this row: [from, n) (sizes are cumulative). */
  from: number;
  loadSeconds: number;
  loadRate: number;
  batched: Measure;
  naive: Measure;
  /** A product findByMarker (new LDAPS connection + bind + search + unbind), median ms over 50. */
  productLookupMs: number;
}

function target(n: number, sizeRef: { n: number }): { target: BenchTarget; lookup: PersistentLookup } {
  const ou = benchOu();
  const lab = labDeps({
    customize: (s) => {
      s.directory.managedOus = [ou];
      s.directory.computerOu = ou;
      s.reconcile.graceSeconds = 0;
      s.reconcile.maxDeletions = 10_000; // the validated maximum (dry run: the cap is only reported)
    },
  });
  const directory = new LdapDirectory(lab.settings.directory, {
    timeoutMs: 120_000,
    createClient: (o: ClientOptions) => {
      assertLabRoute(o.url);
      return new Client(o);
    },
  });
  const fleet = new BenchFleet(() => sizeRef.n);
  const empty = new BenchFleet(() => 0);
  const fleetFor: FleetFor = ({ account, region }) => (account === LAB_ACCOUNT && region === LAB_REGION ? fleet : empty);
  const deps: Deps = { ...lab, directory, fleetFor };
  const lookup = new PersistentLookup(directory, [ou]);
  return { target: { directory, lookupDirectory: lookup, fleetFor, deps, objects: n }, lookup };
}

async function productLookupMs(directory: Directory): Promise<number> {
  const times: number[] = [];
  for (let k = 0; k < 50; k++) {
    const t = performance.now();
    await directory.findByMarker({ account: LAB_ACCOUNT, region: LAB_REGION, instanceId: benchInstanceId(k * 7) });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? NaN;
}

function table(rows: LabRow[]): string {
  const f = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const head = ['objects', 'approach', 'wall', 'peak RSS', 'peak heap', 'heap growth', 'LDAP pages', 'LDAP searches', 'LDAP round trips', 'EC2 calls', 'stale', 'modeled on AWS'];
  const lines: string[][] = [head];
  const trips = (m: Measure): number => m.ldapPages + m.ldapSearches;
  for (const r of rows) {
    for (const m of [r.batched, r.naive])
      lines.push([
        f(r.n),
        m.approach === 'batched' ? 'batched (Find stale objects)' : `per object${m.scaled ? ` (sample ${f(m.processed)}, extrapolated)` : ''}`,
        `${f(m.wallMs / 1000, 2)} s`,
        `${f(m.peakRssMiB)} MiB`,
        `${f(m.peakHeapMiB)} MiB`,
        `${f(m.heapGrowthMiB, 1)} MiB`,
        f(m.ldapPages),
        f(m.ldapSearches),
        f(trips(m)),
        f(m.ec2Calls),
        f(m.stale),
        `${f(modeledSeconds(m), 1)} s`,
      ]);
    const ratio = (a: number, b: number): string => (b === 0 ? '∞' : `${f(a / b, 1)}x`);
    lines.push(['', 'per object / batched', ratio(r.naive.wallMs, r.batched.wallMs), '', '', '', '', '', ratio(trips(r.naive), trips(r.batched)), ratio(r.naive.ec2Calls, r.batched.ec2Calls), '', ratio(modeledSeconds(r.naive), modeledSeconds(r.batched))]);
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
  if (sizes.some((s, i) => !Number.isInteger(s) || s < 1 || s > 100_000 || (i > 0 && s <= (sizes[i - 1] ?? 0))))
    throw new RangeError('--sizes: increasing whole numbers from 1 to 100000 (loaded cumulatively)');
  const sampleArg = arg('naive-sample');
  const sampleFor = (n: number): number => (sampleArg !== undefined ? Number(sampleArg) : n > 10_000 ? 2_000 : Infinity);
  if (sampleArg !== undefined && !(Number.isInteger(Number(sampleArg)) && Number(sampleArg) >= 1)) throw new RangeError('--naive-sample: a whole number >= 1');
  const concurrency = Number(arg('concurrency') ?? '8');
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32) throw new RangeError('--concurrency: 1 to 32');

  const onSignal = (): void => {
    if (!stopping) log('interrupted: stopping the load, then cleaning up (Ctrl-C again does not skip the clean-up)');
    stopping = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const wasUp = await world.isUp();
  if (!wasUp) {
    log('lab is not up: bringing it up');
    await world.up({ log: (l) => log(`lab: ${l}`), waitForOtherLabMs: 180_000 });
  }
  const release = world.lease();
  const rows: LabRow[] = [];
  let cleanup = '';
  try {
    log('removing leftovers of an earlier run, if any');
    await removeBenchOu();
    if (process.argv.includes('--cleanup-only')) return;
    await makeBenchOu();
    const size = { n: 0 };
    let loadedSoFar = 0;
    for (const n of sizes) {
      log(`loading objects ${loadedSoFar}..${n - 1} (${concurrency} adds in flight over one LDAPS connection)`);
      const l = await load(loadedSoFar, n, concurrency);
      loadedSoFar = n;
      size.n = n;
      log(`loaded ${f0(l.loaded)} in ${(l.ms / 1000).toFixed(1)} s (${(l.loaded / (l.ms / 1000)).toFixed(0)} adds/s)`);
      const { target: t, lookup } = target(n, size);
      log(`n=${n}: batched (Find stale objects)`);
      const batched = await benchBatched(t);
      if (batched.processed !== n) throw new Error(`batched scanned ${batched.processed} objects, expected ${n}`);
      const sample = sampleFor(n);
      log(`n=${n}: per object${Number.isFinite(sample) ? ` (sample of ${sample})` : ''}`);
      const naive = await benchNaive(t, sample);
      await lookup.close();
      // benchNaive models the listing's pages at 1,000 a page; a full per-object run lists with
      // the production page size like the batched run does.
      naive.ldapPages = Math.ceil(n / PAGE_SIZE);
      const lookupMs = await productLookupMs(t.directory);
      rows.push({ n, from: n - l.loaded, loadSeconds: l.ms / 1000, loadRate: l.loaded / (l.ms / 1000), batched, naive, productLookupMs: lookupMs });
      log(`n=${n}: batched ${(batched.wallMs / 1000).toFixed(2)} s, per object ${(naive.wallMs / 1000).toFixed(2)} s${naive.scaled ? ' (extrapolated)' : ''}`);
    }
  } finally {
    try {
      if (!wasUp) {
        log('taking the lab down (this run brought it up)');
        release();
        const t = Date.now();
        await world.down();
        cleanup = `lab down in ${((Date.now() - t) / 1000).toFixed(1)} s (this run brought it up)`;
      } else {
        log('deleting the loaded objects (one tree delete per 1,000-object sub-OU)');
        const r = await removeBenchOu();
        cleanup = `deleted by ${r.subOus} sub-OU tree deletes + the OU in ${(r.ms / 1000).toFixed(1)} s`;
        release();
      }
    } catch (err) {
      release();
      log(`CLEAN-UP FAILED: ${err instanceof Error ? err.message : String(err)}; run again with --cleanup-only`);
      process.exitCode = 1;
    }
  }
  if (rows.length === 0) return;
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ rows, cleanup }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${table(rows)}\n\n`);
  for (const r of rows)
    process.stdout.write(
      `objects ${f0(r.from)}..${f0(r.n - 1)} loaded in ${r.loadSeconds.toFixed(1)} s (${r.loadRate.toFixed(0)} adds/s, ${concurrency} in flight, one LDAPS connection); at ${f0(r.n)}: ` +
        `one product findByMarker (new LDAPS connection + bind + search) takes ${r.productLookupMs.toFixed(1)} ms (median of 50)\n`,
    );
  process.stdout.write(
    `Clean-up: ${cleanup}.\n` +
      `Real: Samba AD DC over LDAPS (CA verified), production LdapDirectory (page size ${PAGE_SIZE}), findStaleObjects in dry-run mode, grace 0. ` +
      'Per object: one search by marker over a persistent bound connection + one DescribeInstances per object. ' +
      `EC2 simulated in process (no latency): its cost shows in the call counts and in the modeled column (bench/reconcile.ts Model).${(globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for steadier memory figures)'}\n`,
  );
}

const f0 = (x: number): string => x.toLocaleString('en-US');

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
