import { addSeconds, type Clock } from './clock.ts';
import { enqueueByLane } from './delivery.ts';
import { terminalStatuses } from './model.ts';
import type { DeliveryQueue, DeliveryStore, DueWorkIndex, FanOutQueue, MessageStore } from './ports.ts';

/** How late an item must be before the sweeper steps in (its own job is probably just queued). */
export const DEFAULT_SWEEP_GRACE_SECONDS = 120;
const BATCH = 500;

export interface SweepReport {
  readonly deliveries: number;
  readonly messages: number;
}

export interface SweeperDeps {
  readonly due: DueWorkIndex;
  readonly deliveries: DeliveryStore;
  readonly messages: MessageStore;
  readonly deliveryQueue: DeliveryQueue;
  readonly fanOutQueue: FanOutQueue;
  readonly clock: Clock;
  readonly graceSeconds?: number;
}

/**
 * Re-enqueues work whose next step is overdue in the ledger: deliveries past their next
 * attempt, messages never fanned out. A queue message lost for any reason (a restarted
 * emulator, a purge, a bug) therefore delays a delivery but never loses it.
 */
export class SweeperService {
  constructor(private readonly deps: SweeperDeps) {}

  async sweep(maxItems = 5000): Promise<SweepReport> {
    const grace = this.deps.graceSeconds ?? DEFAULT_SWEEP_GRACE_SECONDS;
    let deliveries = 0;
    let messages = 0;
    while (deliveries + messages < maxItems) {
      const now = this.deps.clock.now();
      const items = await this.deps.due.overdue(addSeconds(now, -grace).toISOString(), BATCH);
      if (items.length === 0) break;
      // Each item moves out of the sweeper's way for one grace period, whatever becomes of it.
      const until = addSeconds(now, grace).toISOString();
      await Promise.all(items.map((item) => this.deps.due.postpone(item, until)));

      const found = await this.deps.deliveries.getMany(items.filter((i) => i.kind === 'delivery').map((i) => i.id));
      const overdue = [...found.values()].filter((d) => !terminalStatuses.has(d.status) && d.nextAttemptAt);
      deliveries += await enqueueByLane(this.deps.deliveryQueue, overdue, (d) => (d.attemptCount > 0 ? 'retry' : 'primary'));
      for (const item of items.filter((i) => i.kind === 'message')) {
        const message = await this.deps.messages.get(item.id);
        if (!message || message.fannedOutAt) continue;
        await this.deps.fanOutQueue.enqueue({ messageId: message.id, tenantId: message.tenantId });
        messages++;
      }
      if (items.length < BATCH) break;
    }
    return { deliveries, messages };
  }
}
