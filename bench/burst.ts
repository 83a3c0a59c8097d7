/**
 * An Auto Scaling burst on the local engine, in discrete virtual time.
 *
 *   npx tsx bench/burst.ts                      # N = 100, 300, 1,000 (one child process each)
 *   npx tsx bench/burst.ts --count 2000 --json  # other sizes; --count may repeat
 *   options: --seed S  --lambda-concurrency 1000  --ldap-capacity 8  --duplicates 0.05  --rates published|issue
 *
 * The synthesized join ASL (infra/asl.ts) and the real task handlers over lab/sim, every timer
 * on lab/sim/timers' virtual clock. N instances launch at once; their SSM agents come Online
 * 30–180 s later, join commands take 20–40 s, 5 % of the events arrive twice (0–2 s apart), EC2
 * shows written tags 1–2 s late; every AWS API has its quota and latency (lab/sim/rates.ts),
 * behind the SDK's adaptive retry (maxAttempts as tasks/adapters/aws-clients.ts: 3) per Lambda
 * container; Lambda has the account's and each function's reserved concurrency limits, timeouts
 * and cold starts; the directory serves at most --ldap-capacity operations at once. The
 * figures come from the engine's event log, the simulated fleet's call log and the directory.
 * Nothing here names a workflow state: a join's SendCommand is the fleet's record of a command
 * of document 'join'. bench/README.md has the model and the figures.
 */
import '../engine/polyfill';
import { spawnSync } from 'node:child_process';
import { synthesizeDefinitions, type Definitions } from '../infra/asl';
import { LocalEngine, transitions, type ExecutionRecord } from '../engine';
import { loadTaskHandler, type TaskHandler } from '../engine/handlers';
import { simDeps, type DirectoryOp } from '../lab/sim';
import { API_LATENCY_MS, AWS_RATES, CLAIMS_API, type ApiRate, SdkClientModel, apiOf, applyClaimsRate, applyRates, lambdaContainer, withSdkRetry, withSdkRetryClaims } from '../lab/sim/rates';
import { DiscreteTime, seededUniform } from '../lab/sim/timers';
import type { Deps } from '../tasks/lib/deps';
import type { PacingSettings } from '../tasks/lib/ports';
import { parseMarker } from '../tasks/lib/marker';
import { TaskIds, type TaskId } from '../tasks/registry';
import { reservedConcurrencyOf, taskTimeoutSeconds } from '../infra/functions';
import { resolveLambdaConfig } from '../infra/lambda-config';

/** infra/functions.ts: directory tasks 120 s, polling tasks 90 s, the others 30 s. */
const timeoutMs = (id: TaskId): number => taskTimeoutSeconds(id) * 1000;

// ---- the model's numbers (assumptions unless bench/README.md cites a source) ----------------------

/**
 * Step Functions Standard, Lambda x86 (GB-s, requests), DynamoDB on-demand (us-east-1 since
 * 2024-11: $0.625 per million write request units, $0.125 per million read request units; every
 * call of the claims table, the pacing lines and the board counted as one unit: small items).
 */
const PRICE = { perTransition: 0.025 / 1000, perGbSecond: 0.0000166667, perRequest: 0.2 / 1_000_000, perDynamoWrite: 0.625 / 1_000_000, perDynamoRead: 0.125 / 1_000_000 };
/** infra/functions.ts: memorySize 256. */
const LAMBDA_MEMORY_MB = 256;
const LAMBDA = { coldStartMs: 400, overheadMs: 10 };
/** One LDAPS operation of the production adapter (it connects and binds per call). */
const LDAP_MS: Record<DirectoryOp, number> = {
  findByMarker: 40,
  findByName: 30,
  createComputer: 100,
  resetPassword: 80,
  deleteComputer: 60,
  deleteDnsRecords: 60,
  listManaged: 200,
};

/**
 * `--rates issue`: the rate model issue 10 was written against (per second / bucket:
 * DescribeInstances 20/100, CreateTags 5/50, DescribeInstanceInformation 10/20, SendCommand 5/10,
 * GetCommandInvocation 10/20), the rest as AWS_RATES. Default `published`: lab/sim/rates.ts.
 */
export const ISSUE_RATE_OVERRIDES: Record<string, { ratePerSecond: number; burst: number }> = {
  'ec2:DescribeInstances': { ratePerSecond: 20, burst: 100 },
  'ec2:CreateTags': { ratePerSecond: 5, burst: 50 },
  'ssm:DescribeInstanceInformation': { ratePerSecond: 10, burst: 20 },
  'ssm:SendCommand': { ratePerSecond: 5, burst: 10 },
  'ssm:GetCommandInvocation': { ratePerSecond: 10, burst: 20 },
};

export const ratesOf = (model: 'published' | 'issue'): ApiRate[] =>
  model === 'published' ? AWS_RATES : AWS_RATES.map((r) => ({ ...r, ...(ISSUE_RATE_OVERRIDES[r.api] ?? {}) }));

/** settings.pacing for a run: the modelled rates of the paced APIs, or 0 (not paced). */
export function pacingFor(o: Pick<BurstOptions, 'rates' | 'pacing'>): Required<PacingSettings> {
  const rate = (api: string): number => (o.pacing === 'off' ? 0 : (ratesOf(o.rates ?? 'published').find((r) => r.api === api)?.ratePerSecond ?? 0));
  return { sendCommand: rate('ssm:SendCommand'), getCommandInvocation: rate('ssm:GetCommandInvocation'), describeInstanceInformation: rate('ssm:DescribeInstanceInformation') };
}

export interface BurstOptions {
  count: number;
  /** The per-API rate model (see ratesOf). */
  rates?: 'published' | 'issue';
  /** The joins' pacing (tasks/lib/pace.ts): `model` (default) = the modelled rates of the paced SSM APIs, as an operator sets pacing to the account's quota; `off`: not paced. */
  pacing?: 'model' | 'off';
  seed: string;
  lambdaConcurrency: number;
  ldapCapacity: number;
  duplicateShare: number;
}

interface Stat {
  mean: number;
  p50: number;
  p95: number;
  max: number;
}

export interface BurstResult {
  count: number;
  /** The joins' pacing (calls per second per account and Region; 0: not paced). */
  pacing: PacingSettings;
  events: number;
  succeeded: number;
  failed: { where: string; count: number }[];
  outcomes: Record<string, number>;
  instancesJoined: number;
  transitionsPerJoin: Stat;
  lambdaInvocationsPerJoin: Stat;
  apis: { api: string; calls: number; throttles: number; minCallsPerJoin: number; ratePerSecond?: number; boundSeconds?: number }[];
  makespanSeconds: number;
  rateBoundSeconds: number;
  bindingApi: string;
  makespanOverRateBound: number;
  /** No design can end before the last agent is Online and its join command has run: max over instances of launch + Online + command. */
  workloadFloorSeconds: number;
  /** makespan ÷ max(rate bound, workload floor): what the design adds to what neither the APIs nor the fleet let it avoid. */
  makespanOverLowerBound: number;
  onlineToSendSeconds: Stat;
  /** Where the time went (virtual seconds from the first launch). */
  phases: { firstJoinSendSeconds: number; lastJoinSendSeconds: number; lastAgentOnlineSeconds: number; lastJoinCommandDoneSeconds: number; lastExecutionEndSeconds: number };
  peakLambdaConcurrency: number;
  lambdaThrottles: number;
  lambdaTimeouts: number;
  coldStarts: number;
  maxInvocationSeconds: number;
  peakLdapInService: number;
  peakLdapQueued: number;
  costPer1000Joins: { total: number; transitions: number; lambdaCompute: number; lambdaRequests: number; dynamodb: number };
  computerObjectsPerInstance: Record<string, number>;
  joinSendsPerInstance: Record<string, number>;
  duplicatesJoinedTwice: number;
  wallSeconds: number;
  peakRssMiB: number;
  timersFired: number;
}

function stat(values: number[]): Stat {
  if (values.length === 0) return { mean: 0, p50: 0, p95: 0, max: 0 };
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? 0;
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, p50: q(0.5), p95: q(0.95), max: s.at(-1) ?? 0 };
}

const histogram = (values: number[]): Record<string, number> => {
  const h: Record<string, number> = {};
  for (const v of values) h[String(v)] = (h[String(v)] ?? 0) + 1;
  return h;
};

/** Reserved concurrency per function, as infra/functions.ts sets it from the default `lambda` configuration. */
const reservedOf = (id: TaskId): number | undefined =>
  reservedConcurrencyOf(id, resolveLambdaConfig(undefined, () => undefined)).reservedConcurrentExecutions;

/** Lambda as the engine sees it: containers per function (warm reuse, cold start), an account
 *  concurrency limit and each function's reserved concurrency (TooManyRequestsException over
 *  either), billed duration. */
class LambdaModel {
  busy = 0;
  private readonly busyOf = new Map<TaskId, number>();
  peak = 0;
  invocations = 0;
  throttles = 0;
  coldStarts = 0;
  billedMs = 0;
  maxMs = 0;
  timeouts = 0;
  private readonly idle = new Map<TaskId, SdkClientModel[]>();
  constructor(private readonly limit: number) {}

  wrap(id: TaskId, handler: TaskHandler): TaskHandler {
    return async (input: unknown) => {
      const reserved = reservedOf(id);
      if (this.busy >= this.limit || (reserved !== undefined && (this.busyOf.get(id) ?? 0) >= reserved)) {
        this.throttles += 1;
        throw Object.assign(new Error('Rate Exceeded (simulated concurrency limit)'), { name: 'Lambda.TooManyRequestsException' });
      }
      const pool = this.idle.get(id) ?? [];
      this.idle.set(id, pool);
      let container = pool.pop();
      const cold = container === undefined;
      container ??= new SdkClientModel();
      this.busy += 1;
      this.busyOf.set(id, (this.busyOf.get(id) ?? 0) + 1);
      this.invocations += 1;
      this.peak = Math.max(this.peak, this.busy);
      const t0 = performance.now();
      let timedOut = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        if (cold) this.coldStarts += 1;
        const run = (async () => {
          await sleep((cold ? LAMBDA.coldStartMs : 0) + LAMBDA.overheadMs);
          // Lambda's context: the polling tasks budget their in-Lambda wait by the remaining time.
          const context = { getRemainingTimeInMillis: () => Math.max(0, t0 + timeoutMs(id) - performance.now()) };
          return lambdaContainer.run(container, () => (handler as (i: unknown, c: unknown) => Promise<unknown>)(input, context));
        })();
        // The function's timeout: Step Functions sees Sandbox.Timedout (the container is dropped;
        // the model cannot freeze the work already under way, it finishes unseen).
        const limit = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            timedOut = true;
            reject(Object.assign(new Error(`Task timed out after ${timeoutMs(id) / 1000} seconds (simulated)`), { name: 'Sandbox.Timedout' }));
          }, timeoutMs(id));
        });
        run.catch(() => undefined);
        return await Promise.race([run, limit]);
      } finally {
        clearTimeout(timer);
        const ms = performance.now() - t0;
        this.billedMs += Math.ceil(ms);
        this.maxMs = Math.max(this.maxMs, ms);
        this.busy -= 1;
        this.busyOf.set(id, (this.busyOf.get(id) ?? 1) - 1);
        if (timedOut) this.timeouts += 1;
        else pool.push(container);
      }
    };
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runBurst(defs: Definitions, o: BurstOptions): Promise<BurstResult> {
  const wall0 = process.hrtime.bigint();
  const time = new DiscreteTime({ seed: `${o.seed}:engine` }).install();
  try {
    const rng = seededUniform(`${o.seed}:world:${o.count}`);
    const sim = simDeps({
      baseSettings: defs.settings,
      account: defs.account,
      region: defs.region,
      speedup: 1, // a ScaledClock at 1x over the discrete time: virtual seconds are timer seconds
      seed: o.seed,
      latencyMs: (op) => API_LATENCY_MS[apiOf(op)] ?? 50,
      claimsLatencyMs: () => API_LATENCY_MS[CLAIMS_API] ?? 10,
      fleet: {
        tagVisibleAfterSeconds: () => 1 + rng(),
        commandSeconds: (req) => (req.document === 'join' ? 20 + 20 * rng() : 3),
      },
      directoryLoad: { latencyMs: (op) => LDAP_MS[op], capacity: o.ldapCapacity },
    });
    const model = ratesOf(o.rates ?? 'published');
    applyRates(sim.fleet, model);
    applyClaimsRate(sim.claims);
    const deps: Deps = { settings: sim.settings, directory: sim.directory, directoryFor: sim.directoryFor, fleetFor: withSdkRetry(sim.fleetFor), claims: withSdkRetryClaims(sim.claims), board: withSdkRetryClaims(sim.claims), pacer: sim.pacer, executions: sim.executions, clock: sim.clock, random: sim.random, logger: sim.logger };
    const provider = (): Promise<Deps> => Promise.resolve(deps);
    const lambda = new LambdaModel(o.lambdaConcurrency);
    const handlers: Partial<Record<TaskId, TaskHandler>> = {};
    for (const id of TaskIds) handlers[id] = lambda.wrap(id, loadTaskHandler(id, provider));
    const engine = new LocalEngine({ join: defs.join }, { deps: provider, clock: sim.clock, account: defs.account, region: defs.region, handlers });

    const t0 = sim.clock.now().getTime();
    const optIn = defs.settings.tags.optIn;
    const ids = Array.from({ length: o.count }, (_, i) => `i-${(0x10000000 + i).toString(16).padStart(17, '0')}`);
    for (const id of ids) sim.fleet.addInstance({ instanceId: id, tags: { [optIn.key]: optIn.value }, ssmOnlineAfterSeconds: 30 + 150 * rng() });
    const events: { id: string; name: string; atMs: number }[] = ids.map((id, i) => ({ id, name: `burst-${i}`, atMs: 0 }));
    ids.forEach((id, i) => {
      if (rng() < o.duplicateShare) events.push({ id, name: `dup-${i}`, atMs: 2000 * rng() });
    });
    // StartExecution's quota: a throttled start is retried by EventBridge (modelled: when a token is back).
    const start = model.find((r) => r.api === 'states:StartExecution');
    const bucket = { tokens: start?.burst ?? Infinity, atMs: 0, calls: 0, throttles: 0 };
    const startOne = async (e: { id: string; name: string; atMs: number }): Promise<ExecutionRecord> => {
      await sleep(e.atMs);
      for (;;) {
        const now = performance.now();
        bucket.tokens = Math.min(start?.burst ?? Infinity, bucket.tokens + ((now - bucket.atMs) / 1000) * (start?.ratePerSecond ?? 0));
        bucket.atMs = now;
        bucket.calls += 1;
        if (bucket.tokens >= 1) break;
        bucket.throttles += 1;
        await sleep(((1 - bucket.tokens) / (start?.ratePerSecond ?? 1)) * 1000);
      }
      bucket.tokens -= 1;
      const ev = {
        version: '0',
        id: `evt-${e.name}`,
        'detail-type': 'EC2 Instance State-change Notification',
        source: 'aws.ec2',
        account: defs.account,
        region: defs.region,
        time: sim.clock.now().toISOString(),
        resources: [`arn:aws:ec2:${defs.region}:${defs.account}:instance/${e.id}`],
        detail: { 'instance-id': e.id, state: 'running' },
      };
      return engine.start('join', ev, { name: e.name });
    };
    const runs = await time.run(Promise.all(events.map(startOne)));

    // ---- figures ----
    const instanceOf = new Map(events.map((e) => [e.name, e.id]));
    const runsOf = new Map<string, ExecutionRecord[]>();
    for (const r of runs) {
      const id = instanceOf.get(r.name) ?? '';
      runsOf.set(id, [...(runsOf.get(id) ?? []), r]);
    }
    const outcomes: Record<string, number> = {};
    const failed = new Map<string, number>();
    for (const r of runs) {
      const out = (r.output as { outcome?: string } | undefined)?.outcome ?? r.status;
      outcomes[out] = (outcomes[out] ?? 0) + 1;
      if (r.status !== 'SUCCEEDED') {
        const where = `${r.status} at "${r.failedState ?? '?'}": ${r.error ?? ''}`;
        failed.set(where, (failed.get(where) ?? 0) + 1);
      }
    }
    const lambdaCalls = (r: ExecutionRecord): number => {
      const tasks = new Set(r.events.filter((e) => e.type === 'StateEntered' && e.stateType === 'Task').map((e) => e.state));
      return r.events.filter((e) => (e.type === 'StateEntered' || e.type === 'StateRetried') && tasks.has(e.state)).length;
    };
    const perInstance = ids.map((id) => runsOf.get(id) ?? []);
    const joinedIds = ids.filter((id) => sim.fleet.instance(id)?.joinedAs !== undefined);
    const joined = new Set(joinedIds);
    const transitionsPer = ids.filter((id) => joined.has(id)).map((id) => (runsOf.get(id) ?? []).reduce((n, r) => n + transitions(r).total, 0));
    const invocationsPer = ids.filter((id) => joined.has(id)).map((id) => (runsOf.get(id) ?? []).reduce((n, r) => n + lambdaCalls(r), 0));
    const totalTransitions = perInstance.flat().reduce((n, r) => n + transitions(r).total, 0);

    // Calls per API, and per instance (successful ones) for the rate bound.
    const commands = sim.fleet.sentCommands();
    const commandInstance = new Map(commands.map((c) => [c.commandId, c.request.instanceId]));
    const perApi = new Map<string, { calls: number; throttles: number; ok: Map<string, number> }>();
    for (const c of sim.fleet.calls) {
      const api = apiOf(c.op);
      const row = perApi.get(api) ?? { calls: 0, throttles: 0, ok: new Map<string, number>() };
      perApi.set(api, row);
      row.calls += 1;
      if (c.throttled) row.throttles += 1;
      else {
        const inst = c.op === 'getCommand' ? (commandInstance.get(c.arg) ?? c.arg) : c.arg;
        row.ok.set(inst, (row.ok.get(inst) ?? 0) + 1);
      }
    }
    for (const c of [...sim.claims.calls, ...sim.pacer.calls.map((p) => ({ key: p.key, throttled: undefined }))]) {
      const row = perApi.get(CLAIMS_API) ?? { calls: 0, throttles: 0, ok: new Map<string, number>() };
      perApi.set(CLAIMS_API, row);
      row.calls += 1;
      if (c.throttled) row.throttles += 1;
      else {
        const inst = c.key.split('/')[2] ?? c.key;
        row.ok.set(inst, (row.ok.get(inst) ?? 0) + 1);
      }
    }
    const rates = new Map(model.map((r) => [r.api, r]));
    const apis: BurstResult['apis'] = [...perApi.entries()].map(([api, row]) => {
      const minCalls = joinedIds.length === 0 ? 0 : Math.min(...joinedIds.map((id) => row.ok.get(id) ?? 0));
      const rate = rates.get(api)?.ratePerSecond;
      return { api, calls: row.calls, throttles: row.throttles, minCallsPerJoin: minCalls, ...(rate ? { ratePerSecond: rate, boundSeconds: (minCalls * o.count) / rate } : {}) };
    });
    apis.push({ api: 'states:StartExecution', calls: bucket.calls, throttles: bucket.throttles, minCallsPerJoin: 1, ratePerSecond: start?.ratePerSecond ?? 0, boundSeconds: o.count / (start?.ratePerSecond ?? 1) });
    const dirCalls = new Map<string, number>();
    for (const c of sim.directory.calls) dirCalls.set(`ldap:${c.op}`, (dirCalls.get(`ldap:${c.op}`) ?? 0) + 1);
    for (const [api, calls] of dirCalls) apis.push({ api, calls, throttles: 0, minCallsPerJoin: 0 });
    const binding = apis.filter((a) => a.boundSeconds !== undefined).sort((a, b) => (b.boundSeconds ?? 0) - (a.boundSeconds ?? 0))[0];
    const makespanSeconds = (Math.max(...runs.map((r) => Date.parse(r.stopDate ?? r.startDate))) - t0) / 1000;

    const joinSends = commands.filter((c) => c.request.document === 'join');
    const firstSend = new Map<string, number>();
    const sendsPer = new Map<string, number>();
    const sendersPer = new Map<string, Set<string>>();
    for (const c of joinSends) {
      const id = c.request.instanceId;
      if (!firstSend.has(id)) firstSend.set(id, c.sentAtMs);
      sendsPer.set(id, (sendsPer.get(id) ?? 0) + 1);
      const exec = /(burst|dup)-\d+/.exec(c.request.comment)?.[0] ?? c.request.comment;
      sendersPer.set(id, (sendersPer.get(id) ?? new Set()).add(exec));
    }
    const firstJoin = new Map<string, (typeof joinSends)[number]>();
    for (const c of joinSends) if (!firstJoin.has(c.request.instanceId)) firstJoin.set(c.request.instanceId, c);
    const workloadFloorSeconds = Math.max(0, ...[...firstJoin.values()].map((c) => {
      const i = sim.fleet.instance(c.request.instanceId);
      return i ? (i.launchTime.getTime() + i.ssmOnlineAfterSeconds * 1000 + (c.doneAtMs - c.sentAtMs) - t0) / 1000 : 0;
    }));
    const onlineToSend = [...firstSend.entries()].map(([id, at]) => {
      const i = sim.fleet.instance(id);
      return i ? (at - (i.launchTime.getTime() + i.ssmOnlineAfterSeconds * 1000)) / 1000 : 0;
    });
    const objects = new Map<string, number>();
    for (const o2 of sim.directory.all()) {
      const m = parseMarker(o2.markerText);
      if (m) objects.set(m.instanceId, (objects.get(m.instanceId) ?? 0) + 1);
    }

    const gbSeconds = (lambda.billedMs / 1000) * (LAMBDA_MEMORY_MB / 1024);
    const reads = new Set(['get', 'waiting', 'sweepHealth']);
    const claimReads = sim.claims.calls.filter((c) => reads.has(c.op)).length;
    const pacerReads = sim.pacer.calls.filter((c) => c.read).length;
    const dynamoReads = claimReads + pacerReads;
    const dynamoWrites = sim.claims.calls.length - claimReads + sim.pacer.calls.length - pacerReads;
    const per1000 = joinedIds.length === 0 ? 0 : 1000 / joinedIds.length;
    const cost = {
      transitions: totalTransitions * PRICE.perTransition * per1000,
      lambdaCompute: gbSeconds * PRICE.perGbSecond * per1000,
      lambdaRequests: lambda.invocations * PRICE.perRequest * per1000,
      dynamodb: (dynamoReads * PRICE.perDynamoRead + dynamoWrites * PRICE.perDynamoWrite) * per1000,
    };
    const rateBoundSeconds = binding?.boundSeconds ?? 0;
    // Where the time went: the join sends (first, last), the last command's end, the last execution's end.
    const sendTimes = joinSends.map((c) => (c.sentAtMs - t0) / 1000);
    const phases = {
      firstJoinSendSeconds: sendTimes.length ? Math.min(...sendTimes) : 0,
      lastJoinSendSeconds: sendTimes.length ? Math.max(...sendTimes) : 0,
      lastAgentOnlineSeconds: Math.max(0, ...ids.map((id) => { const i = sim.fleet.instance(id); return i ? (i.launchTime.getTime() + i.ssmOnlineAfterSeconds * 1000 - t0) / 1000 : 0; })),
      lastJoinCommandDoneSeconds: joinSends.length ? Math.max(...joinSends.map((c) => (c.doneAtMs - t0) / 1000)) : 0,
      lastExecutionEndSeconds: makespanSeconds,
    };
    return {
      phases,
      count: o.count,
      pacing: { ...(sim.settings.pacing ?? {}) },
      events: events.length,
      succeeded: runs.filter((r) => r.status === 'SUCCEEDED').length,
      failed: [...failed.entries()].map(([where, count]) => ({ where, count })),
      outcomes,
      instancesJoined: joinedIds.length,
      transitionsPerJoin: stat(transitionsPer),
      lambdaInvocationsPerJoin: stat(invocationsPer),
      apis,
      makespanSeconds,
      rateBoundSeconds,
      bindingApi: binding?.api ?? '',
      makespanOverRateBound: rateBoundSeconds > 0 ? makespanSeconds / rateBoundSeconds : 0,
      workloadFloorSeconds,
      makespanOverLowerBound: makespanSeconds / Math.max(rateBoundSeconds, workloadFloorSeconds, 1e-9),
      onlineToSendSeconds: stat(onlineToSend),
      peakLambdaConcurrency: lambda.peak,
      lambdaThrottles: lambda.throttles,
      lambdaTimeouts: lambda.timeouts,
      coldStarts: lambda.coldStarts,
      maxInvocationSeconds: lambda.maxMs / 1000,
      peakLdapInService: sim.directory.load.peakInService,
      peakLdapQueued: sim.directory.load.peakQueued,
      costPer1000Joins: { total: cost.transitions + cost.lambdaCompute + cost.lambdaRequests + cost.dynamodb, ...cost },
      computerObjectsPerInstance: histogram(ids.map((id) => objects.get(id) ?? 0)),
      joinSendsPerInstance: histogram(ids.map((id) => sendsPer.get(id) ?? 0)),
      duplicatesJoinedTwice: [...sendersPer.values()].filter((s) => s.size > 1).length,
      wallSeconds: Number(process.hrtime.bigint() - wall0) / 1e9,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      timersFired: time.fired,
    };
  } finally {
    time.uninstall();
  }
}

// ---- command line ------------------------------------------------------------------------------

function parseArgs(argv: string[]): { counts: number[]; json: boolean; options: Omit<BurstOptions, 'count'> } {
  const counts: number[] = [];
  const options: Omit<BurstOptions, 'count'> = { seed: 'adjoin-burst', lambdaConcurrency: 1000, ldapCapacity: 8, duplicateShare: 0.05 };
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new RangeError(`${a}: missing value`);
      return v;
    };
    const num = (min: number): number => {
      const v = Number(next());
      if (!Number.isFinite(v) || v < min) throw new RangeError(`${a}: a number >= ${min}`);
      return v;
    };
    if (a === '--count') counts.push(Math.floor(num(1)));
    else if (a === '--json') json = true;
    else if (a === '--seed') options.seed = next();
    else if (a === '--lambda-concurrency') options.lambdaConcurrency = Math.floor(num(1));
    else if (a === '--ldap-capacity') options.ldapCapacity = Math.floor(num(1));
    else if (a === '--duplicates') options.duplicateShare = num(0);
    else if (a === '--pacing') {
      const v = next();
      if (v !== 'model' && v !== 'off') throw new RangeError('--pacing: model or off');
      options.pacing = v;
    }
    else if (a === '--rates') {
      const v = next();
      if (v !== 'published' && v !== 'issue') throw new RangeError('--rates: published or issue');
      options.rates = v;
    }
    else throw new RangeError(`unknown argument ${String(a)}`);
  }
  return { counts: counts.length > 0 ? counts : [100, 300, 1000], json, options };
}

const f1 = (n: number): string => n.toFixed(1);
const money = (n: number): string => `$${n.toFixed(4)}`;

function report(r: BurstResult): string {
  const out: string[] = [];
  out.push(`N=${r.count}: ${r.events} events (${r.events - r.count} duplicates), ${r.instancesJoined}/${r.count} instances joined`);
  const paced = Object.entries(r.pacing).filter(([, v]) => (v ?? 0) > 0);
  out.push(`  pacing: ${paced.length === 0 ? 'off' : paced.map(([k, v]) => `${k} ${String(v)}/s`).join(', ')}`);
  out.push(`  executions: succeeded ${r.succeeded}, failed ${r.events - r.succeeded}; outcomes ${JSON.stringify(r.outcomes)}`);
  for (const f of r.failed) out.push(`    failed ${f.count}x ${f.where}`);
  out.push(`  transitions per join: mean ${f1(r.transitionsPerJoin.mean)}, p95 ${r.transitionsPerJoin.p95}; Lambda invocations per join: mean ${f1(r.lambdaInvocationsPerJoin.mean)}, p95 ${r.lambdaInvocationsPerJoin.p95}`);
  out.push(`  makespan ${f1(r.makespanSeconds)} s (virtual); rate bound ${f1(r.rateBoundSeconds)} s (${r.bindingApi}); makespan / rate bound ${r.makespanOverRateBound.toFixed(2)}`);
  out.push(`  workload floor ${f1(r.workloadFloorSeconds)} s (last agent Online + its join command); makespan / max(rate bound, floor) ${r.makespanOverLowerBound.toFixed(2)}`);
  const ph = r.phases;
  out.push(`  timeline: last agent Online ${f1(ph.lastAgentOnlineSeconds)} s; join sends ${f1(ph.firstJoinSendSeconds)}–${f1(ph.lastJoinSendSeconds)} s; last join command done ${f1(ph.lastJoinCommandDoneSeconds)} s; last execution ended ${f1(ph.lastExecutionEndSeconds)} s`);
  out.push(`  SSM Online → join SendCommand: median ${f1(r.onlineToSendSeconds.p50)} s, p95 ${f1(r.onlineToSendSeconds.p95)} s, max ${f1(r.onlineToSendSeconds.max)} s`);
  out.push(`  Lambda: peak concurrency ${r.peakLambdaConcurrency}, throttled ${r.lambdaThrottles}, timed out ${r.lambdaTimeouts}, cold starts ${r.coldStarts}, longest invocation ${f1(r.maxInvocationSeconds)} s`);
  out.push(`  LDAP: peak in service ${r.peakLdapInService}, peak queued ${r.peakLdapQueued}`);
  const c = r.costPer1000Joins;
  out.push(`  cost per 1,000 joins: ${money(c.total)} (transitions ${money(c.transitions)}, Lambda GB-s ${money(c.lambdaCompute)}, requests ${money(c.lambdaRequests)}, DynamoDB ${money(c.dynamodb)})`);
  out.push(`  exactly one join: computer objects per instance ${JSON.stringify(r.computerObjectsPerInstance)}, join SendCommands per instance ${JSON.stringify(r.joinSendsPerInstance)}, duplicatesJoinedTwice ${r.duplicatesJoinedTwice}`);
  out.push(`  ${'API'.padEnd(34)}${'calls'.padStart(8)}${'throttled'.padStart(11)}${'min/join'.padStart(10)}${'rate/s'.padStart(8)}${'bound s'.padStart(9)}`);
  for (const a of r.apis)
    out.push(`  ${a.api.padEnd(34)}${String(a.calls).padStart(8)}${String(a.throttles).padStart(11)}${String(a.minCallsPerJoin).padStart(10)}${String(a.ratePerSecond ?? '').padStart(8)}${(a.boundSeconds === undefined ? '' : f1(a.boundSeconds)).padStart(9)}`);
  out.push(`  wall ${f1(r.wallSeconds)} s, peak RSS ${Math.round(r.peakRssMiB)} MiB, ${r.timersFired} timers`);
  return out.join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { counts, json, options } = parseArgs(argv);
  let results: BurstResult[];
  if (counts.length > 1) {
    // One process per size: its wall time and peak RSS are its own.
    results = counts.map((n) => {
      const rest = argv.filter((a, i) => a !== '--json' && a !== '--count' && argv[i - 1] !== '--count');
      const child = spawnSync(process.execPath, [...process.execArgv, __filename, ...rest, '--count', String(n), '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
      // Exit 1 with a result: not every instance joined (reported); without one: the run broke.
      if (child.stdout.trim() === '') throw new Error(`burst N=${n} failed (exit ${String(child.status)}):\n${child.stderr}`);
      const parsed = JSON.parse(child.stdout) as BurstResult[];
      if (!json) process.stdout.write(`${report(parsed[0] as BurstResult)}\n\n`);
      return parsed[0] as BurstResult;
    });
  } else {
    const defs = synthesizeDefinitions({ pacing: pacingFor(options) });
    results = [await runBurst(defs, { ...options, count: counts[0] ?? 100 })];
    if (!json) process.stdout.write(`${report(results[0] as BurstResult)}\n`);
  }
  if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  if (results.some((r) => r.instancesJoined < r.count)) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
