/**
 * The stacks: AdjoinStack (the directory/orchestrator account: the Adjoin construct) and
 * AdjoinMemberStack (each member account: forward EC2 state changes to the orchestrator's bus,
 * the documents, and a role the orchestrator's task Lambdas assume for EC2/SSM there).
 * createStacks() builds them all from one configuration; app.ts and asl.ts both use it.
 */
import { App, Aws, CfnOutput, Duration, Stack, Tags, Validations, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Adjoin, ec2StatePattern } from './adjoin';
import { resourceNames, type ResolvedConfig } from './config';
import { JoinDocuments } from './documents';
import { deadLetterQueue } from './dead-letter';
import { otpProtection } from './otp';
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
    new events.Rule(this, 'ForwardInstanceStates', {
      ruleName: `${prefix}-forward-instance-states`,
      description: 'adjoin: forward EC2 running/terminated events to the orchestrator account',
      eventPattern: ec2StatePattern(['running', 'terminated']),
      targets: [new targets.EventBus(
        events.EventBus.fromEventBusArn(this, 'OrchestratorBus', `arn:${Aws.PARTITION}:events:${Aws.REGION}:${props.orchestratorAccount}:event-bus/default`),
        { deadLetterQueue: deadLetters },
      )],
    });

    new JoinDocuments(this, 'Documents', {
      joinName: names.joinDocument,
      verifyName: names.verifyDocument,
      commandDeadlineSeconds: config.timings.commandDeadlineSeconds,
    });

    // One role per fleet task, holding only that task's needs, trusted only by that task's role.
    const permissions = permissionContext(config, 'member');
    this.roles = {};
    for (const taskId of fleetTasks()) {
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
      if (needs.includes('tag') || needs.includes('send-join') || needs.includes('send-verify'))
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
      if (acks.length > 0) Validations.of(role).acknowledge(...acks);
      this.roles[taskId] = role;
    }
    otpProtection(this, prefix, fleetTasks().filter((id) => TaskNeeds[id].includes('otp-write')).map((id) => this.roles[id]!));
  }
}

/** Fleet actions without resource-level permissions (their statements use Resource *). */
const NoResourceLevel: Partial<Record<Need, string[]>> = {
  describe: ['ec2:DescribeInstances'],
  'ssm-ping': ['ssm:DescribeInstanceInformation'],
  'command-read': ['ssm:GetCommandInvocation'],
};

/** Builds every stack of the configuration in `app`. */
export function createStacks(app: App, config: ResolvedConfig, options: { members?: boolean } = {}): { orchestrator: AdjoinStack; members: AdjoinMemberStack[] } {
  const env = {
    ...(config.env.account ? { account: config.env.account } : {}),
    ...(config.env.region ? { region: config.env.region } : {}),
  };
  const orchestrator = new AdjoinStack(app, config.resourcePrefix, { config, ...(Object.keys(env).length > 0 ? { env } : {}) });
  Tags.of(orchestrator).add('adjoin:stack', config.resourcePrefix);
  const members = options.members === false ? [] : config.memberAccounts.map((account) => new AdjoinMemberStack(app, `${config.resourcePrefix}-member-${account}`, {
    config,
    orchestratorAccount: config.env.account ?? '',
    env: { account, ...(config.env.region ? { region: config.env.region } : {}) },
  }));
  return { orchestrator, members };
}

/** cdk-nag AwsSolutions on the whole app: any unacknowledged finding stops the synthesis. */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
