import type { Clock } from './clock.ts';
import { type CreatedWindow, checkCreatedWindow } from './created-window.ts';
import { signedRequest, subjectOf } from './delivery-request.ts';
import { ConflictError, NotFoundError, ValidationError } from './errors.ts';
import type { IdGenerator } from './ids.ts';
import type { Delivery, DeliveryEvent, Endpoint, Message, Page, PageRequest, TenantPrincipal } from './model.ts';
import type { DeliveryStore, EndpointStore, MessageStore } from './ports.ts';

/**
 * A thin delivery as its receiver sees it: `unacknowledged` while notifications go on,
 * `acknowledged` once acked, `expired` when the schedule ran out unacknowledged (the delivery is
 * `dead` in the history; it can still be fetched and acknowledged).
 */
export const inboxStatuses = ['unacknowledged', 'acknowledged', 'expired'] as const;
export type InboxStatus = (typeof inboxStatuses)[number];

export function inboxStatusOf(delivery: Delivery): InboxStatus {
  if (delivery.status === 'acknowledged') return 'acknowledged';
  return delivery.status === 'dead' ? 'expired' : 'unacknowledged';
}

export interface InboxFilter extends CreatedWindow {
  readonly status: InboxStatus;
}

export interface InboxItem {
  readonly delivery: Delivery;
  readonly message: Message;
  /**
   * For a poll endpoint: the signed request Sluice would have POSTed, signed at the fetch, so a
   * puller can hand it on to a receiver that verifies Standard Webhooks signatures (`sluice listen`).
   */
  readonly request?: { readonly headers: Readonly<Record<string, string>>; readonly body: string };
}

/** Endpoints whose receivers pull: thin ones after a notification, poll ones instead of one. */
function isPulled(endpoint: Endpoint): boolean {
  return endpoint.mode === 'thin' || endpoint.mode === 'poll';
}

export interface InboxDeps {
  readonly deliveries: DeliveryStore;
  readonly messages: MessageStore;
  readonly endpoints: EndpointStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

/**
 * The receiver's side of thin mode: fetch the event a notification pointed at, acknowledge it,
 * or pull what is still waiting. Every fetch and ack is recorded against the key that made it.
 */
export class InboxService {
  constructor(private readonly deps: InboxDeps) {}

  async fetch(principal: TenantPrincipal, deliveryId: string): Promise<InboxItem> {
    const item = await this.find(principal.tenantId, deliveryId);
    await this.deps.deliveries.recordEvent(this.event(principal, deliveryId, 'fetched'));
    return item;
  }

  /** Idempotent: the first ack closes the delivery and is recorded; later ones change nothing. */
  async acknowledge(principal: TenantPrincipal, deliveryId: string): Promise<{ delivery: Delivery; alreadyAcknowledged: boolean }> {
    const { delivery } = await this.find(principal.tenantId, deliveryId);
    if (delivery.status === 'acknowledged') return { delivery, alreadyAcknowledged: true };
    const event = this.event(principal, deliveryId, 'acknowledged');
    const outcome = await this.deps.deliveries.acknowledge(delivery, event);
    if (outcome === 'already') {
      // Refused by the ledger: either a concurrent ack won, or the delivery is in a state an ack cannot change.
      const current = await this.deps.deliveries.get(deliveryId);
      if (current?.status !== 'acknowledged')
        throw new ConflictError(`delivery ${deliveryId} is ${current?.status ?? 'gone'}; there is nothing to acknowledge`);
      return { delivery: current, alreadyAcknowledged: true };
    }
    const { nextAttemptAt: _next, ...rest } = delivery;
    return { delivery: { ...rest, status: 'acknowledged', updatedAt: event.at }, alreadyAcknowledged: false };
  }

  async list(tenantId: string, endpointId: string, filter: InboxFilter, page: PageRequest): Promise<Page<Delivery>> {
    const { status, ...window } = filter;
    checkCreatedWindow(window);
    const endpoint = await this.deps.endpoints.get(tenantId, endpointId);
    if (!endpoint) throw new NotFoundError('endpoint', endpointId);
    if (!isPulled(endpoint))
      throw new ValidationError(`endpoint ${endpointId} is neither a thin nor a poll endpoint; its deliveries carry their data`);
    if (status === 'unacknowledged') return this.deps.deliveries.listOpenByEndpoint(endpointId, window, page);
    return this.deps.deliveries.listByEndpoint(endpointId, { ...window, status: status === 'expired' ? 'dead' : 'acknowledged' }, page);
  }

  /** A thin or poll delivery of this tenant and its message; anything else is a 404, as if absent. */
  private async find(tenantId: string, deliveryId: string): Promise<InboxItem> {
    const delivery = await this.deps.deliveries.get(deliveryId);
    if (!delivery || delivery.tenantId !== tenantId) throw new NotFoundError('inbox delivery', deliveryId);
    const endpoint = await this.deps.endpoints.get(tenantId, delivery.endpointId);
    if (endpoint && !isPulled(endpoint)) throw new NotFoundError('inbox delivery', deliveryId);
    const message = await this.deps.messages.get(delivery.messageId);
    if (!message) throw new NotFoundError('message', delivery.messageId);
    if (endpoint?.mode !== 'poll') return { delivery, message };
    const request = signedRequest(endpoint, subjectOf(message, deliveryId), delivery.scheduledAttempts, this.deps.clock.now());
    return { delivery, message, request };
  }

  private event(principal: TenantPrincipal, deliveryId: string, type: DeliveryEvent['type']): DeliveryEvent {
    return { deliveryId, id: this.deps.ids.next('attemptEvent'), type, at: this.deps.clock.now().toISOString(), keyId: principal.keyId };
  }
}
