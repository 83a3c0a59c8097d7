import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeDocumentCommand, DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsDoctor } from '../../../../tasks/adapters/aws-doctor';
import { AwsRefused } from '../../../../tasks/lib/errors';
import { INSTANCE } from '../../../fakes';

const common = { region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 };
const sts = mockClient(STSClient);
const ssm = mockClient(SSMClient);
const ec2 = mockClient(EC2Client);
const sm = mockClient(SecretsManagerClient);

function doctor(): { d: AwsDoctor; made: { region: string; creds: unknown }[] } {
  const made: { region: string; creds: unknown }[] = [];
  const d = new AwsDoctor({
    region: 'eu-west-1',
    memberRoleName: 'adjoin-member',
    sts: new STSClient(common),
    ssm: new SSMClient(common),
    ec2: new EC2Client(common),
    secretsManager: new SecretsManagerClient(common),
    clientsFor: (region, creds) => {
      made.push({ region, creds });
      return { ec2: new EC2Client({ ...common, region }), ssm: new SSMClient({ ...common, region }) };
    },
  });
  return { d, made };
}

beforeEach(() => {
  sts.reset();
  ssm.reset();
  ec2.reset();
  sm.reset();
  sts.on(GetCallerIdentityCommand).resolves({ Account: '123456789012', Arn: 'arn:aws:sts::123456789012:assumed-role/adjoin-check-setup/x' });
  sts.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: 'ASIA', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date() } });
});

describe('AwsDoctor', () => {
  it('one cheap read each: GetCallerIdentity, DescribeDocument, DescribeInstances MaxResults 5, DescribeSecret', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-1' }, { InstanceId: 'i-2' }] }] });
    const { d } = doctor();
    await expect(d.callerIdentity()).resolves.toBe('arn:aws:sts::123456789012:assumed-role/adjoin-check-setup/x');
    await d.describeDocument('adjoin-join');
    await expect(d.describeInstances()).resolves.toBe(2);
    await d.describeSecret('adjoin/bind');
    expect(ssm.commandCalls(DescribeDocumentCommand)[0]?.args[0].input).toEqual({ Name: 'adjoin-join' });
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]?.args[0].input).toEqual({ MaxResults: 5 });
    expect(sm.commandCalls(DescribeSecretCommand)[0]?.args[0].input).toEqual({ SecretId: 'adjoin/bind' });
  });

  it('errors are ours (AwsRefused for a missing document)', async () => {
    ssm.on(DescribeDocumentCommand).rejects(Object.assign(new Error('not found'), { name: 'InvalidDocument' }));
    await expect(doctor().d.describeDocument('adjoin-join')).rejects.toBeInstanceOf(AwsRefused);
  });

  it('member role: AssumeRole of <memberRoleName> in the account, then EC2 in the Region with those credentials', async () => {
    const { d, made } = doctor();
    await expect(d.memberRole({ account: '222222222222', region: 'us-east-1' })).resolves.toBe('arn:aws:iam::222222222222:role/adjoin-member, EC2 in us-east-1 answered');
    expect(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input).toMatchObject({ RoleArn: 'arn:aws:iam::222222222222:role/adjoin-member', RoleSessionName: 'adjoin-doctor' });
    expect(made).toEqual([{ region: 'us-east-1', creds: { accessKeyId: 'ASIA', secretAccessKey: 's', sessionToken: 't' } }]);
  });

  it('an instance of our own account: EC2 + SSM facts (agent version, platform, profile), no role assumed', async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: 'running' }, Tags: [{ Key: 'Domain:Join', Value: 'true' }], IamInstanceProfile: { Arn: 'arn:aws:iam::123456789012:instance-profile/ssm' } }] }],
    });
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: INSTANCE, PingStatus: 'Online', AgentVersion: '3.3.40.0', PlatformName: 'Amazon Linux' }] });
    const { d } = doctor();
    await expect(d.instance({ instanceId: INSTANCE, account: '123456789012', region: 'eu-west-1' })).resolves.toMatchObject({
      instanceId: INSTANCE,
      state: 'running',
      pingStatus: 'Online',
      agentVersion: '3.3.40.0',
      platformName: 'Amazon Linux',
      instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/ssm',
      tags: { 'Domain:Join': 'true' },
    });
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
    expect(ssm.commandCalls(DescribeInstanceInformationCommand)[0]?.args[0].input).toEqual({ Filters: [{ Key: 'InstanceIds', Values: [INSTANCE] }] });
  });

  it('an unknown instance is undefined; one SSM does not know is NotRegistered', async () => {
    ec2.on(DescribeInstancesCommand).rejectsOnce(Object.assign(new Error('no'), { name: 'InvalidInstanceID.NotFound' }));
    const { d } = doctor();
    await expect(d.instance({ instanceId: INSTANCE, account: '123456789012', region: 'eu-west-1' })).resolves.toBeUndefined();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: 'running' } }] }] });
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    const facts = await d.instance({ instanceId: INSTANCE, account: '123456789012', region: 'eu-west-1' });
    expect(facts?.pingStatus).toBe('NotRegistered');
    expect(facts?.agentVersion).toBeUndefined();
    expect(facts?.instanceProfileArn).toBeUndefined();
  });
});
