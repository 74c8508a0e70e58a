import { randomBytes } from 'node:crypto';

/**
 * The root key, with the one it replaced during a hand-over. Stored (Secrets Manager, or
 * `SLUICE_ROOT_KEY`) as a plain key, the format before rotation existed, or as JSON
 * `{"current":"…","previous":"…","previousExpiresAt":"<ISO 8601>"}`. Both keys open the root routes
 * until the hand-over ends: when `previousExpiresAt` passes (AWS rotation), or when an operator
 * drops `previous` (`npm run keys -- finish-root-key` locally), or at the next rotation.
 */
export interface RootKeys {
  readonly current: string;
  readonly previous?: string;
  readonly previousExpiresAt?: string;
}

export class RootKeyError extends Error {}

/** As long as the env schema asks of a root key (`functions/lib/env.ts`). */
const MIN_LENGTH = 16;

export function generateRootKey(): string {
  return `root_${randomBytes(32).toString('base64url')}`;
}

export function parseRootKeys(text: string): RootKeys {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return { current: checked('root key', trimmed) };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new RootKeyError('the root key value starts with "{" but is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new RootKeyError('the root key value must be a JSON object');
  const { current, previous, previousExpiresAt } = parsed as Record<string, unknown>;
  if (typeof current !== 'string') throw new RootKeyError('the root key value has no "current" key');
  if (previous !== undefined && typeof previous !== 'string') throw new RootKeyError('the previous root key must be a string');
  if (previousExpiresAt !== undefined && (typeof previousExpiresAt !== 'string' || Number.isNaN(Date.parse(previousExpiresAt)))) {
    throw new RootKeyError('"previousExpiresAt" must be an ISO 8601 time');
  }
  return {
    current: checked('root key', current),
    ...(previous !== undefined && { previous: checked('previous root key', previous) }),
    ...(previous !== undefined && previousExpiresAt !== undefined && { previousExpiresAt }),
  };
}

/** The stored text: a plain key when there is no hand-over, so the common case reads as before. */
export function serializeRootKeys(keys: RootKeys): string {
  return keys.previous === undefined ? keys.current : JSON.stringify(keys);
}

/** The keys that open the root routes at `now`: the current one, and the previous one until its hand-over ends. */
export function validRootKeys(keys: RootKeys, now: Date): string[] {
  const previousValid =
    keys.previous !== undefined && (keys.previousExpiresAt === undefined || now.getTime() < Date.parse(keys.previousExpiresAt));
  return previousValid && keys.previous !== undefined ? [keys.current, keys.previous] : [keys.current];
}

/**
 * A new current key; the old current one stays valid as `previous` (until `handOverSeconds` from
 * `now`, when given). A previous key of an earlier hand-over is dropped.
 */
export function rotateRootKeys(keys: RootKeys, now: Date, handOverSeconds?: number, key = generateRootKey()): RootKeys {
  return {
    current: key,
    previous: keys.current,
    ...(handOverSeconds !== undefined && { previousExpiresAt: new Date(now.getTime() + handOverSeconds * 1000).toISOString() }),
  };
}

/** Ends the hand-over: only the current key opens the root routes. */
export function finishRootKeyHandOver(keys: RootKeys): RootKeys {
  return { current: keys.current };
}

function checked(what: string, key: string): string {
  if (key.length < MIN_LENGTH) throw new RootKeyError(`the ${what} must be at least ${MIN_LENGTH} characters`);
  return key;
}
