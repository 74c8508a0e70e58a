/**
 * What each Sluice function may do, besides writing its own log group and reading its own event
 * source (both granted where those are declared). One row per function, derived from the code
 * paths it reaches: `functions/<name>.ts` -> `functions/lib/core/*.ts` -> `functions/lib/aws/*.ts`.
 * The stack grants exactly this and throws when a row names no function or a function has no
 * row, so a new route cannot silently run with another's rights (or none).
 *
 * A function reads the data-encryption-key secret when its composition (`functions/lib/container.ts`)
 * holds a store of sealed values: the API-key store (every function that authenticates) or the
 * endpoint store (secrets, and the endpoint cache of the delivery path). Nothing else opens it:
 * get-openapi and the `$default` catch-all build no store at all. test/infra/access.test.ts checks
 * each row against what the function's bundle contains.
 *
 * No function but `rotate-keys` may touch the root-key secret: the ones that authenticate read
 * the root key's verifier (its hashes, `RootKeyVerifier`) instead, and `rotate-keys` writes it.
 */
import type { QueueName } from './description.ts';

/**
 * DynamoDB item actions by level, on the ledger table's ARN only. IAM has no action for
 * transactions: each element of a TransactWriteItems is authorised as its own PutItem, UpdateItem
 * or DeleteItem (and a ConditionCheck element as ConditionCheckItem, which Sluice never sends, so
 * no function gets it). Scan and DescribeTable are used by no function and granted to none. The
 * stream actions are not levels: the stream consumer's event source grants them, to it alone (on
 * the stream's ARN, but ListStreams, which IAM grants on "*" only).
 *
 * - `read`: GetItem and BatchGetItem (a batch reads nothing a GetItem could not), plus UpdateItem.
 *   UpdateItem is in every level because every function with table access needs it: an
 *   authenticated call refreshes the key's `lastUsedAt` (`AccessService.authenticate` ->
 *   `DynamoApiKeyStore.touch`, a TransactWriteItems of two Updates, at most once a minute per
 *   key and process), and the consumers and the sweeper update attributes in place (health
 *   counters, the sweeper's postponement and bookmark, the per-second rate-limit counters).
 * - `write`: `read` plus PutItem. Sluice creates items with conditional Puts (a message, a
 *   delivery, an attempt record, an inbox fetch or ack event) and replaces whole endpoints.
 * - `record`: `write` plus BatchWriteItem, for the functions that make delivery attempts: a
 *   first attempt that succeeded is final, so its delivery is written unconditionally, batched
 *   with others (`BatchWriter`). Nothing else batches writes.
 * - `delete`: `read` plus DeleteItem, for the four routes that remove items (and a transaction
 *   of two Deletes for a key's grant and an action's event-id item). No deleter also puts.
 */
export const tableActionsByLevel = {
  none: [],
  read: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
  write: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem'],
  record: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:BatchWriteItem'],
  delete: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
} as const satisfies Record<string, readonly string[]>;

export type TableLevel = keyof typeof tableActionsByLevel;

/**
 * Where a function runs `dynamodb:Query`: `table` (a partition of the base table, e.g. a
 * tenant's keys or a delivery with its attempts) or a GSI by name. Each is granted on its own
 * ARN (`<table>/index/<name>`), never `index/*`, so a function that lists tenants cannot also
 * walk another index.
 */
export type QueryTarget = 'table' | 'gsi1' | 'gsi2' | 'gsi3' | 'gsi4' | 'gsi5';

/**
 * A secret a function rotates (Secrets Manager's rotation steps on it; see `Storage.grantRotateSecret`).
 * Rotating the root key includes writing its verifier (`Storage.grantWriteVerifier`).
 */
export type RotatedSecret = 'rootKey' | 'encryptionKey';

/** A queue a function sends to (`sqs:SendMessage`, which also covers SendMessageBatch). */
export interface QueueTarget {
  readonly queue: QueueName;
  readonly deadLetter?: boolean;
}

export interface FunctionAccess {
  /**
   * Authenticates its caller with `AccessService.authenticate`: reads the root key's verifier (the
   * presented key's hash is compared with the root key's first; never the root-key secret) and
   * the key grant (GetItem), and may touch the key (UpdateItem). Every route but get-openapi
   * does, the inbound hooks included.
   */
  readonly authenticates: boolean;
  readonly table: TableLevel;
  readonly query: readonly QueryTarget[];
  readonly sends: readonly QueueTarget[];
  /** Secrets it rotates: read every version, write a pending one, move the staging labels. */
  readonly rotates: readonly RotatedSecret[];
  /** Reads the data-encryption-key secret: it builds a store of sealed values, which opens that secret at cold start. */
  readonly readsDataKey: boolean;
}

const to = (queue: QueueName): QueueTarget => ({ queue });
const deadLettersOf = (queue: QueueName): QueueTarget => ({ queue, deadLetter: true });

/** Both delivery lanes (`SqsDeliveryQueue`): `primary` is the delivery queue, `retry` the retry queue. */
const bothLanes = [to('delivery'), to('retry')];

function route(table: TableLevel, query: readonly QueryTarget[] = [], sends: readonly QueueTarget[] = []): FunctionAccess {
  return { authenticates: true, table, query, sends, rotates: [], readsDataKey: true };
}

function worker(table: TableLevel, query: readonly QueryTarget[], sends: readonly QueueTarget[]): FunctionAccess {
  return { authenticates: false, table, query, sends, rotates: [], readsDataKey: true };
}

/**
 * The grants of every function. Comments name the store calls beyond authentication that need
 * the level, the queries and the sends.
 */
export const functionAccess: Readonly<Record<string, FunctionAccess>> = {
  // Tenants and keys. The root-key routes authenticate too: a tenant key presented there is
  // looked up (and touched) before the 403.
  'create-tenant': route('write'), // tenant Put; the admin key: a transaction of two Puts
  'list-tenants': route('read', ['gsi1']), // gsi1 'TENANTS' partition
  'update-tenant': route('write'), // Get, then a conditional Put
  'create-api-key': route('write'), // transaction of two Puts (key record, key grant)
  'list-api-keys': route('read', ['table']), // the tenant's KEY# items
  'delete-api-key': route('delete'), // Get, then a transaction of two Deletes
  'reveal-api-key': route('read'), // Get of the sealed key, opened with the data key

  // Catalog: event types and endpoints.
  'put-event-type': route('write'), // Get (created or replaced?), Put
  'list-event-types': route('read', ['table']),
  'get-event-type': route('read'),
  'delete-event-type': route('delete'),
  'create-endpoint': route('write'), // Get of each subscribed event type, conditional Put
  'list-endpoints': route('read', ['table']),
  'get-endpoint': route('read'),
  // Put of the whole endpoint; re-enabling it dates its waiting deliveries again (gsi3 by
  // status, a conditional Put each) and enqueues them on the primary lane only.
  'update-endpoint': route('write', ['gsi3'], [to('delivery')]),
  'delete-endpoint': route('delete'),
  'get-endpoint-secret': route('read'),
  'rotate-endpoint-secret': route('write'), // Get, Put with the new secret list

  // Messages and history. Ingest routes the message by the tenant's endpoints (a Query of the
  // tenant's EP# items, cached a few seconds) and stores it with its targets; it queues nothing:
  // dispatch turns the stored message into jobs, from the ledger's stream.
  'create-message': route('write', ['table']), // event type Get (cached); one conditional Put
  'list-messages': route('read', ['gsi1']), // by tenant, filtered by type in the index; BatchGet of the page
  'get-message': route('read'),
  'list-message-deliveries': route('read', ['table']), // message Get; the message's partition
  'list-endpoint-deliveries': route('read', ['gsi2', 'gsi3']), // by endpoint (gsi2) or endpoint and open status (gsi3)
  'get-endpoint-stats': route('read', ['gsi2']), // id and status from gsi2; BatchGet of the newest 100 deliveries' first attempts
  'get-delivery': route('read', ['table']), // one consistent Query: delivery, later attempts, events

  // Recovery: operator attempts go to the retry lane (`RecoveryService`).
  'retry-delivery': route('read', [], [to('retry')]),
  'recover-endpoint': route('read', ['gsi3'], [to('retry')]),
  'list-dead-letters': route('read', ['gsi3', 'gsi4']), // the tenant's (gsi4), or one endpoint's (gsi3 dead partition)
  'redrive-dead-letters': route('write', ['gsi4'], [to('retry')]), // BatchGet or gsi4 page; conditional Update each
  // A real first attempt made in the request (`EndpointTester` -> `DeliveryService.runFirst` on
  // the retry lane): the ping message (Put, born attempted, so dispatch skips it), the endpoint
  // cache (Query), the delivery (a batched write when it succeeded, a conditional Put otherwise),
  // health updates; a throttled attempt or a retry goes to the retry lane, and disabling the
  // endpoint (410, failure window) stores an `endpoint.disabled` message (Put), which dispatch
  // queues. It never sends to the primary lane (the run is on the retry lane) and never dead-
  // letters (a new delivery always has a retry).
  'test-endpoint': route('record', ['table'], [to('retry')]),

  // Thin-mode inbox (receiver keys). A fetch records a `fetched` event (Put); an ack is a
  // transaction of an Update and a Put.
  'get-inbox-item': route('write'),
  'ack-inbox-item': route('write'),
  'list-inbox': route('read', ['gsi2', 'gsi3']), // open (gsi3: pending + failed) or acknowledged (gsi2 by status)

  // Actions (inbound-hook configuration).
  'create-action': route('write'), // transaction of two Puts (action, event-id index item)
  'list-actions': route('read', ['table']),
  'get-action': route('read'),
  'delete-action': route('delete'), // Get, then a transaction of two Deletes
  'get-trigger-url': route('read'), // action Get, key reveal (Get)
  'list-action-triggers': route('read', ['table']), // action Get; the action's TRG partition

  // Inbound hooks (`HookService.trigger`): per-key rate counter (Update), action by event id
  // (two Gets), trigger record (Put), the tenant's endpoints (Query, cached) and a `device.command`
  // message for the targeted devices (Put), which dispatch queues: the hooks send nothing.
  'post-hook': route('write', ['table']),
  'get-hook': route('write', ['table']),

  // Static document: no store, no secret.
  'get-openapi': { authenticates: false, table: 'none', query: [], sends: [], rotates: [], readsDataKey: false },
  // The HTTP API's `$default` route: 404 or 405 from the route table, no store, nothing to read.
  'no-route': { authenticates: false, table: 'none', query: [], sends: [], rotates: [], readsDataKey: false },

  // Delivery attempts (`DeliveryService.runTask`): the tenant's endpoints for first attempts
  // (Query, cached), one BatchGet per batch for later attempts, first attempts that succeeded in
  // batches (BatchWriteItem), everything else as conditional Puts and Updates, health and
  // rate-limit counters (Updates), `endpoint.disabled` messages (Put, queued by dispatch).
  // Deferred, diverted and retried jobs go to the retry lane; a throttled job waits on the lane
  // it came from, so only the primary consumer sends to the primary lane. Poison jobs (a body that
  // is no job) are parked in the delivery DLQ at once; exhausted retries stay `dead` in the ledger.
  deliver: worker('record', ['table'], [...bothLanes, deadLettersOf('delivery')]),
  'deliver-retries': worker('record', ['table'], [to('retry'), deadLettersOf('delivery')]),
  // Dispatch (`DispatchService`, on the ledger's stream of new messages): the tenant's endpoints
  // (Query, cached) to put failing ones on the retry lane, then each message's first-attempt jobs
  // on either lane. Nothing else: the messages come whole in the stream records, and no item is
  // read or written, so no item action is granted. Reading the stream (DescribeStream, GetRecords,
  // GetShardIterator, ListStreams) comes with its event source, and sending a given-up batch to
  // its failure queue with the event source's on-failure destination (infra/constructs/delivery-pipeline.ts).
  dispatch: worker('none', ['table'], bothLanes),
  // Sweeper: overdue deliveries and dispatched messages from gsi5, postponed or bookmarked in
  // place (Update); deliveries by BatchGet, messages by Get; re-enqueues deliveries on either
  // lane and lost first attempts on the retry lane.
  sweeper: worker('read', ['gsi5'], bothLanes),
  // Secrets Manager's rotation function for both secrets (`rotateSecret`), and the only reader of the
  // root key: finishSecret of the root key (and the deploy-time custom resource) writes its verifier.
  // finishSecret of the data keyring re-seals the ledger (`resealLedger`): the tenants from gsi1,
  // each tenant's endpoints and keys (Query on the table), a conditional Update per item, and a Get
  // when another write won.
  'rotate-keys': {
    authenticates: false,
    table: 'read',
    query: ['gsi1', 'table'],
    sends: [],
    rotates: ['rootKey', 'encryptionKey'],
    readsDataKey: true,
  },
};
