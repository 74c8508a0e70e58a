import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ledgerTable, type QueueDescription, type QueueName, queues, streamConsumers } from '../description.ts';

/**
 * Creates the table and queues the CDK stack declares, from the same description, idempotently:
 * a restart on a persisted data dir finds them and leaves them alone.
 */
export async function provisionTable(dynamodb: DynamoDBClient): Promise<void> {
  const table = ledgerTable;
  try {
    await dynamodb.send(new DescribeTableCommand({ TableName: table.localName }));
    return;
  } catch (error) {
    if ((error as Error).name !== 'ResourceNotFoundException') throw error;
  }
  const attributes = new Set([table.partitionKey, table.sortKey, ...table.indexes.flatMap((i) => [i.partitionKey, i.sortKey])]);
  await dynamodb.send(
    new CreateTableCommand({
      TableName: table.localName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [...attributes].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: table.partitionKey, KeyType: 'HASH' },
        { AttributeName: table.sortKey, KeyType: 'RANGE' },
      ],
      StreamSpecification: { StreamEnabled: true, StreamViewType: table.stream },
      GlobalSecondaryIndexes: table.indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection:
          index.projection.type === 'INCLUDE'
            ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projection.attributes] }
            : { ProjectionType: 'KEYS_ONLY' },
      })),
    }),
  );
  await dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: table.localName,
      TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true },
    }),
  );
}

export interface ProvisionedQueue {
  readonly url: string;
  readonly arn: string;
  readonly deadLetterUrl: string;
  readonly deadLetterArn: string;
}

async function createQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<{ url: string; arn: string }> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (!QueueUrl) throw new Error(`no URL for queue ${name}`);
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  return { url: QueueUrl, arn: Attributes?.QueueArn ?? `arn:aws:sqs:us-east-1:000000000000:${name}` };
}

async function provisionQueue(sqs: SQSClient, queue: QueueDescription): Promise<ProvisionedQueue> {
  const deadLetter = await createQueue(sqs, queue.deadLetter.localName, { MessageRetentionPeriod: String(14 * 24 * 3600) });
  const main = await createQueue(sqs, queue.localName, {
    VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(queue.retentionSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetter.arn, maxReceiveCount: queue.deadLetter.maxReceiveCount }),
  });
  return { url: main.url, arn: main.arn, deadLetterUrl: deadLetter.url, deadLetterArn: deadLetter.arn };
}

export async function provisionQueues(sqs: SQSClient): Promise<Record<QueueName, ProvisionedQueue>> {
  const entries = await Promise.all(
    (Object.entries(queues) as [QueueName, QueueDescription][]).map(
      async ([name, queue]) => [name, await provisionQueue(sqs, queue)] as const,
    ),
  );
  return Object.fromEntries(entries) as Record<QueueName, ProvisionedQueue>;
}

/** The failure destination of each stream consumer, by consumer name. */
export async function provisionFailureQueues(sqs: SQSClient): Promise<Record<string, { url: string; arn: string }>> {
  const entries = await Promise.all(
    streamConsumers.map(
      async (consumer) =>
        [
          consumer.name,
          await createQueue(sqs, consumer.failureQueue.localName, {
            MessageRetentionPeriod: String(consumer.failureQueue.retentionSeconds),
          }),
        ] as const,
    ),
  );
  return Object.fromEntries(entries);
}
