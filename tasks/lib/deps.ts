/**
 * What every domain function receives: settings and ports. Handlers get a `DepsProvider`;
 * production handlers use tasks/adapters/default-deps.ts (real LDAPS + AWS SDK), the lab and
 * the workflow tests pass their own to each task's `makeHandler`.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { MetricsPort } from './metrics';
import type { Claims, Clock, Directory, ExecutionHistory, FleetFor, Pacer, Random, SsmBoard } from './ports';
import type { Settings } from './settings';

export interface Deps {
  settings: Settings;
  /** The default (first) directory: code that has not moved to directoryFor yet uses this one. */
  directory: Directory;
  /** Each configured directory by name (tasks/lib/routing.ts), built lazily. Unknown name: ConfigurationError. */
  directoryFor: (name: string) => Directory;
  fleetFor: FleetFor;
  /** The join claims (one conditional write decides who joins an instance). */
  claims: Claims;
  /** Step Functions' execution history (the join cleanup reads the failed state). */
  executions: ExecutionHistory;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Lines for the SSM calls of a burst (tasks/lib/pace.ts); absent: not paced. */
  pacer?: Pacer;
  /** The SSM Online board (tasks/lib/ssm-board.ts): with a pacer, one sweep checks every waiting agent; absent: each waits on its own checks. */
  board?: SsmBoard;
  /** Outcome and failure counts (tasks/lib/metrics.ts); absent: not counted. */
  metrics?: MetricsPort;
}

/** Built once per cold start (or per lab world), then reused. */
export type DepsProvider = () => Promise<Deps>;
