/**
 * Outcome metrics, as a port: makeTask (tasks/lib/task.ts) counts each step's outcome and each
 * failure; production sends them as CloudWatch metrics through Powertools Metrics
 * (tasks/adapters/observability.ts), the lab and the tests pass their own or none. No AWS
 * import here. infra/dashboard.ts reads the same names.
 *
 *   StepOutcome {service, Workflow, Outcome}       a step returned `outcome` (joined, abandoned,
 *                                                 skipped, left, partial, instance-alive, …)
 *   StepFailed  {service, Workflow, Step, Error}   a step threw (Error = the catalogue name)
 *
 * Reconcile's counts (Scanned, Stale, Deleted, Skipped, Failed by {Workflow, DryRun}) come from
 * its own EMF document (tasks/lib/reconcile.ts), in the same namespace.
 */
/** The CloudWatch namespace of every adjoin metric (reconcile's EMF document too). */
export const MetricsNamespace = 'adjoin';
/** The `service` dimension Powertools adds to every metric. */
export const MetricsService = 'adjoin';

export const MetricNames = {
  StepOutcome: 'StepOutcome',
  StepFailed: 'StepFailed',
} as const;

export type MetricName = (typeof MetricNames)[keyof typeof MetricNames];

export interface MetricsPort {
  /** Adds 1 to `name` with these dimensions (besides `service`). Never throws. */
  count(name: MetricName, dimensions: Record<string, string>): void;
}
