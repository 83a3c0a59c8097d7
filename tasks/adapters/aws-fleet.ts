/**
 * Fleet over the AWS SDK v3: EC2 (describe, tags), SSM (ping status, join secret, Run
 * Command) and Auto Scaling (lifecycle actions) for one account and Region. Clients use adaptive
 * retry and the timeouts of aws-clients.ts; whatever error is left is
 * mapped to our catalogue (aws-errors.ts). `fleetFor` caches one AwsFleet per account+Region
 * and reaches member accounts through `memberRoleName`.
 */
import { AutoScalingClient, CompleteLifecycleActionCommand, DescribeAutoScalingInstancesCommand, RecordLifecycleActionHeartbeatCommand } from '@aws-sdk/client-auto-scaling';
import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  EC2Client,
  type EC2ClientConfig,
  type Instance,
} from '@aws-sdk/client-ec2';
import {
  AddTagsToResourceCommand,
  DeleteParameterCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParametersByPathCommand,
  PutParameterCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { AwsRefused, AwsUnavailable, ConfigurationError, InstanceGone } from '../lib/errors';
import { instanceArn, JOIN_SECRET_PATH, joinSecretName, OTP_INSTANCE_TAG } from '../lib/naming';
import type { CommandResult, CommandStatus, Fleet, FleetFor, InstanceInfo, InstanceState, LifecycleActionRef, LifecycleResult, OtpParameter, PingStatus, SendCommandRequest } from '../lib/ports';
import type { Settings } from '../lib/settings';
import { awsClientConfig } from './aws-clients';
import { awsErrorName, mapAwsError } from './aws-errors';
import { traced } from './observability';

export type Credentials = EC2ClientConfig['credentials'];

export interface AwsFleetOptions {
  region: string;
  /** The account this fleet acts in (the one-time password's instance tag names it). */
  account?: string;
  /** Deployed SSM document names (settings.documents). */
  documents: Settings['documents'];
  /** Credentials for this account (default: the Lambda's own). */
  credentials?: Credentials;
  /** Pre-built clients (tests); otherwise built with adaptive retry. */
  ec2?: EC2Client;
  ssm?: SSMClient;
  autoScaling?: AutoScalingClient;
  /** KMS key for the join secret (default: the account's aws/ssm key). */
  secretKeyId?: string;
  /** Parameter path of join secrets (default /adjoin/otp/). */
  secretPath?: string;
}

/** Instance IDs per DescribeInstances call (filter values; EC2 allows up to 1000, we stay low). */
export const DESCRIBE_BATCH = 200;
const MAX_PAGES = 100;
/** GetParametersByPath pages (10 parameters each, the API's maximum) read at most: 20,000 parameters. */
export const OTP_LIST_MAX_PAGES = 2000;
const STATES: readonly InstanceState[] = ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'];
const PINGS: readonly PingStatus[] = ['Online', 'ConnectionLost', 'Inactive', 'NotRegistered'];
const NOT_FOUND = new Set(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed']);

export function toInstanceInfo(i: Instance): InstanceInfo | undefined {
  const state = i.State?.Name;
  if (!i.InstanceId || !state || !STATES.includes(state)) return undefined;
  const tags: Record<string, string> = {};
  for (const t of i.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  return {
    instanceId: i.InstanceId,
    state,
    platform: String(i.Platform ?? '').toLowerCase() === 'windows' ? 'windows' : 'linux',
    tags,
    ...(i.PrivateDnsName ? { privateDnsName: i.PrivateDnsName } : {}),
    ...(i.LaunchTime ? { launchTime: new Date(i.LaunchTime) } : {}),
  };
}

/** The tag Auto Scaling puts on the instances of a group. */
const ASG_GROUP_TAG = 'aws:autoscaling:groupName';

/** GetCommandInvocation's Status/StatusDetails → our CommandStatus. */
export function toCommandStatus(status: string | undefined, details: string | undefined): CommandStatus {
  if (details === 'Undeliverable' || details === 'Terminated') return details;
  switch (status) {
    case 'Pending':
    case 'InProgress':
    case 'Delayed':
    case 'Success':
    case 'Failed':
    case 'TimedOut':
    case 'Cancelled':
    case 'Cancelling':
      return status;
    default:
      return 'Pending';
  }
}

/** Pages of one batched DescribeInstanceInformation (ssmPingStatuses) at most. */
const PING_PAGES = 5;

export class AwsFleet implements Fleet {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly autoScaling: AutoScalingClient;

  constructor(private readonly options: AwsFleetOptions) {
    const config = { ...awsClientConfig(options.region), ...(options.credentials ? { credentials: options.credentials } : {}) };
    this.ec2 = options.ec2 ?? traced(new EC2Client(config));
    this.ssm = options.ssm ?? traced(new SSMClient(config));
    this.autoScaling = options.autoScaling ?? traced(new AutoScalingClient(config));
  }

  async describeInstance(instanceId: string, options: { autoScaling?: boolean } = {}): Promise<InstanceInfo | undefined> {
    let info: InstanceInfo | undefined;
    try {
      const out = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      const found = out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
      if (!found) return undefined;
      info = toInstanceInfo(found);
      if (!info) throw new AwsRefused(`EC2 returned instance ${instanceId} in an unknown state ${JSON.stringify(found.State?.Name)}`);
    } catch (err) {
      if (NOT_FOUND.has(awsErrorName(err))) return undefined;
      throw mapAwsError(err, 'EC2 DescribeInstances', [], this.options.region);
    }
    // Only a live instance of a group has a lifecycle state worth a second call.
    if (!options.autoScaling || info.tags[ASG_GROUP_TAG] === undefined || info.state === 'terminated') return info;
    try {
      const out = await this.autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
      const state = out.AutoScalingInstances?.find((a) => a.InstanceId === instanceId)?.LifecycleState;
      return state ? { ...info, lifecycleState: state } : info;
    } catch (err) {
      throw mapAwsError(err, 'Auto Scaling DescribeAutoScalingInstances', [], this.options.region);
    }
  }

  async describeInstances(instanceIds: string[]): Promise<Map<string, InstanceInfo>> {
    const result = new Map<string, InstanceInfo>();
    const ids = [...new Set(instanceIds)];
    for (let start = 0; start < ids.length; start += DESCRIBE_BATCH) {
      const batch = ids.slice(start, start + DESCRIBE_BATCH);
      let token: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        // A filter (not InstanceIds) so that unknown IDs are simply absent instead of failing the batch.
        let out: DescribeInstancesCommandOutput;
        try {
          out = await this.ec2.send(
            new DescribeInstancesCommand({
              Filters: [{ Name: 'instance-id', Values: batch }],
              MaxResults: 1000,
              ...(token ? { NextToken: token } : {}),
            }),
          );
        } catch (err) {
          throw mapAwsError(err, 'EC2 DescribeInstances', [], this.options.region);
        }
        for (const i of out.Reservations?.flatMap((r) => r.Instances ?? []) ?? []) {
          const info = toInstanceInfo(i);
          // An instance EC2 returned in a state we do not know is not gone: never drop it.
          if (!info) throw new AwsRefused(`EC2 returned instance ${i.InstanceId ?? '?'} in an unknown state ${JSON.stringify(i.State?.Name)}`);
          result.set(info.instanceId, info);
        }
        token = out.NextToken;
        if (!token) break;
      }
      // Stopping early would leave instances out, and an absent instance reads as gone.
      if (token) throw new AwsUnavailable(`EC2 DescribeInstances still had pages after ${MAX_PAGES}: the answer is incomplete`);
    }
    return result;
  }

  async tagInstance(instanceId: string, tags: Record<string, string>): Promise<void> {
    try {
      await this.ec2.send(
        new CreateTagsCommand({ Resources: [instanceId], Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
      );
    } catch (err) {
      if (NOT_FOUND.has(awsErrorName(err))) throw new InstanceGone(`Instance ${instanceId} is unknown to EC2 (tagging it failed)`);
      throw mapAwsError(err, 'EC2 CreateTags', [], this.options.region);
    }
  }

  async ssmPingStatus(instanceId: string): Promise<PingStatus> {
    try {
      const out = await this.ssm.send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }),
      );
      const ping = out.InstanceInformationList?.find((i) => i.InstanceId === instanceId)?.PingStatus as PingStatus | undefined;
      return ping && PINGS.includes(ping) ? ping : 'NotRegistered';
    } catch (err) {
      if (awsErrorName(err) === 'InvalidInstanceId') return 'NotRegistered';
      throw mapAwsError(err, 'SSM DescribeInstanceInformation', [], this.options.region);
    }
  }

  async ssmPingStatuses(instanceIds: string[]): Promise<Map<string, PingStatus>> {
    const out = new Map<string, PingStatus>();
    if (instanceIds.length === 0) return out;
    if (instanceIds.length > 50) throw new RangeError(`ssmPingStatuses: at most 50 instances per call, got ${instanceIds.length}`);
    try {
      // At most 50 instances asked, MaxResults 50: one page, unless SSM pages a filtered answer
      // short (it may): then the next pages, a few at most.
      let token: string | undefined;
      for (let page = 0; page < PING_PAGES; page++) {
        const res = await this.ssm.send(
          new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: instanceIds }], MaxResults: 50, ...(token ? { NextToken: token } : {}) }),
        );
        for (const i of res.InstanceInformationList ?? []) {
          const ping = i.PingStatus as PingStatus | undefined;
          if (i.InstanceId && instanceIds.includes(i.InstanceId) && ping && PINGS.includes(ping)) out.set(i.InstanceId, ping);
        }
        token = res.NextToken;
        if (!token || out.size >= instanceIds.length) break;
      }
      return out;
    } catch (err) {
      // One unknown instance (terminated, agent never registered) may refuse the whole batch:
      // halve it until the unknown one stands alone, and leave it out (NotRegistered, as ssmPingStatus says).
      if (awsErrorName(err) === 'InvalidInstanceId') {
        if (instanceIds.length === 1) return out;
        const half = Math.ceil(instanceIds.length / 2);
        const [a, b] = await Promise.all([this.ssmPingStatuses(instanceIds.slice(0, half)), this.ssmPingStatuses(instanceIds.slice(half))]);
        return new Map([...a, ...b]);
      }
      throw mapAwsError(err, 'SSM DescribeInstanceInformation', [], this.options.region);
    }
  }

  async putJoinSecret(instanceId: string, value: string): Promise<string> {
    const name = joinSecretName(instanceId, this.options.secretPath);
    try {
      await this.ssm.send(
        new PutParameterCommand({
          Name: name,
          Value: value,
          Type: 'SecureString',
          Overwrite: true,
          Tier: 'Standard',
          Description: `adjoin one-time join password for ${instanceId} (deleted after the join)`,
          ...(this.options.secretKeyId ? { KeyId: this.options.secretKeyId } : {}),
        }),
      );
    } catch (err) {
      // A validation message may echo the value: it is redacted from the error text.
      throw mapAwsError(err, `SSM PutParameter ${name}`, [value], this.options.region);
    }
    // PutParameter cannot combine Tags with Overwrite: the tag is set after, by AddTagsToResource
    // (idempotent). Until it is there the parameter is unreadable to every instance (the
    // instance policy needs the tag to equal the reader's own ARN), so a failure here fails safe.
    const { account, region } = this.options;
    if (!account) throw new AwsRefused(`SSM AddTagsToResource ${name}: the fleet's account is unknown, so the one-time password cannot be bound to its instance`);
    try {
      await this.ssm.send(new AddTagsToResourceCommand({
        ResourceType: 'Parameter',
        ResourceId: name,
        Tags: [{ Key: OTP_INSTANCE_TAG, Value: instanceArn(partitionOf(region), region, account, instanceId) }],
      }));
    } catch (err) {
      throw mapAwsError(err, `SSM AddTagsToResource ${name}`);
    }
    return name;
  }

  async deleteJoinSecret(instanceId: string): Promise<void> {
    const name = joinSecretName(instanceId, this.options.secretPath);
    try {
      await this.ssm.send(new DeleteParameterCommand({ Name: name }));
    } catch (err) {
      if (awsErrorName(err) === 'ParameterNotFound') return;
      throw mapAwsError(err, `SSM DeleteParameter ${name}`, [], this.options.region);
    }
  }

  async listOtpParameters(): Promise<OtpParameter[]> {
    // The path without its trailing slash: IAM grants GetParametersByPath on exactly that ARN.
    const path = (this.options.secretPath ?? JOIN_SECRET_PATH).replace(/\/+$/, '');
    const out: OtpParameter[] = [];
    let token: string | undefined;
    for (let page = 0; page < OTP_LIST_MAX_PAGES; page++) {
      let res;
      try {
        // WithDecryption false: the SecureString's value stays ciphertext, and it is dropped here.
        res = await this.ssm.send(new GetParametersByPathCommand({ Path: path, Recursive: false, WithDecryption: false, MaxResults: 10, ...(token ? { NextToken: token } : {}) }));
      } catch (err) {
        throw mapAwsError(err, `SSM GetParametersByPath ${path}`, [], this.options.region);
      }
      for (const p of res.Parameters ?? []) if (p.Name && p.LastModifiedDate) out.push({ name: p.Name, lastModified: new Date(p.LastModifiedDate) });
      token = res.NextToken;
      if (!token) return out;
    }
    throw new AwsRefused(`SSM GetParametersByPath ${path}: more than ${OTP_LIST_MAX_PAGES} pages`);
  }

  async sendCommand(request: SendCommandRequest): Promise<string> {
    const parameters: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(request.parameters)) parameters[k] = [v];
    const documentName = this.options.documents[request.document];
    if (documentName === undefined) throw new ConfigurationError([`documents.${request.document}: not configured (windows.enabled is off?)`]);
    try {
      const out = await this.ssm.send(
        new SendCommandCommand({
          DocumentName: documentName,
          InstanceIds: [request.instanceId],
          Parameters: parameters,
          Comment: request.comment.slice(0, 100),
          TimeoutSeconds: Math.max(30, request.timeoutSeconds),
        }),
      );
      const id = out.Command?.CommandId;
      if (!id) throw Object.assign(new Error('SendCommand returned no command ID'), { $fault: 'server' });
      return id;
    } catch (err) {
      throw mapAwsError(err, `SSM SendCommand ${documentName} to ${request.instanceId}`, [], this.options.region);
    }
  }

  async getCommand(commandId: string, instanceId: string): Promise<CommandResult> {
    try {
      const out = await this.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
      return {
        status: toCommandStatus(out.Status, out.StatusDetails),
        ...(out.ResponseCode !== undefined && out.ResponseCode >= 0 ? { exitCode: out.ResponseCode } : {}),
        stdout: out.StandardOutputContent ?? '',
        stderr: out.StandardErrorContent ?? '',
      };
    } catch (err) {
      // Right after SendCommand the invocation may not exist yet.
      if (awsErrorName(err) === 'InvocationDoesNotExist') return { status: 'Pending', stdout: '', stderr: '' };
      throw mapAwsError(err, `SSM GetCommandInvocation ${commandId}`, [], this.options.region);
    }
  }

  async completeLifecycleAction(action: LifecycleActionRef, result: LifecycleResult): Promise<boolean> {
    try {
      await this.autoScaling.send(new CompleteLifecycleActionCommand({ ...lifecycleKeys(action), LifecycleActionResult: result }));
      return true;
    } catch (err) {
      if (noLongerPending(err)) return false;
      throw mapAwsError(err, `Auto Scaling CompleteLifecycleAction ${result} for ${action.instanceId} (group ${action.autoScalingGroupName}, hook ${action.lifecycleHookName})`);
    }
  }

  async recordLifecycleHeartbeat(action: LifecycleActionRef): Promise<boolean> {
    try {
      await this.autoScaling.send(new RecordLifecycleActionHeartbeatCommand(lifecycleKeys(action)));
      return true;
    } catch (err) {
      if (noLongerPending(err)) return false;
      throw mapAwsError(err, `Auto Scaling RecordLifecycleActionHeartbeat for ${action.instanceId} (group ${action.autoScalingGroupName}, hook ${action.lifecycleHookName})`);
    }
  }
}

const lifecycleKeys = (a: LifecycleActionRef) => ({
  AutoScalingGroupName: a.autoScalingGroupName,
  LifecycleHookName: a.lifecycleHookName,
  LifecycleActionToken: a.lifecycleActionToken,
  InstanceId: a.instanceId,
});

/** Auto Scaling answers a token that is no longer pending with ValidationError "No active Lifecycle Action found". */
const noLongerPending = (err: unknown): boolean =>
  awsErrorName(err) === 'ValidationError' && /No active Lifecycle Action found/i.test(String((err as { message?: unknown }).message));

/** The IAM partition of a Region. */
export const partitionOf = (region: string): string =>
  region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';

export interface FleetForOptions {
  documents: Settings['documents'];
  /** Parameter path of join secrets (default /adjoin/otp/). */
  secretPath?: string;
  /** KMS key of join secrets (an alias resolves in each account: the member stacks make the same one). */
  secretKeyId?: string;
  /** Role assumed in accounts other than our own; absent: our own credentials everywhere. */
  memberRoleName?: string;
  /** Our own account (default: STS GetCallerIdentity, once). */
  homeAccount?: string | (() => Promise<string>);
  /** Region of our STS endpoint (default: AWS_REGION). */
  stsRegion?: string;
  sts?: STSClient;
  /** Builds a fleet (tests). */
  makeFleet?: (options: AwsFleetOptions) => Fleet;
}

/**
 * Credentials for a member account: AssumeRole, cached until 5 minutes before they expire.
 * A function provider, so the SDK asks again when it needs to.
 */
export function assumeRoleCredentials(sts: STSClient, roleArn: string, sessionName: string): NonNullable<Credentials> {
  let cached: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: Date } | undefined;
  return async () => {
    if (cached && cached.expiration.getTime() - Date.now() > 5 * 60_000) return cached;
    try {
      const out = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName, DurationSeconds: 3600 }));
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration)
        throw Object.assign(new Error(`AssumeRole ${roleArn} returned no credentials`), { $fault: 'server' });
      cached = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: new Date(c.Expiration) };
      return cached;
    } catch (err) {
      throw mapAwsError(err, `STS AssumeRole ${roleArn}`);
    }
  };
}

/** A Fleet whose real fleet is decided on first use (the home account needs a look-up). */
class DeferredFleet implements Fleet {
  private real: Promise<Fleet> | undefined;
  constructor(private readonly build: () => Promise<Fleet>) {}
  private get(): Promise<Fleet> {
    this.real ??= this.build().catch((err: unknown) => {
      this.real = undefined;
      throw err;
    });
    return this.real;
  }
  describeInstance = async (id: string, options?: { autoScaling?: boolean }) => (await this.get()).describeInstance(id, options);
  describeInstances = async (ids: string[]) => (await this.get()).describeInstances(ids);
  tagInstance = async (id: string, tags: Record<string, string>) => (await this.get()).tagInstance(id, tags);
  ssmPingStatus = async (id: string) => (await this.get()).ssmPingStatus(id);
  ssmPingStatuses = async (ids: string[]) => {
    const real = await this.get();
    if (!real.ssmPingStatuses) throw new RangeError('ssmPingStatuses: not offered by this fleet');
    return real.ssmPingStatuses(ids);
  };
  putJoinSecret = async (id: string, value: string) => (await this.get()).putJoinSecret(id, value);
  deleteJoinSecret = async (id: string) => (await this.get()).deleteJoinSecret(id);
  listOtpParameters = async () => (await this.get()).listOtpParameters();
  sendCommand = async (request: SendCommandRequest) => (await this.get()).sendCommand(request);
  getCommand = async (commandId: string, id: string) => (await this.get()).getCommand(commandId, id);
  completeLifecycleAction = async (action: LifecycleActionRef, result: LifecycleResult) => (await this.get()).completeLifecycleAction(action, result);
  recordLifecycleHeartbeat = async (action: LifecycleActionRef) => (await this.get()).recordLifecycleHeartbeat(action);
}

/**
 * A FleetFor that caches one fleet per account+Region. Without memberRoleName every fleet uses
 * our own credentials; with it, accounts other than our own (STS GetCallerIdentity, once) are
 * reached by assuming `arn:<partition>:iam::<account>:role/<memberRoleName>`.
 */
export function fleetFor(options: FleetForOptions): FleetFor {
  const fleets = new Map<string, Fleet>();
  const make = options.makeFleet ?? ((o: AwsFleetOptions) => new AwsFleet(o));
  let sts: STSClient | undefined = options.sts;
  const stsClient = (): STSClient => {
    const region = options.stsRegion ?? process.env.AWS_REGION;
    sts ??= traced(new STSClient(awsClientConfig(region)));
    return sts;
  };
  let home: Promise<string> | undefined;
  const homeAccount = (): Promise<string> => {
    const h = options.homeAccount;
    if (typeof h === 'string') return Promise.resolve(h);
    home ??= (h ? h() : stsClient().send(new GetCallerIdentityCommand({})).then((o) => o.Account ?? '')).catch((err: unknown) => {
      home = undefined;
      throw mapAwsError(err, 'STS GetCallerIdentity', [], options.stsRegion ?? process.env.AWS_REGION);
    });
    return home;
  };
  return ({ account, region }) => {
    const key = `${account}/${region}`;
    let fleet = fleets.get(key);
    if (!fleet) {
      const role = options.memberRoleName;
      const base = {
        region,
        account,
        documents: options.documents,
        ...(options.secretPath ? { secretPath: options.secretPath } : {}),
        ...(options.secretKeyId ? { secretKeyId: options.secretKeyId } : {}),
      };
      // Always decided against our own account: without a member role, another account's
      // instances would look "not found" with our credentials, and "not found" reads as gone.
      fleet = new DeferredFleet(async () => {
        if ((await homeAccount()) === account) return make(base);
        if (!role) {
          throw new AwsRefused(
            `Instance is in account ${account}, but no memberRoleName is configured to reach it: ` +
              'refusing to look it up with our own credentials (it would look gone). Deploy the member stack and set memberRoleName.',
          );
        }
        const roleArn = `arn:${partitionOf(region)}:iam::${account}:role/${role}`;
        return make({ ...base, credentials: assumeRoleCredentials(stsClient(), roleArn, 'adjoin') });
      });
      fleets.set(key, fleet);
    }
    return fleet;
  };
}
