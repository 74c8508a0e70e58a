import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DEFAULT_CACHE_SECONDS, TtlCache } from './cache.ts';
import type { Clock } from './clock.ts';
import { ForbiddenScopeError, UnauthorizedError } from './errors.ts';
import type { IdGenerator } from './ids.ts';
import type { ApiKey, KeyGrant, Principal, Scope, TenantPrincipal } from './model.ts';
import { isPortalToken, type PortalAccess, type PortalSession } from './portal-sessions.ts';
import type { ApiKeyStore } from './ports.ts';

/** `lastUsedAt` is refreshed at most this often, so auth stays one read on the hot path. */
const TOUCH_INTERVAL_MS = 60_000;
/** Grants a process keeps, and key ids it can forget by. */
const MAX_KNOWN_KEYS = 10_000;

/**
 * Keys carry 256 random bits, so a single SHA-256 is a sound lookup hash: there is nothing to
 * brute-force that a slow password hash would protect.
 */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): string {
  return `sk_${randomBytes(32).toString('base64url')}`;
}

export function maskKey(last4: string): string {
  return `sk_…${last4}`;
}

/** Constant-time comparison of two hex digests of equal length. */
export function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

export interface RootKeySource {
  /**
   * SHA-256 hex of every root key valid now: the current one, and during a hand-over (a rotation)
   * the one it replaces. Cached by the adapter.
   */
  hashes(): Promise<readonly string[]>;
}

export interface AccessDeps {
  readonly apiKeys: ApiKeyStore;
  readonly rootKey: RootKeySource;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** Seconds a grant may be served from memory; 0 reads the ledger on every request. */
  readonly keyCacheSeconds?: number;
  /** Opens portal session tokens (`pst_…`); without it, they are refused like any unknown key. */
  readonly portalSessions?: { verify(token: string): PortalSession };
}

export class AccessService {
  /** Grants by key hash. Only found grants are kept: a new key works at once. */
  private readonly grants: TtlCache<KeyGrant | null>;
  /** Which hash a key id has in the cache, so revoking in this process drops it at once. */
  private readonly hashOfKey = new Map<string, string>();

  constructor(private readonly deps: AccessDeps) {
    this.grants = new TtlCache(deps.clock, (deps.keyCacheSeconds ?? DEFAULT_CACHE_SECONDS) * 1000, MAX_KNOWN_KEYS);
  }

  async authenticate(presentedKey: string | undefined): Promise<Principal> {
    if (!presentedKey) {
      throw new UnauthorizedError('missing API key: send `Authorization: Bearer <key>`');
    }
    if (isPortalToken(presentedKey) && this.deps.portalSessions) {
      // Sealed, not stored: opening it is the whole check, with no ledger read.
      const session = this.deps.portalSessions.verify(presentedKey);
      return {
        kind: 'tenant',
        tenantId: session.tenantId,
        keyId: session.id,
        // The tenant's admin, narrowed route by route to what the session's capability opens (`authorize`).
        scopes: ['admin'],
        session: { capability: session.capability, expiresAt: session.expiresAt },
      };
    }
    const presentedHash = hashKey(presentedKey);
    // Every root hash is compared, so the time taken does not say which one matched.
    let isRoot = false;
    for (const rootHash of await this.deps.rootKey.hashes()) isRoot = sameDigest(presentedHash, rootHash) || isRoot;
    if (isRoot) return { kind: 'root' };
    const grant = await this.grants.getOrLoad(
      presentedHash,
      async () => (await this.deps.apiKeys.findGrant(presentedHash)) ?? null,
      (found) => found !== null,
    );
    // The store looked the grant up by this hash; the constant-time check guards against a store
    // that matches loosely, and keeps the two branches alike.
    if (!grant || !sameDigest(grant.keyHash, presentedHash)) {
      throw new UnauthorizedError('the API key is not valid (unknown or revoked)');
    }
    this.hashOfKey.delete(grant.keyId);
    this.hashOfKey.set(grant.keyId, presentedHash);
    // As many as the cache holds: the oldest go first.
    if (this.hashOfKey.size > MAX_KNOWN_KEYS) this.hashOfKey.delete(this.hashOfKey.keys().next().value as string);
    const now = this.deps.clock.now();
    if (!grant.lastUsedAt || now.getTime() - Date.parse(grant.lastUsedAt) > TOUCH_INTERVAL_MS) {
      await this.deps.apiKeys.touch(grant, now.toISOString());
      this.grants.set(presentedHash, { ...grant, lastUsedAt: now.toISOString() });
    }
    return { kind: 'tenant', tenantId: grant.tenantId, keyId: grant.keyId, scopes: grant.scopes };
  }

  /** A key was revoked in this process: stop honouring it here at once (elsewhere within the cache's age). */
  forget(keyId: string): void {
    const hash = this.hashOfKey.get(keyId);
    this.hashOfKey.delete(keyId);
    if (hash !== undefined) this.grants.invalidate(hash);
    // Its first lookup may be running now, under a hash this process does not know yet.
    else this.grants.discardPendingLoads();
  }

  async createKey(tenantId: string, name: string, keyScopes: readonly Scope[]): Promise<{ apiKey: ApiKey; key: string }> {
    const key = generateApiKey();
    const apiKey: ApiKey = {
      id: this.deps.ids.next('apiKey'),
      tenantId,
      name,
      scopes: [...new Set(keyScopes)],
      last4: key.slice(-4),
      createdAt: this.deps.clock.now().toISOString(),
    };
    await this.deps.apiKeys.create(apiKey, hashKey(key), key);
    return { apiKey, key };
  }
}

export type RouteAccess = 'root' | 'public' | readonly Scope[];

/** What a key's scopes allow: any of the needed scopes, or `admin`, which may do everything in its tenant. */
export function allows(scopes: readonly Scope[], needed: readonly Scope[]): boolean {
  return scopes.includes('admin') || needed.some((scope) => scopes.includes(scope));
}

/** Who may call a route: its access, what it asks of a portal session, and whether the root key may act for a tenant. */
export interface RouteGate {
  readonly method: string;
  readonly access: Exclude<RouteAccess, 'public'>;
  /** Absent: derived from the method (`portalAccessOf`). */
  readonly portal?: PortalAccess;
  /** The root key may call this tenant route too, naming the tenant itself (`POST /v1/portal-sessions`). */
  readonly rootActsForTenant?: boolean;
}

/**
 * What a portal session needs to call a route: reading needs `read`, anything else `manage`,
 * unless the route says otherwise (a GET that reveals a secret needs `manage`; minting keys,
 * sending messages or opening sessions is never a session's). Root routes are never a session's.
 */
export function portalAccessOf(route: Pick<RouteGate, 'method' | 'access' | 'portal'>): PortalAccess {
  if (route.access === 'root') return 'never';
  return route.portal ?? (route.method === 'GET' ? 'read' : 'manage');
}

/** Checks a principal against what a route allows. */
export function authorize(principal: Principal, route: RouteGate): Principal {
  const { access } = route;
  if (access === 'root') {
    if (principal.kind !== 'root') throw new ForbiddenScopeError('this route needs the root key');
    return principal;
  }
  if (principal.kind === 'root') {
    if (route.rootActsForTenant) return principal;
    throw new ForbiddenScopeError('the root key manages tenants only; use an API key of the tenant');
  }
  if (principal.session) {
    const needed = portalAccessOf(route);
    if (needed === 'never') throw new ForbiddenScopeError('a portal session cannot call this route: use an API key of the tenant');
    if (needed === 'manage' && principal.session.capability !== 'manage') {
      throw new ForbiddenScopeError("this route changes things: it needs a 'manage' portal session, and this one is 'read'");
    }
    return principal;
  }
  if (allows(principal.scopes, access)) return principal;
  throw new ForbiddenScopeError(`this route needs a key with scope ${access.map((s) => `'${s}'`).join(' or ')} (or 'admin')`);
}

export function asTenant(principal: Principal): TenantPrincipal {
  if (principal.kind !== 'tenant') throw new ForbiddenScopeError('this route needs an API key of a tenant');
  return principal;
}
