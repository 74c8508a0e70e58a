import { randomBytes } from 'node:crypto';

/**
 * The data keys SecretBox knows, by id, and which one seals. The secret (or `SLUICE_ENCRYPTION_KEY`)
 * holds it as JSON: `{"current":"k2","keys":{"k1":"<base64>","k2":"<base64>"}}`. A bare base64 key,
 * the format before rotation existed, is read as a ring of one key named `k1`, so deployed stacks
 * and local data dirs keep working unchanged.
 *
 * `next` is a key staged by the AWS rotation: every process loads it (they re-read the secret every
 * few minutes) one rotation before it starts sealing, so no process ever meets a value sealed under
 * a key it has not loaded.
 */
export interface Keyring {
  readonly current: string;
  readonly keys: Readonly<Record<string, string>>;
  readonly next?: string;
  /** When `next` was staged (ISO 8601): it may be promoted only once every process has re-read the ring. */
  readonly stagedAt?: string;
}

/** The id a bare (pre-rotation) key gets, and the id `v1.` values were sealed under. */
export const LEGACY_KEY_ID = 'k1';

/** Ids appear in sealed values (`v2.<id>.…`), so no dots; short, so values stay small. */
const keyIdPattern = /^[A-Za-z0-9_-]{1,32}$/;

/** How often a long-lived process (a warm Lambda) re-reads the ring and the root key. */
export const KEY_REFRESH_SECONDS = 300;

/**
 * The youngest a staged key may be when it is promoted: three refresh periods, so every process
 * that may seal or open a value has loaded it, even one whose last refresh failed once.
 */
export const PROMOTE_AFTER_SECONDS = 3 * KEY_REFRESH_SECONDS;

export class KeyringError extends Error {}

/** A staged key may not seal yet: some process may not have loaded it. */
export class StagedKeyTooYoungError extends KeyringError {}

export function generateDataKey(): string {
  return randomBytes(32).toString('base64');
}

/** The 32 bytes of a base64 key, or an error that names the key (never its value). */
export function keyBytes(id: string, base64Key: string): Buffer {
  const bytes = Buffer.from(base64Key, 'base64');
  if (bytes.length !== 32) throw new KeyringError(`data key ${id}: the encryption key must be 32 bytes, base64-encoded`);
  return bytes;
}

/** Reads the ring from its stored text: keyring JSON, or a bare base64 key (`k1`). Checks every key. */
export function parseKeyring(text: string): Keyring {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) {
    keyBytes(LEGACY_KEY_ID, trimmed);
    return { current: LEGACY_KEY_ID, keys: { [LEGACY_KEY_ID]: trimmed } };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new KeyringError('the data keyring is not valid JSON');
  }
  return checkKeyring(parsed);
}

export function checkKeyring(value: unknown): Keyring {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new KeyringError('the data keyring must be a JSON object');
  const { current, keys, next, stagedAt } = value as Record<string, unknown>;
  if (!keys || typeof keys !== 'object' || Array.isArray(keys)) throw new KeyringError('the data keyring has no "keys" object');
  const entries = Object.entries(keys as Record<string, unknown>);
  for (const [id, key] of entries) {
    if (!keyIdPattern.test(id)) throw new KeyringError(`data key id ${JSON.stringify(id)} must be 1-32 letters, digits, _ or -`);
    if (typeof key !== 'string') throw new KeyringError(`data key ${id} must be a base64 string`);
    keyBytes(id, key);
  }
  if (typeof current !== 'string' || !(current in (keys as object))) {
    throw new KeyringError('the data keyring\'s "current" must name one of its keys');
  }
  if (next !== undefined && (typeof next !== 'string' || !(next in (keys as object)) || next === current)) {
    throw new KeyringError('the data keyring\'s "next" must name one of its keys other than the current one');
  }
  if (stagedAt !== undefined && (typeof stagedAt !== 'string' || Number.isNaN(Date.parse(stagedAt)))) {
    throw new KeyringError('the data keyring\'s "stagedAt" must be an ISO 8601 time');
  }
  return {
    current,
    keys: Object.fromEntries(entries) as Record<string, string>,
    ...(next !== undefined && { next: next as string }),
    ...(stagedAt !== undefined && { stagedAt: stagedAt as string }),
  };
}

export function serializeKeyring(ring: Keyring): string {
  return JSON.stringify(ring);
}

/** `k<n+1>` after the highest `k<n>` in the ring. */
export function nextKeyId(ring: Keyring): string {
  const numbers = Object.keys(ring.keys).map((id) => /^k(\d+)$/.exec(id)?.[1] ?? '0');
  return `k${Math.max(0, ...numbers.map(Number)) + 1}`;
}

/**
 * The local rotation: a new key that seals from now on. Safe where one process reads the ring at
 * start (the local stack): nothing is sealed under the new key before that process restarts.
 */
export function withNewCurrentKey(ring: Keyring, key = generateDataKey()): Keyring {
  const id = nextKeyId(ring);
  const { next: _next, stagedAt: _stagedAt, ...rest } = ring;
  return { ...rest, current: id, keys: { ...ring.keys, [id]: key } };
}

/**
 * The AWS rotation, for many processes that re-read the ring every `KEY_REFRESH_SECONDS`: the key
 * staged last time (if any) starts sealing, and a fresh key is staged for next time. Refuses to
 * promote a key staged less than `PROMOTE_AFTER_SECONDS` ago, which only a manual rotation right
 * after another can cause: a process that has not loaded it could not open what it seals.
 */
export function rotateStaged(ring: Keyring, now: Date, key = generateDataKey()): Keyring {
  let current = ring.current;
  if (ring.next) {
    const stagedAt = ring.stagedAt ? Date.parse(ring.stagedAt) : Number.NEGATIVE_INFINITY;
    const ageSeconds = (now.getTime() - stagedAt) / 1000;
    if (ageSeconds < PROMOTE_AFTER_SECONDS) {
      throw new StagedKeyTooYoungError(
        `data key ${ring.next} was staged ${Math.floor(ageSeconds)} s ago; it may start sealing ${PROMOTE_AFTER_SECONDS} s after ` +
          'staging, once every function has re-read the keyring. Rotate again later.',
      );
    }
    current = ring.next;
  }
  const id = nextKeyId(ring);
  return { current, keys: { ...ring.keys, [id]: key }, next: id, stagedAt: now.toISOString() };
}
