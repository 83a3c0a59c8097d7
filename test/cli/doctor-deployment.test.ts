import { CloudFormationClient, DescribeStackResourcesCommand, DetectStackResourceDriftCommand } from '@aws-sdk/client-cloudformation';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeStateMachineCommand, SFNClient, StateMachineDoesNotExist } from '@aws-sdk/client-sfn';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { awsDoctorSource } from '../../cli/doctor-aws';
import { deploymentChecks, placeOfFunction } from '../../cli/doctor-deployment';
import type { Targets } from '../../cli/program';
import { resourceNames } from '../../infra/config';
import type { DoctorReport } from '../../tasks/lib/doctor';
import { build } from '../infra/helpers';
import { awsTargets, cli } from './helpers';

const common = { region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 };
const lambda = mockClient(LambdaClient);
const sfn = mockClient(SFNClient);
const cfn = mockClient(CloudFormationClient);
const clients = () => ({ lambda: new LambdaClient(common), sts: new STSClient(common), sfn: new SFNClient(common), cloudFormation: new CloudFormationClient(common) });
const place = { partition: 'aws', region: 'eu-west-1', account: '123456789012', prefix: 'adjoin' };
const MACHINE_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:adjoin-join-cleanup';
const ruleResource = { StackName: 'adjoin', LogicalResourceId: 'JoinEndedBadly1234', ResourceType: 'AWS::Events::Rule', ResourceStatus: 'UPDATE_COMPLETE', Timestamp: new Date() } as const;
const drift = (status: 'IN_SYNC' | 'MODIFIED' | 'DELETED', more: Record<string, unknown> = {}) =>
  cfn.on(DetectStackResourceDriftCommand).resolves({
    StackResourceDrift: { StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/adjoin/1', LogicalResourceId: ruleResource.LogicalResourceId, ResourceType: ruleResource.ResourceType, StackResourceDriftStatus: status, Timestamp: new Date(), ...more },
  });

beforeEach(() => {
  lambda.reset();
  sfn.reset();
  cfn.reset();
});

describe('doctor: the join-cleanup state machine and its rule', () => {
  it('pass: the machine ACTIVE, the rule in the stack, in sync', async () => {
    // Prepare
    sfn.on(DescribeStateMachineCommand).resolves({ status: 'ACTIVE' } as never);
    cfn.on(DescribeStackResourcesCommand).resolves({ StackResources: [ruleResource] });
    drift('IN_SYNC');
    // Act
    const checks = await deploymentChecks(place, clients());
    // Assess
    expect(checks).toEqual([
      { name: 'join-cleanup state machine', ok: true, detail: 'adjoin-join-cleanup exists (ACTIVE)', fix: '' },
      { name: 'join-cleanup rule', ok: true, detail: 'adjoin-join-ended-badly in stack adjoin (UPDATE_COMPLETE), IN_SYNC', fix: '' },
    ]);
    expect(sfn).toHaveReceivedCommandWith(DescribeStateMachineCommand, { stateMachineArn: MACHINE_ARN });
    expect(cfn).toHaveReceivedCommandWith(DescribeStackResourcesCommand, { PhysicalResourceId: 'adjoin-join-ended-badly' });
    expect(cfn).toHaveReceivedCommandWith(DetectStackResourceDriftCommand, { StackName: 'adjoin', LogicalResourceId: 'JoinEndedBadly1234' });
  });

  it('fail: no machine, no rule in any stack — each names the fix (deploy the stack)', async () => {
    sfn.on(DescribeStateMachineCommand).rejects(new StateMachineDoesNotExist({ message: `State Machine Does Not Exist: '${MACHINE_ARN}'`, $metadata: {} }));
    cfn.on(DescribeStackResourcesCommand).rejects(Object.assign(new Error('Stack for adjoin-join-ended-badly does not exist'), { name: 'ValidationError' }));
    const [machine, rule] = await deploymentChecks(place, clients());
    expect(machine).toEqual({
      name: 'join-cleanup state machine',
      ok: false,
      detail: `no state machine ${MACHINE_ARN}`,
      fix: 'Deploy the stack (cdk deploy): it creates adjoin-join-cleanup; without it, a join that fails keeps its one-time password parameter and its claim until leave or reconcile. (Another resource prefix? pass --prefix.)',
    });
    expect(rule).toMatchObject({ ok: false, detail: 'no EventBridge rule adjoin-join-ended-badly in any stack' });
    expect(rule?.fix).toMatch(/^Deploy the stack \(cdk deploy\): it creates the rule adjoin-join-ended-badly, which starts adjoin-join-cleanup when a join ends FAILED, TIMED_OUT or ABORTED/);
    expect(cfn).toHaveReceivedCommandTimes(DetectStackResourceDriftCommand, 0);
  });

  it('fail: the rule deleted or changed outside CloudFormation; a machine being deleted', async () => {
    sfn.on(DescribeStateMachineCommand).resolves({ status: 'DELETING' } as never);
    cfn.on(DescribeStackResourcesCommand).resolves({ StackResources: [ruleResource] });
    drift('DELETED');
    const [machine, deleted] = await deploymentChecks(place, clients());
    expect(machine).toMatchObject({ ok: false, detail: 'adjoin-join-cleanup is DELETING', fix: expect.stringMatching(/^Redeploy the stack/) as string });
    expect(deleted).toMatchObject({ ok: false, detail: 'adjoin-join-ended-badly in stack adjoin (UPDATE_COMPLETE), but deleted outside CloudFormation' });
    expect(deleted?.fix).toMatch(/^Recreate it: a deploy does not restore a resource deleted behind CloudFormation's back/);
    cfn.reset();
    cfn.on(DescribeStackResourcesCommand).resolves({ StackResources: [ruleResource] });
    drift('MODIFIED', { PropertyDifferences: [{ PropertyPath: '/State', ExpectedValue: 'ENABLED', ActualValue: 'DISABLED', DifferenceType: 'NOT_EQUAL' }] });
    const [, modified] = await deploymentChecks(place, clients());
    expect(modified).toMatchObject({ ok: false, detail: 'adjoin-join-ended-badly in stack adjoin (UPDATE_COMPLETE), changed outside CloudFormation (/State)' });
    expect(modified?.fix).toMatch(/^Put it back as deployed \(enable it, restore its pattern and target adjoin-join-cleanup\)/);
  });

  it('a caller that may not detect drift: passes on the stack record and says it did not look further', async () => {
    sfn.on(DescribeStateMachineCommand).resolves({ status: 'ACTIVE' } as never);
    cfn.on(DescribeStackResourcesCommand).resolves({ StackResources: [ruleResource] });
    cfn.on(DetectStackResourceDriftCommand).rejects(Object.assign(new Error('not authorized to perform: events:DescribeRule'), { name: 'AccessDenied' }));
    const [, rule] = await deploymentChecks(place, clients());
    expect(rule).toEqual({ name: 'join-cleanup rule', ok: true, detail: 'adjoin-join-ended-badly in stack adjoin (UPDATE_COMPLETE); not checked for changes outside CloudFormation (AccessDenied)', fix: '' });
  });

  it('adjoin doctor adds them after the check-setup report, in the function\u2019s partition, Region and account; a failure fails the run', async () => {
    const report: DoctorReport = { ok: true, checks: [{ name: 'bind 10.0.0.10', ok: true, detail: 'bound', fix: '' }] };
    lambda.on(GetFunctionConfigurationCommand).resolves({ FunctionName: 'corp-check-setup', FunctionArn: 'arn:aws-cn:lambda:cn-north-1:210987654321:function:corp-check-setup' });
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: Buffer.from(JSON.stringify(report)) as never });
    sfn.on(DescribeStateMachineCommand).rejects(new StateMachineDoesNotExist({ message: 'does not exist', $metadata: {} }));
    cfn.on(DescribeStackResourcesCommand).resolves({ StackResources: [ruleResource] });
    drift('IN_SYNC');
    const targets: Targets = { ...awsTargets(), doctor: () => awsDoctorSource(clients()) };
    const { code, io } = await cli(['doctor', '--prefix', 'corp'], targets);
    expect(code).toBe(1);
    expect(sfn).toHaveReceivedCommandWith(DescribeStateMachineCommand, { stateMachineArn: 'arn:aws-cn:states:cn-north-1:210987654321:stateMachine:corp-join-cleanup' });
    expect(cfn).toHaveReceivedCommandWith(DescribeStackResourcesCommand, { PhysicalResourceId: 'corp-join-ended-badly' });
    expect(io.outText).toContain('✗ join-cleanup state machine  no state machine arn:aws-cn:states:cn-north-1:210987654321:stateMachine:corp-join-cleanup');
    expect(io.outText).toContain('  fix: Deploy the stack (cdk deploy): it creates corp-join-cleanup;');
    expect(io.outText).toContain('1 of 3 checks failed.');
    expect(placeOfFunction('not an arn')).toBeUndefined();
  });

  it('the names it looks for are those the app deploys: the rule starts the join-cleanup machine', () => {
    const { template } = build();
    const names = resourceNames('adjoin');
    const rules = Object.values(template.findResources('AWS::Events::Rule', { Properties: { Name: names.joinCleanupRule } }));
    expect(rules).toHaveLength(1);
    const targetId = (rules[0] as { Properties: { Targets: { Arn: { Ref: string } }[] } }).Properties.Targets[0]?.Arn.Ref ?? '';
    expect((template.toJSON() as { Resources: Record<string, unknown> }).Resources[targetId]).toMatchObject({ Type: 'AWS::StepFunctions::StateMachine', Properties: { StateMachineName: names.stateMachine('join-cleanup') } });
  });
});
