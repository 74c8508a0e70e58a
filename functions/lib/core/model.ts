import type { FilterDocument } from './filters.ts';
import { deliveryIdFor } from './ids.ts';
/** The domain model: what the ledger stores and the API returns. */

export const scopes = ['admin', 'ingest', 'inbound', 'receiver'] as const;
export type Scope = (typeof scopes)[number];

/** What a portal session may do in its tenant: look (`read`), or also change (`manage`). */
export const portalCapabilities = ['read', 'manage'] as const;
export type PortalCapability = (typeof portalCapabilities)[number];

export type Principal =
  | { readonly kind: 'root' }
  | {
      readonly kind: 'tenant';
      readonly tenantId: string;
      /** The API key, or the portal session (`pss_…`), that made the call: what history records as who fetched or acked. */
      readonly keyId: string;
      readonly scopes: readonly Scope[];
      /** Set when a portal session token (not an API key) made the call: routes then ask for its capability. */
      readonly session?: { readonly capability: PortalCapability; readonly expiresAt: string };
    };

export type TenantPrincipal = Extract<Principal, { kind: 'tenant' }>;

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  /** Messages a second it may post, when not the deployment's default (SLUICE_TENANT_INGEST_PER_SECOND). */
  readonly ingestPerSecond?: number;
}

export interface ApiKey {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** Last four characters of the key, for the masked form `sk_…abcd`. */
  readonly last4: string;
  readonly createdAt: string;
  readonly lastUsedAt?: string;
}

/** What a key hash resolves to: enough to authorise a request without reading the key record. */
export interface KeyGrant {
  readonly tenantId: string;
  readonly keyId: string;
  readonly scopes: readonly Scope[];
  readonly keyHash: string;
  readonly lastUsedAt?: string;
}

export type JsonObject = { [key: string]: unknown };

/**
 * A JSON object together with the exact text it arrived as. The text is what Sluice stores and
 * sends (numbers beyond 2^53, duplicate keys and escapes survive); the value is what schemas check.
 */
export interface JsonDocument {
  readonly text: string;
  readonly value: JsonObject;
}

export interface EventType {
  readonly tenantId: string;
  readonly name: string;
  readonly description?: string;
  readonly schema?: JsonObject;
  /** One of Sluice's operational events: declared by Sluice, the same for every tenant, not stored. */
  readonly builtIn?: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export const retryPresets = ['exponential', 'linear', 'daily'] as const;
export type RetryPreset = (typeof retryPresets)[number];
export type RetryPolicy = { readonly preset: RetryPreset } | { readonly delaysSeconds: readonly number[] };

export interface BasicAuth {
  readonly type: 'basic';
  readonly username: string;
  readonly password: string;
}

export interface SigningSecret {
  /** `whsec_` + base64 of the key bytes (Standard Webhooks format). */
  readonly value: string;
  readonly createdAt: string;
  /** Set on a rotated-out secret: it keeps signing alongside the new one until then. */
  readonly expiresAt?: string;
}

/**
 * `full`: the event is POSTed; `thin`: an empty signed notification, the receiver fetches and
 * acknowledges; `poll`: nothing is sent, the receiver pulls from its inbox and acknowledges.
 */
export const endpointModes = ['full', 'thin', 'poll'] as const;
export type EndpointMode = (typeof endpointModes)[number];

export interface Endpoint {
  readonly id: string;
  readonly tenantId: string;
  /** Where deliveries are POSTed; a `poll` endpoint has none. */
  readonly url?: string;
  readonly description?: string;
  /** Absent: subscribed to every event type. */
  readonly eventTypes?: readonly string[];
  /** Of the messages of its event types, only those this holds for (`core/filters.ts`); absent: all. */
  readonly filter?: FilterDocument;
  readonly mode: EndpointMode;
  readonly auth?: BasicAuth;
  readonly headers?: Readonly<Record<string, string>>;
  readonly retryPolicy: RetryPolicy;
  readonly timeoutMs: number;
  readonly rateLimitPerSecond?: number;
  readonly deviceId?: string;
  readonly groups?: readonly string[];
  /** Sent as `user-agent` on every delivery, so a producer can brand it; default `Sluice/1.0`. */
  readonly userAgent?: string;
  readonly disabled: boolean;
  readonly disabledReason?: string;
  /** Start of the current run of failed attempts; absent while the endpoint is healthy. */
  readonly failingSince?: string;
  readonly consecutiveFailures?: number;
  /** Newest first; more than one only while a rotation is in its overlap window. */
  readonly secrets: readonly SigningSecret[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface Message {
  readonly id: string;
  readonly tenantId: string;
  readonly type: string;
  /** The payload exactly as posted (serialised once, sent byte-for-byte). */
  readonly payloadJson: string;
  /** The producer's labels for filtering (`metadata.*` in a filter), never sent to receivers. */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly createdAt: string;
  /** When it fans out, when that is after it was accepted (a scheduled message, `core/schedule.ts`). */
  readonly deliverAt?: string;
  /** A scheduled message cancelled before its time: it never fans out. */
  readonly cancelledAt?: string;
  /**
   * The endpoints the message was dispatched to when it was accepted. The sweeper checks that
   * each has a delivery in the ledger some minutes later, and re-dispatches those that have not
   * (their job was lost). Absent when the message reached no endpoint.
   */
  readonly endpointIds?: readonly string[];
  /** Its first attempts are made where it was published (the endpoint test), not by dispatch. */
  readonly attemptedInline?: boolean;
}

export const deliveryStatuses = ['pending', 'succeeded', 'failed', 'dead', 'acknowledged'] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];
export const terminalStatuses: ReadonlySet<DeliveryStatus> = new Set(['succeeded', 'dead', 'acknowledged']);

export interface Delivery {
  readonly id: string;
  readonly tenantId: string;
  readonly messageId: string;
  readonly endpointId: string;
  readonly eventType: string;
  readonly status: DeliveryStatus;
  /** Attempts recorded so far: the history store, not SQS receive counts, is the truth. */
  readonly attemptCount: number;
  /** Attempts made on the retry schedule; manual ones do not use up a retry. */
  readonly scheduledAttempts: number;
  readonly nextAttemptAt?: string;
  readonly lastAttemptAt?: string;
  readonly lastStatusCode?: number;
  readonly lastError?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Which deliveries a replay re-sends: `failed` means failed or dead (everything that did not get through). */
export const replayScopes = ['failed', 'dead', 'all'] as const;
export type ReplayScope = (typeof replayScopes)[number];

/** What a replay was asked for, as asked (`until` absent: up to when it started). */
export interface ReplayRequest {
  readonly since: string;
  readonly until?: string;
  readonly eventTypes?: readonly string[];
  readonly status: ReplayScope;
}

export type TaskStatus = 'queued' | 'running' | 'done' | 'failed';

/**
 * A background replay of one endpoint's deliveries. It advances a page at a time (`step`), each
 * step queuing that page's attempts spread at the endpoint's pace; `cursor` is the last delivery
 * id a step has seen.
 */
export interface ReplayTask {
  readonly id: string;
  readonly tenantId: string;
  readonly kind: 'replay';
  readonly endpointId: string;
  readonly request: ReplayRequest;
  /** The deliveries created up to this time are replayed: `request.until`, or when the task started. */
  readonly until: string;
  readonly status: TaskStatus;
  readonly counts: { readonly scanned: number; readonly queued: number };
  readonly step: number;
  readonly cursor?: string;
  /** When the next step is due (its queue delay): a redelivered step that finds its successor missing sends it for then. */
  readonly nextStepAt?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt?: string;
  readonly error?: string;
}

export type AttemptTrigger = 'scheduled' | 'manual';

/** The two delivery queues: first attempts to healthy endpoints, and everything else. */
export type DeliveryLane = 'primary' | 'retry';
export type AttemptOutcome = 'succeeded' | 'failed' | 'gone';

export interface Attempt {
  readonly deliveryId: string;
  readonly attempt: number;
  readonly trigger: AttemptTrigger;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly statusCode?: number;
  readonly error?: string;
  /** First 4 KiB of the response body. */
  readonly responseBody?: string;
  readonly outcome: AttemptOutcome;
}

/** Something a receiver did with a delivery: the audit trail of thin mode. */
export interface DeliveryEvent {
  readonly deliveryId: string;
  readonly id: string;
  readonly type: 'fetched' | 'acknowledged';
  readonly at: string;
  /** The API key that did it (its id, never the key). */
  readonly keyId: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Opaque; absent on the last page. */
  readonly nextCursor?: string;
}

export interface PageRequest {
  readonly limit: number;
  readonly cursor?: string;
}

export const actionKinds = [
  'load_url',
  'enable_emergency',
  'disable_emergency',
  'refresh_datasource',
  'pause_loop',
  'resume_loop',
  'send_sensor_event',
  'refresh_content',
  'restart_device',
] as const;
export type ActionKind = (typeof actionKinds)[number];

export type ActionTarget =
  | { readonly type: 'device'; readonly deviceId: string }
  | { readonly type: 'group'; readonly group: string }
  | { readonly type: 'all' };

/** Maps an `event_id` a third party sends to something to do on devices (contract §7). */
export interface Action {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly eventId: string;
  readonly action: ActionKind;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly target: ActionTarget;
  readonly createdAt: string;
}

export interface SensorData {
  readonly id: string;
  readonly event: string;
  readonly value: string | number | boolean;
}

/** One call to an inbound hook, as recorded for the action's history (never the key itself). */
export interface TriggerRecord {
  readonly id: string;
  readonly actionId: string;
  readonly tenantId: string;
  readonly at: string;
  readonly keyId: string;
  readonly sourceIp: string;
  readonly eventId: string;
  readonly outcome: 'delivered' | 'rejected';
  readonly messageId?: string;
  readonly deliveries?: number;
  readonly error?: string;
}

/**
 * A delivery whose first attempt has not ended: `pending`, due at `at`. Dispatch names it; the
 * ledger holds it only once something happens to it, and the history shows it meanwhile.
 */
export function unattemptedDelivery(
  message: Pick<Message, 'id' | 'tenantId' | 'type' | 'createdAt'>,
  endpointId: string,
  at: string,
): Delivery {
  return {
    id: deliveryIdFor(message.id, endpointId),
    tenantId: message.tenantId,
    messageId: message.id,
    endpointId,
    eventType: message.type,
    status: 'pending',
    attemptCount: 0,
    scheduledAttempts: 0,
    nextAttemptAt: at,
    createdAt: message.createdAt,
    updatedAt: at,
  };
}
