import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { QueueDescription } from '../description.ts';

export interface QueueWithDeadLetterProps {
  readonly description: QueueDescription;
}

/**
 * A work queue, its dead-letter queue and an alarm that fires as soon as anything lands in the
 * dead-letter queue (a message there is a delivery Sluice gave up on, or a bug).
 */
export class QueueWithDeadLetter extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Kept so consumers can be checked against it (`sqs.Queue` does not expose it). */
  readonly visibilityTimeout: Duration;

  constructor(scope: Construct, id: string, props: QueueWithDeadLetterProps) {
    super(scope, id);
    const { description } = props;
    this.visibilityTimeout = Duration.seconds(description.visibilityTimeoutSeconds);

    this.deadLetterQueue = new sqs.Queue(this, description.deadLetter.id, {
      // The maximum, so there is time to inspect and redrive after an incident.
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    this.queue = new sqs.Queue(this, 'Queue', {
      visibilityTimeout: this.visibilityTimeout,
      retentionPeriod: Duration.seconds(description.retentionSeconds),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: description.deadLetter.maxReceiveCount },
    });

    this.deadLetterAlarm = new cloudwatch.Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: `Messages are waiting in the dead-letter queue of ${description.id}`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // SQS publishes no datapoints for an idle queue; silence is not a problem.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
