import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueTask } from '../core/jobs.ts';
import type { DeliveryLane } from '../core/model.ts';
import type { DeadLetterSink, DeliveryQueue, EnqueueOptions } from '../core/ports.ts';

const SQS_BATCH_LIMIT = 10;
/** SQS's limit on one SendMessageBatch, all bodies together (256 KiB), with room for attributes. */
const SQS_BATCH_BYTES = 250 * 1024;

export interface OutgoingMessage {
  readonly body: string;
  /** SQS fair queues order work per group: the tenant, so one tenant's burst does not delay another's. */
  readonly groupId?: string;
  /** This message's own delay (a paced page), in place of the batch's. */
  readonly delaySeconds?: number;
}

/**
 * A JSON body SQS takes whatever the payload holds. SQS accepts only some characters, and fauxqs
 * (the local server) wrongly refuses every character outside the BMP, so one emoji in a payload
 * would be refused on every try; SQS itself refuses the noncharacters U+FFFE and U+FFFF, which a
 * payload string may hold. Those are written as JSON `\uXXXX` escapes instead (they can only occur
 * inside a JSON string): the same JSON value, the same payload text once parsed, in plain characters.
 */
export function sqsSafeBody(json: string): string {
  return json.replace(/[\ud800-\udfff\ufffe\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16)}`);
}

/** Groups of at most ten messages and 250 KiB, in order. */
function batches(messages: readonly OutgoingMessage[]): OutgoingMessage[][] {
  const groups: OutgoingMessage[][] = [];
  let current: OutgoingMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = Buffer.byteLength(message.body);
    if (current.length === SQS_BATCH_LIMIT || (current.length > 0 && bytes + size > SQS_BATCH_BYTES)) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Sends in batches and retries the entries SQS reports as failed. */
export async function sendBatch(sqs: SQSClient, queueUrl: string, messages: readonly OutgoingMessage[], delaySeconds = 0): Promise<void> {
  await Promise.all(
    batches(messages).map(async (group) => {
      let entries = group.map((message, index) => ({
        Id: String(index),
        MessageBody: sqsSafeBody(message.body),
        DelaySeconds: message.delaySeconds ?? delaySeconds,
        ...(message.groupId && { MessageGroupId: message.groupId }),
      }));
      for (let round = 0; entries.length > 0; round++) {
        if (round >= 5) throw new Error(`SQS refused ${entries.length} messages after ${round} tries`);
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** round));
        const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        // A sender fault (invalid contents, too big) fails the same way on every try: say so at once.
        const refused = result.Failed?.find((failure) => failure.SenderFault);
        if (refused) throw new Error(`SQS refused a message: ${refused.Code ?? 'sender fault'}: ${refused.Message ?? ''}`);
        const failed = new Set((result.Failed ?? []).map((failure) => failure.Id));
        entries = entries.filter((entry) => failed.has(entry.Id));
      }
    }),
  );
}

/** Whole seconds within SQS's 0 to 900. */
function queueDelay(seconds: number | undefined): number {
  return Math.max(0, Math.min(900, Math.round(seconds ?? 0)));
}

export class SqsDeliveryQueue implements DeliveryQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrls: Readonly<Record<DeliveryLane, string>>,
  ) {}

  enqueue(tasks: readonly QueueTask[], options: EnqueueOptions = {}): Promise<void> {
    const each = options.delaysSeconds;
    return sendBatch(
      this.sqs,
      this.queueUrls[options.lane ?? 'primary'],
      tasks.map((task, i) => ({
        body: JSON.stringify(task),
        groupId: task.tenantId,
        ...(each && { delaySeconds: queueDelay(each[i]) }),
      })),
      queueDelay(options.delaySeconds),
    );
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
        MessageBody: sqsSafeBody(body),
        MessageAttributes: { reason: { DataType: 'String', StringValue: reason.slice(0, 256) } },
      }),
    );
  }
}
