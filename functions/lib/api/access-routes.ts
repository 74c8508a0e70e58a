import * as z from 'zod';
import { maskKey } from '../core/access.ts';
import { type ApiKey, portalCapabilities, scopes, type Tenant } from '../core/model.ts';
import {
  DEFAULT_PORTAL_SESSION_SECONDS,
  MAX_PORTAL_SESSION_SECONDS,
  MIN_PORTAL_SESSION_SECONDS,
  type PortalSession,
} from '../core/portal-sessions.ts';
import { defineRoute, ErrorBody, errorResponses, IdParams, notFound, PageQuery, pageOf } from './route-spec.ts';

const IngestPerSecond = z.int().min(0).max(100_000).meta({
  description: "Messages a second the tenant may post (0: no limit). Absent: the deployment's default (SLUICE_TENANT_INGEST_PER_SECOND).",
});

export const TenantView = z
  .object({ id: z.string(), name: z.string(), createdAt: z.string(), ingestPerSecond: IngestPerSecond.optional() })
  .meta({ id: 'Tenant' });
export const CreatedTenant = TenantView.extend({
  apiKey: z.string().meta({ description: 'An `admin` key of the new tenant. Shown once: store it.' }),
}).meta({ id: 'CreatedTenant' });

export const createTenant = defineRoute({
  name: 'create-tenant',
  method: 'POST',
  path: '/v1/tenants',
  // tenant Put; the admin key: a transaction of two Puts
  // The root-key routes authenticate too: a tenant key presented there is looked up (and touched) before the 403.
  uses: { ledger: 'write' },
  idempotent: true,
  tag: 'Tenants',
  summary: 'Create a tenant (root key)',
  access: 'root',
  body: z.strictObject({ name: z.string().trim().min(1).max(200), ingestPerSecond: IngestPerSecond.optional() }),
  responses: { 201: { description: 'The tenant and its first admin key', schema: CreatedTenant }, ...errorResponses },
});

export const updateTenant = defineRoute({
  name: 'update-tenant',
  method: 'PATCH',
  path: '/v1/tenants/{id}',
  // Get, then a conditional Put
  uses: { ledger: 'write' },
  tag: 'Tenants',
  summary: 'Rename a tenant or change its ingest budget (root key)',
  description: '`ingestPerSecond: null` restores the deployment default. Takes effect within the cache period (SLUICE_CACHE_SECONDS).',
  access: 'root',
  params: IdParams,
  body: z
    .strictObject({ name: z.string().trim().min(1).max(200).optional(), ingestPerSecond: IngestPerSecond.nullable().optional() })
    .refine((patch) => Object.keys(patch).length > 0, 'Send at least one of name, ingestPerSecond.'),
  responses: { 200: { description: 'The tenant as it is now', schema: TenantView }, ...errorResponses, ...notFound },
});

export const listTenants = defineRoute({
  name: 'list-tenants',
  method: 'GET',
  path: '/v1/tenants',
  // gsi1 'TENANTS' partition
  uses: { ledger: 'read', queries: ['gsi1'] },
  tag: 'Tenants',
  summary: 'List tenants (root key)',
  access: 'root',
  query: PageQuery,
  responses: { 200: { description: 'Tenants, newest first', schema: pageOf(TenantView, 'TenantPage') }, ...errorResponses },
});

export const tenantView = (tenant: Tenant) => ({
  id: tenant.id,
  name: tenant.name,
  createdAt: tenant.createdAt,
  ...(tenant.ingestPerSecond !== undefined && { ingestPerSecond: tenant.ingestPerSecond }),
});

const Scope = z.enum(scopes);

export const ApiKeyView = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(Scope),
    key: z.string().meta({ description: 'Masked: `sk_…` and the last four characters.' }),
    createdAt: z.string(),
    lastUsedAt: z.string().optional(),
  })
  .meta({ id: 'ApiKey' });

export const CreatedApiKey = ApiKeyView.extend({ key: z.string().meta({ description: 'The full key. Shown once here.' }) }).meta({
  id: 'CreatedApiKey',
});

export const createApiKey = defineRoute({
  name: 'create-api-key',
  method: 'POST',
  path: '/v1/api-keys',
  // transaction of two Puts (key record, key grant)
  uses: { ledger: 'write' },
  idempotent: true,
  tag: 'API keys',
  summary: 'Create a scoped API key',
  access: ['admin'],
  // Portal sessions: a session must not outlive itself as a permanent key.
  portal: 'never',
  body: z.strictObject({ name: z.string().trim().min(1).max(200), scopes: z.array(Scope).min(1).max(4) }),
  responses: { 201: { description: 'The key, in full, once', schema: CreatedApiKey }, ...errorResponses },
});

export const listApiKeys = defineRoute({
  name: 'list-api-keys',
  method: 'GET',
  path: '/v1/api-keys',
  // the tenant's KEY# items
  uses: { ledger: 'read', queries: ['table'] },
  tag: 'API keys',
  summary: 'List API keys (masked)',
  access: ['admin'],
  portal: 'manage',
  query: PageQuery,
  responses: { 200: { description: 'Keys, newest first', schema: pageOf(ApiKeyView, 'ApiKeyPage') }, ...errorResponses },
});

export const deleteApiKey = defineRoute({
  name: 'delete-api-key',
  method: 'DELETE',
  path: '/v1/api-keys/{id}',
  // Get, then a transaction of two Deletes
  uses: { ledger: 'delete' },
  tag: 'API keys',
  summary: 'Revoke an API key: it stops working at once',
  access: ['admin'],
  params: IdParams,
  responses: { 204: { description: 'Revoked' }, ...errorResponses, ...notFound },
});

export const revealApiKey = defineRoute({
  name: 'reveal-api-key',
  method: 'GET',
  path: '/v1/api-keys/{id}/reveal',
  // Get of the sealed key, opened with the data key
  uses: { ledger: 'read' },
  tag: 'API keys',
  summary: 'The full key again (the "view / copy" button)',
  description: 'Keys are stored sealed (AES-256-GCM) next to their lookup hash, so an admin can show them again.',
  access: ['admin'],
  // Portal sessions: reveals a key.
  portal: 'manage',
  params: IdParams,
  responses: { 200: { description: 'The key in full', schema: CreatedApiKey }, ...errorResponses, ...notFound },
});

export function apiKeyView(apiKey: ApiKey, fullKey?: string) {
  return {
    id: apiKey.id,
    name: apiKey.name,
    scopes: [...apiKey.scopes],
    key: fullKey ?? maskKey(apiKey.last4),
    createdAt: apiKey.createdAt,
    ...(apiKey.lastUsedAt && { lastUsedAt: apiKey.lastUsedAt }),
  };
}

const PortalCapability = z.enum(portalCapabilities).meta({
  description:
    '`read`: history, endpoints and event types, no secret. `manage`: also create, edit and disable endpoints, rotate and reveal secrets, retry, redrive, replay and test, and view or delete API keys',
});

export const PortalSessionView = z
  .object({
    id: z.string().meta({ description: '`pss_…`: what history records as the caller of a fetch or an ack made in the portal' }),
    tenantId: z.string(),
    capability: PortalCapability,
    expiresAt: z.string(),
  })
  .meta({ id: 'PortalSession' });

export const CreatedPortalSession = PortalSessionView.extend({
  token: z
    .string()
    .meta({ description: 'The bearer token (`pst_…`) the portal calls the API with. A secret until it expires: never log it' }),
  url: z.string().meta({
    description:
      "The portal, signed in: the token rides in the URL's fragment, which browsers never send to a server; the portal drops it from the address bar at once",
  }),
}).meta({ id: 'CreatedPortalSession' });

export const createPortalSession = defineRoute({
  name: 'create-portal-session',
  method: 'POST',
  path: '/v1/portal-sessions',
  // Get of the tenant; the session is sealed, not stored
  uses: { ledger: 'read' },
  tag: 'Portal',
  summary: 'Open a portal session for a tenant: a short-lived link to embed or hand out',
  description:
    'An admin key opens sessions for its own tenant; the root key for any tenant, named in `tenantId`. ' +
    'The token cannot be revoked: it ends at `expiresAt` (default 1 h, at most 24 h). A session never creates API keys or sessions.',
  access: ['admin'],
  rootActsForTenant: true,
  portal: 'never',
  body: z.strictObject({
    tenantId: z.string().min(1).max(64).optional().meta({ description: "The tenant (root key only; an admin key's own tenant otherwise)" }),
    capability: PortalCapability.default('read'),
    expiresInSeconds: z
      .int()
      .min(MIN_PORTAL_SESSION_SECONDS)
      .max(MAX_PORTAL_SESSION_SECONDS)
      .default(DEFAULT_PORTAL_SESSION_SECONDS)
      .meta({ description: 'How long the session lasts: 60 s to 24 h' }),
  }),
  responses: { 201: { description: 'The session, its token and its link', schema: CreatedPortalSession }, ...errorResponses, ...notFound },
});

export const getCurrentPortalSession = defineRoute({
  name: 'get-current-portal-session',
  method: 'GET',
  path: '/v1/portal-sessions/current',
  // Get of the tenant, for its name
  uses: { ledger: 'read' },
  tag: 'Portal',
  summary: 'The portal session making the call: its tenant, capability and expiry',
  description: 'What the portal asks first, to show only what the session may do. An API key gets 404: it is no session.',
  access: ['admin'],
  responses: {
    200: { description: 'The session', schema: PortalSessionView.extend({ tenantName: z.string() }).meta({ id: 'CurrentPortalSession' }) },
    ...errorResponses,
    ...notFound,
  },
});

export const portalSessionView = (session: PortalSession) => ({
  id: session.id,
  tenantId: session.tenantId,
  capability: session.capability,
  expiresAt: session.expiresAt,
});

export { ErrorBody };
