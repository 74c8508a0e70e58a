/**
 * What each Sluice function may do, besides writing its own log group and reading its own event
 * source (both granted where those are declared). Derived, not written: a route's grants follow from
 * its declaration (`uses` and `access` in functions/lib/api/*-routes.ts), a worker's from its
 * description (infra/description.ts). The stack grants exactly this and throws when a function has
 * no grants, so a new route cannot silently run with another's rights (or none);
 * test/infra/access.test.ts checks the result against a matrix written out by hand.
 *
 * A function reads the data-encryption-key secret when its composition (`functions/lib/container.ts`)
 * holds a store of sealed values: the API-key store (every function that authenticates) or the
 * endpoint store (secrets, and the endpoint cache of the delivery path). Nothing else opens it:
 * get-openapi and the `$default` catch-all build no store at all.
 *
 * No function but `rotate-keys` may touch the root-key secret: the ones that authenticate read
 * the root key's verifier (its hashes, `RootKeyVerifier`) instead, and `rotate-keys` writes it.
 */
import type { RouteSpec } from '../functions/lib/api/route-spec.ts';
import { routeSpecs } from '../functions/lib/api/routes.ts';
import type { LedgerQuery, LedgerUse, QueueUse, ResourceUse } from '../functions/lib/resource-use.ts';
import {
  consumers,
  keyRotationFunction,
  noRouteFunction,
  type QueueName,
  type RotatedSecret,
  scheduledFunctions,
  streamConsumers,
  type WorkerDescription,
} from './description.ts';

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
} as const satisfies Record<LedgerUse, readonly string[]>;

export type TableLevel = LedgerUse;

/**
 * Where a function runs `dynamodb:Query`: `table` (a partition of the base table, e.g. a
 * tenant's keys or a delivery with its attempts) or a GSI by name. Each is granted on its own
 * ARN (`<table>/index/<name>`), never `index/*`, so a function that lists tenants cannot also
 * walk another index.
 */
export type QueryTarget = LedgerQuery;

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

const queueTargets: Readonly<Record<QueueUse, QueueTarget>> = {
  delivery: { queue: 'delivery' },
  retry: { queue: 'retry' },
  'delivery-dead-letters': { queue: 'delivery', deadLetter: true },
};

function grantsOf(uses: ResourceUse): Pick<FunctionAccess, 'table' | 'query' | 'sends'> {
  return { table: uses.ledger, query: uses.queries ?? [], sends: (uses.sends ?? []).map((queue) => queueTargets[queue]) };
}

/**
 * A route authenticates unless it is public; the inbound hooks are public to API Gateway but check
 * their own key (`hookKey`) through the same API-key store.
 */
function routeAccess(spec: RouteSpec): FunctionAccess {
  const authenticates = spec.access !== 'public' || spec.hookKey !== undefined;
  return { authenticates, ...grantsOf(spec.uses), rotates: [], readsDataKey: authenticates };
}

/** Workers build the endpoint store (the delivery path, dispatch, the sweeper) or re-seal it; the catch-all builds nothing. */
function workerAccess(worker: WorkerDescription, rotates: readonly RotatedSecret[] = []): FunctionAccess {
  return {
    authenticates: false,
    ...grantsOf(worker.uses),
    rotates,
    readsDataKey: worker.uses.ledger !== 'none' || (worker.uses.queries ?? []).length > 0,
  };
}

/** The grants of every function, by name. */
export const functionAccess: Readonly<Record<string, FunctionAccess>> = Object.fromEntries([
  ...routeSpecs.map((spec) => [spec.name, routeAccess(spec)] as const),
  [noRouteFunction.name, workerAccess(noRouteFunction)],
  ...[...consumers, ...streamConsumers, ...scheduledFunctions].map((worker) => [worker.name, workerAccess(worker)] as const),
  [keyRotationFunction.name, workerAccess(keyRotationFunction, keyRotationFunction.rotates)],
]);
