/**
 * Integration (real fauxqs server): the local event source behaves like Lambda's SQS event
 * source mapping — batches of at most 10, only successes deleted, `batchItemFailures`
 * honoured, a thrown invocation returns its whole batch, redrive to the DLQ by maxReceiveCount,
 * and it scales out: a slow invocation does not hold up the next batches, up to maxConcurrency.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { usesNothing } from '../../../functions/lib/resource-use.ts';
import type { ConsumerDescription } from '../../../infra/description.ts';
import { SqsEventSource } from '../../../infra/local/event-source.ts';
import { freePort } from '../../../infra/local/free-port.ts';
import { type SqsServer, startSqsServer } from '../../../infra/local/sqs-server.ts';

const consumer: ConsumerDescription = {
  name: 'test-consumer',
  queue: 'delivery',
  timeoutSeconds: 5,
  memoryMb: 128,
  uses: usesNothing,
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  maxConcurrency: 2,
};

describe('SqsEventSource (local Lambda event source mapping)', () => {
  let server: SqsServer;
  let sqs: SQSClient;

  beforeAll(async () => {
    server = await startSqsServer({ port: await freePort() });
    sqs = new SQSClient({
      endpoint: server.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      useQueueUrlAsEndpoint: false,
    });
  });

  afterAll(async () => {
    sqs.destroy();
    await server.stop();
  });

  async function queueWithDeadLetter(name: string, maxReceiveCount: number) {
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes
      ?.QueueArn;
    const main = await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }) },
      }),
    );
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: main.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes
      ?.QueueArn;
    return { url: main.QueueUrl ?? '', arn: arn ?? '', dlqUrl: dlq.QueueUrl ?? '' };
  }

  async function send(url: string, bodies: string[]) {
    for (let i = 0; i < bodies.length; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body })),
        }),
      );
    }
  }

  async function drain(url: string): Promise<string[]> {
    const bodies: string[] = [];
    for (;;) {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30 }),
      );
      if (!Messages?.length) return bodies;
      bodies.push(...Messages.map((m) => m.Body ?? ''));
    }
  }

  async function until(check: () => boolean, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  test('partial batch failures: successes deleted once, failures retried, then redriven to the DLQ', async () => {
    const queue = await queueWithDeadLetter('partial', 2);
    const seen = new Map<string, number>();
    const batchSizes: number[] = [];
    const receiveCounts = new Map<string, string[]>();
    const source = new SqsEventSource({
      sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      consumer,
      pollers: 2,
      waitTimeSeconds: 1,
      handler: async (event: SQSEvent): Promise<SQSBatchResponse> => {
        batchSizes.push(event.Records.length);
        const failures: { itemIdentifier: string }[] = [];
        for (const record of event.Records) {
          expect(record.eventSource).toBe('aws:sqs');
          expect(record.eventSourceARN).toBe(queue.arn);
          seen.set(record.body, (seen.get(record.body) ?? 0) + 1);
          receiveCounts.set(record.body, [...(receiveCounts.get(record.body) ?? []), record.attributes.ApproximateReceiveCount]);
          if (Number(record.body) % 5 === 0) failures.push({ itemIdentifier: record.messageId });
        }
        return { batchItemFailures: failures };
      },
    });
    const bodies = Array.from({ length: 25 }, (_, i) => String(i + 1));
    await send(queue.url, bodies);
    source.start();
    const failing = bodies.filter((b) => Number(b) % 5 === 0);
    await until(() => failing.every((b) => (seen.get(b) ?? 0) >= 2) && bodies.every((b) => seen.has(b)));
    // Give a redrive a moment to happen after the second failed receive.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await source.stop();

    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(10);
    for (const body of bodies.filter((b) => !failing.includes(b))) expect(seen.get(body)).toBe(1);
    for (const body of failing) {
      expect(seen.get(body)).toBe(2);
      expect(receiveCounts.get(body)).toEqual(['1', '2']);
    }
    expect((await drain(queue.dlqUrl)).sort()).toEqual([...failing].sort());
    expect(await drain(queue.url)).toEqual([]);
    expect(source.stats).toMatchObject({ records: 30, failedRecords: 10, failedInvocations: 0 });
  });

  test('a thrown invocation returns its whole batch to the queue', async () => {
    const queue = await queueWithDeadLetter('throwing', 5);
    let calls = 0;
    const received: string[][] = [];
    const source = new SqsEventSource({
      sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      consumer: { ...consumer, maxConcurrency: 1 },
      waitTimeSeconds: 1,
      handler: async (event: SQSEvent) => {
        calls++;
        received.push(event.Records.map((r) => r.body).sort());
        if (calls === 1) throw new Error('boom');
        return { batchItemFailures: [] };
      },
    });
    await send(queue.url, ['a', 'b', 'c']);
    source.start();
    await until(() => received.flat().length >= 6);
    await source.stop();
    expect(received.flat().sort()).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
    expect(source.stats.failedInvocations).toBe(1);
    expect(await drain(queue.url)).toEqual([]);
  });

  test('stop() lets the invocation in flight finish and applies its result', async () => {
    const queue = await queueWithDeadLetter('graceful', 5);
    let finished = false;
    let started = false;
    const source = new SqsEventSource({
      sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      consumer: { ...consumer, maxConcurrency: 1 },
      waitTimeSeconds: 1,
      handler: async () => {
        started = true;
        await new Promise((resolve) => setTimeout(resolve, 700));
        finished = true;
        return { batchItemFailures: [] };
      },
    });
    await send(queue.url, ['slow']);
    source.start();
    await until(() => started);
    await source.stop();
    expect(finished).toBe(true);
    expect(await drain(queue.url)).toEqual([]);
  });

  test('scales out like Lambda: slow invocations run side by side, up to maxConcurrency and no further', async () => {
    const queue = await queueWithDeadLetter('scaling', 5);
    let running = 0;
    let peak = 0;
    const done: string[] = [];
    const source = new SqsEventSource({
      sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      consumer: { ...consumer, batchSize: 1, maxConcurrency: 4 },
      waitTimeSeconds: 1,
      handler: async (event: SQSEvent) => {
        running++;
        peak = Math.max(peak, running);
        // A batch that waits on a slow endpoint.
        await new Promise((resolve) => setTimeout(resolve, 600));
        running--;
        done.push(...event.Records.map((r) => r.body));
        return { batchItemFailures: [] };
      },
    });
    const bodies = Array.from({ length: 8 }, (_, i) => `slow-${i}`);
    await send(queue.url, bodies);
    source.start();
    await until(() => done.length === bodies.length);
    await source.stop();
    // One poller, yet four invocations at once, and never a fifth.
    expect(peak).toBe(4);
    expect(source.stats.peakConcurrency).toBe(4);
    expect(done.sort()).toEqual([...bodies].sort());
    expect(await drain(queue.url)).toEqual([]);
  });
});
