/**
 * What EventBridge does in AWS for the join-cleanup machine, for the local engine: when a join
 * execution ends FAILED, TIMED_OUT or ABORTED, record its failure where the cleanup reads the
 * history, and start `join-cleanup` with the event's detail. Give it to the engine as `onEnd`
 * (test/workflows/world.ts, cli/lab-runtime.ts).
 */
import type { ExecutionRecord, LocalEngine } from '../../engine';
import type { CleanupInput } from '../../tasks/lib/contracts';
import type { ExecutionFailure, ExecutionHistory } from '../../tasks/lib/ports';

/** A history the hook can write to (SimExecutionHistory). */
export interface RecordingHistory extends ExecutionHistory {
  record(executionArn: string, failure: ExecutionFailure): void;
}

const BAD_ENDS = new Set(['FAILED', 'TIMED_OUT', 'ABORTED']);

/** The engine's onEnd hook: a join that ended badly starts the join-cleanup machine (when loaded). */
export function cleanUpFailedJoins(history: RecordingHistory, options: { onCleanup?: (run: ExecutionRecord) => void } = {}) {
  return async (record: ExecutionRecord, engine: LocalEngine): Promise<void> => {
    if (record.workflow !== 'join' || !BAD_ENDS.has(record.status) || !engine.workflowNames().includes('join-cleanup')) return;
    history.record(record.executionArn, {
      ...(record.failedState !== undefined ? { state: record.failedState } : {}),
      ...(record.error !== undefined ? { error: record.error } : {}),
      ...(record.cause !== undefined ? { cause: record.cause } : {}),
    });
    const detail: CleanupInput = {
      executionArn: record.executionArn,
      name: record.name,
      status: record.status as CleanupInput['status'],
      input: JSON.stringify(record.input),
      ...(record.error !== undefined ? { error: record.error } : {}),
      ...(record.cause !== undefined ? { cause: record.cause } : {}),
    };
    const run = await engine.start('join-cleanup', detail, { name: `${record.name.slice(0, 70)}-clean-${record.redriveCount}` });
    options.onCleanup?.(run);
  };
}
