/**
 * The one interface every command talks to. Two implementations: AwsBackend (Step Functions,
 * CloudFormation, EC2 through SDK v3) and LabBackend (the local engine's execution store and
 * the lab world). Commands never branch on the target.
 */
import type { LifecycleAction } from '../tasks/lib/ports';
import type { Timeline } from './timeline';

export const Workflows = ['join', 'leave', 'reconcile'] as const;
export type Workflow = (typeof Workflows)[number];

export const Statuses = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'] as const;
export type ExecutionStatus = (typeof Statuses)[number];

export type RedriveStatus = 'REDRIVABLE' | 'NOT_REDRIVABLE' | 'REDRIVABLE_BY_MAP_RUN';

export interface ExecutionSummary {
  /** Execution ARN on AWS, the record id in the lab. Accepted back by describe/timeline/redrive. */
  id: string;
  name: string;
  workflow: Workflow;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  instanceId?: string;
  /** The state the execution failed in (FAILED / TIMED_OUT / ABORTED only). */
  failedState?: string;
  error?: string;
  redriveCount?: number;
}

export interface ExecutionDetail extends ExecutionSummary {
  input?: unknown;
  output?: unknown;
  cause?: string;
  redriveDate?: Date;
  redriveStatus?: RedriveStatus;
  redriveStatusReason?: string;
}

export interface ListQuery {
  workflow?: Workflow;
  status?: ExecutionStatus;
  instanceId?: string;
  since?: Date;
  limit: number;
}

export interface StartRequest {
  workflow: Workflow;
  /** join / leave: the instance. reconcile: absent. */
  instanceId?: string;
  /** reconcile only. */
  dryRun?: boolean;
  /** Overrides for the event's account and Region (default: the target's own). */
  account?: string;
  region?: string;
  /** Lab only: a join started by a lab group's launch hook (the lifecycle event, not "running"). */
  lifecycle?: LifecycleAction;
}

export interface StartResult {
  execution: ExecutionSummary;
  /** Exactly what was passed as the execution input. */
  input: unknown;
}

export interface RedriveResult {
  id: string;
  name: string;
  redriveDate: Date;
}

export interface ComputerInfo {
  dn: string;
  name: string;
  /** The marker as stored on the object (account/region/instance), when present. */
  marker?: string;
  description?: string;
}

export interface InstanceStatus {
  instanceId: string;
  /** false: EC2 (or the lab) does not know the instance. */
  found: boolean;
  state?: string;
  platform?: string;
  privateDnsName?: string;
  launchTime?: Date;
  tags: Record<string, string>;
  /** The subset of tags carrying our status prefix. */
  statusTags: Record<string, string>;
  statusPrefix: string;
  executions: ExecutionSummary[];
  /** Lab only: the directory's computer objects carrying this instance's marker. */
  computers?: ComputerInfo[];
}

export interface Backend {
  /** Where we are talking to, for headings: "aws eu-west-1 (stack adjoin)" / "lab". */
  describeTarget(): string;
  listExecutions(query: ListQuery): Promise<ExecutionSummary[]>;
  /** By id (ARN) or by name. Throws not found (exit 3). */
  describe(ref: string): Promise<ExecutionDetail>;
  /** The execution and its history as a timeline. */
  timeline(ref: string): Promise<{ execution: ExecutionDetail; timeline: Timeline }>;
  /** Redrives; throws CliFailure (exit 1) with the reason when the target refuses. */
  redrive(ref: string): Promise<RedriveResult>;
  start(request: StartRequest): Promise<StartResult>;
  instanceStatus(instanceId: string, options: { executions: number }): Promise<InstanceStatus>;
}
