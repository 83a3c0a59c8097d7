/**
 * The leave state machine: an instance is terminated, so the computer objects that carry its
 * marker are deleted. EC2 is asked first: an instance that is not terminated (a late or
 * duplicate event) leaves everything as it is. Each object is read and checked again just before
 * its delete (tasks/lib/safety.ts); a refusal is recorded as skipped. A directory that stays down
 * fails the execution at "Delete computer objects": redrive it. README.md "How a leave proceeds"
 * is its diagram (generated from this ASL); README.md "Errors" lists the errors and retries.
 */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Errors } from '../tasks/lib/errors';
import {
  at,
  executionName,
  invoke,
  invokeReplacing,
  makeStateMachine,
  obj,
  outcome,
  type RetryPolicy,
  type Workflow,
  type WorkflowProps,
} from './common';

/** A directory outage during a leave: 5 s, x2, at most 120 s, 8 attempts (~8.5 min in all). */
export const LeaveDirectoryRetry: RetryPolicy = {
  errors: [Errors.DirectoryUnavailable],
  intervalSeconds: 5,
  backoffRate: 2,
  maxAttempts: 8,
  maxDelaySeconds: 120,
  jitter: true,
};

export class LeaveWorkflow extends Construct implements Workflow {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const fn = props.functions;
    const done = new sfn.Succeed(this, 'Done');

    const find = invoke(this, 'Find computer objects', fn['find-computer-objects'],
      { event: obj('$'), executionName }, { resultPath: '$.found' });

    const nothing = outcome(this, 'Nothing to delete', {
      outcome: at('$.found.outcome'),
      reason: at('$.found.reason'),
      instanceId: at('$.found.instanceId'),
    });

    // ---- one object: re-checked and deleted by the task; a safety refusal is "skipped" ----
    const deleteOne = invokeReplacing(this, 'Delete computer object', fn['delete-computer-object'],
      { object: obj('$.object'), instance: obj('$.instance'), executionName }, [LeaveDirectoryRetry]);
    deleteOne.addCatch(
      outcome(this, 'Delete refused', {
        dn: at('$.object.dn'),
        deleted: false,
        dnsRecordsRemoved: 0,
        outcome: 'skipped',
        reason: at('$.error.Cause'),
      }),
      { errors: [Errors.UnsafeDeleteRefused], resultPath: '$.error' },
    );

    const deleteAll = new sfn.Map(this, 'Delete computer objects', {
      itemsPath: '$.found.objects',
      itemSelector: { object: obj('$$.Map.Item.Value'), instance: obj('$.found') },
      maxConcurrency: 2,
      resultPath: '$.deleted',
    }).itemProcessor(deleteOne);

    const record = invokeReplacing(this, 'Record leave', fn['record-leave'],
      { instance: obj('$.found'), deleted: obj('$.deleted'), executionName });

    // ---- the chain, top to bottom ----
    const definition = find.next(
      new sfn.Choice(this, 'Anything to delete?')
        .when(sfn.Condition.stringEquals('$.found.outcome', 'delete'), deleteAll)
        .otherwise(nothing),
    );
    nothing.next(done);
    deleteAll.next(record).next(done);

    this.stateMachine = makeStateMachine(this, props, {
      definition,
      timeout: Duration.hours(1),
      comment: 'adjoin: remove the computer objects of a terminated EC2 instance',
    });
  }
}
