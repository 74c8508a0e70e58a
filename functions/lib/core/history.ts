import { NotFoundError } from './errors.ts';
import type { Attempt, Delivery, DeliveryEvent, Page, PageRequest } from './model.ts';
import type { DeliveryListFilter, DeliveryStore, EndpointStore, MessageStore } from './ports.ts';

/** Read side of the ledger. Every read checks the tenant: another tenant's id is a 404. */
export class HistoryService {
  constructor(
    private readonly deliveries: DeliveryStore,
    private readonly messages: MessageStore,
    private readonly endpoints: EndpointStore,
  ) {}

  async messageDeliveries(tenantId: string, messageId: string, page: PageRequest): Promise<Page<Delivery>> {
    const message = await this.messages.get(messageId);
    if (!message || message.tenantId !== tenantId) throw new NotFoundError('message', messageId);
    return this.deliveries.listByMessage(messageId, page);
  }

  async endpointDeliveries(tenantId: string, endpointId: string, filter: DeliveryListFilter, page: PageRequest): Promise<Page<Delivery>> {
    if (!(await this.endpoints.get(tenantId, endpointId))) throw new NotFoundError('endpoint', endpointId);
    return this.deliveries.listByEndpoint(endpointId, filter, page);
  }

  async delivery(
    tenantId: string,
    deliveryId: string,
  ): Promise<{ delivery: Delivery; attempts: readonly Attempt[]; events: readonly DeliveryEvent[] }> {
    const found = await this.deliveries.getWithAttempts(deliveryId);
    if (!found || found.delivery.tenantId !== tenantId) throw new NotFoundError('delivery', deliveryId);
    return found;
  }
}
