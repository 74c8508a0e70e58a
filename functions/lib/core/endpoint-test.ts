import type { Clock } from './clock.ts';
import type { DeliveryReport, DeliveryService } from './delivery.ts';
import { jobOf } from './delivery.ts';
import { ConflictError, NotFoundError } from './errors.ts';
import { deliveryIdFor, type IdGenerator } from './ids.ts';
import type { Delivery, Message } from './model.ts';
import type { DeliveryStore, EndpointStore, MessageStore } from './ports.ts';

export const PING_TYPE = 'sluice.ping';

export interface EndpointTestDeps {
  readonly endpoints: EndpointStore;
  readonly messages: MessageStore;
  readonly deliveries: DeliveryStore;
  readonly delivery: DeliveryService;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

/**
 * `POST /v1/endpoints/{id}/test`: a `sluice.ping` message for this endpoint only, attempted at
 * once, with the outcome in the answer. It is a real message in the history; if the attempt
 * fails, the endpoint's retry schedule takes over as for any delivery.
 */
export class EndpointTester {
  constructor(private readonly deps: EndpointTestDeps) {}

  async ping(tenantId: string, endpointId: string): Promise<{ message: Message; report: DeliveryReport }> {
    const endpoint = await this.deps.endpoints.get(tenantId, endpointId);
    if (!endpoint) throw new NotFoundError('endpoint', endpointId);
    if (endpoint.disabled) throw new ConflictError(`endpoint ${endpointId} is disabled; enable it (PATCH {"disabled": false}) to test it`);
    const now = this.deps.clock.now().toISOString();
    const message: Message = {
      id: this.deps.ids.next('message'),
      tenantId,
      type: PING_TYPE,
      payloadJson: JSON.stringify({ endpointId, message: 'This is a test event from Sluice.', sentAt: now }),
      createdAt: now,
      // Addressed to one endpoint: never fanned out by subscription.
      fannedOutAt: now,
    };
    await this.deps.messages.create(message, undefined, now);
    const delivery: Delivery = {
      id: deliveryIdFor(message.id, endpointId),
      tenantId,
      messageId: message.id,
      endpointId,
      eventType: PING_TYPE,
      status: 'pending',
      attemptCount: 0,
      scheduledAttempts: 0,
      nextAttemptAt: now,
      createdAt: now,
      updatedAt: now,
    };
    await this.deps.deliveries.createMany([delivery]);
    const job = jobOf(delivery, 'manual');
    const context = await this.deps.delivery.prepare([job]);
    return { message, report: await this.deps.delivery.run(job, context, 'retry') };
  }
}
