/**
 * The one description of Sluice's resources. The CDK stack and the local stack both derive
 * their tables, queues, routes and queue consumers from this file, so the two cannot drift.
 * Plain data only: no CDK or AWS SDK imports, so the local runtime can load it cheaply.
 */
import { routeTable } from '../functions/lib/api/route-table.ts';

export interface IndexDescription {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  /** `ALL` copies the item; `KEYS_ONLY` for indexes read only to find ids. */
  readonly projection: 'ALL' | 'KEYS_ONLY';
}

export interface TableDescription {
  readonly id: string;
  /** Physical name used by the local stack; CloudFormation names the deployed table. */
  readonly localName: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly indexes: readonly IndexDescription[];
  readonly ttlAttribute: string;
}

/** Single-table design: see docs/data-model.md for the item shapes behind these keys. */
export const ledgerTable: TableDescription = {
  id: 'Ledger',
  localName: 'sluice-ledger',
  partitionKey: 'pk',
  sortKey: 'sk',
  indexes: [
    // parent -> children, newest first: tenant -> messages, message -> deliveries, all tenants
    { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk', projection: 'ALL' },
    // endpoint -> deliveries; tenant + event type -> messages
    { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk', projection: 'ALL' },
    // endpoint + status -> deliveries (history filter, thin-mode inbox)
    { name: 'gsi3', partitionKey: 'gsi3pk', sortKey: 'gsi3sk', projection: 'ALL' },
    // tenant + status -> deliveries (dead letters, inbox across endpoints)
    { name: 'gsi4', partitionKey: 'gsi4pk', sortKey: 'gsi4sk', projection: 'ALL' },
    // due-work shards -> items whose next step is overdue (the sweeper's index; sparse)
    { name: 'gsi5', partitionKey: 'gsi5pk', sortKey: 'gsi5sk', projection: 'KEYS_ONLY' },
  ],
  ttlAttribute: 'expiresAt',
};

export interface QueueDescription {
  readonly id: string;
  readonly localName: string;
  /** Must be at least 6x the timeout of the function that consumes it (AWS guidance). */
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  readonly deadLetter: { readonly id: string; readonly localName: string; readonly maxReceiveCount: number };
}

export const queues = {
  fanOut: {
    id: 'FanOutQueue',
    localName: 'sluice-fan-out',
    visibilityTimeoutSeconds: 180,
    retentionSeconds: 4 * 24 * 3600,
    deadLetter: { id: 'FanOutDeadLetterQueue', localName: 'sluice-fan-out-dlq', maxReceiveCount: 5 },
  },
  delivery: {
    id: 'DeliveryQueue',
    localName: 'sluice-delivery',
    visibilityTimeoutSeconds: 360,
    retentionSeconds: 4 * 24 * 3600,
    deadLetter: { id: 'DeliveryDeadLetterQueue', localName: 'sluice-delivery-dlq', maxReceiveCount: 5 },
  },
  /**
   * The retry lane: retries, and every job of an endpoint that is failing or slow. A receiver
   * that hangs until its timeout then holds up only this lane, never first attempts to healthy
   * endpoints.
   */
  retry: {
    id: 'RetryQueue',
    localName: 'sluice-delivery-retry',
    visibilityTimeoutSeconds: 360,
    retentionSeconds: 14 * 24 * 3600,
    deadLetter: { id: 'RetryDeadLetterQueue', localName: 'sluice-delivery-retry-dlq', maxReceiveCount: 5 },
  },
} as const satisfies Record<string, QueueDescription>;

export type QueueName = keyof typeof queues;

export interface FunctionDescription {
  /** Entry file `functions/<name>.ts`. */
  readonly name: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
}

export interface ConsumerDescription extends FunctionDescription {
  readonly queue: QueueName;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** Upper bound on concurrent invocations (SQS event source `maxConcurrency`, >= 2). */
  readonly maxConcurrency: number;
}

export const consumers: readonly ConsumerDescription[] = [
  {
    name: 'fan-out',
    queue: 'fanOut',
    timeoutSeconds: 30,
    memoryMb: 512,
    batchSize: 10,
    maxBatchingWindowSeconds: 0,
    maxConcurrency: 20,
  },
  {
    // Longest endpoint timeout is 30 s; the rest is the ledger writes around it.
    name: 'deliver',
    queue: 'delivery',
    timeoutSeconds: 60,
    memoryMb: 1024,
    batchSize: 10,
    maxBatchingWindowSeconds: 0,
    maxConcurrency: 50,
  },
  {
    name: 'deliver-retries',
    queue: 'retry',
    timeoutSeconds: 60,
    memoryMb: 1024,
    batchSize: 10,
    maxBatchingWindowSeconds: 0,
    maxConcurrency: 20,
  },
];

export interface ScheduledFunctionDescription extends FunctionDescription {
  /** EventBridge schedule expression in AWS; the local stack runs it on a timer. */
  readonly schedule: string;
  readonly everySeconds: number;
}

export const scheduledFunctions: readonly ScheduledFunctionDescription[] = [
  // Re-enqueues work whose next step is overdue in the ledger: a lost queue message delays, never loses.
  { name: 'sweeper', schedule: 'rate(1 minute)', everySeconds: 60, timeoutSeconds: 60, memoryMb: 512 },
];

export interface ApiFunctionDescription extends FunctionDescription {
  readonly method: string;
  readonly path: string;
}

export const apiFunctions: readonly ApiFunctionDescription[] = routeTable.map((route) => ({
  name: route.name,
  method: route.method,
  path: route.path,
  timeoutSeconds: 29,
  memoryMb: 512,
}));

/** Environment variable names shared by the stack, the local runtime and `functions/lib/env.ts`. */
export const envNames = {
  profile: 'SLUICE_PROFILE',
  tableName: 'SLUICE_TABLE_NAME',
  fanOutQueueUrl: 'SLUICE_FAN_OUT_QUEUE_URL',
  fanOutDeadLetterQueueUrl: 'SLUICE_FAN_OUT_DLQ_URL',
  deliveryQueueUrl: 'SLUICE_DELIVERY_QUEUE_URL',
  deliveryDeadLetterQueueUrl: 'SLUICE_DELIVERY_DLQ_URL',
  retryQueueUrl: 'SLUICE_RETRY_QUEUE_URL',
  sweepGraceSeconds: 'SLUICE_SWEEP_GRACE_SECONDS',
  endpointFailureWindowSeconds: 'SLUICE_ENDPOINT_FAILURE_WINDOW_SECONDS',
  hookRateLimitPerSecond: 'SLUICE_HOOK_RATE_LIMIT_PER_SECOND',
  rootKey: 'SLUICE_ROOT_KEY',
  rootKeySecretArn: 'SLUICE_ROOT_KEY_SECRET_ARN',
  encryptionKey: 'SLUICE_ENCRYPTION_KEY',
  encryptionKeySecretArn: 'SLUICE_ENCRYPTION_KEY_SECRET_ARN',
  retentionDays: 'SLUICE_RETENTION_DAYS',
  allowHttp: 'SLUICE_ALLOW_HTTP',
  allowLoopback: 'SLUICE_ALLOW_LOOPBACK',
  allowPrivate: 'SLUICE_ALLOW_PRIVATE',
} as const;
