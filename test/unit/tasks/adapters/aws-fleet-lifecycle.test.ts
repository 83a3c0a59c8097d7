import {
  AutoScalingClient,
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { AwsFleet } from '../../../../tasks/adapters/aws-fleet';
import { AwsRefused, Throttled } from '../../../../tasks/lib/errors';
import type { LifecycleActionRef } from '../../../../tasks/lib/ports';

const asgMock = mockClient(AutoScalingClient);
const ec2Mock = mockClient(EC2Client);
const action: LifecycleActionRef = {
  autoScalingGroupName: 'web',
  lifecycleHookName: 'adjoin-launch',
  lifecycleActionToken: '87654321-4321-4321-4321-210987654321',
  instanceId: 'i-0123456789abcdef0',
};
const keys = {
  AutoScalingGroupName: 'web',
  LifecycleHookName: 'adjoin-launch',
  LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
  InstanceId: 'i-0123456789abcdef0',
};
const asgError = (name: string, message: string, status = 400): AutoScalingServiceException =>
  new AutoScalingServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message });
const fleet = (): AwsFleet =>
  new AwsFleet({
    region: 'eu-west-1',
    documents: { join: 'adjoin-join', verify: 'adjoin-verify' },
    ec2: new EC2Client({ region: 'eu-west-1' }),
    ssm: new SSMClient({ region: 'eu-west-1' }),
    autoScaling: new AutoScalingClient({ region: 'eu-west-1' }),
  });

beforeEach(() => {
  asgMock.reset();
  ec2Mock.reset();
});

describe('AwsFleet describeInstance with the Auto Scaling lifecycle state', () => {
  const running = (tags: Record<string, string>) => ({
    Reservations: [{ Instances: [{ InstanceId: action.instanceId, State: { Name: 'running' as const }, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }] }],
  });

  it('adds the lifecycle state of an instance of a group (one DescribeAutoScalingInstances)', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves(running({ 'aws:autoscaling:groupName': 'web' }));
    asgMock.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [{ InstanceId: action.instanceId, LifecycleState: 'Terminating:Wait' } as never] });
    // Act
    const info = await fleet().describeInstance(action.instanceId, { autoScaling: true });
    // Assess
    expect(info).toMatchObject({ state: 'running', lifecycleState: 'Terminating:Wait' });
    expect(asgMock).toHaveReceivedCommandWith(DescribeAutoScalingInstancesCommand, { InstanceIds: [action.instanceId] });
  });

  it.each([
    ['not asked', { 'aws:autoscaling:groupName': 'web' }, undefined],
    ['not in a group', {}, { autoScaling: true }],
  ])('asks Auto Scaling nothing when %s', async (_, tags, options) => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves(running(tags));
    // Act
    const info = await fleet().describeInstance(action.instanceId, options);
    // Assess
    expect(info?.lifecycleState).toBeUndefined();
    expect(asgMock).toHaveReceivedCommandTimes(DescribeAutoScalingInstancesCommand, 0);
  });

  it('throttling of DescribeAutoScalingInstances is Throttled (retried by the state)', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves(running({ 'aws:autoscaling:groupName': 'web' }));
    asgMock.on(DescribeAutoScalingInstancesCommand).rejects(asgError('Throttling', 'Rate exceeded'));
    // Act / Assess
    await expect(fleet().describeInstance(action.instanceId, { autoScaling: true })).rejects.toBeInstanceOf(Throttled);
  });
});

describe('AwsFleet Auto Scaling lifecycle actions', () => {
  it.each(['CONTINUE', 'ABANDON'] as const)('completes a lifecycle action with %s', async (result) => {
    // Prepare
    asgMock.on(CompleteLifecycleActionCommand).resolves({});
    // Act
    const done = await fleet().completeLifecycleAction(action, result);
    // Assess
    expect(done).toBe(true);
    expect(asgMock).toHaveReceivedCommandTimes(CompleteLifecycleActionCommand, 1);
    expect(asgMock).toHaveReceivedCommandWith(CompleteLifecycleActionCommand, { ...keys, LifecycleActionResult: result });
  });

  it('answers false, not an error, when the action is no longer pending (a redrive after the answer or the timeout)', async () => {
    // Prepare
    asgMock.on(CompleteLifecycleActionCommand).rejects(asgError('ValidationError', 'No active Lifecycle Action found with token 87654321-4321-4321-4321-210987654321'));
    // Act / Assess
    await expect(fleet().completeLifecycleAction(action, 'CONTINUE')).resolves.toBe(false);
  });

  it('maps other validation errors to AwsRefused and throttling to Throttled', async () => {
    // Prepare
    asgMock
      .on(CompleteLifecycleActionCommand)
      .rejectsOnce(asgError('ValidationError', 'No Auto Scaling group named web'))
      .rejectsOnce(asgError('Throttling', 'Rate exceeded'));
    // Act / Assess
    await expect(fleet().completeLifecycleAction(action, 'CONTINUE')).rejects.toThrow(AwsRefused);
    await expect(fleet().completeLifecycleAction(action, 'CONTINUE')).rejects.toThrow(Throttled);
  });

  it('records a heartbeat with the action keys; false once the action is gone', async () => {
    // Prepare
    asgMock
      .on(RecordLifecycleActionHeartbeatCommand)
      .resolvesOnce({})
      .rejectsOnce(asgError('ValidationError', 'No active Lifecycle Action found with token x'));
    // Act
    const first = await fleet().recordLifecycleHeartbeat(action);
    const second = await fleet().recordLifecycleHeartbeat(action);
    // Assess
    expect([first, second]).toEqual([true, false]);
    expect(asgMock).toHaveReceivedCommandWith(RecordLifecycleActionHeartbeatCommand, keys);
  });
});
