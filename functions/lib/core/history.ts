import { checkCreatedWindow } from './created-window.ts';
import { NotFoundError, ValidationError } from './errors.ts';
import { deliveryIdFor, messageIdOfDelivery } from './ids.ts';
import type { Attempt, Delivery, DeliveryEvent, Message, Page, PageRequest } from './model.ts';
import { unattemptedDelivery } from './model.ts';
import type { DeliveryListFilter, DeliveryStore, EndpointStore, MessageStore } from './ports.ts';
import { dispatchTimeOf } from './schedule.ts';

/**
 * Read side of the ledger. Every read checks the tenant: another tenant's id is a 404.
 *
 * A delivery is written when its first attempt ends, but a message names its endpoints when it
 * is accepted: until then each of its deliveries reads as `pending`, with no attempt. So a
 * message's deliveries are all there from the moment the API answered 202, and a delivery a
 * receiver has just been sent can always be looked up.
 */
export class HistoryService {
  constructor(
    private readonly deliveries: DeliveryStore,
    private readonly messages: MessageStore,
    private readonly endpoints: EndpointStore,
  ) {}

  /** The deliveries of a message, one per endpoint it went to, in the order it named them. */
  async messageDeliveries(tenantId: string, messageId: string, page: PageRequest): Promise<Page<Delivery>> {
    const message = await this.messages.get(messageId);
    if (!message || message.tenantId !== tenantId) throw new NotFoundError('message', messageId);
    // A cancelled message never fans out: it has no deliveries, and never will.
    const endpointIds = message.cancelledAt === undefined ? (message.endpointIds ?? []) : [];
    const offset = decodeOffset(page.cursor, endpointIds.length);
    const slice = endpointIds.slice(offset, offset + page.limit);
    const stored = await this.deliveries.getMany(slice.map((endpointId) => deliveryIdFor(message.id, endpointId)));
    const items = slice.map(
      (endpointId) => stored.get(deliveryIdFor(message.id, endpointId)) ?? unattemptedDelivery(message, endpointId, dueAt(message)),
    );
    const next = offset + slice.length;
    return { items, ...(next < endpointIds.length && { nextCursor: encodeOffset(next) }) };
  }

  async endpointDeliveries(tenantId: string, endpointId: string, filter: DeliveryListFilter, page: PageRequest): Promise<Page<Delivery>> {
    checkCreatedWindow(filter);
    if (!(await this.endpoints.get(tenantId, endpointId))) throw new NotFoundError('endpoint', endpointId);
    return this.deliveries.listByEndpoint(endpointId, filter, page);
  }

  async delivery(
    tenantId: string,
    deliveryId: string,
  ): Promise<{ delivery: Delivery; attempts: readonly Attempt[]; events: readonly DeliveryEvent[] }> {
    const found = await this.deliveries.getWithAttempts(deliveryId);
    if (found) {
      if (found.delivery.tenantId !== tenantId) throw new NotFoundError('delivery', deliveryId);
      return found;
    }
    // Not attempted yet: a delivery of an accepted message is pending until its first attempt ends.
    const message = await this.messages.get(messageIdOfDelivery(deliveryId));
    const endpointId = message?.endpointIds?.find((id) => deliveryIdFor(message.id, id) === deliveryId);
    if (!message || message.tenantId !== tenantId || !endpointId || message.cancelledAt !== undefined) {
      throw new NotFoundError('delivery', deliveryId);
    }
    return { delivery: unattemptedDelivery(message, endpointId, dueAt(message)), attempts: [], events: [] };
  }
}

/** When a message's first attempts are due: at once, or at its deliverAt. */
function dueAt(message: Message): string {
  return dispatchTimeOf(message).toISOString();
}

/** The cursor of a message's deliveries: how many endpoints the earlier pages covered. */
function encodeOffset(offset: number): string {
  return Buffer.from(`deliveries:${offset}`).toString('base64url');
}

function decodeOffset(cursor: string | undefined, count: number): number {
  if (!cursor) return 0;
  const match = /^deliveries:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const offset = match ? Number(match[1]) : Number.NaN;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > count) {
    throw new ValidationError('cursor is not valid: pass the nextCursor of a previous page unchanged', [
      { path: 'cursor', message: 'not a cursor issued by this listing' },
    ]);
  }
  return offset;
}
