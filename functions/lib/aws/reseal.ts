/**
 * Re-seal: rewrites every sealed value of the ledger that is not under the data keyring's current
 * key, so an old key stops guarding live data. Run after a rotation: by the rotation Lambda
 * (functions/rotate-keys.ts) in AWS, by `npm run keys -- reseal` locally.
 *
 * It walks the tenants (the gsi1 TENANTS partition) and, in each tenant's partition, the kinds of
 * items the stores declare as holding sealed values (`SealedItems`), instead of scanning the table:
 * those items are a tiny part of it (messages and deliveries hold none), so the cost follows the
 * number of endpoints and keys, not the history. Each rewrite is conditional on the old values, so
 * a concurrent write (a secret rotated through the API meanwhile) is never overwritten: the item is
 * read again and the re-seal retried.
 */
import { GetCommand, type GetCommandOutput, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SecretBox } from '../crypto/secret-box.ts';
import { sealedApiKeyValues, sealedEndpointValues } from './ledger-items.ts';
import { keys } from './ledger-keys.ts';
import { isConditionFailure, type LedgerTable, partition, partitionPrefix, queryAll, type SealedItems } from './ledger-table.ts';

/** Every kind of item that holds sealed values. A store that seals something new adds its kind here. */
export const sealedItemKinds: readonly SealedItems<Record<string, unknown>>[] = [
  sealedEndpointValues as unknown as SealedItems<Record<string, unknown>>,
  sealedApiKeyValues as unknown as SealedItems<Record<string, unknown>>,
];

export interface ResealReport {
  readonly tenants: number;
  /** Items that hold sealed values. */
  readonly scanned: number;
  /** Items rewritten (or, in a dry run, that would be). */
  readonly resealed: number;
  /** Items whose every value was already under the current key. */
  readonly alreadyCurrent: number;
  /** Sealed values by the key they were under when read. */
  readonly valuesByKey: Readonly<Record<string, number>>;
  /** Rewrites that lost a race with another writer and were redone on the fresh item. */
  readonly retried: number;
  /** Items whose values could not be opened (unknown key, or tampered): left as they are. */
  readonly unreadable: readonly string[];
  readonly currentKeyId: string;
}

export interface ResealOptions {
  /** Count only: nothing is written. */
  readonly dryRun?: boolean;
  /** Called after each tenant with the running totals. */
  readonly progress?: (report: ResealReport) => void;
  /** Items re-sealed at once. */
  readonly concurrency?: number;
}

const MAX_ATTEMPTS = 5;

export async function resealLedger(table: LedgerTable, box: SecretBox, options: ResealOptions = {}): Promise<ResealReport> {
  const totals = {
    tenants: 0,
    scanned: 0,
    resealed: 0,
    alreadyCurrent: 0,
    retried: 0,
    valuesByKey: {} as Record<string, number>,
    unreadable: [] as string[],
  };
  const snapshot = (): ResealReport => ({
    ...totals,
    valuesByKey: { ...totals.valuesByKey },
    unreadable: [...totals.unreadable],
    currentKeyId: box.currentKeyId,
  });

  const tenants = await queryAll(table, {
    ...partition(keys.tenantsIndex(), 'gsi1'),
    ProjectionExpression: '#id',
    ExpressionAttributeNames: { '#id': 'id' },
  });
  for (const tenant of tenants) {
    const tenantId = String(tenant.id);
    totals.tenants++;
    for (const kind of sealedItemKinds) {
      const names = Object.fromEntries(kind.attributes.map((attribute, i) => [`#s${i}`, attribute]));
      const items = await queryAll(table, {
        ...partitionPrefix(kind.itemsOfTenant(tenantId)),
        ConsistentRead: true,
        ProjectionExpression: ['pk', 'sk', ...Object.keys(names)].join(', '),
        ExpressionAttributeNames: names,
      });
      await inPool(items, options.concurrency ?? 8, async (item) => {
        const outcome = await resealItem(table, box, kind, item, options.dryRun ?? false);
        if (outcome.result === 'gone') return; // deleted meanwhile: nothing to count
        totals.scanned++;
        for (const keyId of outcome.keyIds) totals.valuesByKey[keyId] = (totals.valuesByKey[keyId] ?? 0) + 1;
        totals.retried += outcome.retries;
        if (outcome.result === 'resealed') totals.resealed++;
        else if (outcome.result === 'current') totals.alreadyCurrent++;
        else totals.unreadable.push(`${kind.entity} ${String(item.pk)} ${String(item.sk)}`);
      });
    }
    options.progress?.(snapshot());
  }
  return snapshot();
}

interface ItemOutcome {
  readonly result: 'resealed' | 'current' | 'unreadable' | 'gone';
  /** The key of each sealed value as first read. */
  readonly keyIds: readonly string[];
  readonly retries: number;
}

async function resealItem(
  table: LedgerTable,
  box: SecretBox,
  kind: SealedItems<Record<string, unknown>>,
  first: Record<string, unknown>,
  dryRun: boolean,
): Promise<ItemOutcome> {
  let item: Record<string, unknown> | undefined = first;
  let keyIds: string[] | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS && item; attempt++) {
    const current: Record<string, unknown> = item;
    let values: string[];
    let replacement: Record<string, unknown>;
    try {
      values = sealedValuesOf(kind, current);
      keyIds ??= values.map((value) => box.keyIdOf(value));
      if (values.every((value) => box.usesCurrentKey(value))) return { result: 'current', keyIds, retries: attempt };
      replacement = kind.map(current, (value) => (box.usesCurrentKey(value) ? value : box.seal(box.open(value))));
    } catch {
      return { result: 'unreadable', keyIds: keyIds ?? [], retries: attempt };
    }
    if (dryRun) return { result: 'resealed', keyIds, retries: attempt };

    const attributes = Object.keys(replacement);
    const names = Object.fromEntries(attributes.map((attribute, i) => [`#s${i}`, attribute]));
    const expressionValues = Object.fromEntries(
      attributes.flatMap((attribute, i) => [
        [`:new${i}`, replacement[attribute]],
        [`:old${i}`, current[attribute]],
      ]),
    );
    try {
      await table.client.send(
        new UpdateCommand({
          TableName: table.name,
          Key: { pk: current.pk, sk: current.sk },
          UpdateExpression: `SET ${attributes.map((_, i) => `#s${i} = :new${i}`).join(', ')}`,
          // Only over exactly the values read: a write in between wins, and this one is redone on it.
          ConditionExpression: attributes.map((_, i) => `#s${i} = :old${i}`).join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: expressionValues,
        }),
      );
      return { result: 'resealed', keyIds, retries: attempt };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const fresh: GetCommandOutput = await table.client.send(
      new GetCommand({ TableName: table.name, Key: { pk: current.pk, sk: current.sk }, ConsistentRead: true }),
    );
    item = fresh.Item;
  }
  if (!item) return { result: 'gone', keyIds: keyIds ?? [], retries: MAX_ATTEMPTS };
  throw new Error(`re-seal of ${String(first.pk)} ${String(first.sk)} lost the race with other writers ${MAX_ATTEMPTS} times`);
}

function sealedValuesOf(kind: SealedItems<Record<string, unknown>>, item: Record<string, unknown>): string[] {
  const values: string[] = [];
  kind.map(item, (value) => {
    if (typeof value !== 'string') throw new Error('a sealed attribute holds no string');
    values.push(value);
    return value;
  });
  return values;
}

async function inPool<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}
