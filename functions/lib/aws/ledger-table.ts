import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../core/errors.ts';
import type { Page, PageRequest } from '../core/model.ts';

/** The table handle every store shares: client, name, and history retention for TTLs. */
export interface LedgerTable {
  readonly client: DynamoDBDocumentClient;
  readonly name: string;
  readonly retentionDays: number;
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

/** The items of one partition: of the table (`pk`), or of an index (`gsiNpk`). */
export function partition(
  value: string,
  index?: IndexName,
): Pick<QueryCommandInput, 'IndexName' | 'KeyConditionExpression' | 'ExpressionAttributeValues'> {
  return {
    ...(index && { IndexName: index }),
    KeyConditionExpression: `${index ? `${index}pk` : 'pk'} = :pk`,
    ExpressionAttributeValues: { ':pk': value },
  };
}

/** One page of a query, newest first (ids are time-sortable). */
export async function queryPage<T>(
  table: LedgerTable,
  input: Omit<QueryCommandInput, 'TableName' | 'Limit' | 'ExclusiveStartKey'>,
  page: PageRequest,
  map: (item: Record<string, unknown>) => T,
): Promise<Page<T>> {
  const exclusiveStartKey = decodeCursor(page.cursor);
  try {
    const result = await table.client.send(
      new QueryCommand({
        ScanIndexForward: false,
        ...input,
        TableName: table.name,
        Limit: page.limit,
        ...(exclusiveStartKey && { ExclusiveStartKey: exclusiveStartKey }),
      }),
    );
    const nextCursor = encodeCursor(result.LastEvaluatedKey);
    return { items: (result.Items ?? []).map(map), ...(nextCursor && { nextCursor }) };
  } catch (error) {
    // A cursor from another query does not fit this one's keys; DynamoDB says so as a ValidationException.
    if (exclusiveStartKey && error instanceof Error && error.name === 'ValidationException') decodeCursor('!');
    throw error;
  }
}

/** Every item of a query, following pagination. */
export async function queryAll(
  table: LedgerTable,
  input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const result = await table.client.send(
      new QueryCommand({ ...input, TableName: table.name, ...(exclusiveStartKey && { ExclusiveStartKey: exclusiveStartKey }) }),
    );
    items.push(...(result.Items ?? []));
    exclusiveStartKey = result.LastEvaluatedKey;
  } while (exclusiveStartKey);
  return items;
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
