/**
 * The single place for Lambda defaults: one NodejsFunction per task in tasks/registry.ts
 * (entry tasks/<id>.ts), Node 22 on ARM64, esbuild bundling (minified, source maps), in the VPC
 * with the security groups that reach the DCs, a fixed name `${prefix}-${id}`, ADJOIN_SETTINGS,
 * a log group with retention (generated name, RetainExceptOnCreate), X-Ray tracing, and a role of its own holding only what that
 * task needs (infra/permissions.ts).
 */
import * as path from 'node:path';
import { Annotations, Aws, Duration, RemovalPolicy, Tags, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Settings } from '../tasks/lib/settings';
import { functionName, TaskIds, type TaskId } from '../tasks/registry';
import type { TaskFunctions } from '../workflows/common';
import { acknowledgeFleetRole, acknowledgeOrganizationMembers } from './nag';
import { TaskEndpoints } from './network';
import { assumeMemberRoles, fleetTasks, memberRoleNameFor, statementsFor, taskRoleName, TaskNeeds, TaskRoleTag, type PermissionContext } from './permissions';

export const RepoRoot = path.join(__dirname, '..');

export interface NetworkProps {
  vpcId: string;
  subnetIds: string[];
  securityGroupIds: string[];
  availabilityZones?: string[];
  /** Create the interface endpoints the tasks call (infra/network.ts). */
  createEndpoints?: boolean;
}

export interface TaskFunctionsProps {
  resourcePrefix: string;
  settings: Settings;
  /** More environment variables for every task (e.g. ADJOIN_CLAIMS_TABLE). */
  environment?: Record<string, string>;
  network: NetworkProps;
  logRetentionDays: number;
  permissions: PermissionContext;
}

/** Seconds a task may run: directory tasks talk LDAPS (and may page), the rest are quick API calls. */
export const taskTimeoutSeconds = (id: TaskId): number =>
  TaskNeeds[id].includes('directory') || id === 'find-stale-objects' ? 120 : 30;
const timeoutOf = (id: TaskId): Duration => Duration.seconds(taskTimeoutSeconds(id));

export class TaskFunctionSet extends Construct {
  readonly functions: TaskFunctions;
  readonly roles: Record<TaskId, iam.Role>;

  constructor(scope: Construct, id: string, props: TaskFunctionsProps) {
    super(scope, id);
    const net = props.network;
    // Imported by ID: no look-ups, so `cdk synth` works offline.
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: net.vpcId,
      availabilityZones: net.availabilityZones ?? net.subnetIds.map((_, i) => `${Aws.REGION}${'abcdef'[i % 6]}`),
    });
    const subnets = net.subnetIds.map((s, i) => {
      const subnet = ec2.Subnet.fromSubnetId(this, `Subnet${i}`, s);
      Annotations.of(subnet).acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId', 'Lambda needs only the subnet ID; route tables are the network owner\'s.');
      return subnet;
    });
    const securityGroups = net.securityGroupIds.map((sg, i) => ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${i}`, sg, { mutable: false }));
    if (net.createEndpoints) new TaskEndpoints(this, 'Endpoints', { vpc, subnets, taskSecurityGroups: securityGroups });

    const functions: Partial<Record<TaskId, lambda.IFunction>> = {};
    const roles: Partial<Record<TaskId, iam.Role>> = {};
    for (const taskId of TaskIds) {
      const name = functionName(props.resourcePrefix, taskId);
      // A generated name, kept on update and delete but removed when the first create fails: a
      // destroy + redeploy (or a retried first deploy) never meets a retained group holding the name.
      const logGroup = new logs.LogGroup(this, `${taskId}-logs`, {
        retention: props.logRetentionDays as logs.RetentionDays,
        removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      });
      const role = new iam.Role(this, `${taskId}-role`, {
        roleName: taskRoleName(props.resourcePrefix, taskId), // member roles trust exactly this ARN
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `adjoin task ${taskId}: only what this task needs`,
      });
      Tags.of(role).add(TaskRoleTag.key, TaskRoleTag.value);
      // Instead of the AWS managed Lambda policies: logs only to its own group, ENIs for the VPC.
      role.addToPolicy(new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] })); // the group's Arn attribute ends in :* (its streams)
      role.addToPolicy(new iam.PolicyStatement({
        sid: 'VpcNetworkInterfaces',
        actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: ['*'],
      }));
      for (const statement of statementsFor(this, TaskNeeds[taskId], props.permissions)) role.addToPolicy(statement);
      const memberStatement = assumeMemberRoles(props.permissions, taskId);
      if (memberStatement) role.addToPolicy(memberStatement);
      // Each task assumes its own member role (infra/permissions.ts).
      const memberRole = props.settings.memberRoleName ? { memberRoleName: memberRoleNameFor(props.settings.memberRoleName, taskId) } : {};
      const settingsJson = JSON.stringify({ ...props.settings, ...memberRole });

      const fn = new nodejs.NodejsFunction(this, taskId, {
        functionName: name,
        description: `adjoin: ${taskId}`,
        entry: path.join(RepoRoot, 'tasks', `${taskId}.ts`),
        handler: 'handler',
        projectRoot: RepoRoot,
        depsLockFilePath: path.join(RepoRoot, 'package-lock.json'),
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: 256,
        timeout: timeoutOf(taskId),
        role,
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        vpc,
        vpcSubnets: { subnets },
        securityGroups,
        environment: {
          ADJOIN_SETTINGS: settingsJson,
          NODE_OPTIONS: '--enable-source-maps',
          POWERTOOLS_SERVICE_NAME: 'adjoin',
          ...props.environment,
        },
        bundling: {
          minify: true,
          sourceMap: true,
          target: 'node22',
          format: nodejs.OutputFormat.CJS,
          bundleAwsSDK: true, // what was tested is what runs
          tsconfig: path.join(RepoRoot, 'tsconfig.json'),
        },
      });
      acknowledgeFleetRole(role, props.resourcePrefix);
      acknowledgeOrganizationMembers(role, props.permissions, fleetTasks().includes(taskId) ? memberRoleNameFor(props.permissions.memberRoleName, taskId) : undefined);
      Validations.of(fn).acknowledge({ id: 'AwsSolutions-L1', reason: 'Node.js 22 is the runtime the tasks are built and tested for (esbuild target node22); moving to 24 is a tested change, not a default.' });
      functions[taskId] = fn;
      roles[taskId] = role;
    }
    this.functions = functions as TaskFunctions;
    this.roles = roles as Record<TaskId, iam.Role>;
  }
}
