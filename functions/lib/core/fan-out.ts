import type { Clock } from './clock.ts';
import { enqueueByLane } from './delivery.ts';
import { deliveryIdFor } from './ids.ts';
import type { Delivery, Endpoint, Message } from './model.ts';
import type { DeliveryQueue, DeliveryStore, EndpointStore, FanOutJob, MessageStore } from './ports.ts';

/** `device.command` reaches devices by an action's target only, never by subscription (§7). */
const TARGET_ROUTED_TYPES = new Set(['device.command']);

export function isSubscribed(endpoint: Endpoint, type: string): boolean {
  if (TARGET_ROUTED_TYPES.has(type)) return false;
  return endpoint.eventTypes === undefined || endpoint.eventTypes.includes(type);
}

export type FanOutReport =
  | { readonly kind: 'fanned-out'; readonly messageId: string; readonly deliveries: number; readonly created: number }
  | { readonly kind: 'already-fanned-out'; readonly messageId: string }
  | { readonly kind: 'unknown-message'; readonly messageId: string };

export interface FanOutDeps {
  readonly messages: MessageStore;
  readonly endpoints: EndpointStore;
  readonly deliveries: DeliveryStore;
  readonly queue: DeliveryQueue;
  readonly clock: Clock;
}

export class FanOutService {
  constructor(private readonly deps: FanOutDeps) {}

  /**
   * Creates one delivery per subscribed endpoint, then enqueues their jobs. Safe to run twice,
   * even at once, for one message: delivery ids are derived from the pair and creation is
   * conditional, so each delivery is created, and enqueued, by exactly one run.
   */
  async fanOut(job: FanOutJob): Promise<FanOutReport> {
    const message = await this.deps.messages.get(job.messageId);
    if (!message || message.tenantId !== job.tenantId) return { kind: 'unknown-message', messageId: job.messageId };
    if (message.fannedOutAt) return { kind: 'already-fanned-out', messageId: message.id };
    const endpoints = (await this.deps.endpoints.listAll(message.tenantId)).filter((ep) => isSubscribed(ep, message.type));
    const report = await this.deliver(message, endpoints);
    await this.deps.messages.markFannedOut(message.id, this.deps.clock.now().toISOString());
    return report;
  }

  /** Shared with targeted sends (device commands, pings): ledger first, queue second. */
  async deliver(message: Message, endpoints: readonly Endpoint[]): Promise<FanOutReport> {
    const now = this.deps.clock.now().toISOString();
    const deliveries: Delivery[] = endpoints.map((endpoint) => ({
      id: deliveryIdFor(message.id, endpoint.id),
      tenantId: message.tenantId,
      messageId: message.id,
      endpointId: endpoint.id,
      eventType: message.type,
      status: 'pending',
      attemptCount: 0,
      scheduledAttempts: 0,
      // A disabled endpoint's delivery waits, undated, until the endpoint is enabled again.
      ...(endpoint.disabled ? {} : { nextAttemptAt: now }),
      createdAt: now,
      updatedAt: now,
    }));
    const created = new Set(await this.deps.deliveries.createMany(deliveries));
    // Only this run's deliveries get a job: one another run created is that run's to enqueue, and
    // if that run died between the two steps, the sweeper finds the delivery overdue in the ledger.
    const failing = new Set(endpoints.filter((e) => e.failingSince).map((e) => e.id));
    // A failing endpoint's first attempt waits in the retry lane, behind nothing healthy.
    await enqueueByLane(
      this.deps.queue,
      deliveries.filter((d) => created.has(d.id) && d.nextAttemptAt !== undefined),
      (d) => (failing.has(d.endpointId) ? 'retry' : 'primary'),
    );
    return { kind: 'fanned-out', messageId: message.id, deliveries: deliveries.length, created: created.size };
  }
}
