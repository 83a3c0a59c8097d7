/**
 * cdk-nag acknowledgements that need the synthesized names of things (logical IDs), with their
 * reasons. Every other acknowledgement sits next to the resource it is about.
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
