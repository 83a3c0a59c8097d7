/**
 * The doctor's AwsProbe: one cheap, read-only call per service (STS GetCallerIdentity, SSM
 * DescribeDocument, EC2 DescribeInstances MaxResults 5, Secrets Manager DescribeSecret, DynamoDB
 * GetItem of a probe key in the join-claims table), the
 * member role assumed in each account and Region, and what EC2 and SSM know of one instance.
 * Clients try at most twice; the doctor bounds each call in time (tasks/lib/doctor.ts).
 */
import { DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeDocumentCommand, DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsProbe, InstanceFacts, Target } from '../lib/doctor';
import type { PingStatus } from '../lib/ports';
import { SSM_WAIT_INDEX } from '../lib/ssm-board';
import { mapAwsError } from './aws-errors';
import { type Credentials, partitionOf, toInstanceInfo } from './aws-fleet';

export interface AwsDoctorOptions {
  region: string;
  memberRoleName?: string;
  /** Pre-built clients (tests). */
  sts?: STSClient;
  ssm?: SSMClient;
  ec2?: EC2Client;
  secretsManager?: SecretsManagerClient;
  dynamodb?: DynamoDBClient;
  /** EC2 / SSM clients for another account or Region (tests). */
  clientsFor?: (region: string, credentials?: Credentials) => { ec2: EC2Client; ssm: SSMClient };
}

/** The claims key the doctor reads: never an instance's (those are <account>/<region>/<instance-id>). */
export const DOCTOR_PROBE_KEY = 'adjoin-doctor-probe';

const PINGS: readonly PingStatus[] = ['Online', 'ConnectionLost', 'Inactive', 'NotRegistered'];
const common = { maxAttempts: 2 };

export class AwsDoctor implements AwsProbe {
  private readonly sts: STSClient;
  private readonly ssm: SSMClient;
  private readonly ec2: EC2Client;
  private readonly sm: SecretsManagerClient;
  private readonly ddb: DynamoDBClient;
  private home: string | undefined;

  constructor(private readonly options: AwsDoctorOptions) {
    const region = { region: options.region, ...common };
    this.sts = options.sts ?? new STSClient(region);
    this.ssm = options.ssm ?? new SSMClient(region);
    this.ec2 = options.ec2 ?? new EC2Client(region);
    this.sm = options.secretsManager ?? new SecretsManagerClient(region);
    this.ddb = options.dynamodb ?? new DynamoDBClient(region);
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapAwsError(err, operation);
    }
  }

  async callerIdentity(): Promise<string> {
    const out = await this.call('STS GetCallerIdentity', () => this.sts.send(new GetCallerIdentityCommand({})));
    this.home = out.Account;
    return out.Arn ?? out.Account ?? '?';
  }

  async describeDocument(name: string): Promise<void> {
    await this.call(`SSM DescribeDocument ${name}`, () => this.ssm.send(new DescribeDocumentCommand({ Name: name })));
  }

  async describeInstances(): Promise<number> {
    const out = await this.call('EC2 DescribeInstances', () => this.ec2.send(new DescribeInstancesCommand({ MaxResults: 5 })));
    return (out.Reservations ?? []).reduce((n, r) => n + (r.Instances?.length ?? 0), 0);
  }

  async describeSecret(id: string): Promise<void> {
    await this.call(`Secrets Manager DescribeSecret ${id}`, () => this.sm.send(new DescribeSecretCommand({ SecretId: id })));
  }

  async readClaims(tableName: string): Promise<void> {
    // A key no instance has (claim keys are <account>/<region>/<instance-id>): read only, nothing found.
    await this.call(`DynamoDB GetItem ${tableName}`, () => this.ddb.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: DOCTOR_PROBE_KEY } }, ProjectionExpression: 'pk' })));
  }

  async queryBoard(tableName: string): Promise<void> {
    // A shard no join uses (shards are <account>/<region>/<0-9>): the index answers, empty.
    await this.call(`DynamoDB Query ${tableName} index ${SSM_WAIT_INDEX}`, () =>
      this.ddb.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: SSM_WAIT_INDEX,
          KeyConditionExpression: '#shard = :shard',
          ExpressionAttributeNames: { '#shard': 'ssmWait' },
          ExpressionAttributeValues: { ':shard': { S: DOCTOR_PROBE_KEY } },
          Limit: 1,
        }),
      ),
    );
  }

  private roleArn(t: Target): string {
    return `arn:${partitionOf(t.region)}:iam::${t.account}:role/${this.options.memberRoleName ?? 'adjoin-member'}`;
  }

  private async assume(t: Target): Promise<NonNullable<Credentials>> {
    const arn = this.roleArn(t);
    const out = await this.call(`STS AssumeRole ${arn}`, () => this.sts.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'adjoin-doctor', DurationSeconds: 900 })));
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw mapAwsError(new Error(`AssumeRole ${arn} returned no credentials`), 'STS AssumeRole');
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}) };
  }

  private clients(region: string, credentials?: Credentials): { ec2: EC2Client; ssm: SSMClient } {
    if (this.options.clientsFor) return this.options.clientsFor(region, credentials);
    const config = { region, ...common, ...(credentials ? { credentials } : {}) };
    return { ec2: new EC2Client(config), ssm: new SSMClient(config) };
  }

  async memberRole(t: Target): Promise<string> {
    const credentials = await this.assume(t);
    const { ec2 } = this.clients(t.region, credentials);
    await this.call(`EC2 DescribeInstances in ${t.account} ${t.region}`, () => ec2.send(new DescribeInstancesCommand({ MaxResults: 5 })));
    return `${this.roleArn(t)}, EC2 in ${t.region} answered`;
  }

  async instance(t: Target & { instanceId: string }): Promise<InstanceFacts | undefined> {
    if (this.home === undefined) await this.callerIdentity();
    const own = this.home === t.account;
    const { ec2, ssm } = own && t.region === this.options.region ? { ec2: this.ec2, ssm: this.ssm } : this.clients(t.region, own ? undefined : await this.assume(t));
    let described;
    try {
      described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [t.instanceId] }));
    } catch (err) {
      if ((err as { name?: string }).name === 'InvalidInstanceID.NotFound') return undefined;
      throw mapAwsError(err, `EC2 DescribeInstances ${t.instanceId}`);
    }
    const raw = described.Reservations?.[0]?.Instances?.[0];
    const info = raw ? toInstanceInfo(raw) : undefined;
    if (!raw || !info) return undefined;
    const ssmOut = await this.call(`SSM DescribeInstanceInformation ${t.instanceId}`, () =>
      ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [t.instanceId] }] })),
    );
    const i = ssmOut.InstanceInformationList?.[0];
    const ping = i?.PingStatus as PingStatus | undefined;
    return {
      ...info,
      pingStatus: ping && PINGS.includes(ping) ? ping : 'NotRegistered',
      ...(i?.AgentVersion ? { agentVersion: i.AgentVersion } : {}),
      ...(i?.PlatformName ? { platformName: i.PlatformName } : raw.PlatformDetails ? { platformName: raw.PlatformDetails } : {}),
      ...(raw.IamInstanceProfile?.Arn ? { instanceProfileArn: raw.IamInstanceProfile.Arn } : {}),
    };
  }
}
