/**
 * The stacks: AdjoinStack (the directory/orchestrator account: the Adjoin construct) and
 * AdjoinMemberStack (each member account: forward EC2 state changes to the orchestrator's bus,
 * the documents, and a role the orchestrator's task Lambdas assume for EC2/SSM there).
 * createStacks() builds them all from one configuration; app.ts and asl.ts both use it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Aws, BootstraplessSynthesizer, CfnCondition, CfnOutput, CfnResource, Duration, Fn, Stack, Tags, Validations, type StackProps } from 'aws-cdk-lib';
import { CfnStackSet } from 'aws-cdk-lib/aws-cloudformation';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Adjoin, ec2StatePattern } from './adjoin';
import { resourceNames, type ResolvedConfig } from './config';
import { memberStackTargets } from './config-reach';
import { lifecyclePattern, tagChangePattern } from './entry-rules';
import { JoinDocuments } from './documents';
import { alarmTopic, countAlarm } from './alarms';
import { deadLetterQueue } from './dead-letter';
import { instanceJoinPolicy, otpKey } from './otp';
import { FleetNeeds, fleetTasks, memberRoleNameFor, permissionContext, statementsFor, taskRoleName, TaskNeeds, TaskRoleTag, type Need } from './permissions';
import type { TaskId } from '../tasks/registry';

export interface AdjoinStackProps extends StackProps {
  readonly config: ResolvedConfig;
}

export class AdjoinStack extends Stack {
  readonly adjoin: Adjoin;

  constructor(scope: Construct, id: string, props: AdjoinStackProps) {
    super(scope, id, { description: 'adjoin: automatic Active Directory join and leave for EC2 (orchestrator)', ...props });
    this.adjoin = new Adjoin(this, 'Adjoin', { config: props.config });
    // The CLI (`adjoin executions|show|redrive|join|leave|reconcile`) finds the machines here.
    new CfnOutput(this, 'JoinStateMachineArn', { value: this.adjoin.join.stateMachine.stateMachineArn });
    new CfnOutput(this, 'LeaveStateMachineArn', { value: this.adjoin.leave.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ReconcileStateMachineArn', { value: this.adjoin.reconcile.stateMachine.stateMachineArn });
  }
}

export interface AdjoinMemberStackProps extends StackProps {
  readonly config: ResolvedConfig;
  /** The account that runs the state machines (config env.account). */
  readonly orchestratorAccount: string;
  /** The orchestrator's Region (config env.region): events from any Region go to its bus there. Default: this stack's Region. */
  readonly orchestratorRegion?: string;
  /**
   * The role is account-wide (IAM): made once per account. true: here (default); false: not here
   * (another Region's stack has it); { primaryRegion }: only where AWS::Region is that (StackSet).
   */
  readonly createRole?: boolean | { primaryRegion: string };
}

/** What a member account needs: the event forwarder, the documents, and the role to assume. */
export class AdjoinMemberStack extends Stack {
  /** The role of each fleet task in this account (infra/permissions.ts memberRoleNameFor). */
  readonly roles: Partial<Record<TaskId, iam.Role>>;

  constructor(scope: Construct, id: string, props: AdjoinMemberStackProps) {
    super(scope, id, { description: 'adjoin: member account (forwards EC2 events, grants the orchestrator EC2/SSM access)', ...props });
    const config = props.config;
    const prefix = config.resourcePrefix;
    const names = resourceNames(prefix);

    const deadLetters = deadLetterQueue(this, `${prefix}-forward-dead-letters`, 'the forwarding rule target');
    const orchestratorRegion = props.orchestratorRegion !== undefined && props.orchestratorRegion !== props.env?.region ? props.orchestratorRegion : Aws.REGION;
    const bus = events.EventBus.fromEventBusArn(this, 'OrchestratorBus', `arn:${Aws.PARTITION}:events:${orchestratorRegion}:${props.orchestratorAccount}:event-bus/default`);
    new events.Rule(this, 'ForwardInstanceStates', {
      ruleName: `${prefix}-forward-instance-states`,
      description: 'adjoin: forward EC2 running/terminated events to the orchestrator account',
      eventPattern: ec2StatePattern(['running', 'terminated']),
      targets: [new targets.EventBus(bus, { deadLetterQueue: deadLetters })],
    });
    // Tag changes and lifecycle actions, when those entry points are on (infra/entry-rules.ts).
    const forward = (id: string, description: string, eventPattern: events.EventPattern) =>
      new events.Rule(this, id, { ruleName: `${prefix}-${id.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).slice(1)}`, description, eventPattern, targets: [new targets.EventBus(bus, { deadLetterQueue: deadLetters })] });
    if (config.reach.tagChange.enabled) forward('ForwardTagChanges', 'adjoin: forward opt-in/opt-out tag changes to the orchestrator account', tagChangePattern(config.tags));
    if (config.reach.lifecycle.enabled) {
      forward('ForwardLifecycleLaunch', 'adjoin: forward our launch lifecycle actions to the orchestrator account', lifecyclePattern('launch', prefix));
      forward('ForwardLifecycleTerminate', 'adjoin: forward our terminate lifecycle actions to the orchestrator account', lifecyclePattern('terminate', prefix));
    }

    // Events this account could not forward wait in its dead-letter queue: alarm here (own topic, or alarms.topicArn).
    countAlarm(this, prefix, 'forward-dead-letters', deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      'adjoin member: EventBridge could not forward an EC2 event to the orchestrator; it waits in the forward dead-letter queue.',
      alarmTopic(this, `${prefix}-member-alarms`, config.alarms));

    new JoinDocuments(this, 'Documents', {
      joinName: names.joinDocument,
      verifyName: names.verifyDocument,
      ...(config.windows.enabled ? { windowsJoinName: names.windowsJoinDocument, windowsDeadlineSeconds: config.windows.commandDeadlineSeconds } : {}),
      commandDeadlineSeconds: config.timings.commandDeadlineSeconds,
    });

    // One role per fleet task, holding only that task's needs, trusted only by that task's role.
    // IAM is account-wide: the roles are made once per account (createRole, see the props).
    const createRole = props.createRole ?? true;
    const permissions = permissionContext(config, 'member');
    const anyRegion = permissions.anyRegion === true;
    this.roles = {};
    for (const taskId of createRole === false ? [] : fleetTasks()) {
      const taskRoleArn = `arn:${Aws.PARTITION}:iam::${props.orchestratorAccount}:role/${taskRoleName(prefix, taskId)}`;
      const role = new iam.Role(this, `${taskId}-role`, {
        roleName: memberRoleNameFor(config.memberRoleName, taskId),
        description: `adjoin: assumed only by the orchestrator's ${taskId} task, for what it needs in this account`,
        // aws:PrincipalArn rather than the role ARN as principal: IAM would refuse a trust policy
        // naming a role that does not exist yet (the orchestrator may be deployed after this stack).
        assumedBy: new iam.AccountPrincipal(props.orchestratorAccount).withConditions({
          StringEquals: { 'aws:PrincipalArn': taskRoleArn, [`aws:PrincipalTag/${TaskRoleTag.key}`]: TaskRoleTag.value },
        }),
        maxSessionDuration: Duration.hours(1),
      });
      const needs = TaskNeeds[taskId].filter((n) => FleetNeeds.includes(n));
      for (const statement of statementsFor(this, needs, permissions)) role.addToPolicy(statement);
      const unscoped = needs.flatMap((n) => NoResourceLevel[n] ?? []);
      const acks = [];
      if (unscoped.length > 0)
        acks.push({ id: 'AwsSolutions-IAM5[Resource::*]', reason: `${unscoped.join(', ')}: these actions have no resource-level permissions.` });
      if (needs.includes('tag') || needs.includes('send-join') || needs.includes('send-verify') || (needs.includes('send-join-windows') && permissions.windowsJoinDocument))
        acks.push({
          id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]',
          reason: 'Any instance of this account, but CreateTags only with keys carrying the status prefix (aws:TagKeys) and SendCommand only with our documents' +
            (config.tags.restrictCommandsToOptedIn ? ', only to instances carrying the opt-in tag (ssm:resourceTag).' : '.'),
        });
      if (needs.includes('otp-write') || needs.includes('otp-delete'))
        acks.push({
          id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${prefix}/otp/*]`,
          reason: `One-time passwords are one parameter per instance under this prefix; this task ${needs.includes('otp-write') ? 'writes them and tags them with their instance ARN only (aws:TagKeys)' : 'deletes them'}.`,
        });
      if (needs.includes('lifecycle') && permissions.lifecycle)
        acks.push({
          id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:${anyRegion ? '*' : '<AWS::Region>'}:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/*]`,
          reason: 'Lifecycle answers only for groups carrying the adjoin:lifecycle tag (autoscaling:ResourceTag condition); the group ID part of the ARN is not known in advance.',
        });
      // Fleets in many Regions (issue 13): the same resources in every Region (same conditions).
      if (anyRegion) {
        for (const a of acks) a.id = a.id.replace(/:(ec2|ssm):<AWS::Region>:/, ':$1:*:');
        const documents = [...(needs.includes('send-join') ? [permissions.joinDocument] : []), ...(needs.includes('send-verify') ? [permissions.verifyDocument] : []),
          ...(needs.includes('send-join-windows') && permissions.windowsJoinDocument ? [permissions.windowsJoinDocument] : [])];
        for (const d of documents)
          acks.push({ id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:document/${d}]`, reason: 'Our own SSM document, deployed under the same name in every Region the fleet spans.' });
        if (needs.includes('otp-list'))
          acks.push({ id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:parameter/${prefix}/otp]`, reason: 'The reconcile lists (GetParametersByPath, names and dates, never decrypted) the one-time-password path itself, in every Region the fleet spans.' });
      }
      if (acks.length > 0) Validations.of(role).acknowledge(...acks);
      this.roles[taskId] = role;
    }
    // The one-time passwords: a KMS key in every Region (keys are regional), the instance-join
    // policy once per account (IAM). Where the roles are not made here, the key names the writers
    // by their fixed ARN; a StackSet template always does (its roles are conditional).
    const writers = fleetTasks().filter((id) => TaskNeeds[id].includes('otp-write')).map((id) =>
      typeof createRole === 'object' || this.roles[id] === undefined ? iam.Role.fromRoleName(this, `${id}-writer`, memberRoleNameFor(config.memberRoleName, id)) : this.roles[id]);
    const key = otpKey(this, prefix, writers);
    if (createRole === false) return;
    const policy = instanceJoinPolicy(this, prefix, key, { anyRegion });
    if (typeof createRole === 'object') {
      // StackSet: every Region of an account gets this template; IAM names are account-wide.
      const primary = new CfnCondition(this, 'PrimaryRegion', { expression: Fn.conditionEquals(Aws.REGION, createRole.primaryRegion) });
      for (const c of [...Object.values(this.roles), policy])
        for (const child of c.node.findAll()) if (child instanceof CfnResource) child.cfnOptions.condition = primary;
    }
  }
}

/** Fleet actions without resource-level permissions (their statements use Resource *). */
const NoResourceLevel: Partial<Record<Need, string[]>> = {
  describe: ['ec2:DescribeInstances'],
  'ssm-ping': ['ssm:DescribeInstanceInformation'],
  'command-read': ['ssm:GetCommandInvocation'],
  'lifecycle-read': ['autoscaling:DescribeAutoScalingInstances'],
};

/** The member stack's template, for a StackSet: synthesized in an app of its own, no bootstrap needed. */
export function memberTemplate(config: ResolvedConfig): Record<string, unknown> {
  const app = new App({ analyticsReporting: false });
  const stack = new AdjoinMemberStack(app, `${config.resourcePrefix}-member`, {
    config,
    orchestratorAccount: config.env.account ?? '',
    ...(config.env.region ? { orchestratorRegion: config.env.region } : {}),
    createRole: { primaryRegion: config.env.region ?? config.reach.members.regions[0] ?? 'us-east-1' },
    synthesizer: new BootstraplessSynthesizer(),
  });
  return app.synth().getStackByName(stack.stackName).template as Record<string, unknown>;
}

/** CloudFormation's limit on an inline template body (bytes). */
export const TEMPLATE_BODY_LIMIT = 51_200;

/**
 * The StackSet (service-managed) that puts the member stack in every account of the OUs, in every
 * Region. A template over the inline limit (per-task roles, the join document) goes as a file
 * asset (TemplateURL, the bootstrap bucket of the orchestrator account).
 */
function memberStackSet(orchestrator: AdjoinStack, config: ResolvedConfig): CfnStackSet {
  const body = JSON.stringify(memberTemplate(config));
  let template: { templateBody: string } | { templateUrl: string } = { templateBody: body };
  if (Buffer.byteLength(body) > TEMPLATE_BODY_LIMIT) {
    const outdir = (orchestrator.node.root as App).outdir;
    const file = path.join(outdir, `${config.resourcePrefix}-member.stackset.template.json`);
    fs.writeFileSync(file, body);
    template = { templateUrl: new s3assets.Asset(orchestrator, 'MemberTemplate', { path: file }).httpUrl };
  }
  return new CfnStackSet(orchestrator, 'MemberStackSet', {
    stackSetName: `${config.resourcePrefix}-member`,
    description: 'adjoin: member accounts (forward events, grant the orchestrator EC2/SSM/Auto Scaling access)',
    permissionModel: 'SERVICE_MANAGED',
    autoDeployment: { enabled: true, retainStacksOnAccountRemoval: false },
    capabilities: ['CAPABILITY_NAMED_IAM'],
    ...template,
    operationPreferences: { regionConcurrencyType: 'PARALLEL', maxConcurrentPercentage: 25, failureTolerancePercentage: 0 },
    stackInstancesGroup: [{ deploymentTargets: { organizationalUnitIds: config.reach.members.organizationalUnitIds }, regions: config.reach.members.regions }],
  });
}

/** Builds every stack of the configuration in `app`. */
export function createStacks(app: App, config: ResolvedConfig, options: { members?: boolean } = {}): { orchestrator: AdjoinStack; members: AdjoinMemberStack[] } {
  const env = {
    ...(config.env.account ? { account: config.env.account } : {}),
    ...(config.env.region ? { region: config.env.region } : {}),
  };
  const orchestrator = new AdjoinStack(app, config.resourcePrefix, { config, ...(Object.keys(env).length > 0 ? { env } : {}) });
  // Not on the dashboard: AWS::CloudWatch::Dashboard has no Tags property in its CloudFormation schema (cfn-lint E3002).
  Tags.of(orchestrator).add('adjoin:stack', config.resourcePrefix, { excludeResourceTypes: ['AWS::CloudWatch::Dashboard'] });
  if (config.reach.members.deployment === 'stackset') memberStackSet(orchestrator, config);
  // One stack per member account × Region; the account's first Region holds its role.
  // The other Regions' OTP keys name the primary stack's roles: that stack goes first.
  const primaries = new Map<string, AdjoinMemberStack>();
  const members = options.members === false ? [] : memberStackTargets(config.reach).map(({ account, region, primary }) => {
    const where = region ?? config.env.region;
    const stack = new AdjoinMemberStack(app, primary ? `${config.resourcePrefix}-member-${account}` : `${config.resourcePrefix}-member-${account}-${region ?? ''}`, {
      config,
      orchestratorAccount: config.env.account ?? '',
      ...(config.env.region ? { orchestratorRegion: config.env.region } : {}),
      createRole: primary,
      env: { account, ...(where ? { region: where } : {}) },
    });
    const first = primaries.get(account);
    if (primary) primaries.set(account, stack);
    else if (first) stack.addStackDependency(first, 'its OTP key names the member roles made in the primary Region');
    return stack;
  });
  return { orchestrator, members };
}

/** cdk-nag AwsSolutions on the whole app: any unacknowledged finding stops the synthesis. */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
