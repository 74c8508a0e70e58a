import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { QueueDescription } from '../description.ts';

export interface QueueWithDeadLetterProps {
  readonly description: QueueDescription;
}

/** The maximum SQS allows, so there is time to inspect and redrive after an incident. */
export const deadLetterRetention = Duration.days(14);

/**
 * A work queue and its dead-letter queue (a message there is a delivery Sluice gave up on, or a
 * bug). Both are encrypted (SQS-managed SSE) and refuse requests without TLS. The alarm on the
 * dead-letter queue is declared with the others in `Observability`.
 */
export class QueueWithDeadLetter extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** Kept so consumers can be checked against it (`sqs.Queue` does not expose it). */
  readonly visibilityTimeout: Duration;
  readonly description: QueueDescription;

  constructor(scope: Construct, id: string, props: QueueWithDeadLetterProps) {
    super(scope, id);
    const { description } = props;
    this.description = description;
    this.visibilityTimeout = Duration.seconds(description.visibilityTimeoutSeconds);

    this.deadLetterQueue = new sqs.Queue(this, description.deadLetter.id, {
      retentionPeriod: deadLetterRetention,
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
  }
}
