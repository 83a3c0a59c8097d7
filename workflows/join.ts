/**
 * The join state machine: read the instance, settle, wait for SSM Online, prepare the computer
 * object, run the join document and poll it, verify that directory users resolve, record the
 * result. An instance that disappears on the way is compensated ("Remove what the join made")
 * and the execution still succeeds as "abandoned". Any other failure fails the execution at the
 * failing state, so a redrive resumes there. README.md "How a join proceeds" is its diagram
 * (generated from this ASL); README.md "Errors" lists what each state raises and retries.
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Errors } from '../tasks/lib/errors';
import {
  at,
  attemptsForDeadline,
  catchInto,
  executionName,
  invoke,
  makeStateMachine,
  obj,
  outcome,
  type Workflow,
  type WorkflowProps,
} from './common';

/** Polling "Wait for SSM Online": 10 s, x1.5, at most 60 s between checks. */
export const SsmOnlinePolling = { intervalSeconds: 10, backoffRate: 1.5, maxDelaySeconds: 60 } as const;

export class JoinWorkflow extends Construct implements Workflow {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const fn = props.functions;
    const timings = props.settings.timings;
    const instance = obj('$.instance');
    const done = new sfn.Succeed(this, 'Done');

    // ---- compensation: the instance is gone, undo what the join made, end as "abandoned" ----
    const compensate = invoke(this, 'Remove what the join made', fn['remove-join-artifacts'],
      { instance, error: obj('$.error') }, { resultPath: '$.compensation' });
    compensate.next(outcome(this, 'Join abandoned', {
      outcome: 'abandoned',
      instanceId: at('$.instance.instanceId'),
      reason: at('$.compensation.reason'),
    })).next(done);

    // ---- forward steps ----
    const readInstance = invoke(this, 'Read instance', fn['read-instance'],
      { event: obj('$'), executionName }, { resultPath: '$.instance' });

    const early = (name: string, result: string): sfn.Pass => {
      const pass = outcome(this, name, { outcome: result, reason: at('$.instance.reason'), instanceId: at('$.instance.instanceId') });
      pass.next(done);
      return pass;
    };

    // "previous" must exist before the first "Run join document" / "Verify NSS" (JSONPath on a
    // missing field is an error): start both at {}.
    const begin = new sfn.Pass(this, 'Begin', { result: sfn.Result.fromObject({}), resultPath: '$.joinStatus' });
    const beginVerification = new sfn.Pass(this, 'Begin verification', { result: sfn.Result.fromObject({}), resultPath: '$.verifyStatus' });
    const settle = new sfn.Wait(this, 'Settle', { time: sfn.WaitTime.duration(Duration.seconds(timings.settleSeconds)) });

    const waitForSsm = invoke(this, 'Wait for SSM Online', fn['check-ssm-agent'], { instance }, {
      resultPath: '$.ssm',
      retries: [{
        errors: [Errors.SsmAgentNotOnline],
        ...SsmOnlinePolling,
        maxAttempts: attemptsForDeadline(SsmOnlinePolling.intervalSeconds, SsmOnlinePolling.backoffRate,
          SsmOnlinePolling.maxDelaySeconds, timings.ssmOnlineDeadlineSeconds),
      }],
    });

    const prepare = invoke(this, 'Prepare computer object', fn['prepare-computer-object'],
      { instance, executionName }, { resultPath: '$.computer' });

    const runCommand = (name: string, taskFn: lambda.IFunction, previous: string, resultPath: string) =>
      invoke(this, name, taskFn, {
        instance,
        computer: obj('$.computer'),
        previous: obj(previous),
        redriveCount: sfn.JsonPath.numberAt('$$.Execution.RedriveCount'),
        executionName,
      }, { resultPath });

    const runJoin = runCommand('Run join document', fn['run-join-document'], '$.joinStatus', '$.join');
    const waitJoin = new sfn.Wait(this, 'Wait for join command', { time: sfn.WaitTime.duration(Duration.seconds(10)) });
    const checkJoin = invoke(this, 'Check join command', fn['check-command'],
      { instance, command: obj('$.join') }, { resultPath: '$.joinStatus' });

    const verify = runCommand('Verify NSS', fn['verify-nss'], '$.verifyStatus', '$.verify');
    const waitVerify = new sfn.Wait(this, 'Wait for verification', { time: sfn.WaitTime.duration(Duration.seconds(5)) });
    const checkVerify = invoke(this, 'Check verification', fn['check-command'],
      { instance, command: obj('$.verify') }, { resultPath: '$.verifyStatus' });

    const record = invoke(this, 'Record result', fn['record-result'],
      { instance, computer: obj('$.computer'), executionName }, { resultPath: '$.record' });
    const joined = outcome(this, 'Joined', {
      outcome: 'joined',
      instanceId: at('$.instance.instanceId'),
      computerName: at('$.computer.name'),
      commandId: at('$.join.commandId'),
    });

    catchInto([waitForSsm, prepare, runJoin, checkJoin, verify, checkVerify, record], [Errors.InstanceGone], compensate);

    // ---- the chain, top to bottom ----
    const state = (path: string, value: string) => sfn.Condition.stringEquals(path, value);
    const definition = readInstance.next(
      new sfn.Choice(this, 'Opted in?')
        .when(state('$.instance.outcome', 'proceed'), begin)
        .when(state('$.instance.outcome', 'skipped'), early('Skipped', 'skipped'))
        .when(state('$.instance.outcome', 'already-joined'), early('Already joined', 'already-joined'))
        .when(state('$.instance.outcome', 'in-progress'), early('Another execution is joining', 'in-progress')),
    );
    begin.next(beginVerification).next(settle).next(waitForSsm).next(prepare).next(runJoin).next(waitJoin).next(checkJoin).next(
      new sfn.Choice(this, 'Join finished?')
        .when(state('$.joinStatus.state', 'running'), waitJoin)
        .when(state('$.joinStatus.state', 'failed'), runJoin)
        .when(state('$.joinStatus.state', 'succeeded'), verify),
    );
    verify.next(waitVerify).next(checkVerify).next(
      new sfn.Choice(this, 'Verified?')
        .when(state('$.verifyStatus.state', 'running'), waitVerify)
        .when(state('$.verifyStatus.state', 'failed'), verify)
        .when(state('$.verifyStatus.state', 'succeeded'), record),
    );
    record.next(joined).next(done);

    this.stateMachine = makeStateMachine(this, props, {
      definition,
      timeout: Duration.seconds(timings.ssmOnlineDeadlineSeconds + 2 * timings.commandDeadlineSeconds + 1800),
      comment: 'adjoin: join an EC2 instance to Active Directory',
    });
  }
}
