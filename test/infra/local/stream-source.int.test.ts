/**
 * Integration (the shared stack's DynamoDB Local, a table of this test's own): the local stream
 * source behaves like Lambda's DynamoDB event source mapping — only records matching the filter
 * invoke the function, in batches of at most `batchSize`; a failing batch is retried as halves and
 * then handed to the failure destination while the rest goes on; and the position in each shard
 * is kept, so a source started again resumes after what it delivered.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { usesNothing } from '../../../functions/lib/resource-use.ts';
import type { StreamConsumerDescription } from '../../../infra/description.ts';
import { DynamoStreamSource } from '../../../infra/local/stream-source.ts';
import { testStack } from '../../support/stack.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

const consumer: StreamConsumerDescription = {
  name: 'test-stream-consumer',
  timeoutSeconds: 5,
  memoryMb: 128,
  uses: usesNothing,
  batchSize: 3,
  maxBatchingWindowSeconds: 0,
  retryAttempts: 2,
  filter: { eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['wanted'] } } } },
  failureQueue: { id: 'TestFailures', localName: 'test-failures', retentionSeconds: 60 },
};

describe('DynamoStreamSource (local DynamoDB stream event source mapping)', () => {
  let raw: DynamoDBClient;
  let doc: DynamoDBDocumentClient;
  let streams: DynamoDBStreamsClient;
  let dir: string;

  beforeAll(() => {
    const endpoint = testStack().dynamodbEndpoint;
    raw = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
    doc = DynamoDBDocumentClient.from(raw);
    streams = new DynamoDBStreamsClient({ endpoint, region: 'us-east-1', credentials });
    dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-stream-'));
  });

  afterAll(() => {
    raw.destroy();
    streams.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function tableWithStream(): Promise<string> {
    const name = `stream-test-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
    await raw.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
      }),
    );
    return name;
  }

  async function until(check: () => boolean, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const keyOf = (record: DynamoDBRecord) => record.dynamodb?.Keys?.pk?.S ?? '';

  test('only matching records invoke, in batches of at most batchSize, and a restarted source resumes after them', async () => {
    const tableName = await tableWithStream();
    const checkpointFile = path.join(dir, `${tableName}.json`);
    const batches: string[][] = [];
    const source = () =>
      new DynamoStreamSource({
        dynamodb: raw,
        streams,
        tableName,
        consumer,
        checkpointFile,
        pollIntervalMs: 50,
        handler: async (event: DynamoDBStreamEvent) => {
          batches.push(event.Records.map(keyOf));
          return { batchItemFailures: [] };
        },
        onFailure: async () => {
          throw new Error('nothing should fail');
        },
      });
    for (let i = 0; i < 8; i++) {
      await doc.send(new PutCommand({ TableName: tableName, Item: { pk: `w${i}`, kind: 'wanted' } }));
      await doc.send(new PutCommand({ TableName: tableName, Item: { pk: `o${i}`, kind: 'other' } }));
    }
    const first = source();
    first.start();
    await until(() => batches.flat().length === 8);
    await first.stop();
    expect(batches.flat()).toEqual(Array.from({ length: 8 }, (_, i) => `w${i}`));
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(consumer.batchSize);
    // The checkpoint is renamed into place, so no half-written file is ever what a restart reads.
    expect(existsSync(`${checkpointFile}.next`)).toBe(false);
    expect(Object.keys(JSON.parse(readFileSync(checkpointFile, 'utf8')) as object).length).toBeGreaterThan(0);

    // Written while no source ran: a new source with the same checkpoint delivers these only.
    for (let i = 8; i < 10; i++) await doc.send(new PutCommand({ TableName: tableName, Item: { pk: `w${i}`, kind: 'wanted' } }));
    const second = source();
    second.start();
    await until(() => batches.flat().length === 10);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await second.stop();
    expect(batches.flat()).toEqual(Array.from({ length: 10 }, (_, i) => `w${i}`));
  });

  test('a failing batch is retried as halves, the poison record goes to the failure destination, the rest is delivered', async () => {
    const tableName = await tableWithStream();
    const delivered: string[] = [];
    const calls: string[][] = [];
    const failures: Record<string, unknown>[] = [];
    const source = new DynamoStreamSource({
      dynamodb: raw,
      streams,
      tableName,
      consumer,
      pollIntervalMs: 50,
      handler: async (event: DynamoDBStreamEvent) => {
        const keys = event.Records.map(keyOf);
        calls.push(keys);
        if (keys.includes('w1')) throw new Error('poison');
        delivered.push(...keys);
        return { batchItemFailures: [] };
      },
      onFailure: async (batch) => {
        failures.push(batch);
      },
    });
    for (let i = 0; i < 3; i++) await doc.send(new PutCommand({ TableName: tableName, Item: { pk: `w${i}`, kind: 'wanted' } }));
    source.start();
    await until(() => failures.length === 1 && delivered.includes('w2'), 30_000);
    await source.stop();
    // [w0 w1 w2] fails, then [w0 w1] and [w2]; [w0 w1] fails, then [w0] and [w1]; [w1] runs out of retries.
    expect(calls[0]).toEqual(['w0', 'w1', 'w2']);
    expect(delivered.sort()).toEqual(['w0', 'w2']);
    expect(failures[0]).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted' },
      DDBStreamBatchInfo: { batchSize: 1, streamArn: expect.stringContaining(tableName) },
    });
    expect(source.stats.failedBatches).toBe(1);
  });
});
