/**
 * The lab's join claims table on disk: one JSON file in the lab's state directory (removed by
 * `down()`), so a claim outlives the process that took it — `adjoin --local redrive` in a new
 * process finds the claim its execution holds, and two processes joining one instance race on
 * one table, as Lambdas do on DynamoDB. Same rules as the DynamoDB adapter and the in-memory
 * table (tasks/lib/claims.ts `mayTake` / `newClaim`, lab/sim/claims.ts `updatedClaim`): each
 * take or update is one read-decide-write under a lock file (across processes), written
 * atomically (temporary file, then rename).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mayTake, newClaim } from '../../tasks/lib/claims';
import type { Claim, ClaimChanges, Claims, SsmBoard, TakeResult } from '../../tasks/lib/ports';
import { markedOnline, updatedClaim, waitingKeys } from '../sim/claims';
import { labPaths } from './paths';
import { withLockFile } from './state';

type Items = Record<string, Claim>;

export class FileClaims implements Claims, SsmBoard {
  readonly file: string;

  constructor(file: string = path.join(labPaths().root, 'claims.json')) {
    this.file = file;
  }

  get(key: string): Promise<Claim | undefined> {
    return attempt(() => {
      const c = this.read()[key];
      return c ? { ...c } : undefined;
    });
  }

  take(key: string, execution: string, nowSeconds: number, leaseSeconds: number): Promise<TakeResult> {
    return attempt(() =>
      this.change((items) => {
        const old = items[key];
        if (!mayTake(old, execution, nowSeconds, leaseSeconds)) return { taken: false, holder: { ...(old as Claim) } };
        const claim = newClaim(key, execution, nowSeconds, leaseSeconds);
        items[key] = claim;
        return { taken: true, claim: { ...claim } };
      }),
    );
  }

  update(key: string, execution: string, changes: ClaimChanges, options: { unlessJoined?: boolean } = {}): Promise<boolean> {
    return attempt(() =>
      this.change((items) => {
        const next = updatedClaim(items[key], execution, changes, options);
        if (next) items[key] = next;
        return next !== undefined;
      }),
    );
  }

  /** The SSM Online board (tasks/lib/ssm-board.ts), as the DynamoDB index answers it. */
  waiting(shard: string, sinceSeconds: number): Promise<string[]> {
    return attempt(() => waitingKeys(Object.values(this.read()), shard, sinceSeconds));
  }

  markOnline(key: string, atSeconds: number): Promise<boolean> {
    return attempt(() =>
      this.change((items) => {
        const next = markedOnline(items[key], atSeconds);
        if (next) items[key] = next;
        return next !== undefined;
      }),
    );
  }

  /** The board's health, kept in the same file under its key (board/<account>/<region>), as in the DynamoDB table. */
  recordSweep(board: string, outcome: 'ok' | 'failed', atSeconds: number): Promise<void> {
    return attempt(() =>
      this.change((items) => {
        const h = (items[board] ?? { key: board }) as unknown as Record<string, unknown>;
        h[outcome === 'ok' ? 'okAt' : 'failedAt'] = Math.floor(atSeconds);
        items[board] = h as unknown as Claim;
      }),
    );
  }

  sweepHealth(board: string): Promise<{ okAt?: number; failedAt?: number }> {
    return attempt(() => {
      const h = this.read()[board] as unknown as { okAt?: number; failedAt?: number } | undefined;
      return { ...(h?.okAt !== undefined ? { okAt: h.okAt } : {}), ...(h?.failedAt !== undefined ? { failedAt: h.failedAt } : {}) };
    });
  }

  /** Every item (copies), for tests and the CLI. */
  all(): Claim[] {
    return Object.values(this.read()).map((c) => ({ ...c }));
  }

  private read(): Items {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return {};
    }
    return JSON.parse(text) as Items; // a torn file cannot happen (rename); a corrupt one throws
  }

  /** Read, decide, write: under the lock, written atomically only when something changed. */
  private change<T>(fn: (items: Items) => T): T {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    return withLockFile(`${this.file}.lock`, () => {
      const items = this.read();
      const before = JSON.stringify(items);
      const out = fn(items);
      const after = JSON.stringify(items);
      if (after !== before) {
        const tmp = `${this.file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, after, { mode: 0o600 });
        fs.renameSync(tmp, this.file);
      }
      return out;
    });
  }
}

/** Runs fn; its result or its throw becomes the promise's (port methods never throw synchronously). */
export function attempt<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
