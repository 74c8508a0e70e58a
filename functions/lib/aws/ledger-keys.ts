/**
 * Key layout of the single-table ledger (see docs/data-model.md). Every key string is built
 * here and nowhere else.
 */
import { createHash } from 'node:crypto';

export const DUE_SHARDS = 4;

export const keys = {
  tenant: (id: string) => ({ pk: `TEN#${id}`, sk: 'TEN' }),
  tenantsIndex: () => 'TENANTS',
  apiKey: (tenantId: string, keyId: string) => ({ pk: `TEN#${tenantId}`, sk: `KEY#${keyId}` }),
  keyGrant: (keyHash: string) => ({ pk: `KEYHASH#${keyHash}`, sk: 'KEYHASH' }),
  eventType: (tenantId: string, name: string) => ({ pk: `TEN#${tenantId}`, sk: `ET#${name}` }),
  endpoint: (tenantId: string, id: string) => ({ pk: `TEN#${tenantId}`, sk: `EP#${id}` }),
  action: (tenantId: string, id: string) => ({ pk: `TEN#${tenantId}`, sk: `ACT#${id}` }),
  actionByEvent: (tenantId: string, eventId: string) => ({ pk: `TEN#${tenantId}`, sk: `ACTEVT#${eventId}` }),
  triggersOfAction: (actionId: string) => `ACT#${actionId}#TRIGGERS`,
  message: (id: string) => ({ pk: `MSG#${id}`, sk: 'MSG' }),
  messagesOfTenant: (tenantId: string) => `TEN#${tenantId}#MSG`,
  messagesOfType: (tenantId: string, type: string) => `TEN#${tenantId}#MSG#${type}`,
  idempotency: (tenantId: string, keyHash: string) => ({ pk: `IDEM#${tenantId}#${keyHash}`, sk: 'IDEM' }),
  delivery: (id: string) => ({ pk: `DLV#${id}`, sk: 'DLV' }),
  attempt: (deliveryId: string, attempt: number) => ({ pk: `DLV#${deliveryId}`, sk: `ATT#${String(attempt).padStart(5, '0')}` }),
  deliveriesOfMessage: (messageId: string) => `MSG#${messageId}`,
  deliveriesOfEndpoint: (endpointId: string) => `EP#${endpointId}`,
  deliveriesOfEndpointByStatus: (endpointId: string, status: string) => `EP#${endpointId}#${status}`,
  deliveriesOfTenantByStatus: (tenantId: string, status: string) => `TEN#${tenantId}#${status}`,
  /** Work is spread over a few shards so the sweeper's index has no single hot partition. */
  dueShard: (id: string) => `DUE#${(createHash('sha1').update(id).digest()[0] ?? 0) % DUE_SHARDS}`,
};

/** Attributes that exist only to place an item in the table; stripped before the core sees it. */
export const keyAttributes = [
  'pk',
  'sk',
  'gsi1pk',
  'gsi1sk',
  'gsi2pk',
  'gsi2sk',
  'gsi3pk',
  'gsi3sk',
  'gsi4pk',
  'gsi4sk',
  'gsi5pk',
  'gsi5sk',
  'expiresAt',
  'entity',
] as const;

export function stripKeys<T>(item: Record<string, unknown>): T {
  const copy: Record<string, unknown> = { ...item };
  for (const attribute of keyAttributes) delete copy[attribute];
  return copy as T;
}
