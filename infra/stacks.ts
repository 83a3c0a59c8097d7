/**
 * The stacks: AdjoinStack (the directory/orchestrator account: the Adjoin construct) and
 * AdjoinMemberStack (each member account: forward EC2 state changes to the orchestrator's bus,
 * the documents, and a role the orchestrator's task Lambdas assume for EC2/SSM there).
 * createStacks() builds them all from one configuration; app.ts and asl.ts both use it.
 */
import { App, Aws, BootstraplessSynthesizer, CfnCondition, CfnOutput, CfnResource, Duration, Fn, Stack, Tags, Validations, type StackProps } from 'aws-cdk-lib';
import { CfnStackSet } from 'aws-cdk-lib/aws-cloudformation';
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
import { deadLetterQueue } from './dead-letter';
import { acknowledgeFleetRole } from './nag';
import { FleetNeeds, permissionContext, statementsFor, TaskRoleTag } from './permissions';

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
  readonly role: iam.Role | undefined;

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

    new JoinDocuments(this, 'Documents', {
      joinName: names.joinDocument,
      verifyName: names.verifyDocument,
      commandDeadlineSeconds: config.timings.commandDeadlineSeconds,
    });

    const createRole = props.createRole ?? true;
    this.role = undefined;
    if (createRole === false) return;
    this.role = new iam.Role(this, 'OrchestratorRole', {
      roleName: config.memberRoleName,
      description: 'adjoin: assumed by the orchestrator\'s task Lambdas for EC2/SSM in this account',
      assumedBy: new iam.AccountPrincipal(props.orchestratorAccount).withConditions({
        StringEquals: { [`aws:PrincipalTag/${TaskRoleTag.key}`]: TaskRoleTag.value },
      }),
      maxSessionDuration: Duration.hours(1),
    });
    for (const statement of statementsFor(this, FleetNeeds, permissionContext(config, 'member'))) this.role.addToPolicy(statement);
    acknowledgeFleetRole(this.role, prefix);
    const policy = Adjoin.instancePolicy(this, prefix);
    if (typeof createRole === 'object') {
      // StackSet: every Region of an account gets this template; IAM names are account-wide.
      const primary = new CfnCondition(this, 'PrimaryRegion', { expression: Fn.conditionEquals(Aws.REGION, createRole.primaryRegion) });
      for (const c of [this.role, policy, ...this.role.node.findAll().filter((x) => x instanceof iam.Policy)])
        for (const child of c.node.findAll()) if (child instanceof CfnResource) child.cfnOptions.condition = primary;
    }
  }
}

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

/** The StackSet (service-managed) that puts the member stack in every account of the OUs, in every Region. */
function memberStackSet(orchestrator: AdjoinStack, config: ResolvedConfig): CfnStackSet {
  const body = JSON.stringify(memberTemplate(config));
  if (Buffer.byteLength(body) > TEMPLATE_BODY_LIMIT)
    throw new Error(`The member template is ${Buffer.byteLength(body)} bytes, over CloudFormation's ${TEMPLATE_BODY_LIMIT}-byte inline limit: use members.deployment=stacks`);
  return new CfnStackSet(orchestrator, 'MemberStackSet', {
    stackSetName: `${config.resourcePrefix}-member`,
    description: 'adjoin: member accounts (forward events, grant the orchestrator EC2/SSM/Auto Scaling access)',
    permissionModel: 'SERVICE_MANAGED',
    autoDeployment: { enabled: true, retainStacksOnAccountRemoval: false },
    capabilities: ['CAPABILITY_NAMED_IAM'],
    templateBody: body,
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
  Tags.of(orchestrator).add('adjoin:stack', config.resourcePrefix);
  if (config.reach.members.deployment === 'stackset') memberStackSet(orchestrator, config);
  // One stack per member account × Region; the account's first Region holds its role.
  const members = options.members === false ? [] : memberStackTargets(config.reach).map(({ account, region, primary }) => {
    const where = region ?? config.env.region;
    return new AdjoinMemberStack(app, primary ? `${config.resourcePrefix}-member-${account}` : `${config.resourcePrefix}-member-${account}-${region ?? ''}`, {
      config,
      orchestratorAccount: config.env.account ?? '',
      ...(config.env.region ? { orchestratorRegion: config.env.region } : {}),
      createRole: primary,
      env: { account, ...(where ? { region: where } : {}) },
    });
  });
  return { orchestrator, members };
}

/** cdk-nag AwsSolutions on the whole app: any unacknowledged finding stops the synthesis. */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
