/** The ledger invariant, checked through the public API: every (message, endpoint) pair is settled. */
import type { Receiver } from './receiver.ts';
import { call, eventually, type TestTenant } from './stack.ts';

export interface DeliverySummary {
  readonly id: string;
  readonly messageId: string;
  readonly endpointId: string;
  readonly status: string;
  readonly attemptCount: number;
  readonly lastError?: string;
}

const SETTLED = new Set(['succeeded', 'acknowledged', 'dead']);
const LISTS_IN_FLIGHT = 8;

async function listAll<T>(route: string, key: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const separator = route.includes('?') ? '&' : '?';
    const page = await call<{ data: T[]; nextCursor?: string }>(
      'GET',
      `${route}${separator}limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      { key },
    );
    if (page.status !== 200) throw new Error(`${route} answered ${page.status}`);
    items.push(...page.body.data);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items;
}

/** Every delivery of every message of the tenant (of the given types, if any). */
export async function allDeliveries(tenant: TestTenant, types?: readonly string[]): Promise<DeliverySummary[]> {
  const messages = await listAll<{ id: string; type: string }>('/v1/messages', tenant.key);
  const wanted = messages.filter((m) => !types || types.includes(m.type));
  // A few lists at once: one after another, a poll of 1000 messages takes seconds. Kept in message order.
  const perMessage: DeliverySummary[][] = new Array(wanted.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: LISTS_IN_FLIGHT }, async () => {
      while (next < wanted.length) {
        const i = next++;
        perMessage[i] = await listAll<DeliverySummary>(`/v1/messages/${wanted[i]?.id}/deliveries`, tenant.key);
      }
    }),
  );
  return perMessage.flat();
}

export interface SettledLedger {
  readonly deliveries: readonly DeliverySummary[];
  readonly byStatus: Readonly<Record<string, number>>;
  /** Requests a receiver saw beyond one per delivery (at-least-once duplicates). */
  readonly duplicates: number;
}

/**
 * Waits until every delivery of the tenant is succeeded, acknowledged or dead, then checks that
 * the counts reconcile with what the receivers saw: each succeeded delivery was received at least
 * once, every request carried the delivery's `webhook-id`, and nothing arrived that the ledger
 * does not know.
 */
export async function expectLedgerSettled(
  tenant: TestTenant,
  expectedDeliveries: number,
  receivers: ReadonlyMap<string, Receiver>,
  options: { timeoutMs?: number; types?: readonly string[] } = {},
): Promise<SettledLedger> {
  const deliveries = await eventually(
    async () => {
      const all = await allDeliveries(tenant, options.types);
      return all.length === expectedDeliveries && all.every((d) => SETTLED.has(d.status)) ? all : undefined;
    },
    `${expectedDeliveries} settled deliveries`,
    options.timeoutMs ?? 60_000,
    250,
  );
  const byStatus: Record<string, number> = {};
  for (const d of deliveries) byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
  let duplicates = 0;
  for (const [endpointId, receiver] of receivers) {
    const mine = deliveries.filter((d) => d.endpointId === endpointId);
    const known = new Map(mine.map((d) => [d.id, d]));
    const seen = new Set<string>();
    const attempts = new Map<string, number>();
    for (const request of receiver.requests) {
      const deliveryId = request.headers['x-sluice-delivery-id'] ?? '';
      const delivery = known.get(deliveryId);
      if (!delivery) throw new Error(`receiver of ${endpointId} got a request for unknown delivery ${deliveryId}`);
      if (request.headers['webhook-id'] !== delivery.messageId) throw new Error(`delivery ${deliveryId} arrived with another webhook-id`);
      seen.add(deliveryId);
      // The same attempt number twice is a duplicate; a new number is a retry.
      const attempt = `${deliveryId}#${request.headers['x-sluice-attempt']}`;
      attempts.set(attempt, (attempts.get(attempt) ?? 0) + 1);
    }
    for (const d of mine.filter((d) => d.status === 'succeeded')) {
      if (!seen.has(d.id)) throw new Error(`delivery ${d.id} is succeeded but its receiver never saw it`);
    }
    for (const n of attempts.values()) duplicates += n - 1;
  }
  return { deliveries, byStatus, duplicates };
}
