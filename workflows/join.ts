/**
 * The join state machine: read the instance and claim it (one conditional write), wait for SSM
 * Online, prepare the computer object, then "Linux or Windows?" ($.instance.platform): run the
 * join document or the Windows join document (join + verification, one command per round; the
 * state polls it through its own retry; Windows waits out the reboot), record the result. An
 * instance that disappears on the way is compensated ("Remove what the join made") and the execution still
 * succeeds as "abandoned". Any other failure fails the execution at the failing state, so a
 * redrive resumes there; the join-cleanup machine (workflows/join-cleanup.ts) removes what a
 * failed, timed-out or aborted execution leaves. README.md "How a join proceeds" is its diagram
 * (generated from this ASL); README.md "Errors" lists what each state raises and retries.
 */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Errors, LambdaTimeout } from '../tasks/lib/errors';
import { InLambdaWait } from '../tasks/lib/poll';
import { SEND_LINE_ALLOWANCE_SECONDS } from '../tasks/lib/pace';
import { WINDOWS_DEFAULTS } from '../tasks/lib/windows-settings';
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
 * "Wait for SSM Online" and "Run join document" poll INSIDE their Lambda (tasks/lib/poll.ts:
 * every ~5 s with jitter, up to InLambdaWait.maxSeconds per invocation), then throw
 * SsmAgentNotOnline / JoinStillRunning: the Retry below only starts the next invocation, after
 * 0–2 s (FULL jitter). One invocation + one transition per ~60 s of waiting instead of per poll.
 */
export const SsmOnlinePolling = { intervalSeconds: 2, backoffRate: 1, maxDelaySeconds: 2 } as const;

/**
 * A launch hook's execution that finds another execution joining the instance (the EC2 running
 * event of the same launch) waits for that join and reads the instance again: it then answers
 * its hook (CONTINUE once joined), or joins itself if that join failed.
 */
export const OtherJoinPollSeconds = 20;

/** The join command's Retry on JoinStillRunning: like SsmOnlinePolling (the task enforces the command deadline). */
export const JoinPolling = SsmOnlinePolling;

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

/**
 * With SendCommand paced (settings.pacing, tasks/lib/pace.ts), "Run join document" may wait in
 * the account's line before it sends; its JoinStillRunning retries cover this much more (s):
 * 4,500 joins ahead at 5 per second. A longer line ends the join with JoinStillRunning ("not sent
 * yet"), redrivable; raise pacing.sendCommand (and the account's quota) for larger bursts.
 */
export const SendLineAllowanceSeconds = SEND_LINE_ALLOWANCE_SECONDS;

/**
 * Retries of a state that polls in its Lambda until `deadlineSeconds` have passed: an invocation
 * polls at least maxSeconds − 1.5 × the poll interval (its last pause did not fit).
 */
const inLambdaAttempts = (deadlineSeconds: number, pollIntervalSeconds: number): number =>
  attemptsForDeadline(InLambdaWait.maxSeconds - 1.5 * pollIntervalSeconds, 1, InLambdaWait.maxSeconds, deadlineSeconds);

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

    // One state for both platforms: its retries cover the longer deadline (Windows agents come
    // Online later); the task ends each platform's wait at its own (tasks/lib/ssm-agent.ts).
    const ssmDeadline = Math.max(timings.ssmOnlineDeadlineSeconds, props.settings.windows?.ssmOnlineDeadlineSeconds ?? 0);
    const waitForSsm = invoke(this, 'Wait for SSM Online', fn['check-ssm-agent'], {
      instance,
      redriveCount: sfn.JsonPath.numberAt('$$.Execution.RedriveCount'),
      executionName,
    }, {
      resultPath: '$.ssm',
      retries: [{
        errors: [Errors.SsmAgentNotOnline],
        ...SsmOnlinePolling,
        maxAttempts: inLambdaAttempts(ssmDeadline, InLambdaWait.ssmIntervalSeconds),
        jitter: true,
      }, BurstThrottleRetry],
    });

    const prepare = invoke(this, 'Prepare computer object', fn['prepare-computer-object'],
      { instance, executionName }, { resultPath: '$.computer', retries: [BurstThrottleRetry] });

    // One state per document; each polls its command until its own deadline (after its wait in the SendCommand line).
    const sendLine = (props.settings.pacing?.sendCommand ?? 0) > 0 ? SendLineAllowanceSeconds : 0;
    const runDocument = (name: string, task: 'run-join-document' | 'run-windows-join-document', deadlineSeconds: number) =>
      invoke(this, name, fn[task], {
        instance,
        computer: obj('$.computer'),
        redriveCount: sfn.JsonPath.numberAt('$$.Execution.RedriveCount'),
        executionName,
      }, {
        resultPath: '$.join',
        retries: [{
          errors: [Errors.JoinStillRunning],
          ...JoinPolling,
          maxAttempts: inLambdaAttempts(deadlineSeconds + sendLine, InLambdaWait.commandIntervalSeconds) + 1,
          jitter: true,
        }, BurstThrottleRetry],
      });
    const runJoin = runDocument('Run join document', 'run-join-document', timings.commandDeadlineSeconds);
    // Windows: the join, SSM's reboot (exit 3010) and the second run, under the Windows deadline.
    const windowsDeadline = (props.settings.windows ?? WINDOWS_DEFAULTS).commandDeadlineSeconds;
    const runWindowsJoin = runDocument('Run Windows join document', 'run-windows-join-document', windowsDeadline);

    // Its result is the execution's output: { outcome: 'joined', instanceId, computerName, commandId, tags }.
    const record = invokeReplacing(this, 'Record result', fn['record-result'],
      { instance, computer: obj('$.computer'), join: obj('$.join'), executionName }, [BurstThrottleRetry]);

    catchInto([waitForSsm, prepare, runJoin, runWindowsJoin, record], [Errors.InstanceGone], compensate);

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
    waitForSsm.next(prepare).next(
      new sfn.Choice(this, 'Linux or Windows?')
        .when(state('$.instance.platform', 'windows'), runWindowsJoin)
        .otherwise(runJoin),
    );
    runJoin.next(record);
    runWindowsJoin.next(record);
    record.next(done);

    const longestCommand = Math.max(timings.commandDeadlineSeconds, props.settings.windows ? windowsDeadline : 0);
    this.stateMachine = makeStateMachine(this, props, {
      definition,
      timeout: Duration.seconds(timings.settleSeconds + 2 * ssmDeadline + 2 * longestCommand + 1800),
      comment: 'adjoin: join an EC2 instance to Active Directory',
    });
  }
}
