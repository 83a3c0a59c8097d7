/**
 * Where adjoin's alarms go, in the orchestrator and in each member account: the user's topic
 * (alarms.topicArn), or a topic of our own encrypted with a key CloudWatch may use, with the
 * optional e-mail subscription. And the one alarm shape: >= 1 in one 5-minute period.
 */
import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import type { ResolvedConfig } from './config';

/** The alarm topic: alarms.topicArn, else `${topicName}` encrypted with a key of its own. */
export function alarmTopic(scope: Construct, topicName: string, alarms: ResolvedConfig['alarms']): sns.ITopic {
  if (alarms.topicArn) return sns.Topic.fromTopicArn(scope, 'AlarmTopic', alarms.topicArn);
  const key = new kms.Key(scope, 'Key', {
    description: 'adjoin: encrypts the alarm topic',
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
  });
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'CloudWatchAlarmsPublish',
    principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
    actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
    resources: ['*'],
    conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
  }));
  const topic = new sns.Topic(scope, 'AlarmTopic', { topicName, displayName: 'adjoin alarms', masterKey: key, enforceSSL: true });
  if (alarms.email) topic.addSubscription(new subscriptions.EmailSubscription(alarms.email));
  return topic;
}

/** An alarm named `${prefix}-${id}` that fires when `metric` is >= 1 in a period, to `topic`. */
export function countAlarm(scope: Construct, prefix: string, id: string, metric: cloudwatch.IMetric, description: string, topic: sns.ITopic): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmName: `${prefix}-${id}`,
    alarmDescription: description,
    metric,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(new cwActions.SnsAction(topic));
  return alarm;
}
