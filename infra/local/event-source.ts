import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { ConsumerDescription } from '../description.ts';
import { invoke, type LambdaHandler } from './lambda-runtime.ts';

export interface EventSourceOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly consumer: ConsumerDescription;
  readonly handler: LambdaHandler<SQSEvent, SQSBatchResponse | undefined>;
  /**
   * Receive loops. One keeps up locally (a receive takes a millisecond or two and the invocations
   * it starts run on without it); more only race each other for the same messages, and fauxqs
   * then answers the losers empty, a cost real SQS long polling does not have.
   */
  readonly pollers?: number;
  /** Most invocations in flight at once: the event source's `maxConcurrency` (the consumer's, by default). */
  readonly maxConcurrency?: number;
  readonly waitTimeSeconds?: number;
  readonly onError?: (message: string) => void;
  /** Holds back new invocations while the process is saturated (see LoadGovernor). */
  readonly governor?: { readonly busy: boolean };
}

export interface EventSourceStats {
  invocations: number;
  records: number;
  failedRecords: number;
  failedInvocations: number;
  /** The most invocations that were in flight at once. */
  peakConcurrency: number;
}

function toRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          dataType: value.DataType ?? 'String',
          ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
          stringListValues: value.StringListValues ?? [],
          binaryListValues: [],
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(':')[3] ?? 'us-east-1',
  };
}

/**
 * Behaves like Lambda's SQS event source mapping: long polls in batches, invokes the function,
 * deletes only what succeeded (honouring `batchItemFailures`), and leaves failures to reappear
 * after the visibility timeout until the queue's redrive policy moves them to the DLQ. Like
 * Lambda, it scales out while the queue has work: a poller hands each batch to a new invocation
 * and polls again at once, up to `maxConcurrency` invocations in flight, so a batch waiting on a
 * slow endpoint holds up only itself.
 */
export class SqsEventSource {
  readonly stats: EventSourceStats = { invocations: 0, records: 0, failedRecords: 0, failedInvocations: 0, peakConcurrency: 0 };
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly waiting: (() => void)[] = [];
  private failing = false;

  constructor(private readonly options: EventSourceOptions) {}

  private get maxConcurrency(): number {
    return Math.max(1, this.options.maxConcurrency ?? this.options.consumer.maxConcurrency);
  }

  start(): void {
    const pollers = Math.min(this.options.pollers ?? 1, this.maxConcurrency);
    for (let i = 0; i < pollers; i++) this.loops.push(this.poll());
  }

  /** Stops receiving; invocations in flight finish, their results are applied, then it resolves. */
  async stop(): Promise<void> {
    this.abort.abort();
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all(this.loops);
    await Promise.all([...this.inFlight]);
  }

  /**
   * Resolves when one more invocation may start: a slot under `maxConcurrency`, and, with one or
   * more in flight, a process that is not saturated.
   */
  private async slot(): Promise<void> {
    for (;;) {
      if (this.abort.signal.aborted) return;
      if (this.inFlight.size >= this.maxConcurrency) {
        await new Promise<void>((resolve) => this.waiting.push(resolve));
        continue;
      }
      if (this.inFlight.size > 0 && this.options.governor?.busy) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      return;
    }
  }

  private async poll(): Promise<void> {
    const { sqs, queueUrl, consumer } = this.options;
    while (!this.abort.signal.aborted) {
      await this.slot();
      if (this.abort.signal.aborted) return;
      let messages: Message[];
      try {
        const result = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: consumer.batchSize,
            WaitTimeSeconds: this.options.waitTimeSeconds ?? 20,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = result.Messages ?? [];
        if (this.failing) this.options.onError?.(`${consumer.name}: queue reachable again`);
        this.failing = false;
      } catch (error) {
        if (this.abort.signal.aborted) return;
        if (!this.failing)
          this.options.onError?.(`${consumer.name}: cannot receive from the queue (${(error as Error).message}); retrying`);
        this.failing = true;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      if (messages.length === 0) continue;
      const invocation = this.invoke(messages).finally(() => {
        this.inFlight.delete(invocation);
        this.waiting.shift()?.();
      });
      this.inFlight.add(invocation);
      this.stats.peakConcurrency = Math.max(this.stats.peakConcurrency, this.inFlight.size);
    }
  }

  private async invoke(messages: Message[]): Promise<void> {
    const { sqs, queueUrl, queueArn, consumer, handler } = this.options;
    const event: SQSEvent = { Records: messages.map((m) => toRecord(m, queueArn)) };
    this.stats.invocations++;
    this.stats.records += messages.length;
    let failed: Set<string>;
    try {
      const response = await invoke(consumer, handler, event);
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      // A failed invocation returns the whole batch to the queue, as Lambda does.
      this.stats.failedInvocations++;
      this.stats.failedRecords += messages.length;
      this.options.onError?.(`${consumer.name}: invocation failed (${(error as Error).message}); batch returns to the queue`);
      return;
    }
    this.stats.failedRecords += failed.size;
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
    if (done.length === 0) return;
    try {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    } catch (error) {
      // Not deleted means redelivered: at-least-once, which the consumers are built for.
      this.options.onError?.(`${consumer.name}: could not delete a processed batch (${(error as Error).message}); it will be redelivered`);
    }
  }
}
