import type { Clock } from './clock.ts';
import { ForbiddenScopeError, NotFoundError, UnauthorizedError, ValidationError } from './errors.ts';
import type { IdGenerator } from './ids.ts';
import { type PortalCapability, type Principal, portalCapabilities } from './model.ts';
import type { TenantStore } from './ports.ts';

/**
 * Portal sessions: short-lived bearer tokens a vendor hands its customer (an iframe or a link),
 * scoped to one tenant and one capability. A token is the session itself, sealed (AES-256-GCM)
 * with the data keyring: nothing is stored, a forged or altered token does not open, and tokens
 * rotate with the data keys. The price of keeping nothing: a session cannot be revoked before it
 * expires, which is why it lives at most a day (docs/decisions.md).
 */
/** What a route asks of a portal session: a capability, or that no session may call it at all. */
export type PortalAccess = PortalCapability | 'never';

export const PORTAL_TOKEN_PREFIX = 'pst_';
export const DEFAULT_PORTAL_SESSION_SECONDS = 3600;
export const MIN_PORTAL_SESSION_SECONDS = 60;
export const MAX_PORTAL_SESSION_SECONDS = 24 * 3600;

/** Marks the sealed text as a session, so no other value sealed with the same keys can pass for one. */
const SESSION_TYPE = 'sluice.portal-session.v1';

export interface PortalSession {
  readonly id: string;
  readonly tenantId: string;
  readonly capability: PortalCapability;
  readonly expiresAt: string;
}

/** Authenticated encryption with the data keys (SecretBox): `open` throws on anything it did not seal. */
export interface Sealer {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

export interface PortalSessionDeps {
  readonly sealer: Sealer;
  readonly tenants: Pick<TenantStore, 'get'>;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

export function isPortalToken(bearer: string): boolean {
  return bearer.startsWith(PORTAL_TOKEN_PREFIX);
}

export interface PortalSessionRequest {
  /** The root key names the tenant; an admin key may only name its own. */
  readonly tenantId?: string;
  readonly capability: PortalCapability;
  readonly expiresInSeconds?: number;
}

export class PortalSessionService {
  constructor(private readonly deps: PortalSessionDeps) {}

  /** A session for the tenant the caller may open one for: any (root, naming it) or its own (an admin key). */
  async open(caller: Principal, request: PortalSessionRequest): Promise<{ session: PortalSession; token: string }> {
    let tenantId: string;
    if (caller.kind === 'root') {
      if (!request.tenantId) {
        throw new ValidationError('name the tenant: the root key opens a session for the tenant given in `tenantId`', [
          { path: 'tenantId', message: 'required with the root key' },
        ]);
      }
      tenantId = request.tenantId;
    } else {
      if (caller.session) throw new ForbiddenScopeError('a portal session cannot open another session');
      if (request.tenantId !== undefined && request.tenantId !== caller.tenantId) {
        throw new ForbiddenScopeError('an admin key opens sessions for its own tenant only: leave out `tenantId` or use the root key');
      }
      tenantId = caller.tenantId;
    }
    return this.create(tenantId, request.capability, request.expiresInSeconds);
  }

  /** The session that made a call, with its tenant's name; 404 when an API key made it. */
  async current(caller: Principal): Promise<PortalSession & { tenantName: string }> {
    if (caller.kind !== 'tenant' || !caller.session) {
      throw new NotFoundError(
        'portal session',
        'current',
        'no portal session: this call was made with an API key, and only a portal session token has one',
      );
    }
    const tenant = await this.deps.tenants.get(caller.tenantId);
    if (!tenant) throw new NotFoundError('tenant', caller.tenantId);
    return { id: caller.keyId, tenantId: caller.tenantId, ...caller.session, tenantName: tenant.name };
  }

  private async create(
    tenantId: string,
    capability: PortalCapability,
    ttlSeconds: number = DEFAULT_PORTAL_SESSION_SECONDS,
  ): Promise<{ session: PortalSession; token: string }> {
    if (!(await this.deps.tenants.get(tenantId))) throw new NotFoundError('tenant', tenantId);
    const now = this.deps.clock.now();
    const session: PortalSession = {
      id: this.deps.ids.next('portalSession', now),
      tenantId,
      capability,
      // Whole seconds: the expiry a client is told is the one enforced.
      expiresAt: new Date(Math.floor(now.getTime() / 1000) * 1000 + ttlSeconds * 1000).toISOString(),
    };
    const token = PORTAL_TOKEN_PREFIX + this.deps.sealer.seal(JSON.stringify({ typ: SESSION_TYPE, ...session }));
    return { session, token };
  }

  /** The session a token carries; `UnauthorizedError` when it is forged, altered or expired. */
  verify(token: string): PortalSession {
    const session = this.unseal(token);
    if (Date.parse(session.expiresAt) <= this.deps.clock.now().getTime()) {
      throw new UnauthorizedError(`the portal session expired at ${session.expiresAt}: ask for a new portal link`);
    }
    return session;
  }

  private unseal(token: string): PortalSession {
    const invalid = () => new UnauthorizedError('the portal session token is not valid: ask for a new portal link');
    let payload: unknown;
    try {
      payload = JSON.parse(this.deps.sealer.open(token.slice(PORTAL_TOKEN_PREFIX.length)));
    } catch {
      throw invalid();
    }
    if (!isSession(payload)) throw invalid();
    return { id: payload.id, tenantId: payload.tenantId, capability: payload.capability, expiresAt: payload.expiresAt };
  }
}

function isSession(value: unknown): value is PortalSession & { typ: string } {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v.typ === SESSION_TYPE &&
    typeof v.id === 'string' &&
    typeof v.tenantId === 'string' &&
    typeof v.expiresAt === 'string' &&
    !Number.isNaN(Date.parse(v.expiresAt)) &&
    portalCapabilities.includes(v.capability as PortalCapability)
  );
}
