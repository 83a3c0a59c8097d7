/**
 * "Report" (reconcile): counts what the run scanned, found stale, deleted, skipped and failed,
 * writes them as CloudWatch EMF metrics (one JSON log line) and returns the summary.
 */
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { parseReportInput, reportReconcile } from './lib/reconcile';
import { makeTask } from './lib/task';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'reconcile', step: 'Report' }, deps, parseReportInput, (input, d) => Promise.resolve(reportReconcile(input, d)));
export const handler = makeHandler(defaultDeps);
