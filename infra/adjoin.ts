/**
 * `Adjoin`: everything adjoin deploys in the directory (orchestrator) account, as one Construct
 * a user can add to their own CDK app. AdjoinStack (infra/stacks.ts) is just a Stack holding it.
 *
 *   CA bundle parameter · SSM documents · join-claims table · one Lambda per task · join /
 *   join-cleanup / leave / reconcile state machines · EventBridge rules (running → join, join
 *   ended badly → join-cleanup, terminated → leave, schedule → reconcile) with retries and an
 *   encrypted dead-letter queue · alarms to an encrypted topic ·
 *   an instance policy (read the one-time password) · event-bus access for member accounts.
 */
import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { Settings } from '../tasks/lib/settings';
import { SSM_WAIT_INDEX } from '../tasks/lib/ssm-board';
import type { TaskFunctions, Workflow, WorkflowProps } from '../workflows/common';
import { JoinWorkflow } from '../workflows/join';
import { JoinCleanupWorkflow } from '../workflows/join-cleanup';
import { LeaveWorkflow } from '../workflows/leave';
import { ReconcileWorkflow } from '../workflows/reconcile';
import { resourceNames, toSettings, type ResolvedConfig } from './config';
import { alarmTopic, countAlarm } from './alarms';
import { AdjoinDashboard } from './dashboard';
import { deadLetterQueue } from './dead-letter';
import { EntryRules, type AttachOptions } from './entry-rules';
import { JoinDocuments } from './documents';
import { acknowledgeStateMachineRole } from './nag';
import { TaskFunctionSet } from './functions';
import { otpProtection } from './otp';
import { permissionContext, TaskNeeds } from './permissions';
import { TaskIds } from '../tasks/registry';

export interface AdjoinProps {
  /** The validated configuration (resolveConfig / loadConfigFile / configFromContext). */
  readonly config: ResolvedConfig;
}

/** EC2 state-change events, for the given states. */
export const ec2StatePattern = (states: string[]): events.EventPattern => ({
  source: ['aws.ec2'],
  detailType: ['EC2 Instance State-change Notification'],
  detail: { state: states },
});

export class Adjoin extends Construct {
  readonly settings: Settings;
  readonly functions: TaskFunctions;
  readonly join: Workflow;
  readonly joinCleanup: Workflow;
  /** One item per instance: which execution joins it, how far it got (tasks/lib/claims.ts). */
  readonly claimsTable: dynamodb.TableV2;
  readonly leave: Workflow;
  readonly reconcile: Workflow;
  readonly deadLetterQueue: sqs.Queue;
  readonly alarmTopic: sns.ITopic;
  /** Attach to the instance profiles of joining instances: reads its one-time password parameter. */
  readonly instancePolicy: iam.ManagedPolicy;
  /** Tag-change and lifecycle rules, hooks on named groups, extra CA parameters (infra/entry-rules.ts). */
  readonly entryRules: EntryRules;

  constructor(scope: Construct, id: string, props: AdjoinProps) {
    super(scope, id);
    const config = props.config;
    const prefix = config.resourcePrefix;
    const names = resourceNames(prefix);
    // The join claims: state, so retained (RETAIN_ON_UPDATE_OR_DELETE, as every retained resource here)
    // with a generated name (a retained table never blocks a redeploy). On-demand, point-in-time recovery, TTL on `ttl`, AWS-owned encryption at rest.
    this.claimsTable = new dynamodb.TableV2(this, 'JoinClaims', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'ttl',
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      // The SSM Online board (tasks/lib/ssm-board.ts): sparse (only claims waiting for an SSM agent carry ssmWait), keys only.
      globalSecondaryIndexes: [
        {
          indexName: SSM_WAIT_INDEX,
          partitionKey: { name: 'ssmWait', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'ssmWaitAt', type: dynamodb.AttributeType.NUMBER },
          projectionType: dynamodb.ProjectionType.KEYS_ONLY,
        },
      ],
    });
    this.settings = toSettings(config);

    // ---- what the tasks read: the CA bundle, the documents ----
    if (config.directory.caPem) {
      new ssm.StringParameter(this, 'CaBundle', {
        parameterName: names.caParameter,
        description: 'adjoin: PEM of the CA that issued the domain controllers\' LDAPS certificates',
        stringValue: config.directory.caPem,
        tier: Buffer.byteLength(config.directory.caPem) > 4096 ? ssm.ParameterTier.ADVANCED : ssm.ParameterTier.STANDARD,
      });
    }
    new JoinDocuments(this, 'Documents', {
      joinName: names.joinDocument,
      verifyName: names.verifyDocument,
      ...(config.windows.enabled ? { windowsJoinName: names.windowsJoinDocument, windowsDeadlineSeconds: config.windows.commandDeadlineSeconds } : {}),
      commandDeadlineSeconds: config.timings.commandDeadlineSeconds,
    });

    // ---- the task Lambdas ----
    const permissions = permissionContext(config, 'orchestrator');
    const tasks = new TaskFunctionSet(this, 'Tasks', {
      resourcePrefix: prefix,
      settings: this.settings,
      network: config.network,
      logRetentionDays: config.logRetentionDays,
      permissions: { ...permissions, claimsTableArn: this.claimsTable.tableArn },
      lambda: config.lambda,
      // The table's generated name (a token) cannot sit inside ADJOIN_SETTINGS' JSON: its own variable.
      environment: { ADJOIN_CLAIMS_TABLE: this.claimsTable.tableName },
    });
    this.functions = tasks.functions;

    // ---- the state machines ----
    const workflowProps = (workflow: 'join' | 'join-cleanup' | 'leave' | 'reconcile'): WorkflowProps => ({
      functions: this.functions,
      settings: this.settings,
      stateMachineName: names.stateMachine(workflow),
      // Generated name (see functions.ts): Step Functions logs to any group; the /aws/vendedlogs/
      // prefix only keeps a CloudWatch Logs resource policy small, and the state machine role's
      // own policy grants the delivery here.
      logGroup: new logs.LogGroup(this, `${workflow}-logs`, {
        retention: config.logRetentionDays as logs.RetentionDays,
        removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      }),
    });
    this.join = new JoinWorkflow(this, 'Join', workflowProps('join'));
    this.joinCleanup = new JoinCleanupWorkflow(this, 'JoinCleanup', workflowProps('join-cleanup'));
    this.leave = new LeaveWorkflow(this, 'Leave', workflowProps('leave'));
    this.reconcile = new ReconcileWorkflow(this, 'Reconcile', workflowProps('reconcile'));
    for (const workflow of [this.join, this.joinCleanup, this.leave, this.reconcile]) acknowledgeStateMachineRole(workflow.stateMachine, this.functions);

    // ---- alarms: encrypted topic (or the user's), failed executions, dead letters ----
    this.alarmTopic = alarmTopic(this, `${prefix}-alarms`, config.alarms);
    this.deadLetterQueue = deadLetterQueue(this, `${prefix}-dead-letters`, 'the EventBridge rule and schedule targets');

    const alarm = (cid: string, metric: cloudwatch.IMetric, description: string): void =>
      void countAlarm(this, prefix, cid, metric, description, this.alarmTopic);
    const machines: [string, sfn.StateMachine][] = [
      ['join', this.join.stateMachine],
      ['join-cleanup', this.joinCleanup.stateMachine],
      ['leave', this.leave.stateMachine],
      ['reconcile', this.reconcile.stateMachine],
    ];
    for (const [name, machine] of machines) {
      alarm(`${name}-failed`, machine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
        `adjoin ${name}: an execution failed. List it with \`adjoin executions --workflow ${name} --status FAILED\`, read it with \`adjoin show <name>\` (or in the console), fix the cause, then \`adjoin redrive <name>\`.`);
      alarm(`${name}-timed-out`, machine.metricTimedOut({ period: Duration.minutes(5), statistic: 'Sum' }),
        `adjoin ${name}: an execution timed out. List it with \`adjoin executions --workflow ${name} --status TIMED_OUT\`, read it with \`adjoin show <name>\`, then \`adjoin redrive <name>\`.`);
    }
    alarm('dead-letters', this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      'adjoin: EventBridge could not start an execution; the event waits in the dead-letter queue.');
    new AdjoinDashboard(this, 'Dashboard', { dashboardName: prefix, join: this.join.stateMachine, leave: this.leave.stateMachine, reconcile: this.reconcile.stateMachine, deadLetterQueues: [this.deadLetterQueue] });

    // ---- events: running → join, terminated → leave, schedule → reconcile ----
    const target = (machine: sfn.IStateMachine, input?: events.RuleTargetInput) =>
      new targets.SfnStateMachine(machine, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 20,
        maxEventAge: Duration.hours(6),
        ...(input ? { input } : {}),
      });
    new events.Rule(this, 'InstanceRunning', {
      ruleName: `${prefix}-instance-running`,
      description: 'adjoin: an EC2 instance is running: join it (the join reads the opt-in tag)',
      eventPattern: ec2StatePattern(['running']),
      targets: [target(this.join.stateMachine)],
    });
    // Every end of a join is clean: a join that failed, timed out or was aborted is cleaned up.
    new events.Rule(this, 'JoinEndedBadly', {
      ruleName: names.joinCleanupRule,
      description: 'adjoin: a join execution failed, timed out or was aborted: revoke its one-time password, mark its claim failed',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [this.join.stateMachine.stateMachineArn] },
      },
      targets: [target(this.joinCleanup.stateMachine, events.RuleTargetInput.fromEventPath('$.detail'))],
    });
    new events.Rule(this, 'InstanceTerminated', {
      ruleName: `${prefix}-instance-terminated`,
      description: 'adjoin: an EC2 instance is terminated: delete its computer objects',
      eventPattern: ec2StatePattern(['terminated']),
      targets: [target(this.leave.stateMachine)],
    });
    if (config.reconcile.enabled) {
      // EventBridge Scheduler: the schedule's own retries and dead letters, like the rules above.
      new scheduler.Schedule(this, 'ReconcileSchedule', {
        scheduleName: `${prefix}-reconcile`,
        description: 'adjoin: find and delete stale computer objects (guarded, capped)',
        schedule: scheduler.ScheduleExpression.expression(config.reconcile.schedule),
        target: new schedulerTargets.StepFunctionsStartExecution(this.reconcile.stateMachine, {
          input: scheduler.ScheduleTargetInput.fromObject({}),
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 20,
          maxEventAge: Duration.hours(6),
        }),
      });
    }

    this.entryRules = new EntryRules(this, 'Entry', { config, join: this.join.stateMachine, leave: this.leave.stateMachine, target });

    // Member accounts forward their EC2 events to this account's default bus (from any Region).
    [...new Set([...config.memberAccounts, ...config.reach.members.targets.map((t) => t.account)])].filter((a) => a !== config.env.account).forEach((account) => {
      new events.CfnEventBusPolicy(this, `Member${account}`, {
        eventBusName: 'default',
        statementId: `${prefix}-member-${account}`,
        statement: new iam.PolicyStatement({
          principals: [new iam.AccountPrincipal(account)],
          actions: ['events:PutEvents'],
          resources: [`arn:${Aws.PARTITION}:events:${Aws.REGION}:${Aws.ACCOUNT_ID}:event-bus/default`],
        }).toStatementJson() as Record<string, unknown>,
      });
    });

    // The one-time passwords: a KMS key of their own, and the policy that lets an instance read only its own.
    const writers = TaskIds.filter((id) => TaskNeeds[id].includes('otp-write')).map((id) => tasks.roles[id]);
    this.instancePolicy = otpProtection(this, prefix, writers, { anyRegion: permissions.anyRegion === true }).instancePolicy;
  }

  /** Adds adjoin's launch and terminate lifecycle hooks to an Auto Scaling group (lifecycle.enabled must be on). */
  attachTo(asg: autoscaling.IAutoScalingGroup, options?: AttachOptions): void {
    this.entryRules.attachTo(asg, options);
  }
}
