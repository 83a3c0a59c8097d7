/**
 * The one way adjoin makes a dead-letter queue: encrypted (SQS managed), TLS only, events kept
 * 14 days. The orchestrator's rules and schedule, and each member account's forwarding rule,
 * put what they could not deliver here.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** A dead-letter queue named `queueName`, construct id `DeadLetters`; `of` says whose dead letters it holds. */
export function deadLetterQueue(scope: Construct, queueName: string, of: string): sqs.Queue {
  const queue = new sqs.Queue(scope, 'DeadLetters', {
    queueName,
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue IS the dead-letter queue of ${of}; a DLQ of a DLQ would only hide events.`,
  });
  return queue;
}
