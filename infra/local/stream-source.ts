import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  type AttributeValue,
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent, AttributeValue as EventAttributeValue } from 'aws-lambda';
import type { StreamConsumerDescription } from '../description.ts';
import { invoke, type LambdaHandler } from './lambda-runtime.ts';

/**
 * Whether a record matches a Lambda event-filter pattern. The subset Sluice uses: nested
 * objects, lists of literal values, `{prefix}` and `{exists}`.
 */
export function matchesPattern(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((rule: unknown) => {
      if (rule && typeof rule === 'object') {
        const { prefix, exists } = rule as { prefix?: string; exists?: boolean };
        if (exists !== undefined) return exists === (value !== undefined);
        if (prefix !== undefined) return typeof value === 'string' && value.startsWith(prefix);
        return false;
      }
      return value === rule;
    });
  }
  if (pattern && typeof pattern === 'object') {
    const object = value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
    return Object.entries(pattern).every(([name, inner]) => matchesPattern(inner, object?.[name]));
  }
  return false;
}

/** An SDK attribute value as Lambda puts it in the event's JSON: binary values base64-encoded. */
function toEventValue(value: AttributeValue): EventAttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(toEventValue) };
  if (value.M !== undefined) return { M: toEventImage(value.M) };
  return value as EventAttributeValue;
}

function toEventImage(image: Record<string, AttributeValue> | undefined): Record<string, EventAttributeValue> {
  return Object.fromEntries(Object.entries(image ?? {}).map(([name, value]) => [name, toEventValue(value)]));
}

function toEventRecord(record: _Record, streamArn: string): DynamoDBRecord {
  const stream = record.dynamodb;
  return {
    eventID: record.eventID ?? '',
    eventName: record.eventName as DynamoDBRecord['eventName'],
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: record.awsRegion ?? 'us-east-1',
    eventSourceARN: streamArn,
    dynamodb: {
      ...(stream?.ApproximateCreationDateTime && {
        ApproximateCreationDateTime: Math.floor(stream.ApproximateCreationDateTime.getTime() / 1000),
      }),
      Keys: toEventImage(stream?.Keys),
      ...(stream?.NewImage && { NewImage: toEventImage(stream.NewImage) }),
      ...(stream?.SequenceNumber && { SequenceNumber: stream.SequenceNumber }),
      ...(stream?.SizeBytes !== undefined && { SizeBytes: stream.SizeBytes }),
      ...(stream?.StreamViewType && { StreamViewType: stream.StreamViewType as 'NEW_IMAGE' }),
    },
  };
}

export interface StreamSourceOptions {
  readonly dynamodb: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
  readonly tableName: string;
  readonly consumer: StreamConsumerDescription;
  readonly handler: LambdaHandler<DynamoDBStreamEvent, DynamoDBBatchResponse | undefined>;
  /** Where the position in each shard is kept across restarts (Lambda keeps it for you); none in memory. */
  readonly checkpointFile?: string;
  /** Lambda polls each shard four times a second. */
  readonly pollIntervalMs?: number;
  /** The failure destination: a batch given up on, described as Lambda describes it. */
  readonly onFailure: (batch: Record<string, unknown>) => Promise<void>;
  readonly onError?: (message: string) => void;
}

export interface StreamSourceStats {
  invocations: number;
  records: number;
  failedBatches: number;
}

interface ShardState {
  readonly shardId: string;
  iterator?: string;
  closed: boolean;
}

/**
 * Behaves like Lambda's DynamoDB stream event source mapping: polls every shard of the table's
 * stream, filters records with the consumer's pattern, invokes the function with batches, retries
 * a failing batch (halving it each time) and then hands it to the failure destination, and keeps
 * its position per shard, so a restarted stack resumes where it stopped.
 */
export class DynamoStreamSource {
  readonly stats: StreamSourceStats = { invocations: 0, records: 0, failedBatches: 0 };
  private stopped = false;
  private loop: Promise<void> | undefined;
  private streamArn: string | undefined;
  private readonly shards = new Map<string, ShardState>();
  private readonly checkpoints: Record<string, string>;
  private failing = false;

  constructor(private readonly options: StreamSourceOptions) {
    const file = options.checkpointFile;
    this.checkpoints = file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops polling; a batch in flight finishes and is checkpointed first. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let busy = false;
      try {
        await this.discover();
        const rounds = await Promise.all([...this.shards.values()].filter((s) => !s.closed).map((shard) => this.poll(shard)));
        busy = rounds.some(Boolean);
        if (this.failing) this.options.onError?.(`${this.options.consumer.name}: stream readable again`);
        this.failing = false;
      } catch (error) {
        if (!this.failing)
          this.options.onError?.(`${this.options.consumer.name}: cannot read the stream (${(error as Error).message}); retrying`);
        this.failing = true;
        // Start over: the table (a restarted DynamoDB Local) may have a new stream or iterators.
        this.streamArn = undefined;
        for (const shard of this.shards.values()) delete shard.iterator;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      if (!busy) await new Promise((resolve) => setTimeout(resolve, this.options.pollIntervalMs ?? 250));
    }
  }

  /** Finds the stream and its shards (new ones appear when DynamoDB splits or rolls a shard over). */
  private async discover(): Promise<void> {
    if (!this.streamArn) {
      const { Table } = await this.options.dynamodb.send(new DescribeTableCommand({ TableName: this.options.tableName }));
      this.streamArn = Table?.LatestStreamArn;
      if (!this.streamArn) throw new Error(`table ${this.options.tableName} has no stream`);
    }
    if ([...this.shards.values()].some((s) => !s.closed)) return;
    const { StreamDescription } = await this.options.streams.send(new DescribeStreamCommand({ StreamArn: this.streamArn }));
    for (const shard of StreamDescription?.Shards ?? []) {
      if (shard.ShardId && !this.shards.has(shard.ShardId)) this.shards.set(shard.ShardId, { shardId: shard.ShardId, closed: false });
    }
  }

  /** One GetRecords on one shard, and the invocations for what matched; true when it read records. */
  private async poll(shard: ShardState): Promise<boolean> {
    const streamArn = this.streamArn as string;
    if (!shard.iterator) {
      const after = this.checkpoints[shard.shardId];
      const { ShardIterator } = await this.options.streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shard.shardId,
          ...(after ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after } : { ShardIteratorType: 'TRIM_HORIZON' }),
        }),
      );
      shard.iterator = ShardIterator;
    }
    const { Records = [], NextShardIterator } = await this.options.streams.send(
      new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: 1000 }),
    );
    if (NextShardIterator) shard.iterator = NextShardIterator;
    else shard.closed = true;
    if (Records.length === 0) return false;
    const events = Records.map((record) => toEventRecord(record, streamArn)).filter((record) =>
      matchesPattern(this.options.consumer.filter, record),
    );
    const { batchSize, retryAttempts } = this.options.consumer;
    for (let i = 0; i < events.length && !this.stopped; i += batchSize) {
      await this.deliver(events.slice(i, i + batchSize), retryAttempts, streamArn, shard.shardId);
    }
    const last = Records.at(-1)?.dynamodb?.SequenceNumber;
    if (last) this.checkpoint(shard.shardId, last);
    return true;
  }

  /** Invokes with a batch; a failure is retried as two halves (Lambda's bisect), until the retries run out. */
  private async deliver(records: DynamoDBRecord[], retriesLeft: number, streamArn: string, shardId: string): Promise<void> {
    this.stats.invocations++;
    this.stats.records += records.length;
    try {
      await invoke(this.options.consumer, this.options.handler, { Records: records });
      return;
    } catch (error) {
      this.options.onError?.(`${this.options.consumer.name}: invocation failed (${(error as Error).message}); retrying its records`);
    }
    if (retriesLeft <= 0 || this.stopped) {
      this.stats.failedBatches++;
      await this.options.onFailure({
        version: '1.0',
        timestamp: new Date().toISOString(),
        requestContext: {
          condition: 'RetryAttemptsExhausted',
          functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${this.options.consumer.name}`,
        },
        DDBStreamBatchInfo: {
          shardId,
          streamArn,
          batchSize: records.length,
          startSequenceNumber: records[0]?.dynamodb?.SequenceNumber,
          endSequenceNumber: records.at(-1)?.dynamodb?.SequenceNumber,
        },
      });
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 200 * 2 ** (this.options.consumer.retryAttempts - retriesLeft))));
    const half = Math.ceil(records.length / 2);
    if (records.length > 1) {
      await this.deliver(records.slice(0, half), retriesLeft - 1, streamArn, shardId);
      await this.deliver(records.slice(half), retriesLeft - 1, streamArn, shardId);
    } else await this.deliver(records, retriesLeft - 1, streamArn, shardId);
  }

  private checkpoint(shardId: string, sequenceNumber: string): void {
    this.checkpoints[shardId] = sequenceNumber;
    const file = this.options.checkpointFile;
    if (!file) return;
    // Written aside and renamed over: a SIGKILL mid-write must leave the old checkpoint, not an empty file
    // that stops the next start.
    writeFileSync(`${file}.next`, JSON.stringify(this.checkpoints));
    renameSync(`${file}.next`, file);
  }
}
