import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { validateSettings } from '../../tasks/lib/settings';
import { TaskIds } from '../../tasks/registry';
import { fleetTasks, TaskNeeds } from '../../infra/permissions';
import { StackOutputKeys } from '../../cli/aws-backend';
import { buildProgram, DEFAULT_STACK, type Io } from '../../cli/program';
import { build, nagFindings, sampleConfig, type Built } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: Record<string, unknown> };

let built: Built;
let resources: Record<string, Resource>;

/** The sample configuration with one member account (the sample itself has none: it deploys in one account). */
const withMember = () => sampleConfig((c) => { c.memberAccounts = ['222222222222']; });
const OtpKeyDescription = 'adjoin: encrypts the one-time join passwords under /adjoin/otp/';

beforeAll(() => {
  built = build(withMember());
  resources = built.template.toJSON().Resources as Record<string, Resource>;
});

const ofType = (type: string): [string, Resource][] => Object.entries(resources).filter(([, r]) => r.Type === type);
const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** The statements of the role a task function runs as (its inline default policy). */
function taskStatements(taskId: string): Statement[] {
  const [, fn] = ofType('AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === `adjoin-${taskId}`) ?? [];
  if (!fn) throw new Error(`no function for ${taskId}`);
  const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return ofType('AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
const taskActions = (taskId: string): string[] => taskStatements(taskId).flatMap(actionsOf);

describe('task functions', () => {
  it('one Node 22 ARM64 function per task, fixed name, in the VPC, traced', () => {
    const fns = ofType('AWS::Lambda::Function');
    expect(fns).toHaveLength(TaskIds.length);
    expect(fns.map(([, r]) => r.Properties.FunctionName).sort()).toEqual(TaskIds.map((id) => `adjoin-${id}`).sort());
    for (const [, fn] of fns) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        VpcConfig: {
          SubnetIds: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'],
          SecurityGroupIds: ['sg-0a1b2c3d4e5f60003'],
        },
      });
    }
  });

  it('carry the validated Settings in ADJOIN_SETTINGS (without the CA PEM: it is in SSM)', () => {
    for (const [, fn] of ofType('AWS::Lambda::Function')) {
      const env = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      const settings = validateSettings(JSON.parse(env.ADJOIN_SETTINGS ?? ''));
      expect(settings.directory.caParameterName).toBe('/adjoin/ca-bundle');
      expect(JSON.stringify(env).length).toBeLessThan(4096);
      expect(env.ADJOIN_SETTINGS).not.toContain('BEGIN CERTIFICATE');
      expect(JSON.stringify(env.ADJOIN_CLAIMS_TABLE)).toMatch(/"Ref":"[A-Za-z0-9]*JoinClaims[A-Za-z0-9]*"/);
    }
    built.template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/adjoin/ca-bundle',
      Type: 'String',
      Value: Match.stringLikeRegexp('BEGIN CERTIFICATE'),
    });
  });

  it('each logs to its own group with retention', () => {
    for (const id of TaskIds) {
      const [, fn] = ofType('AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === `adjoin-${id}`) ?? [];
      const groupId = (fn?.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(resources[groupId]).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 90 } });
    }
  });
});

describe('a failed first create, or a destroy and a redeploy, meets nothing retained in its way', () => {
  const full = () => built.template.toJSON().Resources as Record<string, Resource & { DeletionPolicy?: string; UpdateReplacePolicy?: string }>;

  it('every log group (one per task, one per state machine: join, join-cleanup, leave, reconcile) has a generated name and RetainExceptOnCreate', () => {
    const groups = Object.values(full()).filter((r) => r.Type === 'AWS::Logs::LogGroup');
    expect(groups).toHaveLength(TaskIds.length + 4);
    for (const g of groups) {
      expect(g.Properties.LogGroupName).toBeUndefined();
      expect(g.DeletionPolicy).toBe('RetainExceptOnCreate');
      expect(g.UpdateReplacePolicy).toBe('Retain');
    }
  });

  it('the KMS key is RetainExceptOnCreate too, and nothing retained carries a fixed name', () => {
    const resourcesNow = Object.values(full());
    // The alarm-topic key is kept (RetainExceptOnCreate); the one-time-password key holds only
    // minutes-lived, single-use passwords and goes with the stack (its alias too), so a redeploy
    // makes a new one under the same alias.
    expect(resourcesNow.filter((r) => r.Type === 'AWS::KMS::Key').map((r) => r.DeletionPolicy).sort()).toEqual(['Delete', 'RetainExceptOnCreate']);
    const retainedAlways = resourcesNow.filter((r) => r.DeletionPolicy === 'Retain');
    expect(retainedAlways.map((r) => r.Type)).toEqual([]);
    const nameKeys = /^(LogGroupName|Name|TopicName|QueueName|FunctionName|StateMachineName|RoleName|ManagedPolicyName|AliasName)$/;
    for (const r of resourcesNow.filter((x) => x.DeletionPolicy === 'RetainExceptOnCreate'))
      expect(Object.keys(r.Properties ?? {}).filter((k) => nameKeys.test(k))).toEqual([]);
  });
});

describe('network.createEndpoints', () => {
  it('off (default): no endpoint is created', () => {
    built.template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });

  it('on: the five interface endpoints the adapters call (states included), private DNS, 443 only from the task security groups, the DynamoDB gateway on the route tables, no nag finding', () => {
    const other = build(sampleConfig((c) => { c.network.createEndpoints = true; c.network.routeTableIds = ['rtb-0a1b2c3d4e5f60011', 'rtb-0a1b2c3d4e5f60012']; }));
    const all = Object.values(other.template.findResources('AWS::EC2::VPCEndpoint')) as Resource[];
    const endpoints = all.filter((e) => e.Properties.VpcEndpointType === 'Interface');
    expect(endpoints.map((e) => e.Properties.ServiceName).sort()).toEqual(['ec2', 'secretsmanager', 'ssm', 'states', 'sts'].map((s) => `com.amazonaws.eu-west-1.${s}`));
    const gateways = all.filter((e) => e.Properties.VpcEndpointType === 'Gateway');
    expect(gateways.map((g) => g.Properties)).toMatchObject([
      { VpcEndpointType: 'Gateway', ServiceName: 'com.amazonaws.eu-west-1.dynamodb', VpcId: 'vpc-0a1b2c3d4e5f60718', RouteTableIds: ['rtb-0a1b2c3d4e5f60011', 'rtb-0a1b2c3d4e5f60012'] },
    ]);
    expect(all).toHaveLength(6);
    for (const e of endpoints) {
      expect(e.Properties).toMatchObject({ VpcEndpointType: 'Interface', PrivateDnsEnabled: true, VpcId: 'vpc-0a1b2c3d4e5f60718', SubnetIds: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'] });
    }
    const groups = Object.values(other.template.findResources('AWS::EC2::SecurityGroup')) as Resource[];
    expect(groups).toHaveLength(1);
    expect(groups[0]?.Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, SourceSecurityGroupId: 'sg-0a1b2c3d4e5f60003' }),
    ]);
    expect(nagFindings(other.orchestrator)).toEqual([]);
  });
  it('on, with a directoryId look-up and lifecycle hooks: the ds and autoscaling endpoints too (only then)', () => {
    const other = build(sampleConfig((c) => {
      c.network.createEndpoints = true;
      c.network.routeTableIds = ['rtb-0a1b2c3d4e5f60011'];
      const d = c.directory as Record<string, unknown>;
      d.directoryId = 'd-0123456789';
      d.tlsServerName = 'corp.example.com';
      delete d.domainControllers;
      delete d.ldapUrls;
      (c as unknown as Record<string, unknown>).lifecycle = { enabled: true };
    }));
    const names = (Object.values(other.template.findResources('AWS::EC2::VPCEndpoint')) as Resource[]).map((e) => String(e.Properties.ServiceName));
    expect(names.filter((n) => /\.(ds|autoscaling)$/.test(n)).sort()).toEqual(['com.amazonaws.eu-west-1.autoscaling', 'com.amazonaws.eu-west-1.ds']);
    expect(nagFindings(other.orchestrator)).toEqual([]);
  });
});

describe('the sample configuration deploys in one account as it is', () => {
  it('gives one stack, named after resourcePrefix, with no member account', () => {
    const sample = build();
    expect(sample.members).toEqual([]);
    expect(sample.app.node.children.filter((c) => c instanceof Stack).map((c) => c.stackName)).toEqual(['adjoin']);
    sample.template.resourceCountIs('AWS::Events::EventBusPolicy', 0);
  });
});

describe('least privilege', () => {
  it('no task role has a managed policy, a wildcard action, or a service-wide grant', () => {
    for (const [, role] of ofType('AWS::IAM::Role')) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    for (const id of TaskIds) {
      for (const action of taskActions(id)) {
        expect(action).not.toContain('*');
      }
    }
  });

  it('ssm:SendCommand only where a document is sent, only on our document and opted-in instances', () => {
    const senders = TaskIds.filter((id) => taskActions(id).includes('ssm:SendCommand'));
    expect(senders.sort()).toEqual(['run-join-document']);
    const join = taskStatements('run-join-document').filter((s) => actionsOf(s).includes('ssm:SendCommand'));
    expect(JSON.stringify(join)).toContain('document/adjoin-join');
    expect(JSON.stringify(join)).not.toContain('document/adjoin-verify');
    const toInstances = join.find((s) => JSON.stringify(s.Resource).includes(':instance/*'));
    expect(toInstances?.Condition).toEqual({ StringEquals: { 'ssm:resourceTag/Domain:Join': 'true' } });
    // The verify document stays for checks by hand: no task may send it (check-setup only describes it).
    expect(TaskIds.some((id) => JSON.stringify(taskStatements(id).filter((st) => actionsOf(st).includes('ssm:SendCommand'))).includes('document/adjoin-verify'))).toBe(false);
  });

  it('one-time passwords: written only by prepare and run (a fresh one for a new round), deleted only by record, compensation, cleanup and the leave, under /adjoin/otp/', () => {
    const writers = TaskIds.filter((id) => taskActions(id).includes('ssm:PutParameter'));
    expect(writers.sort()).toEqual(['prepare-computer-object', 'run-join-document', 'run-windows-join-document']);
    const deleters = TaskIds.filter((id) => taskActions(id).includes('ssm:DeleteParameter'));
    expect(deleters.sort()).toEqual(['clean-up-failed-join', 'find-computer-objects', 'find-stale-objects', 'record-result', 'remove-join-artifacts']);
    // Listed only by the reconcile's sweep, on the path itself (never the whole store, never values decrypted).
    const listers = TaskIds.filter((id) => taskActions(id).includes('ssm:GetParametersByPath'));
    expect(listers).toEqual(['find-stale-objects']);
    const list = taskStatements('find-stale-objects').filter((st) => actionsOf(st).includes('ssm:GetParametersByPath'));
    expect(list.map((st) => actionsOf(st))).toEqual([['ssm:GetParametersByPath']]);
    expect(JSON.stringify(list.map((st) => st.Resource))).toMatch(/:parameter\/adjoin\/otp"\]/);
    for (const id of [...writers, ...deleters]) {
      const s = taskStatements(id).filter((st) => actionsOf(st).some((a) => a === 'ssm:PutParameter' || a === 'ssm:DeleteParameter'));
      expect(JSON.stringify(s.map((st) => st.Resource))).toContain(':parameter/adjoin/otp/*');
    }
  });

  it('the bind secret: GetSecretValue only for directory tasks, only on that secret', () => {
    const readers = TaskIds.filter((id) => taskActions(id).includes('secretsmanager:GetSecretValue'));
    expect(readers.sort()).toEqual(TaskIds.filter((id) => TaskNeeds[id].includes('directory')).sort());
    expect(readers.length).toBeGreaterThan(0);
    for (const id of readers) {
      const s = taskStatements(id).filter((st) => actionsOf(st).includes('secretsmanager:GetSecretValue'));
      expect(s.map((st) => st.Resource)).toEqual([sampleConfig().directory.serviceAccountSecret]);
    }
  });

  it('ec2:CreateTags only with keys that carry the status prefix', () => {
    const taggers = TaskIds.filter((id) => taskActions(id).includes('ec2:CreateTags'));
    expect(taggers.length).toBeGreaterThan(0);
    for (const id of taggers) {
      const s = taskStatements(id).find((st) => actionsOf(st).includes('ec2:CreateTags'));
      expect(s?.Condition).toEqual({ 'ForAllValues:StringLike': { 'aws:TagKeys': ['adjoin:*'] } });
    }
  });

  it('tasks that need nothing from AWS get nothing but logs, tracing and the VPC', () => {
    const base = ['logs:CreateLogStream', 'logs:PutLogEvents', 'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces',
      'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses',
      'xray:PutTraceSegments', 'xray:PutTelemetryRecords'];
    for (const id of TaskIds.filter((t) => TaskNeeds[t].length === 0)) {
      expect(taskActions(id).filter((a) => !base.includes(a))).toEqual([]);
    }
  });

  it('fleet tasks may assume the member-account role, others may not', () => {
    expect(JSON.stringify(taskStatements('read-instance'))).toContain(':iam::222222222222:role/adjoin-member');
    expect(taskActions('check-deletion-cap')).not.toContain('sts:AssumeRole');
  });
});

describe('directory.directoryId without domainControllers (DCs read from Directory Service at cold start)', () => {
  const lookUps = (config = sampleConfig((c) => { c.directory.directoryId = 'd-1234567890'; delete c.directory.domainControllers; c.directory.tlsServerName = 'corp.example.com'; })) => {
    const b = build(config);
    const res = b.template.toJSON().Resources as Record<string, Resource>;
    const fns = Object.values(res).filter((r) => r.Type === 'AWS::Lambda::Function');
    const roleOf = (fn: Resource) => (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statementsOfRole = (roleId: string): Statement[] => Object.values(res)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as { Ref: string }[]).some((x) => x.Ref === roleId))
      .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
    return fns.map((fn) => {
      const id = String(fn.Properties.FunctionName).replace(/^adjoin-/, '');
      const env = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      const ds = statementsOfRole(roleOf(fn)).filter((st) => actionsOf(st).some((a) => a.startsWith('ds:')));
      return { id, env, ds, settings: JSON.parse(env.ADJOIN_SETTINGS ?? '{}') as { directory: { directoryId?: string; dcIps: string[] } }, nag: nagFindings(b.orchestrator) };
    });
  };

  it('only the directory tasks may call ds:DescribeDirectories (read only), and only they look up; no nag finding', () => {
    const fns = lookUps();
    const directoryTasks = TaskIds.filter((t) => TaskNeeds[t].includes('directory'));
    expect(fns.filter((f) => f.ds.length > 0).map((f) => f.id).sort()).toEqual([...directoryTasks].sort());
    for (const f of fns) {
      const reads = directoryTasks.includes(f.id as (typeof directoryTasks)[number]);
      expect(f.ds.flatMap(actionsOf)).toEqual(reads ? ['ds:DescribeDirectories'] : []);
      expect(f.env.ADJOIN_DIRECTORY_LOOKUP).toBe(reads ? 'true' : undefined);
      expect(f.settings.directory).toMatchObject({ directoryId: 'd-1234567890', dcIps: [] });
    }
    expect(fns[0]?.nag).toEqual([]);
  });

  it('without directoryId, or with the DCs pinned, no task may call Directory Service and none looks up', () => {
    for (const config of [sampleConfig(), sampleConfig((c) => { c.directory.directoryId = 'd-1234567890'; })]) {
      for (const f of lookUps(config)) {
        expect(f.ds).toEqual([]);
        expect(f.env.ADJOIN_DIRECTORY_LOOKUP).toBeUndefined();
      }
    }
  });
});

describe('documents', () => {
  it('join and verify: Command documents from the scripts, with their # param: parameters', () => {
    for (const [name, file] of [['adjoin-join', 'join'], ['adjoin-verify', 'verify']] as const) {
      const [, doc] = ofType('AWS::SSM::Document').find(([, r]) => r.Properties.Name === name) ?? [];
      expect(doc).toBeDefined();
      const content = doc?.Properties.Content as { schemaVersion: string; parameters: Record<string, { interpolationType: string }>; mainSteps: { action: string }[] };
      expect(doc?.Properties.DocumentType).toBe('Command');
      expect(doc?.Properties.UpdateMethod).toBe('NewVersion');
      expect(content.schemaVersion).toBe('2.2');
      expect(content.mainSteps[0]?.action).toBe('aws:runShellScript');
      expect(Object.keys(content.parameters).length).toBeGreaterThan(0);
      for (const p of Object.values(content.parameters)) expect(p.interpolationType).toBe('ENV_VAR');
      expect(file).toBeTruthy();
    }
  });
});

describe('events', () => {
  it('EC2 running → the join machine, with retries and the dead-letter queue', () => {
    const [, rule] = ofType('AWS::Events::Rule').find(([, r]) => r.Properties.Name === 'adjoin-instance-running') ?? [];
    expect(rule?.Properties.EventPattern).toEqual({
      source: ['aws.ec2'],
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: ['running'] },
    });
    const targets = rule?.Properties.Targets as Record<string, unknown>[];
    expect(targets).toHaveLength(1);
    expect(targets[0]).toMatchObject({
      RetryPolicy: { MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 21600 },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [expect.stringMatching(/DeadLetters/), 'Arn'] } },
    });
    expect(JSON.stringify(targets[0]?.Arn)).toMatch(/JoinStateMachine/);
  });

  it('EC2 terminated → the leave machine; a schedule → reconcile with input {}', () => {
    const [, leave] = ofType('AWS::Events::Rule').find(([, r]) => r.Properties.Name === 'adjoin-instance-terminated') ?? [];
    expect((leave?.Properties.EventPattern as { detail: unknown }).detail).toEqual({ state: ['terminated'] });
    expect(JSON.stringify(leave?.Properties.Targets)).toMatch(/LeaveStateMachine/);
    built.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'adjoin-reconcile',
      ScheduleExpression: 'rate(6 hours)',
      State: 'ENABLED',
      Target: Match.objectLike({
        Input: '{}',
        Arn: { Ref: Match.stringLikeRegexp('ReconcileStateMachine') },
        DeadLetterConfig: Match.objectLike({ Arn: Match.anyValue() }),
        RetryPolicy: { MaximumEventAgeInSeconds: 21600, MaximumRetryAttempts: 20 },
      }),
    });
  });

  it('the dead-letter queue is encrypted and refuses plain HTTP', () => {
    built.template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'adjoin-dead-letters', SqsManagedSseEnabled: true });
    built.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('member accounts may put events on the default bus', () => {
    built.template.hasResourceProperties('AWS::Events::EventBusPolicy', {
      EventBusName: 'default',
      StatementId: 'adjoin-member-222222222222',
    });
  });
});

describe('state machines', () => {
  it('the join claims: an on-demand table kept on delete, PITR, TTL on ttl, key pk; only the claim tasks may touch it', () => {
    const tables = ofType('AWS::DynamoDB::GlobalTable');
    expect(tables).toHaveLength(1);
    const [, table] = tables[0] as [string, { Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string }];
    expect(table.DeletionPolicy).toBe('RetainExceptOnCreate'); // kept on delete; a failed first create leaves nothing behind
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      Replicas: [expect.objectContaining({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
    expect(table.Properties.TableName).toBeUndefined(); // a generated name: a retained table never blocks a redeploy
    const users = TaskIds.filter((id) => taskActions(id).some((a) => a.startsWith('dynamodb:')));
    expect(users.sort()).toEqual(['check-setup', 'check-ssm-agent', 'clean-up-failed-join', 'find-computer-objects', 'find-stale-objects', 'prepare-computer-object', 'read-instance', 'record-leave', 'record-result', 'run-join-document', 'run-windows-join-document']);
    // The doctor and the leave only read (a probe key; the objectGUID the claim recorded).
    const readers = ['check-setup', 'find-computer-objects', 'find-stale-objects'];
    // "Wait for SSM Online" also queries the SSM Online board's index (tasks/lib/ssm-board.ts), the doctor probes it.
    const expected = (id: string): string[] =>
      id === 'check-setup'
        ? ['dynamodb:GetItem', 'dynamodb:Query']
        : readers.includes(id) ? ['dynamodb:GetItem'] : ['dynamodb:GetItem', 'dynamodb:PutItem', ...(id === 'check-ssm-agent' ? ['dynamodb:Query'] : []), 'dynamodb:UpdateItem'];
    for (const id of users) expect(taskActions(id).filter((a) => a.startsWith('dynamodb:')).sort()).toEqual(expected(id));
  });

  it('the SSM Online board: a sparse keys-only index ssm-wait (ssmWait, ssmWaitAt) on the claims table; only "Wait for SSM Online" and the doctor may query it, and only it', () => {
    const [, table] = ofType('AWS::DynamoDB::GlobalTable')[0] as [string, Resource];
    expect(table.Properties.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'ssm-wait',
        KeySchema: [{ AttributeName: 'ssmWait', KeyType: 'HASH' }, { AttributeName: 'ssmWaitAt', KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
    expect(table.Properties.AttributeDefinitions).toEqual(expect.arrayContaining([{ AttributeName: 'ssmWait', AttributeType: 'S' }, { AttributeName: 'ssmWaitAt', AttributeType: 'N' }]));
    const queries = TaskIds.flatMap((id) => taskStatements(id).filter((st) => actionsOf(st).includes('dynamodb:Query')).map((st) => ({ id, st })));
    // "Wait for SSM Online" sweeps; check-setup (the doctor) probes the index.
    expect(queries.map((q) => q.id).sort()).toEqual(['check-setup', 'check-ssm-agent']);
    for (const { st } of queries) {
      expect(actionsOf(st)).toEqual(['dynamodb:Query']);
      // The index only: never the table (a Query on the table would read every claim of a key).
      expect(st.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/JoinClaims/), 'Arn'] }, '/index/ssm-wait']] });
    }
  });

  it('SSM pacing off (pacing.describeInstanceInformation 0): no board, so no Query right', () => {
    const off = build(sampleConfig((c) => { c.pacing = { describeInstanceInformation: 0 }; }));
    const res = off.template.toJSON().Resources as Record<string, Resource>;
    const statements = Object.values(res).filter((r) => r.Type === 'AWS::IAM::Policy').flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
    expect(statements.flatMap(actionsOf)).not.toContain('dynamodb:Query');
    expect(statements.flatMap(actionsOf)).toContain('dynamodb:UpdateItem');
  });

  it('a join that ends FAILED, TIMED_OUT or ABORTED starts the join-cleanup machine (with retries and the dead-letter queue)', () => {
    built.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: Match.stringLikeRegexp('JoinStateMachine') }] },
      },
      Targets: [Match.objectLike({ InputPath: '$.detail', DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
    });
    expect(taskActions('clean-up-failed-join')).toContain('states:GetExecutionHistory');
  });

  it('four machines, fixed names, logging ALL without execution data, X-Ray on', () => {
    const machines = ofType('AWS::StepFunctions::StateMachine');
    expect(machines.map(([, m]) => m.Properties.StateMachineName).sort()).toEqual(['adjoin-join', 'adjoin-join-cleanup', 'adjoin-leave', 'adjoin-reconcile']);
    for (const [, m] of machines) {
      expect(m.Properties).toMatchObject({
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
      });
    }
  });

  it('alarms on failed and timed-out executions and on dead letters, to an encrypted topic', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm');
    const failed = alarms.filter(([, a]) => a.Properties.MetricName === 'ExecutionsFailed');
    expect(failed).toHaveLength(4);
    expect(alarms.filter(([, a]) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible')).toHaveLength(1);
    for (const [, a] of alarms) {
      expect(JSON.stringify(a.Properties.AlarmActions)).toMatch(/^\[\{"Ref":"[A-Za-z0-9]*AlarmTopic[A-Za-z0-9]*"\}\]$/);
    }
    built.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    built.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'platform-oncall@example.com' });
    built.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('the alarm texts name only CLI commands and options that exist (cli/program.ts)', () => {
    const unused = (): never => { throw new Error('not used: the program is only inspected'); };
    const program = buildProgram({} as Io, { aws: unused, lab: unused, labControl: unused }, () => undefined);
    const cited = ofType('AWS::CloudWatch::Alarm')
      .flatMap(([, a]) => [...String(a.Properties.AlarmDescription).matchAll(/`adjoin ([^`]*)`/g)].map((m) => m[1] ?? ''));
    expect(cited.length).toBeGreaterThanOrEqual(6);
    for (const line of cited) {
      const [name = '', ...words] = line.split(' ');
      const command = program.commands.find((c) => c.name() === name || c.aliases().includes(name));
      expect(command ? `adjoin ${line}` : `no command "${name}" in: adjoin ${line}`).toBe(`adjoin ${line}`);
      const positional: string[] = [];
      for (let i = 0; i < words.length; i += 1) {
        const word = words[i] ?? '';
        if (!word.startsWith('-')) { positional.push(word); continue; }
        const option = command?.options.find((o) => o.long === word || o.short === word);
        expect(option ? word : `no option ${word} in: adjoin ${line}`).toBe(word);
        if (option?.required || option?.optional) i += 1; // its value
      }
      const accepted = command?.registeredArguments.length ?? 0;
      expect(positional.length <= accepted ? 'ok' : `${positional.length} argument(s), "${name}" takes ${accepted}: adjoin ${line}`).toBe('ok');
    }
  });

  it('an existing alarm topic can be used instead', () => {
    const other = build(sampleConfig((c) => { c.alarms = { topicArn: 'arn:aws:sns:eu-west-1:111111111111:ops' }; }));
    other.template.resourceCountIs('AWS::SNS::Topic', 0);
    for (const a of Object.values(other.template.findResources('AWS::CloudWatch::Alarm'))) {
      expect((a as Resource).Properties.AlarmActions).toEqual(['arn:aws:sns:eu-west-1:111111111111:ops']);
    }
  });
});

describe('member account stack', () => {
  it('forwards running/terminated events to the orchestrator bus', () => {
    expect(built.members).toHaveLength(1);
    const member = Template.fromStack(built.members[0]!);
    member.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.ec2'], detail: { state: ['running', 'terminated'] } },
      Targets: [Match.objectLike({ Arn: { 'Fn::Join': ['', Match.arrayWith([':111111111111:event-bus/default'])] } })],
    });
    member.resourceCountIs('AWS::SSM::Document', 2);
  });

  it('one role per fleet task, trusted only by that task\'s role ARN, holding only that task\'s fleet needs', () => {
    const member = Template.fromStack(built.members[0]!);
    const json = member.toJSON().Resources as Record<string, Resource>;
    const roles = Object.entries(json).filter(([, r]) => r.Type === 'AWS::IAM::Role');
    expect(roles.map(([, r]) => r.Properties.RoleName).sort()).toEqual(fleetTasks().map((id) => `adjoin-member-${id}`).sort());
    for (const taskId of fleetTasks()) {
      const [roleId, role] = roles.find(([, r]) => r.Properties.RoleName === `adjoin-member-${taskId}`)!;
      const trust = (role.Properties.AssumeRolePolicyDocument as { Statement: Statement[] & { Principal: unknown }[] }).Statement;
      expect(trust).toHaveLength(1);
      expect(trust[0]).toMatchObject({
        Action: 'sts:AssumeRole',
        Principal: { AWS: { 'Fn::Join': ['', expect.arrayContaining([':iam::111111111111:root'])] } },
        Condition: {
          StringEquals: {
            'aws:PrincipalArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::111111111111:role/adjoin-${taskId}-role`]] },
            'aws:PrincipalTag/adjoin:component': 'task',
          },
        },
      });
      const actions = Object.values(json)
        .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as { Ref: string }[]).some((x) => x.Ref === roleId))
        .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement.flatMap(actionsOf));
      const expected = new Set<string>();
      const byNeed: Record<string, string[]> = {
        describe: ['ec2:DescribeInstances'], tag: ['ec2:CreateTags'], 'ssm-ping': ['ssm:DescribeInstanceInformation'],
        'otp-write': ['ssm:PutParameter', 'ssm:AddTagsToResource'], 'otp-delete': ['ssm:DeleteParameter'], 'otp-list': ['ssm:GetParametersByPath'],
        'send-join': ['ssm:SendCommand'], 'send-verify': ['ssm:SendCommand'], 'command-read': ['ssm:GetCommandInvocation'],
      };
      for (const need of TaskNeeds[taskId]) for (const a of byNeed[need] ?? []) expected.add(a);
      expect([taskId, [...new Set(actions)].sort()]).toEqual([taskId, [...expected].sort()]);
    }
  });

  it('each orchestrator task role has a fixed name and assumes only its own member role; its settings name that role', () => {
    for (const taskId of TaskIds) {
      const [, fn] = ofType('AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === `adjoin-${taskId}`)!;
      const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      expect(resources[roleId]?.Properties.RoleName).toBe(`adjoin-${taskId}-role`);
      const assume = taskStatements(taskId).filter((st) => actionsOf(st).includes('sts:AssumeRole'));
      const settings = JSON.parse((fn.Properties.Environment as { Variables: Record<string, string> }).Variables.ADJOIN_SETTINGS ?? '{}') as { memberRoleName?: string };
      if (fleetTasks().includes(taskId)) {
        expect(JSON.stringify(assume.map((st) => st.Resource))).toBe(JSON.stringify([{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::222222222222:role/adjoin-member-${taskId}`]] }]));
        expect(settings.memberRoleName).toBe(`adjoin-member-${taskId}`);
      } else {
        expect(assume).toEqual([]);
      }
    }
  });

  it('a one-time-password key in the member account too, writable only by its prepare-computer-object and run-(windows-)join-document roles', () => {
    const member = Template.fromStack(built.members[0]!);
    member.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/adjoin-otp' });
    const json = member.toJSON().Resources as Record<string, Resource>;
    // The OTP key, and (no alarms.topicArn) the key of the member alarm topic (test/infra/operate.test.ts).
    const keys = Object.entries(json).filter(([, r]) => r.Type === 'AWS::KMS::Key');
    expect(keys.map(([, r]) => r.Properties.Description).sort()).toEqual(['adjoin: encrypts the alarm topic', OtpKeyDescription]);
    const [, key] = keys.find(([, r]) => r.Properties.Description === OtpKeyDescription)!;
    const roleId = (name: string): string => Object.entries(json).find(([, r]) => r.Type === 'AWS::IAM::Role' && r.Properties.RoleName === name)![0];
    const writerIds = ['adjoin-member-prepare-computer-object', 'adjoin-member-run-join-document', 'adjoin-member-run-windows-join-document'].map(roleId);
    const enc = (key.Properties.KeyPolicy as { Statement: (Statement & { Principal: unknown })[] }).Statement.filter((st) => actionsOf(st).includes('kms:Encrypt'));
    expect(enc.map((st) => st.Principal)).toEqual([{ AWS: writerIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })) }]);
  });
});

describe('one-time passwords: an instance reads only its own (finding 1, IAM half)', () => {
  const statementsOf = (type: string, prop: string): Statement[] => ofType(type).flatMap(([, r]) => (r.Properties[prop] as { Statement: Statement[] }).Statement);

  it('the instance-join policy: GetParameter only when the parameter\'s instance tag is the caller\'s instance ARN', () => {
    const policies = ofType('AWS::IAM::ManagedPolicy');
    expect(policies.map(([, p]) => p.Properties.ManagedPolicyName)).toEqual(['adjoin-instance-join']);
    const policy = policies[0]?.[1];
    const st = (policy!.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    const read = st.filter((s) => actionsOf(s).some((a) => a.startsWith('ssm:')));
    expect(read).toHaveLength(1);
    expect(actionsOf(read[0]!).sort()).toEqual(['ssm:GetParameter', 'ssm:GetParameters']);
    expect(read[0]!.Condition).toEqual({ StringEquals: { 'ssm:resourceTag/adjoin:instance-arn': '${ec2:SourceInstanceARN}' } });
    expect(JSON.stringify(read[0]!.Resource)).toContain(':parameter/adjoin/otp/*');
    const decrypt = st.filter((s) => actionsOf(s).includes('kms:Decrypt'));
    expect(decrypt).toHaveLength(1);
    expect(decrypt[0]!.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^AdjoinOtpKey/), 'Arn'] });
    expect(decrypt[0]!.Condition).toEqual({
      StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['ssm.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
      StringLike: { 'kms:EncryptionContext:PARAMETER_ARN': { 'Fn::Join': ['', expect.arrayContaining([':parameter/adjoin/otp/*'])] } },
    });
    // No other statement anywhere grants reading a one-time password.
    const readers = [...statementsOf('AWS::IAM::Policy', 'PolicyDocument'), ...statementsOf('AWS::IAM::ManagedPolicy', 'PolicyDocument')]
      .filter((s) => actionsOf(s).some((a) => /^ssm:GetParameters?$|^ssm:\*$|^ssm:Get\*$/.test(a)) && JSON.stringify(s.Resource).includes('/otp/'));
    expect(readers).toEqual(read);
  });

  it('the writers tag each parameter with its instance ARN (and nothing else) and encrypt with the adjoin key', () => {
    const writers = TaskIds.filter((id) => taskActions(id).includes('ssm:PutParameter'));
    // Prepare, and Run join document's fresh one-time password for a new round.
    expect(writers).toEqual(['prepare-computer-object', 'run-join-document', 'run-windows-join-document']);
    for (const id of writers) {
      const tag = taskStatements(id).find((st) => actionsOf(st).includes('ssm:AddTagsToResource'));
      expect(tag?.Condition).toEqual({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['adjoin:instance-arn'] } });
    }
    for (const [, fn] of ofType('AWS::Lambda::Function')) {
      const env = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      expect((JSON.parse(env.ADJOIN_SETTINGS ?? '{}') as { otpKeyId?: string }).otpKeyId).toBe('alias/adjoin-otp');
    }
  });

  it('the KMS key: rotated; Encrypt only for the writer roles through SSM; Decrypt only through SSM for /adjoin/otp/ parameters', () => {
    const [, alias] = ofType('AWS::KMS::Alias').find(([, a]) => a.Properties.AliasName === 'alias/adjoin-otp')!;
    const key = resources[(alias.Properties.TargetKeyId as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]];
    expect(key?.Type).toBe('AWS::KMS::Key');
    expect(key?.Properties.EnableKeyRotation).toBe(true);
    const st = (key!.Properties.KeyPolicy as { Statement: (Statement & { Principal: unknown })[] }).Statement;
    // Nobody gets kms:* (which would include Decrypt without conditions).
    expect(st.flatMap(actionsOf)).not.toContain('kms:*');
    const withDecrypt = st.filter((s) => actionsOf(s).some((a) => a === 'kms:Decrypt' || a === 'kms:Decrypt*'));
    expect(withDecrypt).toHaveLength(1);
    expect(withDecrypt[0]!.Condition).toEqual({
      StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['ssm.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
      StringLike: { 'kms:EncryptionContext:PARAMETER_ARN': { 'Fn::Join': ['', expect.arrayContaining([':parameter/adjoin/otp/*'])] } },
    });
    const enc = st.filter((s) => actionsOf(s).includes('kms:Encrypt'));
    expect(enc).toHaveLength(1);
    expect(actionsOf(enc[0]!).sort()).toEqual(['kms:Encrypt', 'kms:GenerateDataKey']);
    const roleOf = (name: string) => {
      const [, fn] = ofType('AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === name)!;
      return (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    };
    const writerRoles = ['adjoin-prepare-computer-object', 'adjoin-run-join-document', 'adjoin-run-windows-join-document'].map(roleOf);
    expect(enc[0]!.Principal).toEqual({ AWS: writerRoles.map((r) => ({ 'Fn::GetAtt': [r, 'Arn'] })) });
    expect(enc[0]!.Condition).toEqual(withDecrypt[0]!.Condition);
  });

  it('no stack lets anything delete EC2 tags', () => {
    for (const stack of [built.orchestrator, ...built.members]) {
      expect(JSON.stringify(Template.fromStack(stack).toJSON())).not.toContain('ec2:DeleteTags');
    }
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('no unacknowledged finding in any stack', () => {
    for (const stack of [built.orchestrator, ...built.members]) expect(nagFindings(stack)).toEqual([]);
  });

  it('no unacknowledged finding with other options (no members, existing topic, secret by name with a KMS key, other prefix)', () => {
    const other = build(sampleConfig((c) => {
      c.memberAccounts = [];
      c.alarms = { topicArn: 'arn:aws:sns:eu-west-1:111111111111:ops' };
      c.directory.serviceAccountSecret = 'adjoin/bind';
      c.directory.serviceAccountSecretKmsKeyArn = 'arn:aws:kms:eu-west-1:111111111111:key/0b1e2c3d-1111-2222-3333-444455556666';
      c.tags = { restrictCommandsToOptedIn: false };
      c.resourcePrefix = 'adj2';
    }));
    expect(other.members).toEqual([]);
    expect(nagFindings(other.orchestrator)).toEqual([]);
  });

  it('a self-managed directory over plain LDAP (lab only): no CA parameter, nothing to acknowledge', () => {
    const other = build(sampleConfig((c) => {
      c.directory.kind = 'self-managed';
      c.directory.computerOu = 'OU=Linux,OU=Servers,DC=corp,DC=example,DC=com';
      c.directory.insecure = true;
      c.directory.ldapUrls = ['ldap://dc1.corp.example.com'];
      delete c.directory.caBundleFile;
    }));
    other.template.resourceCountIs('AWS::SSM::Parameter', 0);
    expect(JSON.stringify(other.template.toJSON())).not.toContain('ca-bundle');
    expect(nagFindings(other.orchestrator)).toEqual([]);
  });

  it('would report an unacknowledged finding (the check can fail)', () => {
    const other = build();
    new sqs.Queue(other.orchestrator, 'Unencrypted', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(nagFindings(other.orchestrator).join('\n')).toMatch(/AwsSolutions-SQS/);
  });
});

describe('snapshot (asset hashes left out)', () => {
  it('resource inventory', () => {
    const inventory = Object.entries(resources).map(([id, r]) => `${r.Type} ${id}`).sort();
    expect(inventory).toMatchSnapshot();
  });
});

describe('stack outputs', () => {
  it('names the three state machines the way the CLI looks them up', () => {
    const outputs = built.template.toJSON().Outputs as Record<string, { Value: { Ref: string } }>;
    for (const key of ['JoinStateMachineArn', 'LeaveStateMachineArn', 'ReconcileStateMachineArn']) {
      expect(outputs[key]?.Value.Ref).toMatch(/StateMachine/);
    }
  });

  it('the CLI\'s default --stack is the stack the sample configuration deploys, with the outputs the AWS backend reads', () => {
    const sample = build();
    const sampleResources = sample.template.toJSON().Resources as Record<string, Resource>;
    const unused = (): never => { throw new Error('not used: the program is only inspected'); };
    const program = buildProgram({} as Io, { aws: unused, lab: unused, labControl: unused }, () => undefined);
    const stackOption = program.options.find((o) => o.long === '--stack');
    expect(stackOption?.defaultValue).toBe(DEFAULT_STACK);
    expect(sample.orchestrator.stackName).toBe(DEFAULT_STACK);
    const outputs = sample.template.toJSON().Outputs as Record<string, { Value: { Ref: string } }>;
    for (const workflow of ['join', 'leave', 'reconcile'] as const) {
      const machine = sampleResources[outputs[StackOutputKeys[workflow]]?.Value.Ref ?? ''];
      expect(machine?.Type).toBe('AWS::StepFunctions::StateMachine');
      expect(machine?.Properties.StateMachineName).toBe(`adjoin-${workflow}`);
    }
  });
});
