/**
 * Protection of the one-time passwords in an account where adjoin writes them (the orchestrator
 * stack, and each member stack):
 *
 *  - a customer managed KMS key (alias `alias/<prefix>-otp`, rotated yearly) whose key policy
 *    lets the writers (the roles of the tasks that put one-time passwords, named as principals)
 *    Encrypt / GenerateDataKey, and lets anyone Decrypt ONLY through Parameter Store
 *    (kms:ViaService ssm.<region>) and ONLY for a parameter under /<prefix>/otp/
 *    (kms:EncryptionContext:PARAMETER_ARN), and only principals whose IAM policy also allows it
 *    (the key policy's root principal delegates to IAM): in practice the instance-join policy.
 *    KMS cannot see the parameter's tags, so the per-instance check is SSM's, below.
 *  - the instance-join managed policy (attach it to the instance role): ssm:GetParameter on a
 *    one-time-password parameter only when its `adjoin:instance-arn` tag equals the calling
 *    instance's own ARN (`ssm:resourceTag/adjoin:instance-arn` = `${ec2:SourceInstanceARN}`,
 *    present in requests signed with instance-profile credentials), and kms:Decrypt of the key
 *    under the same ViaService / encryption-context conditions. An instance can read its own
 *    one-time password and no other instance's.
 */
import { Aws, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { OTP_INSTANCE_TAG } from '../tasks/lib/naming';
import { resourceNames } from './config';

/** The instance condition: the parameter's tag equals the caller's instance ARN. */
export const OwnInstanceCondition = { StringEquals: { [`ssm:resourceTag/${OTP_INSTANCE_TAG}`]: '${ec2:SourceInstanceARN}' } } as const;

export interface OtpProtection {
  key: kms.Key;
  instancePolicy: iam.ManagedPolicy;
}

/** The account's OTP key in this Region (a KMS key is regional: every Region the fleet spans has one). */
export function otpKey(scope: Construct, prefix: string, writers: iam.IRole[]): kms.Key {
  const otpParameters = `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:parameter/${prefix}/otp/*`;
  const viaSsm = { 'kms:ViaService': `ssm.${Aws.REGION}.amazonaws.com` };
  const forOtp = { 'kms:EncryptionContext:PARAMETER_ARN': otpParameters };
  const root = new iam.AccountRootPrincipal();
  const policy = new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        sid: 'KeyAdministrationThroughIam',
        principals: [root],
        actions: ['kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*',
          'kms:Get*', 'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion'],
        resources: ['*'],
      }),
      ...(writers.length > 0 ? [new iam.PolicyStatement({
        sid: 'WritersEncryptOneTimePasswordsThroughSsm',
        principals: writers.map((r) => new iam.ArnPrincipal(r.roleArn)),
        actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: viaSsm, StringLike: forOtp },
      })] : []),
      new iam.PolicyStatement({
        sid: 'DecryptOnlyThroughSsmForOneTimePasswords',
        principals: [root],
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: viaSsm, StringLike: forOtp },
      }),
    ],
  });
  const key = new kms.Key(scope, 'OtpKey', {
    alias: resourceNames(prefix).otpKeyAlias, // tasks pass it as KeyId, in every account
    description: `adjoin: encrypts the one-time join passwords under /${prefix}/otp/`,
    enableKeyRotation: true,
    rotationPeriod: Duration.days(365),
    policy,
    removalPolicy: RemovalPolicy.DESTROY, // holds only minutes-lived, single-use passwords
    pendingWindow: Duration.days(7),
  });
  return key;
}

/**
 * The instance-join policy (IAM: one per account). `anyRegion`: the fleet spans Regions, so the
 * one-time passwords and their keys of every Region (the key by its alias, not its ARN).
 */
export function instanceJoinPolicy(scope: Construct, prefix: string, key: kms.IKey, options: { anyRegion?: boolean } = {}): iam.ManagedPolicy {
  const region = options.anyRegion ? '*' : Aws.REGION;
  const otpParameters = `arn:${Aws.PARTITION}:ssm:${region}:${Aws.ACCOUNT_ID}:parameter/${prefix}/otp/*`;
  const forOtp = { 'kms:EncryptionContext:PARAMETER_ARN': otpParameters };
  const decrypt = options.anyRegion
    ? new iam.PolicyStatement({
      sid: 'DecryptOneTimePasswordThroughSsm',
      actions: ['kms:Decrypt'],
      resources: [`arn:${Aws.PARTITION}:kms:${region}:${Aws.ACCOUNT_ID}:key/*`],
      conditions: {
        StringLike: { 'kms:ViaService': `ssm.${region}.amazonaws.com`, ...forOtp },
        'ForAnyValue:StringEquals': { 'kms:ResourceAliases': resourceNames(prefix).otpKeyAlias },
      },
    })
    : new iam.PolicyStatement({
      sid: 'DecryptOneTimePasswordThroughSsm',
      actions: ['kms:Decrypt'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `ssm.${Aws.REGION}.amazonaws.com` }, StringLike: forOtp },
    });
  const instancePolicy = new iam.ManagedPolicy(scope, 'InstancePolicy', {
    managedPolicyName: `${prefix}-instance-join`,
    description: 'adjoin: lets a joining instance read ITS OWN one-time password parameter (attach to the instance role)',
    statements: [
      new iam.PolicyStatement({
        sid: 'ReadOwnOneTimePassword',
        actions: ['ssm:GetParameter', 'ssm:GetParameters'],
        resources: [otpParameters],
        conditions: OwnInstanceCondition,
      }),
      decrypt,
    ],
  });
  Validations.of(instancePolicy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:${options.anyRegion ? '*' : '<AWS::Region>'}:<AWS::AccountId>:parameter/${prefix}/otp/*]`,
    reason: 'The wildcard covers the one-time-password parameters, but the statement allows a read only when the parameter\'s adjoin:instance-arn tag equals the caller\'s ec2:SourceInstanceARN: an instance reads its own one-time password only.',
  });
  if (options.anyRegion)
    Validations.of(instancePolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:*:<AWS::AccountId>:key/*]`,
      reason: `Only the adjoin OTP key of each Region (kms:ResourceAliases = ${resourceNames(prefix).otpKeyAlias}), only through Parameter Store and only for a one-time-password parameter.`,
    });
  return instancePolicy;
}

export function otpProtection(scope: Construct, prefix: string, writers: iam.IRole[], options: { anyRegion?: boolean } = {}): OtpProtection {
  const key = otpKey(scope, prefix, writers);
  return { key, instancePolicy: instanceJoinPolicy(scope, prefix, key, options) };
}
