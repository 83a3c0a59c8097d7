/**
 * Entry points beyond "running → join, terminated → leave" (issue 13), in the orchestrator:
 *
 *   tag change   "Tag Change on Resource" for EC2 instances, only when the opt-in or the opt-out
 *                key changed to its value (the PATTERN filters: other keys, our own status tags,
 *                deleted keys and other values start no execution) → join; with
 *                tags.leaveOnOptOut the opt-out (exact value) → leave, by a rule of its own
 *   lifecycle    "EC2 Instance-launch Lifecycle Action" of our hook → join;
 *                "EC2 Instance-terminate Lifecycle Action" of our hook → leave;
 *                hooks adjoin creates for named groups (lifecycle.autoScalingGroups), or that a
 *                user adds with `adjoin.attachTo(asg)`
 *   members      the orchestrator bus admits member accounts (or the organization) from any Region
 *   directories  the CA bundle parameter of each directory after the first (the first keeps
 *                the one-directory parameter)
 *
 * Patterns are plain data (tagChangePattern, lifecyclePattern) so tests evaluate them against
 * sample events (test/infra/event-pattern.ts).
 */
import { Aws, Duration, Stack, Tags } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as events from 'aws-cdk-lib/aws-events';
import type * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DetailTypes, Sources } from '../tasks/lib/entry';
import { caParameterOf, type ResolvedConfig } from './config';

/** Tag attachTo puts on a group: the lifecycle IAM statements admit groups carrying it. */
export const LifecycleGroupTag = 'adjoin:lifecycle';

/** The names of the hooks adjoin creates or attaches (the lifecycle rules match only these). */
export const hookNames = (prefix: string) => ({ launch: `${prefix}-join`, terminate: `${prefix}-leave` });

const ignoreCase = (value: string) => [{ 'equals-ignore-case': value }];

/**
 * Tag changes worth an execution: the opt-in key set to the opt-in value, or the opt-out key set
 * to the opt-out value (as tasks/lib/tags.ts compares them: opt-in exactly, opt-out in any case).
 */
export function tagChangePattern(tags: Pick<ResolvedConfig['tags'], 'optIn' | 'optOut'>, which: 'both' | 'optIn' | 'optOut' = 'both'): events.EventPattern {
  // Opt-in exactly (tasks/lib/tags.ts: as the IAM StringEquals on ssm:SendCommand); opt-out in any
  // case for the join machine (it records it), EXACTLY for the leave (safety rule 6b compares so).
  const branch = (t: { key: string; value: string }, exact: boolean) => ({ 'changed-tag-keys': [t.key], tags: { [t.key]: exact ? [t.value] : ignoreCase(t.value) } });
  const only = (b: Record<string, unknown>) => ({ source: [Sources.tag], detailType: [DetailTypes.tagChange], detail: { service: ['ec2'], 'resource-type': ['instance'], ...b } });
  if (which === 'optIn') return only(branch(tags.optIn, true));
  if (which === 'optOut') return only(branch(tags.optOut, true));
  return only({ $or: [branch(tags.optIn, true), branch(tags.optOut, false)] });
}

/** Lifecycle actions of our hook only (other hooks on the same group are not ours to answer). */
export function lifecyclePattern(transition: 'launch' | 'terminate', prefix: string): events.EventPattern {
  return {
    source: [Sources.autoscaling],
    detailType: [transition === 'launch' ? DetailTypes.lifecycleLaunch : DetailTypes.lifecycleTerminate],
    detail: { LifecycleHookName: [hookNames(prefix)[transition]] },
  };
}

export interface EntryRulesProps {
  readonly config: ResolvedConfig;
  readonly join: sfn.IStateMachine;
  readonly leave: sfn.IStateMachine;
  /** The same target options as the running/terminated rules (dead letters, retries). */
  readonly target: (machine: sfn.IStateMachine) => targets.SfnStateMachine;
}

export interface AttachOptions {
  /** Seconds before the hook's default result (default lifecycle.heartbeatSeconds). */
  readonly heartbeatTimeout?: Duration;
  /** What a launch that nobody answers does (default: lifecycle.onJoinFailure). */
  readonly launchDefaultResult?: autoscaling.DefaultResult;
}

export class EntryRules extends Construct {
  private readonly config: ResolvedConfig;

  constructor(scope: Construct, id: string, props: EntryRulesProps) {
    super(scope, id);
    const config = (this.config = props.config);
    const prefix = config.resourcePrefix;
    const reach = config.reach;

    if (reach.tagChange.enabled) {
      // With tags.leaveOnOptOut the opt-out goes to the leave machine (its own rule below).
      const leaveOnOptOut = reach.tagChange.leaveOnOptOut;
      new events.Rule(this, 'TagChange', {
        ruleName: `${prefix}-tag-change`,
        description: leaveOnOptOut
          ? 'adjoin: the opt-in tag of an EC2 instance was set: join it'
          : 'adjoin: the opt-in (or opt-out) tag of an EC2 instance was set: join it (or record the opt-out)',
        eventPattern: tagChangePattern(config.tags, leaveOnOptOut ? 'optIn' : 'both'),
        targets: [props.target(props.join)],
      });
    }
    if (reach.tagChange.leaveOnOptOut) {
      new events.Rule(this, 'TagOptOut', {
        ruleName: `${prefix}-tag-opt-out`,
        description: 'adjoin: the opt-out tag of an EC2 instance was set (tags.leaveOnOptOut): delete its computer object, the instance keeps running',
        eventPattern: tagChangePattern(config.tags, 'optOut'),
        targets: [props.target(props.leave)],
      });
    }
    if (reach.lifecycle.enabled) {
      new events.Rule(this, 'LifecycleLaunch', {
        ruleName: `${prefix}-lifecycle-launch`,
        description: 'adjoin: an Auto Scaling group launches an instance through our hook: join it, then CONTINUE (or the configured result)',
        eventPattern: lifecyclePattern('launch', prefix),
        targets: [props.target(props.join)],
      });
      new events.Rule(this, 'LifecycleTerminate', {
        ruleName: `${prefix}-lifecycle-terminate`,
        description: 'adjoin: an Auto Scaling group terminates an instance through our hook: leave, then CONTINUE',
        eventPattern: lifecyclePattern('terminate', prefix),
        targets: [props.target(props.leave)],
      });
      reach.lifecycle.autoScalingGroups.forEach((group, i) => this.hooksFor(`Group${i}`, group));
    }

    for (const { name, directory } of reach.directories.slice(1)) {
      const parameterName = caParameterOf(config, name);
      if (!parameterName || !directory.caPem) continue;
      new ssm.StringParameter(this, `CaBundle-${name}`, {
        parameterName,
        description: `adjoin: PEM of the CA that issued the LDAPS certificates of directory ${name}`,
        stringValue: directory.caPem,
        tier: Buffer.byteLength(directory.caPem) > 4096 ? ssm.ParameterTier.ADVANCED : ssm.ParameterTier.STANDARD,
      });
    }

    // The organization's accounts (StackSet members) may put events on our bus, from any Region.
    if (reach.members.deployment === 'stackset' && reach.members.organizationId) {
      new events.CfnEventBusPolicy(this, 'Organization', {
        eventBusName: 'default',
        statementId: `${prefix}-organization`,
        statement: new iam.PolicyStatement({
          principals: [new iam.AnyPrincipal()],
          actions: ['events:PutEvents'],
          resources: [`arn:${Aws.PARTITION}:events:${Aws.REGION}:${Aws.ACCOUNT_ID}:event-bus/default`],
          conditions: { StringEquals: { 'aws:PrincipalOrgID': reach.members.organizationId } },
        }).toStatementJson() as Record<string, unknown>,
      });
    }
  }

  /** CfnLifecycleHooks (launch + terminate) on a group adjoin does not own, by name. */
  private hooksFor(id: string, group: string): void {
    const names = hookNames(this.config.resourcePrefix);
    const lifecycle = this.config.reach.lifecycle;
    new autoscaling.CfnLifecycleHook(this, `${id}Launch`, {
      autoScalingGroupName: group,
      lifecycleHookName: names.launch,
      lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      heartbeatTimeout: lifecycle.heartbeatSeconds,
      defaultResult: lifecycle.onJoinFailure,
    });
    new autoscaling.CfnLifecycleHook(this, `${id}Terminate`, {
      autoScalingGroupName: group,
      lifecycleHookName: names.terminate,
      lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      heartbeatTimeout: lifecycle.heartbeatSeconds,
      // A leave that nobody answers must not keep the instance: termination goes on.
      defaultResult: 'CONTINUE',
    });
  }

  /**
   * Adds our launch and terminate hooks to a user's Auto Scaling group (no notification target:
   * the hooks' events reach EventBridge by themselves). The launch hook's default result is the
   * configured lifecycle.onJoinFailure; the terminate hook's is CONTINUE.
   */
  attachTo(asg: autoscaling.IAutoScalingGroup, options: AttachOptions = {}): void {
    if (!this.config.reach.lifecycle.enabled)
      throw new Error('adjoin.attachTo: set lifecycle.enabled=true in the configuration first (without the lifecycle rules nobody answers the hooks)');
    Tags.of(asg).add(LifecycleGroupTag, this.config.resourcePrefix);
    const names = hookNames(this.config.resourcePrefix);
    const lifecycle = this.config.reach.lifecycle;
    const heartbeatTimeout = options.heartbeatTimeout ?? Duration.seconds(lifecycle.heartbeatSeconds);
    const id = Stack.of(asg) === Stack.of(this) ? asg.node.id : `${Stack.of(asg).stackName}-${asg.node.id}`;
    asg.addLifecycleHook(`${id}AdjoinJoin`, {
      lifecycleHookName: names.launch,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_LAUNCHING,
      heartbeatTimeout,
      defaultResult: options.launchDefaultResult ?? (lifecycle.onJoinFailure === 'CONTINUE' ? autoscaling.DefaultResult.CONTINUE : autoscaling.DefaultResult.ABANDON),
    });
    asg.addLifecycleHook(`${id}AdjoinLeave`, {
      lifecycleHookName: names.terminate,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
      heartbeatTimeout,
      defaultResult: autoscaling.DefaultResult.CONTINUE,
    });
  }
}
