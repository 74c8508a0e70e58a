/**
 * Operational events: what Sluice tells a tenant about its own endpoints and deliveries, sent like
 * any event (signed, retried, in the history) to the endpoints that subscribe to them. Their
 * payload schemas, which only the event-type catalog needs, are in `operational-event-catalog.ts`,
 * so the delivery path does not carry them.
 */
import type { Delivery, Endpoint } from './model.ts';

/** Sluice's operational events, by name; their payload schemas are in `operational-event-catalog.ts`. */
export const operationalEventTypes = [
  'endpoint.created',
  'endpoint.updated',
  'endpoint.deleted',
  'endpoint.disabled',
  'endpoint.enabled',
  'message.attempt.exhausted',
  'message.attempt.failing',
  'message.attempt.recovered',
] as const;

export type OperationalEventType = (typeof operationalEventTypes)[number];

const operationalNames: ReadonlySet<string> = new Set(operationalEventTypes);

export function isOperationalEventType(type: string): type is OperationalEventType {
  return operationalNames.has(type);
}

/**
 * Operational events reach only the endpoints that name them in `eventTypes`, so an endpoint
 * subscribed to every type does not start receiving them. `endpoint.disabled`, older than the
 * others, also reaches those.
 */
export function isOptInEventType(type: string): boolean {
  return isOperationalEventType(type) && type !== 'endpoint.disabled';
}

/** `message.attempt.failing` is sent at most this often per endpoint. */
export const FAILING_NOTICE_INTERVAL_SECONDS = 3600;

/** How every operational event names the endpoint it is about: its id, and its url (a poll endpoint has none). */
function endpointRef(endpoint: Endpoint): Record<string, unknown> {
  return { endpointId: endpoint.id, ...(endpoint.url !== undefined && { url: endpoint.url }) };
}

/** What the endpoint events say of an endpoint: never its secrets, its Basic-auth password or its headers. */
export function endpointEventPayload(endpoint: Endpoint): Record<string, unknown> {
  return {
    ...endpointRef(endpoint),
    ...(endpoint.description !== undefined && { description: endpoint.description }),
    ...(endpoint.eventTypes !== undefined && { eventTypes: endpoint.eventTypes }),
    mode: endpoint.mode,
    disabled: endpoint.disabled,
    ...(endpoint.disabledReason !== undefined && { disabledReason: endpoint.disabledReason }),
  };
}

/** What `endpoint.disabled` says, whoever disabled the endpoint: the API, a 410, or the failure window. */
export function disabledEventPayload(
  endpoint: Endpoint,
  reason: string,
  disabledAt: string,
  failingSince?: string,
): Record<string, unknown> {
  return { ...endpointRef(endpoint), reason, disabledAt, ...(failingSince && { failingSince }) };
}

/** What the attempt events say of the delivery behind them. */
export function attemptEventPayload(endpoint: Endpoint, delivery: Delivery): Record<string, unknown> {
  return {
    ...endpointRef(endpoint),
    deliveryId: delivery.id,
    messageId: delivery.messageId,
    eventType: delivery.eventType,
    ...(delivery.lastStatusCode !== undefined && { lastStatusCode: delivery.lastStatusCode }),
    ...(delivery.lastError !== undefined && { lastError: delivery.lastError }),
  };
}
