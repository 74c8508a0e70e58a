import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { LedgerTable } from './ledger-table.ts';

/** DynamoDB's limit: 25 puts a BatchWriteItem. */
const BATCH_WRITE_LIMIT = 25;
const MAX_ROUNDS = 8;

interface Pending {
  readonly item: Record<string, unknown>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Coalesces unconditional puts into BatchWriteItem calls: up to 25 items a call, sent when 25 are
 * waiting or `lingerMs` after the first one arrived. Each `put` resolves once its own item is
 * durably written, so a caller that awaits it knows as much as after a PutItem; only the request
 * count differs. Items DynamoDB leaves unprocessed are retried with backoff.
 */
export class BatchWriter {
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly table: LedgerTable,
    private readonly lingerMs = 20,
  ) {}

  put(item: Record<string, unknown>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= BATCH_WRITE_LIMIT) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.lingerMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0) {
      const group = this.pending.splice(0, BATCH_WRITE_LIMIT);
      void this.write(group);
    }
  }

  private async write(group: readonly Pending[]): Promise<void> {
    // The same key twice in one call is refused by DynamoDB: the later item wins, as with two puts.
    const byKey = new Map<string, Pending[]>();
    for (const entry of group) {
      const key = `${String(entry.item.pk)}|${String(entry.item.sk)}`;
      byKey.set(key, [...(byKey.get(key) ?? []), entry]);
    }
    let requests = [...byKey.values()].map((entries) => ({ PutRequest: { Item: (entries.at(-1) as Pending).item } }));
    try {
      for (let round = 0; requests.length > 0; round++) {
        if (round >= MAX_ROUNDS) throw new Error(`DynamoDB left ${requests.length} writes unprocessed after ${round} tries`);
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** round)));
        const result = await this.table.client.send(new BatchWriteCommand({ RequestItems: { [this.table.name]: requests } }));
        requests = (result.UnprocessedItems?.[this.table.name] ?? []).flatMap((request) =>
          request.PutRequest?.Item ? [{ PutRequest: { Item: request.PutRequest.Item } }] : [],
        );
      }
      for (const entry of group) entry.resolve();
    } catch (error) {
      for (const entry of group) entry.reject(error);
    }
  }
}
