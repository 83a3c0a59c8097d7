/**
 * The single place for Lambda defaults: one NodejsFunction per task in tasks/registry.ts
 * (entry tasks/<id>.ts), Node 22 on ARM64, esbuild bundling (TaskBundling: minified, only what
 * the task imports, the runtime's AWS SDK v3 left external, source maps only with
 * lambda.sourceMaps), memory and reserved concurrency from the `lambda` config, in the VPC
 * with the security groups that reach the DCs, a fixed name `${prefix}-${id}`, ADJOIN_SETTINGS,
 * a log group with retention (generated name, RetainExceptOnCreate), X-Ray tracing, and a role of its own holding only what that
 * task needs (infra/permissions.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, Aws, Duration, RemovalPolicy, Tags, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DIRECTORY_LOOKUP_ENV } from '../tasks/lib/directory-lookup';
import type { Settings } from '../tasks/lib/settings';
import { MetricsNamespace } from '../tasks/lib/metrics';
import { InLambdaWait } from '../tasks/lib/poll';
import { functionName, TaskIds, type TaskId } from '../tasks/registry';
import type { TaskFunctions } from '../workflows/common';
import { LambdaDefaults, type LambdaConfig } from './lambda-config';
import { acknowledgeFleetRole, acknowledgeOrganizationMembers } from './nag';
import { TaskEndpoints, type OptionalEndpointService } from './network';
import { assumeMemberRoles, fleetTasks, memberRoleNameFor, statementsFor, taskRoleName, TaskNeeds, TaskRoleTag, type PermissionContext } from './permissions';

/** The repository root — or, in the published package, dist/ (compiled tasks/*.js beside infra/). */
export const RepoRoot = path.join(__dirname, '..');

/** A task's entry: its TypeScript source in the repository, the compiled .js in the package. */
export function taskEntry(taskId: TaskId, root = RepoRoot): string {
  const ts = path.join(root, 'tasks', `${taskId}.ts`);
  return fs.existsSync(ts) ? ts : path.join(root, 'tasks', `${taskId}.js`);
}

/**
 * How every task is bundled. `@aws-sdk/*` stays external: the Node.js 22 runtime ships the AWS
 * SDK v3 (CDK's default too), so an asset holds only adjoin, ldapts and Powertools (~0.25-0.3 MB
 * minified instead of ~1.9 MB). test/infra/bundle.test.ts bundles a task with these options.
 */
export function taskBundling(sourceMaps: boolean): nodejs.BundlingOptions {
  const tsconfig = path.join(RepoRoot, 'tsconfig.json');
  return {
    minify: true,
    sourceMap: sourceMaps,
    ...(sourceMaps ? { sourceMapMode: nodejs.SourceMapMode.DEFAULT } : {}),
    target: 'node22',
    format: nodejs.OutputFormat.CJS,
    externalModules: ['@aws-sdk/*'],
    ...(fs.existsSync(tsconfig) ? { tsconfig } : {}),
  };
}

/** The lock file and project root to bundle from: the repository's, else (as a package) CDK finds the app's. */
function projectOf(): Pick<nodejs.NodejsFunctionProps, 'projectRoot' | 'depsLockFilePath'> {
  const lock = path.join(RepoRoot, 'package-lock.json');
  return fs.existsSync(lock) ? { projectRoot: RepoRoot, depsLockFilePath: lock } : {};
}

export interface NetworkProps {
  vpcId: string;
  subnetIds: string[];
  securityGroupIds: string[];
  availabilityZones?: string[];
  /** Create the endpoints the tasks call (infra/network.ts). */
  createEndpoints?: boolean;
  /** The subnets' route tables, for the DynamoDB gateway endpoint (required with createEndpoints). */
  routeTableIds?: string[];
}

export interface TaskFunctionsProps {
  resourcePrefix: string;
  settings: Settings;
  /** More environment variables for every task (e.g. ADJOIN_CLAIMS_TABLE). */
  environment?: Record<string, string>;
  network: NetworkProps;
  logRetentionDays: number;
  permissions: PermissionContext;
  /** Memory, reserved concurrency, source maps (config `lambda`). Default: LambdaDefaults. */
  lambda?: LambdaConfig;
}

/** The tasks that poll inside their invocation (tasks/lib/poll.ts). */
export const PollingTasks: readonly TaskId[] = ['check-ssm-agent', 'run-join-document', 'run-windows-join-document'];

/**
 * Seconds a task may run: directory tasks talk LDAPS (and may page), the rest are quick API
 * calls; a polling task at least its in-Lambda wait plus the reserve its budget keeps free.
 */
export const taskTimeoutSeconds = (id: TaskId): number =>
  Math.max(
    TaskNeeds[id].includes('directory') || id === 'find-stale-objects' ? 120 : 30,
    PollingTasks.includes(id) ? InLambdaWait.maxSeconds + InLambdaWait.reserveSeconds : 0,
  );
const timeoutOf = (id: TaskId): Duration => Duration.seconds(taskTimeoutSeconds(id));

/**
 * Directory tasks (LDAPS to the DCs) and the others have separate limits (infra/lambda-config.ts).
 * A polling task holds its function while it waits (tasks/lib/poll.ts), so it takes the others'
 * limit even when it may talk LDAPS: "Run join document" does only on a redrive round whose
 * password may be revoked; "Prepare computer object" (limited) does the directory work of every
 * first round. Under the directory limit of 20, 1,000 joins would queue 20 at a time behind
 * their commands and fail (bench/README.md).
 */
export const reservedAsDirectoryTask = (taskId: TaskId): boolean => TaskNeeds[taskId].includes('directory') && !PollingTasks.includes(taskId);

export function reservedConcurrencyOf(taskId: TaskId, config: LambdaConfig): { reservedConcurrentExecutions?: number } {
  const n = reservedAsDirectoryTask(taskId) ? config.reservedConcurrency.directory : config.reservedConcurrency.other;
  return n === undefined ? {} : { reservedConcurrentExecutions: n };
}

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
    if (net.createEndpoints) {
      const d = props.settings.directories ? Object.values(props.settings.directories) : [props.settings.directory];
      const optional: OptionalEndpointService[] = [
        ...(d.some((x) => x.directoryId !== undefined && (x.domainControllers ?? []).length === 0) ? ['ds' as const] : []),
        ...(props.settings.lifecycle ? ['autoscaling' as const] : []),
      ];
      new TaskEndpoints(this, 'Endpoints', { vpc, subnets, taskSecurityGroups: securityGroups, routeTableIds: net.routeTableIds ?? [], optional });
    }
    const lambdaConfig: LambdaConfig = props.lambda ?? { ...LambdaDefaults, reservedConcurrency: { ...LambdaDefaults.reservedConcurrency } };
    const bundling = taskBundling(lambdaConfig.sourceMaps);
    const project = projectOf();

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
        entry: taskEntry(taskId),
        handler: 'handler',
        ...project,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: lambdaConfig.memorySize,
        timeout: timeoutOf(taskId),
        ...reservedConcurrencyOf(taskId, lambdaConfig),
        role,
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        vpc,
        vpcSubnets: { subnets },
        securityGroups,
        environment: {
          ADJOIN_SETTINGS: settingsJson,
          // directoryId without domainControllers: the directory tasks read the DCs at cold start.
          ...(TaskNeeds[taskId].includes('directory') && (props.permissions.directoryLookups?.length ?? 0) > 0 ? { [DIRECTORY_LOOKUP_ENV]: 'true' } : {}),
          ...(lambdaConfig.sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
          POWERTOOLS_SERVICE_NAME: 'adjoin',
          POWERTOOLS_METRICS_NAMESPACE: MetricsNamespace,
          ...props.environment,
        },
        bundling,
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
