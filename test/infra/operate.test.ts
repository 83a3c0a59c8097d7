/**
 * Operating adjoin: the dashboard reads the metrics the tasks write, and every dead-letter queue
 * (the orchestrator's and each member account's forward queue) has an alarm to a topic.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { MetricNames } from '../../tasks/lib/metrics';
import { build, sampleConfig } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };
const ofType = (t: Template, type: string): Resource[] => Object.values(t.toJSON().Resources as Record<string, Resource>).filter((r) => r.Type === type);
const bodyOf = (d: Resource): string => JSON.stringify(d.Properties.DashboardBody);

describe('dashboard and dead-letter alarms', () => {
  const config = sampleConfig((c) => { c.memberAccounts = ['222222222222']; c.env = { account: '111111111111', region: 'eu-west-1' }; });
  const built = build(config);

  it('one dashboard: join success rate, duration p50/p95, failures by state and error, outcomes, reconcile, dead letters', () => {
    const [dash, ...more] = ofType(built.template, 'AWS::CloudWatch::Dashboard');
    expect(more).toHaveLength(0);
    const body = bodyOf(dash!);
    for (const text of [
      'Join success rate', '100 * joined / (joined + failed + timedOut)', 'ExecutionTime', 'p50', 'p95',
      `MetricName=\\\\\\"${MetricNames.StepFailed}\\\\\\"`, 'service,Workflow,Step,Error',
      MetricNames.StepOutcome, 'Workflow=\\\\\\"leave\\\\\\"', 'Deleted', 'DryRun', 'ApproximateNumberOfMessagesVisible',
    ]) expect({ text, found: body.includes(text) }).toEqual({ text, found: true });
  });

  it('the member stack alarms on its forward dead-letter queue, to its own encrypted topic', () => {
    const member = Template.fromStack(built.members[0]!);
    const [queue] = Object.entries(member.toJSON().Resources as Record<string, Resource>).find(([, r]) => r.Type === 'AWS::SQS::Queue') ?? [];
    const alarms = ofType(member, 'AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(1);
    expect(alarms[0]!.Properties).toMatchObject({
      AlarmName: 'adjoin-forward-dead-letters',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
      Threshold: 1,
    });
    const [topic] = ofType(member, 'AWS::SNS::Topic');
    expect(topic?.Properties).toMatchObject({ TopicName: 'adjoin-member-alarms', KmsMasterKeyId: expect.anything() as unknown });
  });

  it('with alarms.topicArn the member alarm goes to that topic and no topic or alarm key is made', () => {
    const arn = 'arn:aws:sns:eu-west-1:111111111111:ops';
    const b = build(sampleConfig((c) => { c.memberAccounts = ['222222222222']; c.env = { account: '111111111111', region: 'eu-west-1' }; c.alarms = { topicArn: arn }; }));
    const member = Template.fromStack(b.members[0]!);
    expect(ofType(member, 'AWS::SNS::Topic')).toHaveLength(0);
    // Only the one-time-password key (infra/otp.ts) remains.
    expect(ofType(member, 'AWS::KMS::Key').map((k) => k.Properties.Description)).toEqual(['adjoin: encrypts the one-time join passwords under /adjoin/otp/']);
    expect(ofType(member, 'AWS::CloudWatch::Alarm')[0]?.Properties.AlarmActions).toEqual([arn]);
  });
});
