/**
 * The AWS side of a burst, as a model: per-API request quotas (token buckets, per account and
 * Region), per-call latency, and the SDK's client-side retry as tasks/adapters/aws-fleet.ts
 * configures it (tasks/adapters/aws-clients.ts: retryMode 'adaptive', maxAttempts 3), in whatever time the process runs on
 * (virtual under lab/sim/timers). bench/README.md states each number's source; change them here.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Claims, Fleet, FleetFor, SsmBoard } from '../../tasks/lib/ports';
import type { SimClaims } from './claims';
import { Errors } from '../../tasks/lib/errors';
import type { FleetOp, SimFleet } from './fleet';
import { AwsClientTimeouts } from '../../tasks/adapters/aws-clients';

export interface ApiRate {
  /** The AWS API (what CloudTrail and the quota pages call it). */
  api: string;
  ratePerSecond: number;
  burst: number;
  /** 'published': AWS documents this default; 'assumption': AWS publishes no number, ours. */
  source: 'published' | 'assumption';
  note: string;
}

/** The Fleet port's operations → the AWS API each one calls. */
export const FLEET_API: Record<FleetOp, string> = {
  describeInstance: 'ec2:DescribeInstances',
  describeInstances: 'ec2:DescribeInstances',
  tagInstance: 'ec2:CreateTags',
  ssmPingStatus: 'ssm:DescribeInstanceInformation',
  ssmPingStatuses: 'ssm:DescribeInstanceInformation',
  putJoinSecret: 'ssm:PutParameter',
  deleteJoinSecret: 'ssm:DeleteParameter',
  listOtpParameters: 'ssm:GetParametersByPath',
  sendCommand: 'ssm:SendCommand',
  getCommand: 'ssm:GetCommandInvocation',
  completeLifecycleAction: 'autoscaling:CompleteLifecycleAction',
  recordLifecycleHeartbeat: 'autoscaling:RecordLifecycleActionHeartbeat',
};

/** The AWS API an operation of the Fleet port calls (an operation added later counts under its own name). */
export const apiOf = (op: string): string => (FLEET_API as Record<string, string>)[op] ?? op;

/** The join-claims table (lab/sim/claims.ts), as one API in the figures. */
export const CLAIMS_API = 'dynamodb:(on-demand table)';

/** Default quotas (eu-west-1, the sample configuration's Region). */
export const AWS_RATES: ApiRate[] = [
  { api: 'ec2:DescribeInstances', ratePerSecond: 20, burst: 100, source: 'published', note: 'EC2 API throttling, non-mutating actions: bucket 100, refill 20/s' },
  { api: 'ec2:CreateTags', ratePerSecond: 10, burst: 100, source: 'published', note: 'EC2 API throttling, CreateTags: bucket 100, refill 10/s' },
  // Systems Manager publishes no per-API rates: the conservative figures issue 10 assumed, which
  // are also the product's default pacing (tasks/lib/pace.ts DEFAULT_PACING). Until 2026-11-30
  // (session 4) this model assumed 20/40, 20/40 and 40/80.
  { api: 'ssm:DescribeInstanceInformation', ratePerSecond: 10, burst: 20, source: 'assumption', note: 'no per-API number published for Systems Manager (issue 10 assumed 10/s, bucket 20)' },
  { api: 'ssm:SendCommand', ratePerSecond: 5, burst: 10, source: 'assumption', note: 'no per-API number published for Run Command (issue 10 assumed 5/s, bucket 10)' },
  { api: 'ssm:GetCommandInvocation', ratePerSecond: 10, burst: 20, source: 'assumption', note: 'no per-API number published (issue 10 assumed 10/s, bucket 20)' },
  { api: 'ssm:PutParameter', ratePerSecond: 40, burst: 40, source: 'published', note: 'Parameter Store default throughput 40 TPS (shared with GetParameter(s)); burst assumed = rate' },
  { api: 'ssm:DeleteParameter', ratePerSecond: 40, burst: 40, source: 'assumption', note: 'assumed like PutParameter' },
  { api: 'states:StartExecution', ratePerSecond: 300, burst: 1300, source: 'published', note: 'Step Functions Standard StartExecution, large Regions: bucket 1,300, refill 300/s' },
  { api: CLAIMS_API, ratePerSecond: 4000, burst: 4000, source: 'published', note: 'a new on-demand table serves 4,000 writes/s (12,000 reads/s): the join claims (one bucket for Get/Put/UpdateItem, conservatively)' },
];

/** Modelled service latency of one call (ms): assumptions. */
export const API_LATENCY_MS: Record<string, number> = {
  'ec2:DescribeInstances': 120,
  'ec2:CreateTags': 150,
  'ssm:DescribeInstanceInformation': 60,
  'ssm:PutParameter': 50,
  'ssm:DeleteParameter': 50,
  'ssm:SendCommand': 120,
  'ssm:GetCommandInvocation': 50,
  [CLAIMS_API]: 10,
};

/** Throttles every Fleet operation of `fleet` by its API's quota (operations of one API share the bucket's numbers). */
export function applyRates(fleet: SimFleet, rates: ApiRate[] = AWS_RATES): void {
  const byApi = new Map(rates.map((r) => [r.api, r]));
  for (const [op, api] of Object.entries(FLEET_API) as [FleetOp, string][]) {
    const r = byApi.get(api);
    if (r) fleet.throttle(op, { ratePerSecond: r.ratePerSecond, burst: r.burst });
  }
}

// ---- the SDK's retry, as configured in tasks/adapters/aws-clients.ts ------------------------------

/**
 * One SDK client's retry state (@smithy/core retry, the version in package-lock): a retry quota
 * (500 tokens; a throttling retry costs 5, a success returns the cost or 1), full-jitter back-off
 * random × min(base × 2^retry, 20 s) with base 1,000 ms for throttling and 50 ms otherwise, and for
 * 'adaptive' mode the client-side CUBIC rate limiter. A Lambda container keeps its clients, so a
 * container has one of these (see lambdaContainer).
 */
export class SdkClientModel {
  quota = 500;
  private readonly limiter = new CubicLimiter();
  constructor(readonly maxAttempts: number = AwsClientTimeouts.maxAttempts) {}

  async call<T>(attempt: () => Promise<T>): Promise<T> {
    let retries = 0;
    let cost = 0;
    for (;;) {
      await this.limiter.acquire();
      try {
        const out = await attempt();
        this.limiter.update(false);
        this.quota = Math.min(500, this.quota + (cost > 0 ? cost : 1));
        return out;
      } catch (err) {
        const throttled = err instanceof Error && err.name === Errors.Throttled;
        const transient = err instanceof Error && err.name === Errors.AwsUnavailable;
        if (!throttled && !transient) throw err;
        this.limiter.update(throttled);
        cost = throttled ? 5 : 14;
        if (retries + 1 >= this.maxAttempts || this.quota < cost) throw err;
        this.quota -= cost;
        const delay = Math.floor(Math.random() * Math.min((throttled ? 1000 : 50) * 2 ** retries, 20_000));
        retries += 1;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}

/** @smithy's DefaultRateLimiter (adaptive retry mode), on performance.now(). */
class CubicLimiter {
  private enabled = false;
  private tokens = 0;
  private lastMaxRate = 0;
  private measured = 0;
  private count = 0;
  private fillRate = 0.5;
  private capacity = 1;
  private lastThrottle = now();
  private lastStamp = 0;
  private lastBucket = Math.floor(now());
  private window = 0;

  async acquire(): Promise<void> {
    if (!this.enabled) return;
    this.refill();
    while (this.tokens < 1) {
      await new Promise((r) => setTimeout(r, ((1 - this.tokens) / this.fillRate) * 1000));
      this.refill();
    }
    this.tokens -= 1;
  }

  update(throttled: boolean): void {
    const t = now();
    const bucket = Math.floor(t * 2) / 2;
    this.count += 1;
    if (bucket > this.lastBucket) {
      this.measured = (this.count / (bucket - this.lastBucket)) * 0.8 + this.measured * 0.2;
      this.count = 0;
      this.lastBucket = bucket;
    }
    let rate: number;
    if (throttled) {
      const use = this.enabled ? Math.min(this.measured, this.fillRate) : this.measured;
      this.lastMaxRate = use;
      this.window = Math.cbrt((this.lastMaxRate * (1 - 0.7)) / 0.4);
      this.lastThrottle = t;
      rate = use * 0.7;
      this.enabled = true;
    } else {
      this.window = Math.cbrt((this.lastMaxRate * (1 - 0.7)) / 0.4);
      rate = 0.4 * (t - this.lastThrottle - this.window) ** 3 + this.lastMaxRate;
    }
    const next = Math.min(rate, 2 * this.measured);
    this.refill();
    this.fillRate = Math.max(next, 0.5);
    this.capacity = Math.max(next, 1);
    this.tokens = Math.min(this.tokens, this.capacity);
  }

  private refill(): void {
    const t = now();
    if (!this.lastStamp) {
      this.lastStamp = t;
      return;
    }
    this.tokens = Math.min(this.capacity, this.tokens + (t - this.lastStamp) * this.fillRate);
    this.lastStamp = t;
  }
}

const now = (): number => performance.now() / 1000;

/** The Lambda container a task runs in (its SDK clients' retry state); set by the Lambda model. */
export const lambdaContainer = new AsyncLocalStorage<SdkClientModel>();

/** The Fleet port behind the SDK's retry: each call goes through the current container's client model. */
export function withSdkRetry(fleetFor: FleetFor, fallback: SdkClientModel = new SdkClientModel()): FleetFor {
  return (target) => {
    const fleet = fleetFor(target);
    const wrapped = {} as Record<string, unknown>;
    for (const [name, fn] of Object.entries(fleet) as [string, unknown][]) {
      if (typeof fn !== 'function') continue;
      wrapped[name] = (...args: unknown[]) =>
        (lambdaContainer.getStore() ?? fallback).call(() => (fn as (...a: unknown[]) => Promise<unknown>).apply(fleet, args));
    }
    return wrapped as unknown as Fleet;
  };
}

/** Throttles the claims table by its quota (CLAIMS_API in AWS_RATES). */
export function applyClaimsRate(claims: SimClaims, rates: ApiRate[] = AWS_RATES): void {
  const r = rates.find((x) => x.api === CLAIMS_API);
  if (r) claims.throttle({ ratePerSecond: r.ratePerSecond, burst: r.burst });
}

/** The Claims port behind the SDK's retry (the DynamoDB client of tasks/adapters/dynamodb-claims.ts: awsClientConfig(), AwsClientTimeouts.maxAttempts attempts). */
export function withSdkRetryClaims(claims: Claims & SsmBoard, fallback: SdkClientModel = new SdkClientModel()): Claims & SsmBoard {
  const via = <T>(run: () => Promise<T>): Promise<T> => (lambdaContainer.getStore() ?? fallback).call(run);
  return {
    get: (...a) => via(() => claims.get(...a)),
    take: (...a) => via(() => claims.take(...a)),
    update: (...a) => via(() => claims.update(...a)),
    waiting: (...a) => via(() => claims.waiting(...a)),
    markOnline: (...a) => via(() => claims.markOnline(...a)),
    recordSweep: (...a) => via(() => claims.recordSweep(...a)),
    sweepHealth: (...a) => via(() => claims.sweepHealth(...a)),
  };
}
