/**
 * "Report" (reconcile): counts what the run scanned, found stale, deleted, skipped and failed,
 * writes them as CloudWatch EMF metrics (one JSON log line) and returns the summary.
 */
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { reportReconcile } from './lib/reconcile';
import { makeTask } from './lib/task';
import { parseReportInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) => makeTask({ workflow: 'reconcile', step: 'Report' }, deps, parseReportInput, reportReconcile);
export const handler = makeHandler(defaultDeps);
