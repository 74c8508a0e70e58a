import { randomBytes } from 'node:crypto';
import { addSeconds, type Clock } from './clock.ts';
import { activeSecrets } from './delivery-request.ts';
import { isSubscribed } from './dispatch.ts';
import type { EndpointDirectory } from './endpoint-directory.ts';
import { NotFoundError, UnknownEventTypeError, ValidationError } from './errors.ts';
import { systemEventTypes } from './event-types.ts';
import { explainFilter, type FilterDocument, type FilterExplanation, type FilterSubject, parseFilter } from './filters.ts';
import type { IdGenerator } from './ids.ts';
import { jobOf } from './jobs.ts';
import type { BasicAuth, Endpoint, EndpointMode, Page, PageRequest, RetryPolicy, SigningSecret } from './model.ts';
import { disabledEventPayload, endpointEventPayload } from './operational-events.ts';
import type { DeliveryQueue, DeliveryStore, DestinationGuard, EndpointStore, EventTypeStore, SystemEventPublisher } from './ports.ts';

export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Headers Sluice owns on every delivery, and those that steer the connection or the body's
 * framing (hop-by-hop, encoding): an endpoint's custom headers may not set them, in any case.
 */
export const reservedHeaders = new Set([
  'authorization',
  'connection',
  'content-encoding',
  'content-length',
  'content-type',
  'expect',
  'host',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'x-message-id',
]);

export function isReservedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return reservedHeaders.has(lower) || lower.startsWith('webhook-') || lower.startsWith('x-sluice-');
}

/** `whsec_` + base64 of 32 random bytes: the Standard Webhooks secret format. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface EndpointInput {
  /** Required, but for a `poll` endpoint, which has none. */
  readonly url?: string;
  readonly description?: string;
  readonly eventTypes?: readonly string[];
  readonly filter?: FilterDocument;
  readonly mode?: EndpointMode;
  readonly auth?: BasicAuth;
  readonly headers?: Readonly<Record<string, string>>;
  readonly retryPolicy?: RetryPolicy;
  readonly timeoutMs?: number;
  readonly rateLimitPerSecond?: number;
  readonly deviceId?: string;
  readonly groups?: readonly string[];
  readonly disabled?: boolean;
  readonly userAgent?: string;
}

/** PATCH: a present field replaces, `null` clears an optional field, absent leaves it. */
export type EndpointPatch = {
  readonly [K in keyof EndpointInput]?: EndpointInput[K] | (K extends 'url' | 'mode' | 'disabled' ? never : null);
};

/** Why an endpoint disabled with `PATCH {"disabled": true}` is disabled. */
const API_DISABLED_REASON = 'disabled through the API';

/** A rotated-out secret keeps signing alongside the new one this long (contract §3). */
export const SECRET_OVERLAP_SECONDS = 24 * 3600;

export interface EndpointDeps {
  readonly endpoints: EndpointStore;
  readonly eventTypes: EventTypeStore;
  readonly deliveries: DeliveryStore;
  readonly queue: DeliveryQueue;
  readonly guard: DestinationGuard;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** Told of every change, so this process routes by the new endpoint at once. */
  readonly directory: EndpointDirectory;
  /** The operational events (`endpoint.created`, …), for the endpoints subscribed to them. */
  readonly systemEvents: SystemEventPublisher;
}

export class EndpointService {
  constructor(private readonly deps: EndpointDeps) {}

  async create(tenantId: string, input: EndpointInput): Promise<Endpoint> {
    await this.checkInput(tenantId, input);
    const now = this.deps.clock.now().toISOString();
    const secret: SigningSecret = { value: generateSigningSecret(), createdAt: now };
    const endpoint: Endpoint = {
      ...withoutUndefined({
        url: input.url,
        description: input.description,
        eventTypes: input.eventTypes && [...new Set(input.eventTypes)],
        filter: input.filter,
        auth: input.auth,
        headers: input.headers,
        rateLimitPerSecond: input.rateLimitPerSecond,
        deviceId: input.deviceId,
        groups: input.groups,
        userAgent: input.userAgent,
      }),
      id: this.deps.ids.next('endpoint'),
      tenantId,
      mode: input.mode ?? 'full',
      // A receiver that pulls (thin, poll) is given a day to acknowledge; a POST is retried on the backoff.
      retryPolicy: input.retryPolicy ?? { preset: input.mode === 'thin' || input.mode === 'poll' ? 'daily' : 'exponential' },
      timeoutMs: input.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      disabled: input.disabled ?? false,
      secrets: [secret],
      createdAt: now,
      updatedAt: now,
    };
    await this.deps.endpoints.create(endpoint);
    await this.announce(tenantId, () =>
      this.deps.systemEvents.publish(tenantId, 'endpoint.created', endpointEventPayload(endpoint), { exceptEndpointId: endpoint.id }),
    );
    return endpoint;
  }

  async get(tenantId: string, id: string): Promise<Endpoint> {
    const endpoint = await this.deps.endpoints.get(tenantId, id);
    if (!endpoint) throw new NotFoundError('endpoint', id);
    return endpoint;
  }

  list(tenantId: string, page: PageRequest): Promise<Page<Endpoint>> {
    return this.deps.endpoints.list(tenantId, page);
  }

  async update(tenantId: string, id: string, patch: EndpointPatch): Promise<Endpoint> {
    const current = await this.get(tenantId, id);
    const merged: Record<string, unknown> = { ...current };
    for (const [field, value] of Object.entries(patch)) {
      if (value === null) delete merged[field];
      else if (value !== undefined) merged[field] = value;
    }
    const enabling = current.disabled && merged.disabled === false;
    const disabling = !current.disabled && merged.disabled === true;
    if (disabling) merged.disabledReason = API_DISABLED_REASON;
    if (merged.disabled === false) {
      // Enabled again: a fresh start, health history included.
      delete merged.disabledReason;
      if (enabling) {
        delete merged.failingSince;
        delete merged.consecutiveFailures;
      }
    }
    if (Array.isArray(merged.eventTypes)) merged.eventTypes = [...new Set(merged.eventTypes)];
    merged.updatedAt = this.deps.clock.now().toISOString();
    const next = merged as unknown as Endpoint;
    await this.checkInput(tenantId, next, current);
    if (!(await this.deps.endpoints.update(next))) throw new NotFoundError('endpoint', id);
    await this.announce(tenantId, () =>
      disabling
        ? // Only to endpoints that name it: an endpoint subscribed to every type hears of disabling by failure, not of API edits.
          this.deps.systemEvents.publish(tenantId, 'endpoint.disabled', disabledEventPayload(next, API_DISABLED_REASON, next.updatedAt), {
            explicitOnly: true,
            exceptEndpointId: id,
          })
        : this.deps.systemEvents.publish(tenantId, enabling ? 'endpoint.enabled' : 'endpoint.updated', endpointEventPayload(next), {
            exceptEndpointId: id,
          }),
    );
    if (enabling) await this.resume(next);
    return next;
  }

  /** Dates again, and enqueues, the deliveries that waited while the endpoint was disabled. */
  private async resume(endpoint: Endpoint): Promise<number> {
    const now = this.deps.clock.now().toISOString();
    const waiting = (await this.deps.deliveries.listAllByEndpoint(endpoint.id, ['pending', 'failed'])).filter((d) => !d.nextAttemptAt);
    const resumed = [];
    for (const delivery of waiting) {
      const next = { ...delivery, nextAttemptAt: now, updatedAt: now };
      if (await this.deps.deliveries.update(next, delivery)) resumed.push(next);
    }
    if (resumed.length > 0)
      await this.deps.queue.enqueue(
        resumed.map((d) => jobOf(d)),
        { lane: 'primary' },
      );
    return resumed.length;
  }

  /**
   * A new signing secret; the previous one keeps signing for 24 hours, so receivers can switch
   * over without dropping a delivery (both signatures are sent meanwhile).
   */
  async rotateSecret(tenantId: string, id: string): Promise<readonly SigningSecret[]> {
    const current = await this.get(tenantId, id);
    const now = this.deps.clock.now();
    const overlapEnds = addSeconds(now, SECRET_OVERLAP_SECONDS).toISOString();
    const secrets: SigningSecret[] = [
      { value: generateSigningSecret(), createdAt: now.toISOString() },
      ...activeSecrets(current.secrets, now).map((secret) => ({ ...secret, expiresAt: secret.expiresAt ?? overlapEnds })),
    ];
    const next: Endpoint = { ...current, secrets, updatedAt: now.toISOString() };
    if (!(await this.deps.endpoints.update(next))) throw new NotFoundError('endpoint', id);
    this.deps.directory.invalidate(tenantId);
    return secrets;
  }

  async delete(tenantId: string, id: string): Promise<void> {
    const deleted = await this.deps.endpoints.delete(tenantId, id);
    this.deps.directory.invalidate(tenantId);
    if (!deleted) throw new NotFoundError('endpoint', id);
    // This route deletes and never writes: the retry lane's consumer stores and routes the event.
    const deletedAt = this.deps.clock.now().toISOString();
    await this.deps.queue.enqueue(
      [{ kind: 'announce', tenantId, type: 'endpoint.deleted', payload: { endpointId: id, deletedAt }, key: `endpoint.deleted:${id}` }],
      { lane: 'retry' },
    );
  }

  /** The secrets that sign right now: the current one, and a rotated-out one until it expires. */
  async secrets(tenantId: string, id: string): Promise<readonly SigningSecret[]> {
    return activeSecrets((await this.get(tenantId, id)).secrets, this.deps.clock.now());
  }

  /**
   * Publishes a change's operational event to the tenant's other endpoints that subscribe to it
   * (never to the changed endpoint itself), then drops this process's copy of the endpoints, so
   * the next routing reads the change and no copy made while publishing outlives it.
   */
  private async announce(tenantId: string, publish: () => Promise<unknown>): Promise<void> {
    try {
      await publish();
    } finally {
      this.deps.directory.invalidate(tenantId);
    }
  }

  /**
   * Whether a message would reach this endpoint, and why: its event types, then its filter, each
   * condition evaluated against the message (`POST /v1/endpoints/{id}/filter/test`).
   */
  async testFilter(tenantId: string, id: string, subject: FilterSubject): Promise<FilterTest> {
    const endpoint = await this.get(tenantId, id);
    const subscribed = isSubscribed(endpoint, subject.type);
    if (endpoint.filter === undefined) return { matches: subscribed, subscribed };
    const explanation = explainFilter(parseFilter(endpoint.filter), subject);
    return { matches: subscribed && explanation.matched, subscribed, explanation };
  }

  private async checkInput(tenantId: string, input: EndpointInput, current?: Endpoint): Promise<void> {
    if (input.filter !== undefined) parseFilter(input.filter);
    const names = Object.keys(input.headers ?? {});
    const badHeaders = names.filter(isReservedHeader);
    if (badHeaders.length > 0) {
      throw new ValidationError(
        `headers ${badHeaders.join(', ')} are reserved: Sluice sets them on every delivery`,
        badHeaders.map((name) => ({ path: `headers.${name}`, message: 'reserved header' })),
      );
    }
    // HTTP header names are case-insensitive: two spellings of one name would send it twice.
    const seen = new Set<string>();
    const repeated = names.filter((name) => seen.size === seen.add(name.toLowerCase()).size);
    if (repeated.length > 0) {
      throw new ValidationError(
        `headers ${repeated.join(', ')} repeat another header in a different letter case`,
        repeated.map((name) => ({ path: `headers.${name}`, message: 'header names are case-insensitive: keep one spelling' })),
      );
    }
    const mode = input.mode ?? 'full';
    if (current && (current.mode === 'poll') !== (mode === 'poll')) {
      throw new ValidationError(
        `an endpoint cannot become or stop being a poll endpoint (it is ${current.mode}); create a new endpoint instead`,
        [{ path: 'mode', message: `${current.mode} cannot change to ${mode}` }],
      );
    }
    if (mode === 'poll') {
      if (input.url !== undefined) {
        throw new ValidationError('a poll endpoint has no url: its receiver pulls deliveries from GET /v1/inbox', [
          { path: 'url', message: 'not allowed with mode poll' },
        ]);
      }
    } else if (input.url === undefined) {
      throw new ValidationError('url is required (only a poll endpoint has none)', [{ path: 'url', message: 'required' }]);
    } else if (!current || current.url !== input.url) await this.deps.guard.check(input.url);
    const previous = new Set(current?.eventTypes ?? []);
    for (const type of input.eventTypes ?? []) {
      if (previous.has(type) || systemEventTypes.has(type)) continue;
      if (!(await this.deps.eventTypes.get(tenantId, type))) throw new UnknownEventTypeError(type);
    }
  }
}

export interface FilterTest {
  /** The endpoint would get the message: subscribed to its type, and its filter (if any) holds. */
  readonly matches: boolean;
  readonly subscribed: boolean;
  /** The filter's conditions, each evaluated; absent when the endpoint has no filter. */
  readonly explanation?: FilterExplanation;
}

/** Drops keys whose value is undefined, so stored items and answers carry no empty fields. */
export function withoutUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}
