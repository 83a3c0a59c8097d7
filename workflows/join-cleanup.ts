/**
 * The join-cleanup state machine, `<prefix>-join-cleanup`: started by an EventBridge rule when a
 * join execution ends FAILED, TIMED_OUT or ABORTED (input: the status-change event's detail).
 * One task, "Clean up failed join" (tasks/lib/cleanup.ts): revoke the one-time password of the
 * object this execution prepared, delete the parameter, mark the claim failed (so a new
 * execution may join, and a redrive takes it again), tag the instance failed. Idempotent.
 */
import { Duration } from 'aws-cdk-lib';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { invokeReplacing, makeStateMachine, obj, type Workflow, type WorkflowProps } from './common';

export class JoinCleanupWorkflow extends Construct implements Workflow {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const at = (field: string) => obj(`$.${field}`);
    // The input is the event's detail: pass only the fields the task reads (never `output`).
    const clean = invokeReplacing(this, 'Clean up failed join', props.functions['clean-up-failed-join'], {
      executionArn: at('executionArn'),
      name: at('name'),
      status: at('status'),
      input: at('input'),
    });
    this.stateMachine = makeStateMachine(this, props, {
      definition: clean,
      timeout: Duration.minutes(30),
      comment: 'adjoin: clean up after a join execution that failed, timed out or was aborted',
    });
  }
}
