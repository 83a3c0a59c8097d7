/**
 * The join state machine: read the instance and claim it (one conditional write), wait for SSM
 * Online, prepare the computer object, run the join document (join + verification, one command
 * per round; the state polls it through its own retry), record the result. An instance that
 * disappears on the way is compensated ("Remove what the join made") and the execution still
 * succeeds as "abandoned". Any other failure fails the execution at the failing state, so a
 * redrive resumes there; the join-cleanup machine (workflows/join-cleanup.ts) removes what a
 * failed, timed-out or aborted execution leaves. README.md "How a join proceeds" is its diagram
 * (generated from this ASL); README.md "Errors" lists what each state raises and retries.
 */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Errors, LambdaTimeout } from '../tasks/lib/errors';
import {
  at,
  attemptsForDeadline,
  catchInto,
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

/**
 * Polling "Wait for SSM Online": 5 s, x1.2, at most 15 s between checks, FULL jitter so a burst
 * of launches does not poll in lock-step. Full jitter waits half the delay on average, so the
 * attempts cover the deadline twice over (the task itself does not know the deadline).
 */
export const SsmOnlinePolling = { intervalSeconds: 5, backoffRate: 1.2, maxDelaySeconds: 15 } as const;

/**
 * A launch hook's execution that finds another execution joining the instance (the EC2 running
 * event of the same launch) waits for that join and reads the instance again: it then answers
 * its hook (CONTINUE once joined), or joins itself if that join failed.
 */
export const OtherJoinPollSeconds = 20;

/** Polling the join command ("Run join document" throws JoinStillRunning): 10 s, x1, FULL jitter. */
export const JoinPolling = { intervalSeconds: 10, backoffRate: 1, maxDelaySeconds: 10 } as const;

/**
 * Every join task under a 1,000-launch burst: throttling (and AWS unavailable / unreachable) — and a Lambda that timed out waiting
 * on the SDK's throttling back-off — is waited out, never fatal (2 s, x2, 30 s max, 12 attempts,
 * full jitter), before the standard TransientErrors retry. Every join task is idempotent.
 */
export const BurstThrottleRetry: RetryPolicy = {
  errors: [Errors.Throttled, Errors.AwsUnavailable, Errors.AwsUnreachable, LambdaTimeout],
  intervalSeconds: 2,
  backoffRate: 2,
  maxDelaySeconds: 30,
  maxAttempts: 12,
  jitter: true,
};

/** Retries that poll with full jitter: twice the attempts a deadline takes without jitter. */
const jitteredAttempts = (p: { intervalSeconds: number; backoffRate: number; maxDelaySeconds: number }, deadlineSeconds: number): number =>
  2 * attemptsForDeadline(p.intervalSeconds, p.backoffRate, p.maxDelaySeconds, deadlineSeconds);

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
      { event: obj('$'), executionName }, { resultPath: '$.instance', retries: [BurstThrottleRetry] });

    const early = (name: string, result: string): sfn.Pass => {
      const pass = outcome(this, name, { outcome: result, reason: at('$.instance.reason'), instanceId: at('$.instance.instanceId') });
      pass.next(done);
      return pass;
    };

    const waitForSsm = invoke(this, 'Wait for SSM Online', fn['check-ssm-agent'], { instance }, {
      resultPath: '$.ssm',
      retries: [{
        errors: [Errors.SsmAgentNotOnline],
        ...SsmOnlinePolling,
        maxAttempts: jitteredAttempts(SsmOnlinePolling, timings.ssmOnlineDeadlineSeconds),
        jitter: true,
      }, BurstThrottleRetry],
    });

    const prepare = invoke(this, 'Prepare computer object', fn['prepare-computer-object'],
      { instance, executionName }, { resultPath: '$.computer', retries: [BurstThrottleRetry] });

    const runJoin = invoke(this, 'Run join document', fn['run-join-document'], {
      instance,
      computer: obj('$.computer'),
      redriveCount: sfn.JsonPath.numberAt('$$.Execution.RedriveCount'),
      executionName,
    }, {
      resultPath: '$.join',
      retries: [{
        errors: [Errors.JoinStillRunning],
        ...JoinPolling,
        maxAttempts: jitteredAttempts(JoinPolling, timings.commandDeadlineSeconds) + 1,
        jitter: true,
      }, BurstThrottleRetry],
    });

    // Its result is the execution's output: { outcome: 'joined', instanceId, computerName, commandId, tags }.
    const record = invokeReplacing(this, 'Record result', fn['record-result'],
      { instance, computer: obj('$.computer'), join: obj('$.join'), executionName }, [BurstThrottleRetry]);

    catchInto([waitForSsm, prepare, runJoin, record], [Errors.InstanceGone], compensate);

    // ---- the chain, top to bottom ----
    // A settle pause only when configured (default 0: "Wait for SSM Online" polls anyway).
    const first: sfn.IChainable = timings.settleSeconds > 0
      ? new sfn.Wait(this, 'Settle', { time: sfn.WaitTime.duration(Duration.seconds(timings.settleSeconds)) }).next(waitForSsm)
      : waitForSsm;
    const state = (path: string, value: string) => sfn.Condition.stringEquals(path, value);
    const waitForOther = new sfn.Wait(this, 'Wait for the other join', { time: sfn.WaitTime.duration(Duration.seconds(OtherJoinPollSeconds)) });
    waitForOther.next(readInstance);
    const definition = readInstance.next(
      new sfn.Choice(this, 'Opted in?')
        .when(state('$.instance.outcome', 'proceed'), first)
        .when(sfn.Condition.and(state('$.instance.outcome', 'in-progress'), sfn.Condition.isPresent('$.instance.lifecycle')), waitForOther)
        .when(state('$.instance.outcome', 'skipped'), early('Skipped', 'skipped'))
        .when(state('$.instance.outcome', 'already-joined'), early('Already joined', 'already-joined'))
        .when(state('$.instance.outcome', 'in-progress'), early('Another execution is joining', 'in-progress')),
    );
    waitForSsm.next(prepare).next(runJoin).next(record).next(done);

    this.stateMachine = makeStateMachine(this, props, {
      definition,
      timeout: Duration.seconds(timings.settleSeconds + 2 * timings.ssmOnlineDeadlineSeconds + 2 * timings.commandDeadlineSeconds + 1800),
      comment: 'adjoin: join an EC2 instance to Active Directory',
    });
  }
}
