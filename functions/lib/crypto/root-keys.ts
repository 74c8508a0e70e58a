import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { hashKey } from '../core/access.ts';

/**
 * The root key, with the one it replaced during a hand-over. Stored (the root-key secret, or the
 * local data dir) as a plain key, the format before rotation existed, or as JSON
 * `{"current":"…","previous":"…","previousExpiresAt":"<ISO 8601>"}`. Both keys open the root routes
 * until the hand-over ends: when `previousExpiresAt` passes (AWS rotation), or when an operator
 * drops `previous` (`npm run keys -- finish-root-key` locally), or at the next rotation.
 * Only the rotation reads it; the functions that authenticate get its `RootKeyVerifier`.
 */
export interface RootKeys {
  readonly current: string;
  readonly previous?: string;
  readonly previousExpiresAt?: string;
}

export class RootKeyError extends Error {}

/** As long as `npm start` asks of `SLUICE_ROOT_KEY` (infra/local/main.ts). */
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

/**
 * What the functions check a presented root key against: the SHA-256 of each valid key (`hashKey`,
 * as for API keys) and when the hand-over ends, as JSON
 * `{"current":"<hex>","previous":{"hash":"<hex>","until":"<ISO 8601>"}}` (no `until`: until the
 * hand-over is finished). Not secret: a root key carries over 256 random bits, so its hash reveals
 * nothing a guess could use.
 */
export interface RootKeyVerifier {
  readonly current: string;
  readonly previous?: { readonly hash: string; readonly until?: string };
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hex digest');
const verifierSchema = z.strictObject({
  current: sha256Hex,
  previous: z.strictObject({ hash: sha256Hex, until: z.iso.datetime().optional() }).optional(),
});

export function rootKeyVerifier(keys: RootKeys): RootKeyVerifier {
  if (keys.previous === undefined) return { current: hashKey(keys.current) };
  const until = keys.previousExpiresAt === undefined ? undefined : new Date(keys.previousExpiresAt).toISOString();
  return { current: hashKey(keys.current), previous: { hash: hashKey(keys.previous), ...(until && { until }) } };
}

export function serializeRootKeyVerifier(verifier: RootKeyVerifier): string {
  return JSON.stringify(verifier);
}

export function parseRootKeyVerifier(text: string): RootKeyVerifier {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RootKeyError('the root-key verifier is not JSON');
  }
  const result = verifierSchema.safeParse(parsed);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'value'}: ${issue.message}`).join('; ');
    throw new RootKeyError(`the root-key verifier is malformed: ${problems}`);
  }
  const { current, previous } = result.data;
  return { current, ...(previous && { previous: { hash: previous.hash, ...(previous.until && { until: previous.until }) } }) };
}

/**
 * The hashes that open the root routes at `now`: the current key's, and the previous key's until
 * its hand-over ends. Decided at each call, so a hand-over ends on time whenever the verifier was read.
 */
export function validRootKeyHashes(verifier: RootKeyVerifier, now: Date): string[] {
  const { previous } = verifier;
  const previousValid = previous !== undefined && (previous.until === undefined || now.getTime() < Date.parse(previous.until));
  return previousValid ? [verifier.current, previous.hash] : [verifier.current];
}

function checked(what: string, key: string): string {
  if (key.length < MIN_LENGTH) throw new RootKeyError(`the ${what} must be at least ${MIN_LENGTH} characters`);
  return key;
}
