/**
 * The cdk-nag acknowledgements shared by more than one resource (the task roles and the member
 * accounts' role; the state machine roles), with their reasons. An acknowledgement about a single
 * resource sits next to it (the dead-letter queue in infra/dead-letter.ts, the instance policy,
 * the Lambda runtime).
 */
import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import type { TaskFunctions } from '../workflows/common';

/** How cdk-nag writes `Fn::GetAtt [logicalId, Arn]` in a finding. */
export function nagArnOf(construct: IConstruct): string {
  const cfn = construct.node.defaultChild as CfnElement | undefined;
  if (!cfn) throw new Error(`nagArnOf: ${construct.node.path} has no CloudFormation resource`);
  return `<${Stack.of(construct).getLogicalId(cfn)}.Arn>`;
}

/**
 * A state machine role may invoke our task functions and their versions (`<fn arn>:*`, added
 * by CDK's LambdaInvoke), and uses `*` for X-Ray and CloudWatch Logs delivery.
 */
export function acknowledgeStateMachineRole(scope: IConstruct, functions: TaskFunctions): void {
  const fns: lambda.IFunction[] = Object.values(functions);
  Validations.of(scope).acknowledge(
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray (PutTraceSegments, GetSamplingRules) and CloudWatch Logs delivery (CreateLogDelivery, ...) do not support resource-level permissions.',
    },
    ...fns.map((fn) => ({
      id: `AwsSolutions-IAM5[Resource::${nagArnOf(fn)}:*]`,
      reason: 'CDK grants lambda:InvokeFunction on the task function and its versions/aliases (ARN:*); only our own task functions.',
    })),
  );
}

/**
 * A role holding fleet permissions (infra/permissions.ts statementsFor): a task role, or a member
 * account's role the tasks assume. `*` only where the action has no resource-level permissions;
 * instance ARNs only under conditions; one-time passwords only under the prefix.
 */
export function acknowledgeFleetRole(role: IConstruct, resourcePrefix: string): void {
  Validations.of(role).acknowledge(
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ec2:DescribeInstances, ssm:DescribeInstanceInformation, ssm:GetCommandInvocation, ds:DescribeDirectories and autoscaling:DescribeAutoScalingInstances (and, for a task role, the VPC network-interface actions and X-Ray PutTraceSegments) do not support resource-level permissions.',
    },
    {
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]',
      reason: 'Tags: only keys with our status prefix (aws:TagKeys condition). SendCommand: only to instances with the opt-in tag (ssm:resourceTag condition) and only with our documents.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${resourcePrefix}/otp/*]`,
      reason: 'One-time passwords are per-instance parameters under this prefix: created (and tagged with their instance ARN only, aws:TagKeys) and deleted during a join.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${resourcePrefix}-join:*]`,
      reason: 'The join cleanup reads the history of whichever join execution failed (GetExecutionHistory, read only); execution names are not known in advance, the machine is.',
    },
    // Fleets in many Regions (issue 13): the same resources in every Region.
    {
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:*:<AWS::AccountId>:instance/*]',
      reason: 'Member Regions: as the instance ARN above, in every Region the fleet spans (same conditions).',
    },
    {
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:parameter/${resourcePrefix}/otp/*]`,
      reason: 'Member Regions: one-time passwords live in the instance\'s own Region, under this prefix.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:parameter/${resourcePrefix}/otp]`,
      reason: 'Member Regions: the reconcile lists (GetParametersByPath, names and dates, never decrypted) the one-time-password path of this prefix in every Region the fleet spans: the path itself only, no other parameter.',
    },
    ...['join', 'verify'].map((document) => ({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:document/${resourcePrefix}-${document}]`,
      reason: 'Member Regions: our own SSM document, deployed under the same name in every Region the fleet spans.',
    })),
    ...['<AWS::Region>', '*'].map((region) => ({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:${region}:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/*]`,
      reason: 'Lifecycle answers only for groups carrying the adjoin:lifecycle tag (autoscaling:ResourceTag condition); the group ID part of the ARN is not known in advance.',
    })),
  );
}

/** StackSet members: this task's member role in any account, under the aws:ResourceOrgID condition. */
export function acknowledgeOrganizationMembers(role: IConstruct, ctx: { organizationId?: string }, memberRoleName: string | undefined): void {
  if (!ctx.organizationId || memberRoleName === undefined) return;
  Validations.of(role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/${memberRoleName}]`,
    reason: `The StackSet puts this task's member role in every account of the organization's OUs; assuming it is limited to accounts of ${ctx.organizationId} (aws:ResourceOrgID).`,
  });
}

/** Named Auto Scaling groups (lifecycle.autoScalingGroups): the group-ID part of their ARN is a wildcard. */
export function acknowledgeNamedGroups(scope: IConstruct, names: string[]): void {
  if (names.length === 0) return;
  Validations.of(scope).acknowledge(
    ...['<AWS::Region>', '*'].flatMap((region) => names.map((name) => ({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:${region}:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/${name}]`,
      reason: `Lifecycle answers for the named group ${name} only; the group ID part of its ARN is not known in advance.`,
    }))),
  );
}
