/**
 * The reconcile state machine, on a schedule: page the managed OU(s), cross-check EC2, and
 * delete — under a cap — what every safety rule allows. Input {} or {"dryRun": true|false}
 * (overrides the configured dry run). README.md "How a reconcile proceeds" is its diagram
 * (generated from this ASL); README.md "Errors" lists the errors and retries.
 *   - any EC2 error fails the run in "Find stale objects" (never read as "instance gone");
 *   - "Find stale objects" also sweeps leftover one-time passwords (tasks/lib/otp-sweep.ts): an
 *     account whose parameters cannot be listed is skipped like one whose EC2 cannot be asked;
 *   - more stale objects than the cap fails the run in "Check deletion cap", nothing deleted;
 *   - each delete re-checks marker, OU, GUID/owner, age and instance state; a refusal counts as
 *     skipped, a refused directory or AWS call as failed; a refused DNS delete does not stop the
 *     object's delete (counted as dnsFailed); a directory that stays down fails the run at
 *     "Delete stale objects" (redrive resumes there; the deletes done are not repeated);
 *   - an account/Region whose EC2 cannot be asked is skipped (its objects untouched); the run
 *     deletes the rest, reports, then FAILS in "Reconcile incomplete" (ReconcileIncomplete, the
 *     Cause lists the skipped accounts) so the failed-execution alarm fires.
 */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Errors } from '../tasks/lib/errors';
import { at, executionName, invoke, invokeReplacing, makeStateMachine, obj, outcome, type Workflow, type WorkflowProps } from './common';

/** Deletes in flight at once (the directory takes ~200 deletes/s; EC2 is asked once per item). */
export const ReconcileDeleteConcurrency = 5;

export class ReconcileWorkflow extends Construct implements Workflow {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const fn = props.functions;
    const done = new sfn.Succeed(this, 'Done');

    const find = invoke(this, 'Find stale objects', fn['find-stale-objects'],
      { input: obj('$'), executionName }, { resultPath: '$.scan' });

    const guard = invoke(this, 'Check deletion cap', fn['check-deletion-cap'],
      { scan: obj('$.scan'), executionName }, { resultPath: '$.guard' });

    const dryRun = new sfn.Pass(this, 'Dry run', { result: sfn.Result.fromArray([]), resultPath: '$.deleted' });

    // ---- one stale object: re-checked by the task (instance described again) ----
    const deleteOne = invokeReplacing(this, 'Delete computer object', fn['delete-computer-object'],
      { object: obj('$.object'), instance: obj('$.instance'), graceSeconds: sfn.JsonPath.numberAt('$.graceSeconds'), executionName });
    // The Cause (with a Lambda stack trace) is NOT copied: hundreds of items must fit in 256 KB
    // of state data. The task's log line carries the full reason.
    const itemResult = (name: string, result: 'skipped' | 'failed', reason: string): sfn.Pass =>
      outcome(this, name, { dn: at('$.object.dn'), deleted: false, dnsRecordsRemoved: 0, outcome: result, error: at('$.error.Error'), reason });
    deleteOne.addCatch(itemResult('Delete refused', 'skipped', 'refused by a safety rule when checked again (see the task log)'),
      { errors: [Errors.UnsafeDeleteRefused], resultPath: '$.error' });
    deleteOne.addCatch(itemResult('Delete failed', 'failed', 'the directory or AWS refused (see the task log)'),
      { errors: [Errors.DirectoryRefused, Errors.AwsRefused, Errors.InvalidInput], resultPath: '$.error' });

    const deleteAll = new sfn.Map(this, 'Delete stale objects', {
      itemsPath: '$.scan.staleList',
      itemSelector: {
        object: obj('$$.Map.Item.Value.object'),
        instance: obj('$$.Map.Item.Value.instance'),
        graceSeconds: sfn.JsonPath.numberAt('$.scan.graceSeconds'),
      },
      maxConcurrency: ReconcileDeleteConcurrency,
      resultPath: '$.deleted',
    }).itemProcessor(deleteOne);

    const report = invokeReplacing(this, 'Report', fn['report-reconcile'],
      { scan: obj('$.scan'), guard: obj('$.guard'), deleted: obj('$.deleted'), executionName });

    // ---- the chain, top to bottom ----
    const definition = find.next(guard).next(
      new sfn.Choice(this, 'Dry run?')
        .when(sfn.Condition.booleanEquals('$.guard.dryRun', false), deleteAll)
        .otherwise(dryRun),
    );
    dryRun.next(report);
    deleteAll.next(report);
    const incomplete = new sfn.Fail(this, 'Reconcile incomplete', {
      error: Errors.ReconcileIncomplete,
      causePath: '$.incompleteCause',
    });
    report.next(
      new sfn.Choice(this, 'Every account reconciled?')
        .when(sfn.Condition.booleanEquals('$.complete', false), incomplete)
        .otherwise(done),
    );

    this.stateMachine = makeStateMachine(this, props, {
      definition,
      timeout: Duration.hours(3),
      comment: 'adjoin: remove computer objects whose instances are gone (capped, dry-run capable)',
    });
  }
}
