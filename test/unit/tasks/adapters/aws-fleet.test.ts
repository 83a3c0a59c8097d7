import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
  EC2ServiceException,
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
  SSMServiceException,
} from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { mapAwsError } from '../../../../tasks/adapters/aws-errors';
import { AwsFleet, type AwsFleetOptions, fleetFor, partitionOf, toCommandStatus } from '../../../../tasks/adapters/aws-fleet';
import { AwsRefused, AwsUnavailable, AwsUnreachable, InstanceGone, Throttled, TransientErrors } from '../../../../tasks/lib/errors';

const ec2Mock = mockClient(EC2Client);
const ssmMock = mockClient(SSMClient);
const stsMock = mockClient(STSClient);
const ID = 'i-0123456789abcdef0';
const documents = { join: 'adjoin-join', verify: 'adjoin-verify' };

const ec2Error = (name: string, status = 400): EC2ServiceException =>
  new EC2ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: `${name} happened` });
const ssmError = (name: string, status = 400): SSMServiceException =>
  new SSMServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: `${name} happened` });

const fleet = (): AwsFleet => new AwsFleet({ region: 'eu-west-1', account: '123456789012', documents, ec2: new EC2Client({ region: 'eu-west-1' }), ssm: new SSMClient({ region: 'eu-west-1' }) });

beforeEach(() => {
  ec2Mock.reset();
  ssmMock.reset();
  stsMock.reset();
});

describe('AwsFleet EC2', () => {
  it('describes an instance', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: ID,
              State: { Name: 'running' },
              Tags: [{ Key: 'Domain:Join', Value: 'true' }],
              PrivateDnsName: 'ip-10-0-0-5.eu-west-1.compute.internal',
              LaunchTime: new Date('2026-11-21T09:00:00Z'),
            },
          ],
        },
      ],
    });
    // Act
    const info = await fleet().describeInstance(ID);
    // Assess
    expect(info).toEqual({
      instanceId: ID,
      state: 'running',
      platform: 'linux',
      tags: { 'Domain:Join': 'true' },
      privateDnsName: 'ip-10-0-0-5.eu-west-1.compute.internal',
      launchTime: new Date('2026-11-21T09:00:00Z'),
    });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: [ID] });
  });

  it('reads the windows platform', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: ID, State: { Name: 'running' }, Platform: 'windows' as never }] }] });
    // Act / Assess
    expect((await fleet().describeInstance(ID))?.platform).toBe('windows');
  });

  it('returns undefined for an instance EC2 does not know', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));
    // Act / Assess
    await expect(fleet().describeInstance(ID)).resolves.toBeUndefined();
  });

  it.each([
    ['RequestLimitExceeded', 503, Throttled],
    ['InternalError', 500, AwsUnavailable],
    ['UnauthorizedOperation', 403, AwsRefused],
  ] as const)('maps %s to our catalogue', async (name, status, type) => {
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error(name, status));
    await expect(fleet().describeInstance(ID)).rejects.toThrow(type);
  });

  it('describes many instances in batches of 200 with a filter, following pages', async () => {
    // Prepare
    const ids = Array.from({ length: 450 }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`);
    ec2Mock.on(DescribeInstancesCommand).callsFake((input: { Filters?: { Values?: string[] }[]; NextToken?: string }) => {
      const values = input.Filters?.[0]?.Values ?? [];
      // page 1 returns the first half, page 2 the rest (only for the first batch); unknown IDs are simply absent
      const known = values.filter((_, k) => k % 3 !== 0);
      if (values[0] === ids[0] && !input.NextToken)
        return { Reservations: [{ Instances: known.slice(0, 50).map((InstanceId) => ({ InstanceId, State: { Name: 'running' } })) }], NextToken: 't2' };
      const rest = values[0] === ids[0] ? known.slice(50) : known;
      return { Reservations: [{ Instances: rest.map((InstanceId) => ({ InstanceId, State: { Name: 'stopped' } })) }] };
    });
    // Act
    const found = await fleet().describeInstances(ids);
    // Assess
    const calls = ec2Mock.commandCalls(DescribeInstancesCommand);
    expect(calls).toHaveLength(4);
    expect(calls.map((c) => c.args[0].input.Filters?.[0]?.Values?.length)).toEqual([200, 200, 200, 50]);
    expect(calls[0]?.args[0].input).toMatchObject({ Filters: [{ Name: 'instance-id' }], MaxResults: 1000 });
    expect(calls[1]?.args[0].input.NextToken).toBe('t2');
    expect(found.size).toBe(ids.filter((_, i) => i % 200 % 3 !== 0).length);
    expect(found.has(ids[0] as string)).toBe(false);
  });

  it('fails describeInstances on any error (never "gone")', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('InternalError', 500));
    // Act / Assess
    await expect(fleet().describeInstances([ID])).rejects.toThrow(AwsUnavailable);
  });

  it('tags an instance', async () => {
    // Prepare
    ec2Mock.on(CreateTagsCommand).resolves({});
    // Act
    await fleet().tagInstance(ID, { 'adjoin:status': 'joining' });
    // Assess
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: [ID], Tags: [{ Key: 'adjoin:status', Value: 'joining' }] });
  });

  it('tagging an unknown instance is InstanceGone', async () => {
    // Prepare
    ec2Mock.on(CreateTagsCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));
    // Act / Assess
    await expect(fleet().tagInstance(ID, { a: 'b' })).rejects.toThrow(InstanceGone);
  });
});

describe('AwsFleet SSM', () => {
  it('reads the ping status, NotRegistered when unknown', async () => {
    // Prepare
    ssmMock.on(DescribeInstanceInformationCommand).resolvesOnce({ InstanceInformationList: [{ InstanceId: ID, PingStatus: 'Online' }] }).resolves({ InstanceInformationList: [] });
    // Act / Assess
    await expect(fleet().ssmPingStatus(ID)).resolves.toBe('Online');
    await expect(fleet().ssmPingStatus(ID)).resolves.toBe('NotRegistered');
    expect(ssmMock).toHaveReceivedCommandWith(DescribeInstanceInformationCommand, { Filters: [{ Key: 'InstanceIds', Values: [ID] }] });
  });

  it('stores the join secret as an overwritten SecureString, then tags it with its instance ARN; returns only its name', async () => {
    // Prepare
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    ssmMock.on(AddTagsToResourceCommand).resolves({});
    // Act / Assess
    await expect(fleet().putJoinSecret(ID, 'S3cret-otp')).resolves.toBe(`/adjoin/otp/${ID}`);
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, {
      Name: `/adjoin/otp/${ID}`,
      Value: 'S3cret-otp',
      Type: 'SecureString',
      Overwrite: true,
    });
    // Tags cannot go with Overwrite on PutParameter: exactly these two calls, in this order.
    const calls = ssmMock.calls().map((c) => c.args[0]);
    expect(calls.map((c) => c.constructor.name)).toEqual(['PutParameterCommand', 'AddTagsToResourceCommand']);
    expect(calls[0]?.input).not.toHaveProperty('Tags');
    expect(calls[0]?.input).not.toHaveProperty('KeyId');
    expect(calls[1]?.input).toEqual({
      ResourceType: 'Parameter',
      ResourceId: `/adjoin/otp/${ID}`,
      Tags: [{ Key: 'adjoin:instance-arn', Value: `arn:aws:ec2:eu-west-1:123456789012:instance/${ID}` }],
    });
  });

  it('encrypts the join secret with the configured KMS key, in the partition of the Region', async () => {
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    ssmMock.on(AddTagsToResourceCommand).resolves({});
    const f = new AwsFleet({ region: 'cn-north-1', account: '123456789012', documents, secretKeyId: 'alias/adjoin-otp', ssm: new SSMClient({ region: 'cn-north-1' }) });
    await f.putJoinSecret(ID, 'S3cret-otp');
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, { KeyId: 'alias/adjoin-otp', Overwrite: true });
    expect(ssmMock).toHaveReceivedCommandWith(AddTagsToResourceCommand, { Tags: [{ Key: 'adjoin:instance-arn', Value: `arn:aws-cn:ec2:cn-north-1:123456789012:instance/${ID}` }] });
  });

  it('a tag that cannot be set fails the write (the secret would be unreadable anyway), without the secret in the error', async () => {
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    ssmMock.on(AddTagsToResourceCommand).rejects(ssmError('AccessDeniedException'));
    const err = await fleet().putJoinSecret(ID, 'S3cret-otp').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsRefused);
    expect((err as Error).message).toMatch(/AddTagsToResource/);
    expect((err as Error).message).not.toContain('S3cret-otp');
    const noAccount = new AwsFleet({ region: 'eu-west-1', documents, ssm: new SSMClient({ region: 'eu-west-1' }) });
    await expect(noAccount.putJoinSecret(ID, 'x')).rejects.toThrow(/account is unknown/);
  });

  it('uses the configured secret path', async () => {
    // Prepare
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    ssmMock.on(AddTagsToResourceCommand).resolves({});
    const f = new AwsFleet({ region: 'eu-west-1', account: '123456789012', documents, secretPath: '/acme/otp/', ssm: new SSMClient({ region: 'eu-west-1' }) });
    // Act / Assess
    await expect(f.putJoinSecret(ID, 'x')).resolves.toBe(`/acme/otp/${ID}`);
  });

  it('never puts the secret in an error, even when AWS echoes it', async () => {
    // Prepare
    ssmMock.on(PutParameterCommand).rejects(
      new SSMServiceException({ name: 'ValidationException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: "Value 'S3cret-otp' at 'value' failed to satisfy constraint" }),
    );
    // Act
    const err = await fleet().putJoinSecret(ID, 'S3cret-otp').catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(AwsRefused);
    expect((err as Error).message).not.toContain('S3cret-otp');
  });

  it('deletes the join secret; already gone is fine', async () => {
    // Prepare
    ssmMock.on(DeleteParameterCommand).rejects(ssmError('ParameterNotFound'));
    // Act / Assess
    await expect(fleet().deleteJoinSecret(ID)).resolves.toBeUndefined();
    expect(ssmMock).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: `/adjoin/otp/${ID}` });
  });

  it('sends a command to the deployed document', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'c-1' } });
    // Act
    const id = await fleet().sendCommand({ instanceId: ID, document: 'join', parameters: { A: '1', B: 'x,y' }, comment: 'c'.repeat(150), timeoutSeconds: 600 });
    // Assess
    expect(id).toBe('c-1');
    expect(ssmMock).toHaveReceivedCommandWith(SendCommandCommand, {
      DocumentName: 'adjoin-join',
      InstanceIds: [ID],
      Parameters: { A: ['1'], B: ['x,y'] },
      Comment: 'c'.repeat(100),
      TimeoutSeconds: 600,
    });
  });

  it('maps SendCommand throttling', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).rejects(ssmError('ThrottlingException'));
    // Act / Assess
    await expect(fleet().sendCommand({ instanceId: ID, document: 'verify', parameters: {}, comment: '', timeoutSeconds: 60 })).rejects.toThrow(Throttled);
  });

  it('reads a command invocation', async () => {
    // Prepare
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', StatusDetails: 'Failed', ResponseCode: 3, StandardOutputContent: 'o', StandardErrorContent: 'e' });
    // Act / Assess
    await expect(fleet().getCommand('c-1', ID)).resolves.toEqual({ status: 'Failed', exitCode: 3, stdout: 'o', stderr: 'e' });
    expect(ssmMock).toHaveReceivedCommandWith(GetCommandInvocationCommand, { CommandId: 'c-1', InstanceId: ID });
  });

  it('treats InvocationDoesNotExist right after sending as Pending', async () => {
    // Prepare
    ssmMock.on(GetCommandInvocationCommand).rejects(ssmError('InvocationDoesNotExist'));
    // Act / Assess
    await expect(fleet().getCommand('c-1', ID)).resolves.toEqual({ status: 'Pending', stdout: '', stderr: '' });
  });

  it('maps StatusDetails Undeliverable / Terminated', () => {
    // Prepare / Act / Assess
    expect(toCommandStatus('Failed', 'Undeliverable')).toBe('Undeliverable');
    expect(toCommandStatus('Failed', 'Terminated')).toBe('Terminated');
    expect(toCommandStatus('InProgress', 'InProgress')).toBe('InProgress');
    expect(toCommandStatus(undefined, undefined)).toBe('Pending');
  });
});

describe('mapAwsError', () => {
  it.each([
    [{ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }, 'Throttled'],
    [{ name: 'Whatever', $retryable: { throttling: true } }, 'Throttled'],
    [{ name: 'Whatever', $metadata: { httpStatusCode: 429 } }, 'Throttled'],
    [{ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }, 'AwsUnavailable'],
    [{ name: 'Error', code: 'ECONNRESET' }, 'AwsUnavailable'],
    [{ name: 'TimeoutError' }, 'AwsUnreachable'],
    [{ name: 'Error', code: 'ECONNREFUSED' }, 'AwsUnreachable'],
    [{ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }, 'AwsRefused'],
    [{ name: 'ValidationException', $metadata: { httpStatusCode: 400 } }, 'AwsRefused'],
  ])('%o → %s', (err, name) => {
    expect(mapAwsError(err, 'op').name).toBe(name);
  });
});

describe('an endpoint the task cannot reach', () => {
  const timeout = (): Error => Object.assign(new Error('Connection timed out after 3000 ms'), { name: 'TimeoutError' });
  const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 10.0.0.2:443'), { code: 'ECONNREFUSED' });
  const timedOut = (): Error => Object.assign(new Error('connect ETIMEDOUT 52.94.0.1:443'), { code: 'ETIMEDOUT' });

  it.each([
    ['EC2', 'a connect timeout', timeout, () => ec2Mock.on(DescribeInstancesCommand), (f: AwsFleet) => f.describeInstance(ID), 'ec2.eu-west-1.amazonaws.com'],
    ['SSM', 'a refused connection', refused, () => ssmMock.on(DescribeInstanceInformationCommand), (f: AwsFleet) => f.ssmPingStatus(ID), 'ssm.eu-west-1.amazonaws.com'],
    ['SSM', 'ETIMEDOUT', timedOut, () => ssmMock.on(SendCommandCommand), (f: AwsFleet) => f.sendCommand({ instanceId: ID, document: 'join', parameters: {}, comment: 'c', timeoutSeconds: 60 }), 'ssm.eu-west-1.amazonaws.com'],
  ] as const)('%s with %s is AwsUnreachable naming the endpoint and the fix', async (_service, _what, error, stub, call, endpoint) => {
    stub().rejects(error());
    const failure = call(fleet());
    await expect(failure).rejects.toThrow(AwsUnreachable);
    await expect(failure).rejects.toThrow(new RegExp(`cannot reach ${endpoint.replace(/\./g, '\\.')}.*network\\.createEndpoints or add a NAT route.*egress on 443`));
  });

  it('STS: GetCallerIdentity that times out names sts.<region>', async () => {
    stsMock.on(GetCallerIdentityCommand).rejects(timeout());
    const f = fleetFor({ documents, sts: new STSClient({ region: 'eu-central-1' }), stsRegion: 'eu-central-1' });
    const failure = f({ account: '123456789012', region: 'eu-central-1' }).describeInstances([ID]);
    await expect(failure).rejects.toMatchObject({ name: 'AwsUnreachable', message: expect.stringMatching(/^STS GetCallerIdentity failed: cannot reach sts\.eu-central-1\.amazonaws\.com/) as unknown });
  });

  it('AwsUnreachable is transient: the state machines retry it', () => {
    expect(TransientErrors).toContain('AwsUnreachable');
    expect(mapAwsError(timeout(), 'SSM GetParameter /adjoin/ca-bundle', [], 'cn-north-1').message).toContain('ssm.cn-north-1.amazonaws.com.cn');
  });
});

describe('fleetFor', () => {
  it('hands the account and the one-time-password KMS key to each fleet', async () => {
    const seen: AwsFleetOptions[] = [];
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    const f = fleetFor({ documents, secretKeyId: 'alias/adjoin-otp', homeAccount: '111111111111', makeFleet: (o) => { seen.push(o); return new AwsFleet({ ...o, ssm: new SSMClient({ region: o.region }) }); } });
    await f({ account: '111111111111', region: 'eu-west-1' }).ssmPingStatus(ID);
    expect(seen[0]).toMatchObject({ account: '111111111111', region: 'eu-west-1', secretKeyId: 'alias/adjoin-otp' });
  });

  const made: AwsFleetOptions[] = [];
  const makeFleet = (o: AwsFleetOptions): AwsFleet => {
    made.push(o);
    return new AwsFleet({ ...o, ec2: new EC2Client({ region: o.region }), ssm: new SSMClient({ region: o.region }) });
  };
  beforeEach(() => {
    made.length = 0;
  });

  it('caches one fleet per account and Region', async () => {
    // Prepare
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    const f = fleetFor({ documents, makeFleet, homeAccount: '111111111111' });
    const a = f({ account: '111111111111', region: 'eu-west-1' });
    // Act / Assess
    expect(f({ account: '111111111111', region: 'eu-west-1' })).toBe(a);
    const b = f({ account: '111111111111', region: 'us-east-1' });
    expect(b).not.toBe(a);
    await a.ssmPingStatus(ID);
    await a.ssmPingStatus(ID);
    await b.ssmPingStatus(ID);
    expect(made.map((o) => o.region)).toEqual(['eu-west-1', 'us-east-1']);
    expect(made.map((o) => o.account)).toEqual(['111111111111', '111111111111']); // names the one-time password's instance
    expect(made.every((o) => o.credentials === undefined)).toBe(true);
  });

  it('refuses another account when no member role is configured (it would look gone)', async () => {
    // Prepare
    const f = fleetFor({ documents, makeFleet, homeAccount: '111111111111' });
    // Act
    const lookup = f({ account: '222222222222', region: 'eu-west-1' }).describeInstances([ID]);
    // Assess
    await expect(lookup).rejects.toMatchObject({ name: 'AwsRefused', message: expect.stringMatching(/222222222222.*memberRoleName/) as unknown });
    expect(made).toHaveLength(0);
  });

  it('assumes the member role in other accounts only', async () => {
    // Prepare
    stsMock.on(GetCallerIdentityCommand).resolves({ Account: '111111111111' });
    stsMock.on(AssumeRoleCommand).resolves({
      Credentials: { AccessKeyId: 'AK', SecretAccessKey: 'SK', SessionToken: 'ST', Expiration: new Date(Date.now() + 3_600_000) },
    });
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    const f = fleetFor({ documents, memberRoleName: 'adjoin-member', makeFleet, sts: new STSClient({ region: 'eu-west-1' }) });
    // Act
    await f({ account: '111111111111', region: 'eu-west-1' }).ssmPingStatus(ID);
    await f({ account: '222222222222', region: 'cn-north-1' }).ssmPingStatus(ID);
    const creds = made[1]?.credentials;
    // Assess
    expect(made[0]?.credentials).toBeUndefined();
    expect(typeof creds).toBe('function');
    await expect((creds as () => Promise<unknown>)()).resolves.toMatchObject({ accessKeyId: 'AK' });
    expect(stsMock).toHaveReceivedCommandWith(AssumeRoleCommand, { RoleArn: 'arn:aws-cn:iam::222222222222:role/adjoin-member', RoleSessionName: 'adjoin' });
    expect(stsMock).toHaveReceivedCommandTimes(GetCallerIdentityCommand, 1);
  });

  it('knows the partitions', () => {
    // Prepare / Act / Assess
    expect(partitionOf('eu-west-1')).toBe('aws');
    expect(partitionOf('us-gov-west-1')).toBe('aws-us-gov');
    expect(partitionOf('cn-northwest-1')).toBe('aws-cn');
  });
});

describe('AwsFleet listOtpParameters', () => {
  it('pages GetParametersByPath on the path (no decryption, no recursion) and returns names and dates only', async () => {
    // Prepare
    const at = new Date('2026-11-30T08:00:00Z');
    ssmMock.on(GetParametersByPathCommand)
      .resolvesOnce({ Parameters: [{ Name: `/adjoin/otp/${ID}`, LastModifiedDate: at, Value: 'ciphertext' }], NextToken: 't1' })
      .resolvesOnce({ Parameters: [{ Name: '/adjoin/otp/other', LastModifiedDate: at }] });
    // Act
    const out = await fleet().listOtpParameters();
    // Assess
    expect(out).toEqual([{ name: `/adjoin/otp/${ID}`, lastModified: at }, { name: '/adjoin/otp/other', lastModified: at }]);
    expect(ssmMock).toHaveReceivedCommandTimes(GetParametersByPathCommand, 2);
    expect(ssmMock).toHaveReceivedNthSpecificCommandWith(1, GetParametersByPathCommand, { Path: '/adjoin/otp', Recursive: false, WithDecryption: false, MaxResults: 10 });
    expect(ssmMock).toHaveReceivedNthSpecificCommandWith(2, GetParametersByPathCommand, { Path: '/adjoin/otp', NextToken: 't1' });
  });

  it('maps throttling to Throttled (the state retries) and a refusal to AwsRefused (the account is skipped)', async () => {
    ssmMock.on(GetParametersByPathCommand).rejects(ssmError('ThrottlingException'));
    await expect(fleet().listOtpParameters()).rejects.toThrow(Throttled);
    ssmMock.on(GetParametersByPathCommand).rejects(ssmError('AccessDeniedException'));
    await expect(fleet().listOtpParameters()).rejects.toThrow(AwsRefused);
  });
});
