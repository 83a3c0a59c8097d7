/**
 * The pacing lines in memory (tasks/lib/pace.ts): the rule of `nextSlot`, one atomic step here as
 * the conditional UpdateItem is in DynamoDB (tasks/adapters/dynamodb-pacer.ts), with a call log
 * for burst runs (counted with the claims table: the lines live in that table).
 */
import { nextSlot } from '../../tasks/lib/pace';
import type { Pacer, SlotResult } from '../../tasks/lib/ports';

export class SimPacer implements Pacer {
  private readonly ends = new Map<string, number>();
  /** Every take, in order. */
  readonly calls: { key: string; full: boolean; read?: true }[] = [];

  constructor(private readonly latencyMs?: () => number) {}

  /** The line's end (epoch ms), for assertions. */
  lineEnd(key: string): number | undefined {
    return this.ends.get(key);
  }

  /** The Pacer port's read (counted in the call log as a read). */
  async peek(key: string): Promise<number | undefined> {
    const latency = this.latencyMs?.() ?? 0;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    else await Promise.resolve();
    this.calls.push({ key, full: false, read: true });
    return this.ends.get(key);
  }

  async take(key: string, nowMs: number, spacingMs: number, latestMs: number): Promise<SlotResult> {
    const latency = this.latencyMs?.() ?? 0;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    else await Promise.resolve();
    // As DynamoDB's condition: the caller's :now, not the table's moment.
    const got = nextSlot(this.ends.get(key), nowMs, spacingMs, latestMs);
    this.calls.push({ key, full: 'full' in got });
    if ('full' in got) return got;
    this.ends.set(key, got.lineEndMs);
    return { slotMs: got.slotMs };
  }
}
