/**
 * Least privilege, one task at a time: what each task Lambda may do, as data (`TaskNeeds`),
 * and the IAM statements each need becomes. In a member account each fleet task has a role of
 * its own (`<memberRoleName>-<task>`), holding only that task's fleet needs and trusted only by
 * that task's role (`<prefix>-<task>-role`, fixed names): one role per task rather than session
 * policies, because nothing forces a caller to pass a session policy, while a trust policy binds.
 */
import { ArnFormat, Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { ConfigurationError } from '../tasks/lib/errors';
import { OTP_INSTANCE_TAG } from '../tasks/lib/naming';
import { TaskIds, type TaskId } from '../tasks/registry';
import { caParameterOf, resourceNames, toSettings, type ResolvedConfig } from './config';
import { spansRegions } from './config-reach';
import { LifecycleGroupTag } from './entry-rules';
import { acknowledgeNamedGroups } from './nag';
import { SSM_WAIT_INDEX } from '../tasks/lib/ssm-board';

/** Tag on every task role; a member account's role trusts only principals that carry it. */
export const TaskRoleTag = { key: 'adjoin:component', value: 'task' } as const;

/** One capability a task needs. */
export type Need =
  | 'directory' // bind secret + CA parameter (LDAPS to the DCs)
  | 'describe' // ec2:DescribeInstances
  | 'tag' // ec2:CreateTags, only keys with our status prefix (never DeleteTags: nothing deletes tags)
  | 'ssm-ping' // ssm:DescribeInstanceInformation
  | 'otp-write' // ssm:PutParameter + AddTagsToResource (the instance-ARN tag only) on /<prefix>/otp/*
  | 'otp-delete' // ssm:DeleteParameter on /<prefix>/otp/*
  | 'otp-list' // ssm:GetParametersByPath on the /<prefix>/otp path only (names and dates; the reconcile's sweep)
  | 'send-join' // ssm:SendCommand with the join document
  | 'send-join-windows' // ssm:SendCommand with the Windows join document (only when Windows is enabled)
  | 'send-verify' // ssm:SendCommand with the verify document (by hand / lab fleet only: the join document verifies by itself)
  | 'command-read' // ssm:GetCommandInvocation
  | 'claims' // dynamodb:GetItem/PutItem/UpdateItem on the join-claims table
  | 'claims-read' // dynamodb:GetItem on the join-claims table (the leave reads the recorded objectGUID; the doctor's probe read)
  | 'ssm-board' // dynamodb:Query on the claims table's ssm-wait index (the SSM Online board's sweep; only with describeInstanceInformation paced)
  | 'history' // states:GetExecutionHistory on the join machine's executions
  | 'lifecycle' // autoscaling:CompleteLifecycleAction / RecordLifecycleActionHeartbeat (our groups only)
  | 'lifecycle-read' // autoscaling:DescribeAutoScalingInstances (Terminating:Wait counts as leaving; lifecycle on only)
  | 'doctor-read'; // ssm:DescribeDocument on our documents, secretsmanager:DescribeSecret on the bind secret

export const TaskNeeds: Record<TaskId, readonly Need[]> = {
  // lifecycle: a launch hook answered CONTINUE when no join is needed; heartbeats while waiting.
  'read-instance': ['describe', 'claims', 'lifecycle'],
  // claims + lifecycle: the launch hook's heartbeat (tasks/lib/lifecycle.ts heartbeatIfDue).
  // claims + ssm-board: the SSM Online board (tasks/lib/ssm-board.ts): register, sweep (Query the index), mark Online.
  'check-ssm-agent': ['describe', 'ssm-ping', 'claims', 'ssm-board', 'lifecycle'],
  'prepare-computer-object': ['directory', 'describe', 'otp-write', 'claims'],
  // A new round after a failure makes a fresh one-time password (Prepare's path) before it sends.
  'run-join-document': ['directory', 'describe', 'otp-write', 'send-join', 'command-read', 'claims', 'lifecycle'],
  'run-windows-join-document': ['directory', 'describe', 'otp-write', 'send-join-windows', 'command-read', 'claims', 'lifecycle'],
  'record-result': ['describe', 'tag', 'otp-delete', 'claims', 'lifecycle'],
  'remove-join-artifacts': ['directory', 'describe', 'tag', 'otp-delete', 'lifecycle'],
  'clean-up-failed-join': ['directory', 'describe', 'tag', 'otp-delete', 'claims', 'history', 'lifecycle'],
  // lifecycle: Terminating:Wait counts as leaving; the terminate hook answered CONTINUE. claims-read: the objectGUID the join claim recorded.
  // otp-delete: a gone instance's one-time password is deleted at leave, objects found or not.
  'find-computer-objects': ['directory', 'describe', 'claims-read', 'otp-delete', 'lifecycle', 'lifecycle-read'],
  'delete-computer-object': ['directory', 'describe', 'lifecycle-read'],
  // tag + claims: an opt-out leave (tags.leaveOnOptOut) tags the living instance "left" and releases the join claim.
  'record-leave': ['lifecycle', 'tag', 'claims'],
  // otp-list + otp-delete + claims-read: the sweep of one-time passwords (tasks/lib/otp-sweep.ts).
  'find-stale-objects': ['directory', 'describe', 'otp-list', 'otp-delete', 'claims-read'],
  'check-deletion-cap': [],
  'report-reconcile': [],
  // ssm-board: the doctor's probe Query of the SSM Online board's index.
  'check-setup': ['directory', 'describe', 'ssm-ping', 'doctor-read', 'claims-read', 'ssm-board'],
};

/** Needs served by the fleet (EC2/SSM): in member accounts they go through the member role. */
export const FleetNeeds: readonly Need[] = ['describe', 'tag', 'ssm-ping', 'otp-write', 'otp-delete', 'otp-list', 'send-join', 'send-join-windows', 'send-verify', 'command-read', 'lifecycle', 'lifecycle-read'];

export interface PermissionContext {
  resourcePrefix: string;
  statusPrefix: string;
  optIn: { key: string; value: string };
  restrictCommandsToOptedIn: boolean;
  joinDocument: string;
  verifyDocument: string;
  /** The Windows join document: only when Windows is enabled (else no task may send it). */
  windowsJoinDocument?: string;
  /** Bind secret: ARN (complete or partial) or name. */
  serviceAccountSecret?: string;
  serviceAccountSecretKmsKeyArn?: string;
  caParameterName?: string;
  memberAccounts: string[];
  memberRoleName: string;
  /** The join-claims table (orchestrator only; set once the table exists). */
  claimsTableArn?: string;
  /** The SSM Online board is in use (pacing.describeInstanceInformation > 0): its sweep queries the ssm-wait index. */
  ssmBoard?: boolean;
  /** Fleets in more than one Region: EC2/SSM/Auto Scaling ARNs name every Region (`*`). */
  anyRegion?: boolean;
  /** Lifecycle hooks on: groups adjoin hooks by name, and the tag attachTo puts on a group. */
  lifecycle?: { groupNames: string[]; groupTag: { key: string; value: string } };
  /** StackSet members: the member role in any account of this organization. */
  organizationId?: string;
  /** The directories after the first: each one's bind secret, its key, its CA parameter. */
  moreDirectories?: { serviceAccountSecret: string; serviceAccountSecretKmsKeyArn?: string; caParameterName?: string }[];
  /** Directory IDs whose DCs the directory tasks read from Directory Service at cold start (directoryId without domainControllers). */
  directoryLookups?: string[];
}

/** The directory IDs of a configuration that are looked up at run time (tasks/lib/directory-lookup.ts). */
export const directoryLookupsOf = (config: ResolvedConfig): string[] =>
  [...new Set(config.reach.directories.flatMap(({ directory: d }) => (d.directoryId && d.domainControllers.length === 0 ? [d.directoryId] : [])))];

/**
 * The PermissionContext of a configuration. `orchestrator`: the task roles (directory access,
 * member accounts to assume). `member`: a member account's role, which serves only the fleet
 * needs (no directory, no further accounts).
 */
export function permissionContext(config: ResolvedConfig, account: 'orchestrator' | 'member'): PermissionContext {
  const names = resourceNames(config.resourcePrefix);
  const fleet: PermissionContext = {
    resourcePrefix: config.resourcePrefix,
    statusPrefix: config.tags.statusPrefix,
    optIn: config.tags.optIn,
    restrictCommandsToOptedIn: config.tags.restrictCommandsToOptedIn,
    joinDocument: names.joinDocument,
    verifyDocument: names.verifyDocument,
    ...(config.windows.enabled ? { windowsJoinDocument: names.windowsJoinDocument } : {}),
    memberAccounts: [],
    memberRoleName: config.memberRoleName,
    ...(spansRegions(config.reach, config.env.region) ? { anyRegion: true } : {}),
    ...(config.reach.lifecycle.enabled
      ? { lifecycle: { groupNames: config.reach.lifecycle.autoScalingGroups, groupTag: { key: LifecycleGroupTag, value: config.resourcePrefix } } }
      : {}),
  };
  if (account === 'member') return fleet;
  const directory = config.directory;
  const caParameterName = toSettings(config).directory.caParameterName;
  const members = [...new Set([...config.memberAccounts, ...config.reach.members.targets.map((t) => t.account)])].filter((a) => a !== config.env.account);
  return {
    ...fleet,
    serviceAccountSecret: directory.serviceAccountSecret,
    ...(directory.serviceAccountSecretKmsKeyArn ? { serviceAccountSecretKmsKeyArn: directory.serviceAccountSecretKmsKeyArn } : {}),
    ...(caParameterName ? { caParameterName } : {}),
    memberAccounts: members,
    ...(config.pacing.describeInstanceInformation > 0 ? { ssmBoard: true } : {}),
    ...(directoryLookupsOf(config).length > 0 ? { directoryLookups: directoryLookupsOf(config) } : {}),
    ...(config.reach.members.deployment === 'stackset' && config.reach.members.organizationId ? { organizationId: config.reach.members.organizationId } : {}),
    ...(config.reach.directories.length > 1 ? { moreDirectories: config.reach.directories.slice(1).map(({ name, directory: d }) => ({
      serviceAccountSecret: d.serviceAccountSecret,
      ...(d.serviceAccountSecretKmsKeyArn ? { serviceAccountSecretKmsKeyArn: d.serviceAccountSecretKmsKeyArn } : {}),
      ...(caParameterOf(config, name) ? { caParameterName: caParameterOf(config, name) } : {}),
    })) } : {}),
  };
}

/** The fixed name of a task's role in the orchestrator account. */
export const taskRoleName = (prefix: string, taskId: TaskId): string => `${prefix}-${taskId}-role`;

/** The name of a task's role in a member account. */
export function memberRoleNameFor(memberRoleName: string, taskId: TaskId): string {
  const name = `${memberRoleName}-${taskId}`;
  if (name.length > 64) throw new ConfigurationError([`memberRoleName: ${memberRoleName} is too long: ${name} exceeds the 64 characters of an IAM role name`]);
  return name;
}

/** Tasks that reach the fleet (and so, in member accounts, get a member role of their own). */
export const fleetTasks = (): TaskId[] => TaskIds.filter((id) => TaskNeeds[id].some((n) => FleetNeeds.includes(n)));

/** The secret's ARN pattern for IAM: a name or partial ARN gets Secrets Manager's 6-character suffix. */
export function secretArnPattern(scope: Construct, secret: string): string {
  const stack = Stack.of(scope);
  if (secret.startsWith('arn:')) {
    return /-[A-Za-z0-9]{6}$/.test(secret) ? secret : `${secret}-??????`;
  }
  return stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${secret}-??????`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
}

/** The IAM statements for a set of needs, in this account. */
export function statementsFor(scope: Construct, needs: readonly Need[], ctx: PermissionContext, account: string = Aws.ACCOUNT_ID): iam.PolicyStatement[] {
  const p = Aws.PARTITION;
  const r = ctx.anyRegion ? '*' : Aws.REGION;
  const instances = `arn:${p}:ec2:${r}:${account}:instance/*`;
  const otp = `arn:${p}:ssm:${r}:${account}:parameter/${ctx.resourcePrefix}/otp/*`;
  const document = (name: string) => `arn:${p}:ssm:${r}:${account}:document/${name}`;
  const out: iam.PolicyStatement[] = [];
  const has = (n: Need) => needs.includes(n);

  if (has('directory')) {
    if (ctx.serviceAccountSecret) {
      const more = (ctx.moreDirectories ?? []).map((d) => secretArnPattern(scope, d.serviceAccountSecret));
      out.push(new iam.PolicyStatement({ sid: 'ReadBindSecret', actions: ['secretsmanager:GetSecretValue'], resources: [secretArnPattern(scope, ctx.serviceAccountSecret), ...more] }));
    }
    if (ctx.serviceAccountSecretKmsKeyArn) {
      out.push(new iam.PolicyStatement({
        sid: 'DecryptBindSecret',
        actions: ['kms:Decrypt'],
        resources: [ctx.serviceAccountSecretKmsKeyArn],
        // The bind secret lives in the orchestrator's own Region, whatever Regions the fleet spans.
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Aws.REGION}.amazonaws.com` } },
      }));
    }
    if (ctx.caParameterName) {
      // The CA parameters live in the orchestrator's own Region, always.
      const cas = [ctx.caParameterName, ...(ctx.moreDirectories ?? []).flatMap((d) => (d.caParameterName ? [d.caParameterName] : []))];
      out.push(new iam.PolicyStatement({ sid: 'ReadCaBundle', actions: ['ssm:GetParameter'], resources: cas.map((name) => `arn:${p}:ssm:${Aws.REGION}:${account}:parameter${name}`) }));
    }
    if (ctx.directoryLookups && ctx.directoryLookups.length > 0) {
      // DescribeDirectories takes no resource-level permission: `*` (read-only; cdk-nag acknowledged in infra/nag.ts).
      out.push(new iam.PolicyStatement({ sid: 'DescribeDirectory', actions: ['ds:DescribeDirectories'], resources: ['*'] }));
    }
    const keys = (ctx.moreDirectories ?? []).flatMap((d) => (d.serviceAccountSecretKmsKeyArn ? [d.serviceAccountSecretKmsKeyArn] : []));
    if (keys.length > 0) {
      out.push(new iam.PolicyStatement({
        sid: 'DecryptOtherBindSecrets',
        actions: ['kms:Decrypt'],
        resources: keys,
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Aws.REGION}.amazonaws.com` } },
      }));
    }
  }
  if (has('describe')) {
    out.push(new iam.PolicyStatement({ sid: 'DescribeInstances', actions: ['ec2:DescribeInstances'], resources: ['*'] }));
  }
  if (has('tag')) {
    out.push(new iam.PolicyStatement({
      sid: 'TagWithStatusPrefixOnly',
      actions: ['ec2:CreateTags'],
      resources: [instances],
      conditions: { 'ForAllValues:StringLike': { 'aws:TagKeys': [`${ctx.statusPrefix}*`] } },
    }));
  }
  if (has('ssm-ping')) {
    out.push(new iam.PolicyStatement({ sid: 'SsmPing', actions: ['ssm:DescribeInstanceInformation'], resources: ['*'] }));
  }
  if (has('otp-write')) {
    out.push(new iam.PolicyStatement({ sid: 'WriteOneTimePassword', actions: ['ssm:PutParameter'], resources: [otp] }));
    out.push(new iam.PolicyStatement({
      sid: 'TagOneTimePasswordWithItsInstance',
      actions: ['ssm:AddTagsToResource'],
      resources: [otp],
      conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [OTP_INSTANCE_TAG] } },
    }));
  }
  if (has('otp-delete')) {
    out.push(new iam.PolicyStatement({ sid: 'DeleteOneTimePassword', actions: ['ssm:DeleteParameter'], resources: [otp] }));
  }
  if (has('otp-list')) {
    // The path itself (GetParametersByPath authorizes on it), not /* and not the whole store.
    out.push(new iam.PolicyStatement({ sid: 'ListOneTimePasswords', actions: ['ssm:GetParametersByPath'], resources: [`arn:${p}:ssm:${r}:${account}:parameter/${ctx.resourcePrefix}/otp`] }));
  }
  // A document to send: SendCommand on it, and on instances (opted-in ones only, when restricted).
  const sendable = has('send-join') ? ctx.joinDocument : has('send-join-windows') ? ctx.windowsJoinDocument : undefined;
  if (sendable !== undefined) {
    out.push(new iam.PolicyStatement({ sid: 'SendOurDocuments', actions: ['ssm:SendCommand'], resources: [document(sendable)] }));
    out.push(new iam.PolicyStatement({
      sid: 'SendToInstances',
      actions: ['ssm:SendCommand'],
      resources: [instances],
      ...(ctx.restrictCommandsToOptedIn ? { conditions: { StringEquals: { [`ssm:resourceTag/${ctx.optIn.key}`]: ctx.optIn.value } } } : {}),
    }));
  }
  if (has('doctor-read')) {
    out.push(new iam.PolicyStatement({ sid: 'DescribeOurDocuments', actions: ['ssm:DescribeDocument'], resources: [ctx.joinDocument, ctx.verifyDocument, ...(ctx.windowsJoinDocument ? [ctx.windowsJoinDocument] : [])].map(document) }));
    if (ctx.serviceAccountSecret) {
      out.push(new iam.PolicyStatement({ sid: 'DescribeBindSecret', actions: ['secretsmanager:DescribeSecret'], resources: [secretArnPattern(scope, ctx.serviceAccountSecret)] }));
    }
  }
  if (has('command-read')) {
    out.push(new iam.PolicyStatement({ sid: 'ReadCommandResults', actions: ['ssm:GetCommandInvocation'], resources: ['*'] }));
  }
  if (has('claims') && ctx.claimsTableArn) {
    out.push(new iam.PolicyStatement({ sid: 'JoinClaims', actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], resources: [ctx.claimsTableArn] }));
  } else if (has('claims-read') && ctx.claimsTableArn) {
    out.push(new iam.PolicyStatement({ sid: 'ReadJoinClaims', actions: ['dynamodb:GetItem'], resources: [ctx.claimsTableArn] }));
  }
  if (has('ssm-board') && ctx.ssmBoard && ctx.claimsTableArn) {
    out.push(new iam.PolicyStatement({ sid: 'SsmOnlineBoard', actions: ['dynamodb:Query'], resources: [`${ctx.claimsTableArn}/index/${SSM_WAIT_INDEX}`] }));
  }
  if (has('history')) {
    // The join machine lives in this (the orchestrator's) Region, whatever Regions the fleet spans.
    const executions = `arn:${p}:states:${Aws.REGION}:${account}:execution:${resourceNames(ctx.resourcePrefix).stateMachine('join')}:*`;
    out.push(new iam.PolicyStatement({ sid: 'ReadJoinHistory', actions: ['states:GetExecutionHistory'], resources: [executions] }));
  }
  if (has('lifecycle') && ctx.lifecycle) {
    const actions = ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'];
    const group = (name: string) => `arn:${p}:autoscaling:${r}:${account}:autoScalingGroup:*:autoScalingGroupName/${name}`;
    if (ctx.lifecycle.groupNames.length > 0) acknowledgeNamedGroups(scope, ctx.lifecycle.groupNames);
    if (ctx.lifecycle.groupNames.length > 0)
      out.push(new iam.PolicyStatement({ sid: 'AnswerLifecycleHooksOfNamedGroups', actions, resources: ctx.lifecycle.groupNames.map(group) }));
    out.push(new iam.PolicyStatement({
      sid: 'AnswerLifecycleHooksOfTaggedGroups',
      actions,
      resources: [group('*')],
      conditions: { StringEquals: { [`autoscaling:ResourceTag/${ctx.lifecycle.groupTag.key}`]: ctx.lifecycle.groupTag.value } },
    }));
  }
  if (has('lifecycle-read') && ctx.lifecycle) {
    // Read-only; Auto Scaling's describe actions have no resource-level permissions.
    out.push(new iam.PolicyStatement({ sid: 'ReadLifecycleStates', actions: ['autoscaling:DescribeAutoScalingInstances'], resources: ['*'] }));
  }
  return out;
}

/** sts:AssumeRole on this task's own role in the member accounts, for tasks that touch the fleet. */
export function assumeMemberRoles(ctx: PermissionContext, taskId: TaskId): iam.PolicyStatement | undefined {
  if (!fleetTasks().includes(taskId)) return undefined;
  if (ctx.organizationId) {
    // StackSet members: this task's role in any account of our organization.
    return new iam.PolicyStatement({
      sid: 'AssumeOwnMemberRole',
      actions: ['sts:AssumeRole'],
      resources: [`arn:${Aws.PARTITION}:iam::*:role/${memberRoleNameFor(ctx.memberRoleName, taskId)}`],
      conditions: { StringEquals: { 'aws:ResourceOrgID': ctx.organizationId } },
    });
  }
  if (ctx.memberAccounts.length === 0) return undefined;
  return new iam.PolicyStatement({
    sid: 'AssumeOwnMemberRole',
    actions: ['sts:AssumeRole'],
    resources: ctx.memberAccounts.map((a) => `arn:${Aws.PARTITION}:iam::${a}:role/${memberRoleNameFor(ctx.memberRoleName, taskId)}`),
  });
}
