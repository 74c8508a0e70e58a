import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import type { CreatedWindow } from '../core/created-window.ts';
import { ValidationError } from '../core/errors.ts';
import { type IdKind, idCeiling, idFloor } from '../core/ids.ts';
import type { Page, PageRequest } from '../core/model.ts';

/** The table handle every store shares: client, name, and history retention for TTLs. */
export interface LedgerTable {
  readonly client: DynamoDBDocumentClient;
  readonly name: string;
  readonly retentionDays: number;
}

/**
 * Where one kind of item holds values sealed with the SecretBox: the one definition the store
 * seals and opens with, and the re-seal (reseal.ts) walks, so the two cannot disagree.
 */
export interface SealedItems<T> {
  /** The item kind, for reports. */
  readonly entity: string;
  /** The items of a tenant's partition that may hold sealed values (one Query). */
  readonly itemsOfTenant: (tenantId: string) => { readonly pk: string; readonly skPrefix: string };
  /** The top-level attributes that hold sealed values, possibly nested. */
  readonly attributes: readonly string[];
  /** Those attributes of `item` (the ones present), with `transform` applied to every sealed value in them. */
  readonly map: (item: T, transform: (value: string) => string) => Partial<T>;
}

export function expiresAtFor(table: LedgerTable, createdAt: string): number {
  return Math.floor(Date.parse(createdAt) / 1000) + table.retentionDays * 86_400;
}

export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

export function decodeCursor(cursor: string | undefined): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw new ValidationError('cursor is not valid: pass the nextCursor of a previous page unchanged', [
    { path: 'cursor', message: 'not a cursor issued by this API' },
  ]);
}

export type IndexName = 'gsi1' | 'gsi2' | 'gsi3' | 'gsi4' | 'gsi5';

/**
 * The attributes a query's position is made of: the table key, plus the index's keys. The
 * listing indexes sort by the item's own `id`.
 */
function positionAttributes(index: IndexName | undefined): readonly string[] {
  if (!index) return ['pk', 'sk'];
  return index === 'gsi5' ? ['pk', 'sk', 'gsi5pk', 'gsi5sk'] : ['pk', 'sk', `${index}pk`, 'id'];
}

/** Inclusive bounds on a listing index's sort key, the item's `id`. */
export interface IdRange {
  readonly from?: string;
  readonly to?: string;
}

/** The ids of a kind created in the window: ULIDs sort by creation time, so a window is a key range. */
export function idRangeOf(kind: IdKind, window: CreatedWindow): IdRange {
  return { ...(window.after && { from: idFloor(kind, window.after) }), ...(window.before && { to: idCeiling(kind, window.before) }) };
}

/** The key condition on `id` for a range (empty when unbounded), with its values. */
export function idCondition(range: IdRange): { condition: string; values: Record<string, string> } {
  const { from, to } = range;
  if (from && to) return { condition: ' AND id BETWEEN :from AND :to', values: { ':from': from, ':to': to } };
  if (from) return { condition: ' AND id >= :from', values: { ':from': from } };
  if (to) return { condition: ' AND id <= :to', values: { ':to': to } };
  return { condition: '', values: {} };
}

/**
 * The items of one partition: of the table (`pk`), or of an index (`gsiNpk`), optionally only
 * those whose `id` (a listing index's sort key) is in `range`.
 */
export function partition(
  value: string,
  index?: IndexName,
  range: IdRange = {},
): Pick<QueryCommandInput, 'IndexName' | 'KeyConditionExpression' | 'ExpressionAttributeValues'> {
  const ids = idCondition(range);
  return {
    ...(index && { IndexName: index }),
    KeyConditionExpression: `${index ? `${index}pk` : 'pk'} = :pk${ids.condition}`,
    ExpressionAttributeValues: { ':pk': value, ...ids.values },
  };
}

/** The items of a table partition whose sort key starts with `skPrefix`. */
export function partitionPrefix(key: {
  readonly pk: string;
  readonly skPrefix: string;
}): Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeValues'> {
  return {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': key.pk, ':prefix': key.skPrefix },
  };
}

type QueryInput = Omit<QueryCommandInput, 'TableName' | 'Limit' | 'ExclusiveStartKey'>;

/** Query rounds one page may take to fill itself when a filter drops items. */
const MAX_FILL_ROUNDS = 5;

/**
 * One page of a query, newest first (ids are time-sortable). With a filter, DynamoDB applies
 * `Limit` before filtering, so the page reads on (a few rounds at most) until it holds `limit`
 * items; the cursor then points just after the last item returned.
 */
export async function queryPage<T>(
  table: LedgerTable,
  input: QueryInput,
  page: PageRequest,
  map: (item: Record<string, unknown>) => T,
): Promise<Page<T>> {
  const { items, nextCursor } = await queryRaw(table, input, page);
  return { items: items.map(map), ...(nextCursor && { nextCursor }) };
}

/**
 * One page of an index whose entries point at items (a KEYS_ONLY or narrow INCLUDE projection):
 * the page's entries from the index, then the items themselves in one BatchGet, in index order.
 */
export async function queryPageOfItems<T>(
  table: LedgerTable,
  input: QueryInput,
  page: PageRequest,
  map: (item: Record<string, unknown>) => T,
): Promise<Page<T>> {
  const { items: entries, nextCursor } = await queryRaw(table, input, page);
  const items = await batchGetInOrder(
    table,
    entries.map((entry) => ({ pk: String(entry.pk), sk: String(entry.sk) })),
    false,
  );
  return { items: items.map(map), ...(nextCursor && { nextCursor }) };
}

async function queryRaw(
  table: LedgerTable,
  input: QueryInput,
  page: PageRequest,
): Promise<{ items: Record<string, unknown>[]; nextCursor?: string }> {
  let exclusiveStartKey = decodeCursor(page.cursor);
  const items: Record<string, unknown>[] = [];
  const filtered = input.FilterExpression !== undefined;
  let lastKey: Record<string, unknown> | undefined;
  for (let round = 0; round < (filtered ? MAX_FILL_ROUNDS : 1); round++) {
    let result: QueryCommandOutput;
    try {
      result = await table.client.send(
        new QueryCommand({
          ScanIndexForward: false,
          ...input,
          TableName: table.name,
          // One more than the page: if it comes back, there is a next page; if not, this page is the last.
          Limit: page.limit + 1,
          ...(exclusiveStartKey && { ExclusiveStartKey: exclusiveStartKey }),
        }),
      );
    } catch (error) {
      // A cursor from another query does not fit this one's keys; DynamoDB says so as a ValidationException.
      if (exclusiveStartKey && error instanceof Error && error.name === 'ValidationException') decodeCursor('!');
      throw error;
    }
    items.push(...(result.Items ?? []));
    lastKey = result.LastEvaluatedKey;
    exclusiveStartKey = lastKey;
    if (!lastKey || items.length > page.limit) break;
  }
  if (items.length > page.limit) {
    items.length = page.limit;
    const last = items.at(-1) ?? {};
    const position = Object.fromEntries(positionAttributes(input.IndexName as IndexName | undefined).map((name) => [name, last[name]]));
    return { items, nextCursor: encodeCursor(position) as string };
  }
  const nextCursor = encodeCursor(lastKey);
  return { items, ...(nextCursor && { nextCursor }) };
}

/**
 * Every item of a query, following pagination; or, given `max`, its first `max` items, reading no
 * further (a bounded read of a partition that may be huge).
 */
export async function queryAll(
  table: LedgerTable,
  input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  max = Number.POSITIVE_INFINITY,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const left = max - items.length;
    const result = await table.client.send(
      new QueryCommand({
        ...input,
        TableName: table.name,
        ...(Number.isFinite(left) && { Limit: left }),
        ...(exclusiveStartKey && { ExclusiveStartKey: exclusiveStartKey }),
      }),
    );
    items.push(...(result.Items ?? []));
    exclusiveStartKey = result.LastEvaluatedKey;
  } while (exclusiveStartKey && items.length < max);
  return items.slice(0, max);
}

/** DynamoDB's limit: 100 keys a BatchGetItem. */
const BATCH_GET_LIMIT = 100;

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

/** Reads items by key, 100 a call, retrying what DynamoDB leaves unprocessed; in no particular order. */
export async function batchGet(
  table: LedgerTable,
  keyList: readonly ItemKey[],
  consistent: boolean,
  projection?: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const unique = [...new Map(keyList.map((key) => [`${key.pk}|${key.sk}`, key])).values()];
  for (const group of chunk(unique, BATCH_GET_LIMIT)) {
    let pending: Record<string, unknown>[] | undefined = group.map((key) => ({ pk: key.pk, sk: key.sk }));
    for (let round = 0; pending && pending.length > 0; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** round)));
      const result: BatchGetCommandOutput = await table.client.send(
        new BatchGetCommand({
          RequestItems: {
            [table.name]: { Keys: pending, ConsistentRead: consistent, ...(projection && { ProjectionExpression: projection }) },
          },
        }),
      );
      items.push(...(result.Responses?.[table.name] ?? []));
      pending = result.UnprocessedKeys?.[table.name]?.Keys;
    }
  }
  return items;
}

/** `batchGet`, in the order of the keys (missing items left out). */
export async function batchGetInOrder(
  table: LedgerTable,
  keyList: readonly ItemKey[],
  consistent: boolean,
): Promise<Record<string, unknown>[]> {
  if (keyList.length === 0) return [];
  const found = new Map((await batchGet(table, keyList, consistent)).map((item) => [`${item.pk}|${item.sk}`, item]));
  return keyList.flatMap((key) => {
    const item = found.get(`${key.pk}|${key.sk}`);
    return item ? [item] : [];
  });
}

export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

export function isTransactionConflict(
  error: unknown,
): error is Error & { CancellationReasons?: { Code?: string; Item?: Record<string, unknown> }[] } {
  return error instanceof Error && error.name === 'TransactionCanceledException';
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
