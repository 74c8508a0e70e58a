/**
 * What a function does with Sluice's resources, declared beside the function's own declaration
 * (a route's contract, a worker's description). The deployed IAM grants are derived from it
 * (`infra/access.ts`), and test/infra/access.test.ts checks them against a matrix written out.
 *
 * - `ledger`: the item actions on the ledger table, by level. `read` is GetItem, BatchGetItem and
 *   UpdateItem (an authenticated call touches its key's `lastUsedAt`; consumers update counters in
 *   place); `write` adds PutItem (conditional creates, whole-endpoint replaces); `record` adds
 *   BatchWriteItem (final first attempts, batched); `delete` adds DeleteItem and never puts.
 * - `queries`: where it runs Query: a partition of the base table, or a GSI by name.
 * - `sends`: the queues it sends jobs to; `delivery-dead-letters` parks poison jobs.
 */
export type LedgerUse = 'none' | 'read' | 'write' | 'record' | 'delete';

export type LedgerQuery = 'table' | 'gsi1' | 'gsi2' | 'gsi3' | 'gsi4' | 'gsi5';

export type QueueUse = 'delivery' | 'retry' | 'delivery-dead-letters';

export interface ResourceUse {
  readonly ledger: LedgerUse;
  readonly queries?: readonly LedgerQuery[];
  readonly sends?: readonly QueueUse[];
}

/** Nothing at all: no table, no queue (the OpenAPI document, the `$default` catch-all). */
export const usesNothing: ResourceUse = { ledger: 'none' };
