/**
 * The join claims table in memory: the same take rule as the DynamoDB adapter (tasks/lib/claims.ts
 * `mayTake`, one atomic step here as the conditional write is in DynamoDB), conditional updates,
 * and for burst runs a token-bucket throttle (virtual time) and a call log.
 */
import { mayTake, newClaim } from '../../tasks/lib/claims';
import { Throttled } from '../../tasks/lib/errors';
import type { Claim, ClaimChanges, Claims, Clock, ExecutionFailure, ExecutionHistory, SsmBoard, TakeResult } from '../../tasks/lib/ports';
import type { ThrottleModel } from './fleet';

export type ClaimsOp = keyof Claims | keyof SsmBoard;

export class SimClaims implements Claims, SsmBoard {
  private readonly items = new Map<string, Claim>();
  private bucket: (ThrottleModel & { tokens: number; atMs: number }) | undefined;
  /** Every call, in order (throttled ones too). */
  readonly calls: { op: ClaimsOp; key: string; throttled?: true }[] = [];
  throttledCount = 0;

  constructor(private readonly clock: Clock, private readonly latencyMs?: () => number) {}

  /** Throttle every call (DynamoDB's per-table / per-partition limits, as a token bucket). */
  throttle(model: ThrottleModel): this {
    this.bucket = { ...model, tokens: model.burst, atMs: this.clock.now().getTime() };
    return this;
  }

  /** The item as stored (a copy), for assertions. */
  item(key: string): Claim | undefined {
    const c = this.items.get(key);
    return c ? { ...c } : undefined;
  }

  all(): Claim[] {
    return [...this.items.values()].map((c) => ({ ...c }));
  }

  async get(key: string): Promise<Claim | undefined> {
    await this.enter('get', key);
    return this.item(key);
  }

  async take(key: string, execution: string, nowSeconds: number, leaseSeconds: number): Promise<TakeResult> {
    await this.enter('take', key);
    const old = this.items.get(key);
    if (!mayTake(old, execution, nowSeconds, leaseSeconds)) return { taken: false, holder: { ...(old as Claim) } };
    const claim = newClaim(key, execution, nowSeconds, leaseSeconds);
    this.items.set(key, claim);
    return { taken: true, claim: { ...claim } };
  }

  async update(key: string, execution: string, changes: ClaimChanges, options: { unlessJoined?: boolean } = {}): Promise<boolean> {
    await this.enter('update', key);
    const next = updatedClaim(this.items.get(key), execution, changes, options);
    if (next) this.items.set(key, next);
    return next !== undefined;
  }

  /** The board's index (tasks/lib/ssm-board.ts), as the sparse GSI answers it. */
  async waiting(shard: string, sinceSeconds: number): Promise<string[]> {
    await this.enter('waiting', shard);
    return waitingKeys(this.items.values(), shard, sinceSeconds);
  }

  async markOnline(key: string, atSeconds: number): Promise<boolean> {
    await this.enter('markOnline', key);
    const next = markedOnline(this.items.get(key), atSeconds);
    if (next) this.items.set(key, next);
    return next !== undefined;
  }

  private readonly health = new Map<string, { okAt?: number; failedAt?: number }>();

  async recordSweep(board: string, outcome: 'ok' | 'failed', atSeconds: number): Promise<void> {
    await this.enter('recordSweep', board);
    this.health.set(board, { ...this.health.get(board), [outcome === 'ok' ? 'okAt' : 'failedAt']: Math.floor(atSeconds) });
  }

  async sweepHealth(board: string): Promise<{ okAt?: number; failedAt?: number }> {
    await this.enter('sweepHealth', board);
    return { ...this.health.get(board) };
  }

  private async enter(op: ClaimsOp, key: string): Promise<void> {
    const call: SimClaims['calls'][number] = { op, key };
    this.calls.push(call);
    const latency = this.latencyMs?.() ?? 0;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    else await Promise.resolve();
    const b = this.bucket;
    if (!b) return;
    const now = this.clock.now().getTime();
    b.tokens = Math.min(b.burst, b.tokens + ((now - b.atMs) / 1000) * b.ratePerSecond);
    b.atMs = now;
    if (b.tokens < 1) {
      this.throttledCount += 1;
      call.throttled = true;
      throw new Throttled(`DynamoDB ${op}: ProvisionedThroughputExceededException (simulated throttling)`);
    }
    b.tokens -= 1;
  }
}

/**
 * The conditional update of both lab tables (as the DynamoDB adapter's condition): the new item,
 * or undefined when `execution` does not hold the claim (or, with unlessJoined, it is joined).
 */
export function updatedClaim(old: Claim | undefined, execution: string, changes: ClaimChanges, options: { unlessJoined?: boolean } = {}): Claim | undefined {
  if (!old || old.execution !== execution || (options.unlessJoined && old.status === 'joined')) return undefined;
  const next: Claim = { ...old };
  for (const [k, v] of Object.entries(changes)) if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
  return next;
}

/** The board's index, as both lab tables answer it (the DynamoDB Query on ssm-wait): keys in `shard` registered since `sinceSeconds`. */
export function waitingKeys(items: Iterable<Claim>, shard: string, sinceSeconds: number): string[] {
  return [...items].filter((c) => c.ssmWait === shard && (c.ssmWaitAt ?? 0) >= sinceSeconds).map((c) => c.key);
}

/** The board's Online mark in both lab tables (as the adapter's conditional update): the new item, or undefined when the claim is not on the board. */
export function markedOnline(old: Claim | undefined, atSeconds: number): Claim | undefined {
  if (!old || old.ssmWait === undefined) return undefined;
  const next: Claim = { ...old, ssmOnlineAt: Math.floor(atSeconds) };
  delete next.ssmWait;
  return next;
}

/** Step Functions' execution history, as far as the join cleanup reads it: filled by whoever runs the engine. */
export class SimExecutionHistory implements ExecutionHistory {
  private readonly failures = new Map<string, ExecutionFailure>();
  record(executionArn: string, failure: ExecutionFailure): void {
    this.failures.set(executionArn, { ...failure });
  }
  lastFailure(executionArn: string): Promise<ExecutionFailure | undefined> {
    return Promise.resolve(this.failures.get(executionArn));
  }
}
