/**
 * The event-type catalog's entries for Sluice's operational events: a description and a payload
 * schema each (`GET /v1/event-types/{name}`, docs/operational-events.md).
 */
import { type EventType, endpointModes, type JsonObject } from './model.ts';
import type { OperationalEventType } from './operational-events.ts';

const endpointFields = {
  endpointId: { type: 'string' },
  url: { type: 'string', description: 'Absent for a poll endpoint' },
  description: { type: 'string' },
  eventTypes: { type: 'array', items: { type: 'string' } },
  mode: { enum: [...endpointModes] },
  disabled: { type: 'boolean' },
  disabledReason: { type: 'string' },
} as const;

const endpointSchema: JsonObject = { type: 'object', required: ['endpointId', 'mode', 'disabled'], properties: endpointFields };

const attemptFields = {
  endpointId: { type: 'string' },
  url: { type: 'string' },
  deliveryId: { type: 'string' },
  messageId: { type: 'string' },
  eventType: { type: 'string' },
  lastStatusCode: { type: 'integer' },
  lastError: { type: 'string' },
} as const;

export const operationalEvents = {
  'endpoint.created': { description: 'An endpoint was created', schema: endpointSchema },
  'endpoint.updated': { description: 'An endpoint was changed (not enabled or disabled)', schema: endpointSchema },
  'endpoint.deleted': {
    description: 'An endpoint was deleted',
    schema: {
      type: 'object',
      required: ['endpointId', 'deletedAt'],
      properties: { endpointId: { type: 'string' }, deletedAt: { type: 'string' } },
    },
  },
  'endpoint.disabled': {
    description: 'An endpoint was disabled: through the API, after a 410, or after failing for the whole failure window',
    schema: {
      type: 'object',
      required: ['endpointId', 'url', 'reason', 'disabledAt'],
      properties: {
        endpointId: { type: 'string' },
        url: { type: 'string' },
        reason: { type: 'string' },
        disabledAt: { type: 'string' },
        failingSince: { type: 'string' },
      },
    },
  },
  'endpoint.enabled': { description: 'A disabled endpoint was enabled again', schema: endpointSchema },
  'message.attempt.exhausted': {
    description: 'A delivery used up its retries and is dead (dead letters, redrive)',
    schema: {
      type: 'object',
      required: ['endpointId', 'deliveryId', 'messageId', 'eventType', 'attempts', 'deadAt'],
      properties: { ...attemptFields, attempts: { type: 'integer' }, deadAt: { type: 'string' } },
    },
  },
  'message.attempt.failing': {
    description: "An endpoint's first failed attempt after a success: at most one an hour per endpoint",
    schema: {
      type: 'object',
      required: ['endpointId', 'deliveryId', 'messageId', 'eventType', 'failingSince'],
      properties: { ...attemptFields, failingSince: { type: 'string' } },
    },
  },
  'message.attempt.recovered': {
    description: "An endpoint's first successful attempt after failures",
    schema: {
      type: 'object',
      required: ['endpointId', 'deliveryId', 'messageId', 'eventType', 'failingSince', 'recoveredAt'],
      properties: {
        ...attemptFields,
        failingSince: { type: 'string' },
        recoveredAt: { type: 'string' },
        failedAttempts: { type: 'integer' },
      },
    },
  },
} as const satisfies Record<OperationalEventType, { readonly description: string; readonly schema: JsonObject }>;

/** When Sluice first sent its operational events: the dates their catalog entries carry. */
export const OPERATIONAL_EVENTS_SINCE = '2026-11-30T00:00:00.000Z';

/** An operational event as the event-type catalog shows it. */
export function builtInEventType(tenantId: string, name: OperationalEventType): EventType {
  const { description, schema } = operationalEvents[name];
  return { tenantId, name, description, schema, builtIn: true, createdAt: OPERATIONAL_EVENTS_SINCE, updatedAt: OPERATIONAL_EVENTS_SINCE };
}
