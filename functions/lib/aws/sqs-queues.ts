import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeliveryLane } from '../core/model.ts';
import type { DeadLetterSink, DeliveryJob, DeliveryQueue, EnqueueOptions, FanOutJob, FanOutQueue } from '../core/ports.ts';
import { chunk } from './ledger-table.ts';

const SQS_BATCH_LIMIT = 10;

/** Sends in batches of ten and retries the entries SQS reports as failed. */
export async function sendBatch(sqs: SQSClient, queueUrl: string, bodies: readonly string[], delaySeconds = 0): Promise<void> {
  for (const group of chunk(bodies, SQS_BATCH_LIMIT)) {
    let entries = group.map((body, index) => ({ Id: String(index), MessageBody: body, DelaySeconds: delaySeconds }));
    for (let round = 0; entries.length > 0; round++) {
      if (round >= 5) throw new Error(`SQS refused ${entries.length} messages after ${round} tries`);
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** round));
      const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      const failed = new Set((result.Failed ?? []).map((failure) => failure.Id));
      entries = entries.filter((entry) => failed.has(entry.Id));
    }
  }
}

export class SqsDeliveryQueue implements DeliveryQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrls: Readonly<Record<DeliveryLane, string>>,
  ) {}

  enqueue(jobs: readonly DeliveryJob[], options: EnqueueOptions = {}): Promise<void> {
    const delay = Math.max(0, Math.min(900, Math.round(options.delaySeconds ?? 0)));
    return sendBatch(
      this.sqs,
      this.queueUrls[options.lane ?? 'primary'],
      jobs.map((job) => JSON.stringify(job)),
      delay,
    );
  }
}

export class SqsFanOutQueue implements FanOutQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(job: FanOutJob): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(job) }));
  }
}

export class SqsDeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async park(body: string, reason: string): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: body,
        MessageAttributes: { reason: { DataType: 'String', StringValue: reason.slice(0, 256) } },
      }),
    );
  }
}
