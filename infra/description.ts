/**
 * The one description of Sluice's resources. The CDK stack and the local stack both derive
 * their tables, queues, routes and queue consumers from this file, so the two cannot drift.
 * Plain data only: no CDK or AWS SDK imports, so the local runtime can load it cheaply.
 */
import { routeTable } from '../functions/lib/api/route-table.ts';
import { newDispatchedMessagePattern, ttlAttribute } from '../functions/lib/aws/ledger-keys.ts';

export interface IndexDescription {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  /**
   * What the index copies besides the keys: nothing, or a few small attributes a query filters
   * or a reader needs. Every index entry costs a write unit when the item is written, so none
   * copies whole items; listings read the items they page through.
   */
  readonly projection: { readonly type: 'KEYS_ONLY' } | { readonly type: 'INCLUDE'; readonly attributes: readonly string[] };
}

export interface TableDescription {
  readonly id: string;
  /** Physical name used by the local stack; CloudFormation names the deployed table. */
  readonly localName: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly indexes: readonly IndexDescription[];
  readonly ttlAttribute: string;
  /** The table's change stream: dispatch reads new message items from it. */
  readonly stream: 'NEW_IMAGE';
}

/**
 * Single-table design: see docs/data-model.md for the item shapes behind these keys. The listing
 * indexes sort by the item's own `id` (time-sortable), so "newest first" is key order and no
 * item stores its id twice.
 */
export const ledgerTable: TableDescription = {
  id: 'Ledger',
  localName: 'sluice-ledger',
  partitionKey: 'pk',
  sortKey: 'sk',
  indexes: [
    // tenant -> messages (with their type, to filter by it), all tenants
    { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'id', projection: { type: 'INCLUDE', attributes: ['type'] } },
    // endpoint -> deliveries (with their status, to filter by it)
    { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'id', projection: { type: 'INCLUDE', attributes: ['status'] } },
    // endpoint + status -> deliveries pending, failing or dead (sparse: history filter, inbox, recover, resume)
    { name: 'gsi3', partitionKey: 'gsi3pk', sortKey: 'id', projection: { type: 'KEYS_ONLY' } },
    // tenant -> dead deliveries (sparse: dead letters)
    { name: 'gsi4', partitionKey: 'gsi4pk', sortKey: 'id', projection: { type: 'KEYS_ONLY' } },
    // the sweeper's: deliveries by next attempt (DUE shards), dispatched messages by id (NEW shards)
    { name: 'gsi5', partitionKey: 'gsi5pk', sortKey: 'gsi5sk', projection: { type: 'INCLUDE', attributes: ['tenantId', 'endpointIds'] } },
  ],
  ttlAttribute,
  stream: 'NEW_IMAGE',
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

/** Where a stream consumer's batches go once their retries are spent: an SQS queue of batch descriptions. */
export interface FailureQueueDescription {
  readonly id: string;
  readonly localName: string;
  readonly retentionSeconds: number;
}

export interface StreamConsumerDescription extends FunctionDescription {
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** Retries of a failing batch (halved each time) before it is given up to the failure queue. */
  readonly retryAttempts: number;
  /** A Lambda event-filter pattern: only matching records invoke the function (and are billed). */
  readonly filter: Readonly<Record<string, unknown>>;
  readonly failureQueue: FailureQueueDescription;
}

export const streamConsumers: readonly StreamConsumerDescription[] = [
  {
    // New messages become first-attempt jobs; a batch it gives up on is still checked by the sweeper.
    name: 'dispatch',
    timeoutSeconds: 30,
    memoryMb: 512,
    batchSize: 100,
    maxBatchingWindowSeconds: 0,
    retryAttempts: 10,
    filter: newDispatchedMessagePattern,
    failureQueue: { id: 'DispatchFailureQueue', localName: 'sluice-dispatch-failures', retentionSeconds: 14 * 24 * 3600 },
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

/**
 * Secrets Manager's rotation function for the root key and the data keyring, and the writer of the
 * root key's verifier. Its finishSecret re-seals the ledger's endpoints and API keys, so it may run
 * as long as Lambda allows.
 */
export const keyRotationFunction: FunctionDescription = { name: 'rotate-keys', timeoutSeconds: 900, memoryMb: 512 };

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

/**
 * The HTTP API's `$default` route: every request no route takes, answered `404` or `405` from the
 * route table with no I/O, so a few seconds and the smallest memory that keeps cold starts short.
 */
export const noRouteFunction: FunctionDescription = { name: 'no-route', timeoutSeconds: 5, memoryMb: 256 };

/** Every Lambda function Sluice deploys, each once. */
export const allFunctions: readonly FunctionDescription[] = [
  ...apiFunctions,
  noRouteFunction,
  ...consumers,
  ...streamConsumers,
  ...scheduledFunctions,
  keyRotationFunction,
];
