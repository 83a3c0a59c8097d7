/**
 * What the local runtime records of an execution: plain JSON, written to the execution store
 * and read by the CLI (`adjoin executions --local`). Shaped after Step Functions'
 * DescribeExecution + GetExecutionHistory, flattened.
 */
import type { Json } from './asl';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export type ExecutionEventType =
  | 'ExecutionStarted'
  | 'ExecutionSucceeded'
  | 'ExecutionFailed'
  | 'ExecutionAborted'
  | 'ExecutionTimedOut'
  | 'ExecutionRedriven'
  | 'StateEntered'
  | 'StateExited'
  | 'StateFailed'
  | 'StateRetried'
  | 'StateCaught'
  | 'MapIterationStarted'
  | 'MapIterationSucceeded'
  | 'MapIterationFailed'
  | 'ParallelBranchStarted'
  | 'ParallelBranchSucceeded'
  | 'ParallelBranchFailed';

export interface ExecutionEvent {
  /** Position in the record (0-based, across redrives). */
  seq: number;
  type: ExecutionEventType;
  /** When it happened on the execution's clock (virtual time when the run used a VirtualClock). */
  time: string;
  /** Wall-clock time of the event. */
  realTime: string;
  /** 0 = the first run; n = the n-th redrive. */
  part: number;
  state?: string;
  stateType?: string;
  /** Map iteration index (events of states inside a Map iteration). */
  index?: number;
  /** The Map/Parallel state a MapIteration* / ParallelBranch* event belongs to. */
  parent?: string;
  input?: Json;
  output?: Json;
  error?: string;
  cause?: string;
  /** StateFailed that will be retried / StateRetried: which retrier, which attempt, how long the pause is. */
  retry?: { errorEquals: string[]; attempt: number; delaySeconds: number };
  /** StateCaught: which catcher and where it goes. */
  catch?: { errorEquals: string[]; next: string };
}

export interface RedriveInfo {
  redriveCount: number;
  /** The top-level state the redrive resumed at. */
  fromState: string;
  date: string;
}

export interface ExecutionRecord {
  name: string;
  workflow: string;
  executionArn: string;
  stateMachineArn: string;
  input: Json;
  status: ExecutionStatus;
  /** 'virtual' (VirtualClock) or 'scaled' (ScaledClock): times below are virtual; 'real': wall clock. */
  clock: 'virtual' | 'scaled' | 'real';
  startDate: string;
  stopDate?: string;
  output?: Json;
  error?: string;
  cause?: string;
  /** The top-level state the execution failed in (redrive resumes here). */
  failedState?: string;
  redriveCount: number;
  redrives: RedriveInfo[];
  events: ExecutionEvent[];
}
