import { createHash } from 'node:crypto';
import { encodeTime, monotonicFactory } from 'ulid';

/** Prefixes of the contract (§ "IDs are prefixed, sortable strings"). */
export const idPrefixes = {
  tenant: 'ten',
  apiKey: 'key',
  endpoint: 'ep',
  message: 'msg',
  delivery: 'dlv',
  action: 'act',
  attemptEvent: 'evt',
} as const;

export type IdKind = keyof typeof idPrefixes;

export interface IdGenerator {
  next(kind: IdKind): string;
}

/** ULIDs keep ids sortable by creation time, which makes "newest first" a plain key order. */
export function ulidIdGenerator(now: () => number = Date.now): IdGenerator {
  const ulid = monotonicFactory();
  return { next: (kind) => `${idPrefixes[kind]}_${ulid(now())}` };
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * The delivery id of a (message, endpoint) pair is derived, not drawn: the message's ULID time
 * part keeps it sortable, and a hash of the pair replaces the random part. A fan-out that runs
 * twice for the same message therefore addresses the same ledger items and cannot fork a pair.
 */
export function deliveryIdFor(messageId: string, endpointId: string): string {
  const ulidPart = messageId.slice(messageId.indexOf('_') + 1);
  const time = ulidPart.slice(0, 10);
  const digest = createHash('sha256').update(`${messageId}|${endpointId}`).digest();
  let random = '';
  for (let i = 0; i < 16; i++) random += CROCKFORD[(digest[i] ?? 0) & 31];
  return `${idPrefixes.delivery}_${time}${random}`;
}

/** The smallest id of a kind created at `date` or later: a lower bound for "since" queries. */
export function idFloor(kind: IdKind, date: Date): string {
  return `${idPrefixes[kind]}_${encodeTime(Math.max(0, date.getTime()), 10)}0000000000000000`;
}

export function hasPrefix(id: string, kind: IdKind): boolean {
  return id.startsWith(`${idPrefixes[kind]}_`);
}
