/**
 * The one description of Sluice's resources. The CDK stack and the local stack both derive
 * their tables, queues, routes and queue consumers from this file, so the two cannot drift.
 * Plain data only: no CDK or AWS SDK imports, so the local runtime can load it cheaply. The HTTP
 * routes are declared with their contracts (functions/lib/api/*-routes.ts) and listed here.
 */
import { routeListOf } from '../functions/lib/api/route-table.ts';
import { routeTable } from '../functions/lib/api/routes.ts';
import { newDispatchedMessagePattern, ttlAttribute } from '../functions/lib/aws/ledger-keys.ts';
import { PORTAL_PAGE_FILE } from '../functions/lib/edge/portal-page.ts';
import { envNames } from '../functions/lib/env-names.ts';
import { type ResourceUse, usesNothing } from '../functions/lib/resource-use.ts';

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

/** A file a function's bundle ships beside its code, written at bundling time by `node --import tsx <script> <out>`. */
export interface BuiltFile {
  readonly file: string;
  readonly script: string;
}

export interface FunctionDescription {
  /** Entry file `functions/<name>.ts`. */
  readonly name: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly builtFiles?: readonly BuiltFile[];
}

/** A function that no route calls: what it does with the ledger and the queues is declared with it (its IAM grants). */
export interface WorkerDescription extends FunctionDescription {
  readonly uses: ResourceUse;
}

export interface ConsumerDescription extends WorkerDescription {
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
    // Delivery attempts (`DeliveryService.runTask`): the tenant's endpoints for first attempts
    // (Query, cached), one BatchGet per batch for later attempts, first attempts that succeeded in
    // batches (BatchWriteItem), everything else as conditional Puts and Updates, health and
    // rate-limit counters (Updates), `endpoint.disabled` messages (Put, queued by dispatch).
    // Deferred, diverted and retried jobs go to the retry lane; a throttled job waits on the lane
    // it came from, so only the primary consumer sends to the primary lane. Poison jobs (a body that
    // is no job) are parked in the delivery DLQ at once; exhausted retries stay `dead` in the ledger.
    uses: { ledger: 'record', queries: ['table'], sends: ['delivery', 'retry', 'delivery-dead-letters'] },
    timeoutSeconds: 60,
    memoryMb: 1024,
    batchSize: 10,
    maxBatchingWindowSeconds: 0,
    maxConcurrency: 50,
  },
  {
    name: 'deliver-retries',
    queue: 'retry',
    // As `deliver`, on the retry lane only, and replay steps (`ReplayService.step`): the task (Get,
    // conditional Put), the endpoint's deliveries by status (gsi3) or all of them (gsi2), their
    // items (BatchGet) when the replay names event types, and a claim (Update) before each attempt.
    uses: { ledger: 'record', queries: ['table', 'gsi2', 'gsi3'], sends: ['retry', 'delivery-dead-letters'] },
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

export interface StreamConsumerDescription extends WorkerDescription {
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
    // The tenant's endpoints (Query, cached) to put failing ones on the retry lane, then each
    // message's first-attempt jobs on either lane. The messages come whole in the stream records,
    // and no item is read or written. Reading the stream comes with its event source, and sending
    // a given-up batch to its failure queue with the event source's on-failure destination.
    uses: { ledger: 'none', queries: ['table'], sends: ['delivery', 'retry'] },
    timeoutSeconds: 30,
    memoryMb: 512,
    batchSize: 100,
    maxBatchingWindowSeconds: 0,
    retryAttempts: 10,
    filter: newDispatchedMessagePattern,
    failureQueue: { id: 'DispatchFailureQueue', localName: 'sluice-dispatch-failures', retentionSeconds: 14 * 24 * 3600 },
  },
];

export interface ScheduledFunctionDescription extends WorkerDescription {
  /** EventBridge schedule expression in AWS; the local stack runs it on a timer. */
  readonly schedule: string;
  readonly everySeconds: number;
}

export const scheduledFunctions: readonly ScheduledFunctionDescription[] = [
  // Re-enqueues work whose next step is overdue in the ledger: a lost queue message delays, never
  // loses. Overdue deliveries and dispatched messages from gsi5, postponed or bookmarked in place
  // (Update); deliveries by BatchGet, messages by Get; either lane.
  {
    name: 'sweeper',
    schedule: 'rate(1 minute)',
    everySeconds: 60,
    timeoutSeconds: 60,
    memoryMb: 512,
    uses: { ledger: 'read', queries: ['gsi5'], sends: ['delivery', 'retry'] },
  },
];

/** A secret the rotation function rotates. */
export type RotatedSecret = 'rootKey' | 'encryptionKey';

export interface KeyRotationDescription extends WorkerDescription {
  /** Secrets it rotates: read every version, write a pending one, move the staging labels. */
  readonly rotates: readonly RotatedSecret[];
}

/**
 * Secrets Manager's rotation function for the root key and the data keyring, and the only reader of
 * the root key: finishSecret of the root key (and the deploy-time custom resource) writes its
 * verifier. finishSecret of the data keyring re-seals the ledger (`resealLedger`): the tenants from
 * gsi1, each tenant's endpoints and keys (Query on the table), a conditional Update per item, and a
 * Get when another write won. So it may run as long as Lambda allows.
 */
export const keyRotationFunction: KeyRotationDescription = {
  name: 'rotate-keys',
  timeoutSeconds: 900,
  memoryMb: 512,
  uses: { ledger: 'read', queries: ['gsi1', 'table'] },
  rotates: ['rootKey', 'encryptionKey'],
};

export interface ApiFunctionDescription extends FunctionDescription {
  readonly method: string;
  readonly path: string;
}

/** One function per route declaration (`functions/lib/api/routes.ts`). */
/** The portal's page, built by the project's esbuild beside the function that serves it. */
const builtFilesOf: Readonly<Record<string, readonly BuiltFile[]>> = {
  'get-portal': [{ file: PORTAL_PAGE_FILE, script: 'portal/build.ts' }],
};

export const apiFunctions: readonly ApiFunctionDescription[] = routeTable.map((route) => ({
  name: route.name,
  method: route.method,
  path: route.path,
  timeoutSeconds: 29,
  memoryMb: 512,
  ...(builtFilesOf[route.name] && { builtFiles: builtFilesOf[route.name] }),
}));

/**
 * The HTTP API's `$default` route: every request no route takes, answered `404` or `405` from the
 * route table with no I/O, so a few seconds and the smallest memory that keeps cold starts short.
 */
export const noRouteFunction: WorkerDescription = { name: 'no-route', timeoutSeconds: 5, memoryMb: 256, uses: usesNothing };

/** The catch-all's environment: the route list it tells 404 from 405 with, and nothing else of Sluice's. */
export const noRouteEnvironment: Readonly<Record<string, string>> = { [envNames.routeList]: routeListOf(routeTable) };

/** Every Lambda function Sluice deploys, each once. */
export const allFunctions: readonly FunctionDescription[] = [
  ...apiFunctions,
  noRouteFunction,
  ...consumers,
  ...streamConsumers,
  ...scheduledFunctions,
  keyRotationFunction,
];
