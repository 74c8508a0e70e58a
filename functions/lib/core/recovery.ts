import type { Clock } from './clock.ts';
import { type CreatedWindow, checkCreatedWindow } from './created-window.ts';
import { ConflictError, NotFoundError, ValidationError } from './errors.ts';
import { idFloor } from './ids.ts';
import { jobOf } from './jobs.ts';
import type { Delivery, Endpoint, Page, PageRequest } from './model.ts';
import type { DeliveryQueue, DeliveryStore, EndpointStore } from './ports.ts';

export interface DeadLetterFilter extends CreatedWindow {
  readonly endpointId?: string;
}

/** At most this many deliveries move in one recover or redrive call; the answer says if more remain. */
export const MAX_RECOVERY_BATCH = 1000;

export interface RecoveryDeps {
  readonly deliveries: DeliveryStore;
  readonly endpoints: EndpointStore;
  readonly queue: DeliveryQueue;
  readonly clock: Clock;
}

/** Operator actions on deliveries: one more attempt, recover an endpoint, redrive dead letters. */
export class RecoveryService {
  constructor(private readonly deps: RecoveryDeps) {}

  /** One more attempt now, whatever the delivery's state (recorded with trigger `manual`). */
  async retry(tenantId: string, deliveryId: string): Promise<Delivery> {
    const delivery = await this.deps.deliveries.get(deliveryId);
    if (!delivery || delivery.tenantId !== tenantId) throw new NotFoundError('delivery', deliveryId);
    await this.requireEnabled(tenantId, delivery.endpointId);
    await this.deps.queue.enqueue([jobOf(delivery, 'manual')], { lane: 'retry' });
    return delivery;
  }

  /** Re-sends every failed or dead delivery of the endpoint created since `since`. */
  async recover(tenantId: string, endpointId: string, since: Date): Promise<{ queued: number; truncated: boolean }> {
    if (!(await this.deps.endpoints.get(tenantId, endpointId))) throw new NotFoundError('endpoint', endpointId);
    if (since.getTime() > this.deps.clock.now().getTime()) throw new ValidationError('`since` is in the future');
    await this.requireEnabled(tenantId, endpointId);
    const found = await this.deps.deliveries.listAllByEndpoint(endpointId, ['failed', 'dead'], idFloor('delivery', since));
    const chosen = found.slice(0, MAX_RECOVERY_BATCH);
    await this.deps.queue.enqueue(
      chosen.map((d) => jobOf(d, 'manual')),
      { lane: 'retry' },
    );
    return { queued: chosen.length, truncated: found.length > chosen.length };
  }

  /** Dead deliveries of the tenant, or of one of its endpoints, newest first. */
  async deadLetters(tenantId: string, filter: DeadLetterFilter, page: PageRequest): Promise<Page<Delivery>> {
    const { endpointId, ...window } = filter;
    checkCreatedWindow(window);
    if (endpointId === undefined) return this.deps.deliveries.listDead(tenantId, window, page);
    if (!(await this.deps.endpoints.get(tenantId, endpointId))) throw new NotFoundError('endpoint', endpointId);
    return this.deps.deliveries.listByEndpoint(endpointId, { ...window, status: 'dead' }, page);
  }

  /**
   * Sends dead deliveries back into delivery with a fresh retry schedule: the first attempt is
   * now (manual), the rest follow the endpoint's schedule as if the delivery were new.
   */
  async redrive(
    tenantId: string,
    ids?: readonly string[],
  ): Promise<{ redriven: readonly string[]; skipped: readonly { id: string; reason: string }[] }> {
    const skipped: { id: string; reason: string }[] = [];
    let candidates: Delivery[];
    if (ids) {
      const found = await this.deps.deliveries.getMany(ids);
      candidates = [];
      for (const id of ids) {
        const delivery = found.get(id);
        if (!delivery || delivery.tenantId !== tenantId) skipped.push({ id, reason: 'not found' });
        else if (delivery.status !== 'dead') skipped.push({ id, reason: `status is ${delivery.status}, not dead` });
        else candidates.push(delivery);
      }
    } else {
      candidates = [];
      let cursor: string | undefined;
      do {
        const page = await this.deps.deliveries.listDead(tenantId, {}, { limit: 100, ...(cursor && { cursor }) });
        candidates.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor && candidates.length < MAX_RECOVERY_BATCH);
    }
    const now = this.deps.clock.now().toISOString();
    const redriven: Delivery[] = [];
    // Dead letters usually pile up behind a few endpoints: read each of them once.
    const endpoints = new Map<string, Promise<Endpoint | undefined>>();
    for (const delivery of candidates.slice(0, MAX_RECOVERY_BATCH)) {
      if (!endpoints.has(delivery.endpointId)) endpoints.set(delivery.endpointId, this.deps.endpoints.get(tenantId, delivery.endpointId));
      const endpoint = await endpoints.get(delivery.endpointId);
      if (!endpoint || endpoint.disabled) {
        skipped.push({ id: delivery.id, reason: endpoint ? 'endpoint is disabled' : 'endpoint was deleted' });
        continue;
      }
      const { lastError: _error, ...rest } = delivery;
      const revived: Delivery = { ...rest, status: 'pending', scheduledAttempts: 0, nextAttemptAt: now, updatedAt: now };
      if (await this.deps.deliveries.update(revived, delivery)) redriven.push(revived);
      else skipped.push({ id: delivery.id, reason: 'changed meanwhile' });
    }
    if (redriven.length > 0)
      await this.deps.queue.enqueue(
        redriven.map((d) => jobOf(d, 'manual')),
        { lane: 'retry' },
      );
    return { redriven: redriven.map((d) => d.id), skipped };
  }

  private async requireEnabled(tenantId: string, endpointId: string): Promise<void> {
    const endpoint = await this.deps.endpoints.get(tenantId, endpointId);
    if (!endpoint) throw new ConflictError('the endpoint of this delivery was deleted');
    if (endpoint.disabled) throw new ConflictError(`endpoint ${endpointId} is disabled; enable it (PATCH {"disabled": false}) first`);
  }
}
