import { createHash } from 'node:crypto';
import { decodeTime, encodeTime, monotonicFactory, ulid } from 'ulid';

/** Prefixes of the contract (§ "IDs are prefixed, sortable strings"). */
export const idPrefixes = {
  tenant: 'ten',
  apiKey: 'key',
  endpoint: 'ep',
  message: 'msg',
  delivery: 'dlv',
  action: 'act',
  attemptEvent: 'evt',
  task: 'task',
  portalSession: 'pss',
} as const;

export type IdKind = keyof typeof idPrefixes;

export interface IdGenerator {
  /**
   * A new id of the kind. Given `at`, the id carries exactly that time, so a record's id and its
   * `createdAt` agree to the millisecond (time windows over lists bound ids, not timestamps).
   */
  next(kind: IdKind, at?: Date): string;
}

/** ULIDs keep ids sortable by creation time, which makes "newest first" a plain key order. */
export function ulidIdGenerator(now: () => number = Date.now): IdGenerator {
  const monotonic = monotonicFactory();
  // A monotonic ULID may carry a later time than asked (after a later draw); an id stamped with a given time must not.
  return { next: (kind, at) => `${idPrefixes[kind]}_${at ? ulid(at.getTime()) : monotonic(now())}` };
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** A ULID body: 10 characters of time, 16 of randomness. */
const ULID_TIME = 10;
const ULID_LENGTH = 26;
/** Characters of a delivery id that name its endpoint within the message (60 bits). */
const DELIVERY_TAG = 12;

function crockford(digest: Buffer, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += CROCKFORD[(digest[i] ?? 0) & 31];
  return out;
}

function ulidBody(id: string): string {
  return id.slice(id.indexOf('_') + 1);
}

/**
 * The id of the first message posted with an `Idempotency-Key`: the time it was posted, then a
 * hash of the tenant and the key in place of the random part. The random part is where the
 * ledger keeps the message (`messageSlot`), so a repeated post finds the first one with the same
 * single conditional write that stores a new one.
 */
export function idempotentMessageId(tenantId: string, keyHash: string, at: Date): string {
  const digest = createHash('sha256').update(`${tenantId}|${keyHash}`).digest();
  return `${idPrefixes.message}_${encodeTime(Math.max(0, at.getTime()), ULID_TIME)}${crockford(digest, ULID_LENGTH - ULID_TIME)}`;
}

/** The part of a message id that places the message in the ledger: its random (or key-derived) half. */
export function messageSlot(messageId: string): string {
  return ulidBody(messageId).slice(ULID_TIME);
}

/**
 * The delivery id of a (message, endpoint) pair is derived, not drawn: `dlv_`, the message's
 * ULID (so deliveries sort by message time and name their message), then a hash of the pair. Two
 * attempts to deliver a message to an endpoint, by whatever path, address the same ledger item.
 */
export function deliveryIdFor(messageId: string, endpointId: string): string {
  const digest = createHash('sha256').update(`${messageId}|${endpointId}`).digest();
  return `${idPrefixes.delivery}_${ulidBody(messageId)}${crockford(digest, DELIVERY_TAG)}`;
}

/** The message a delivery id belongs to. */
export function messageIdOfDelivery(deliveryId: string): string {
  return `${idPrefixes.message}_${ulidBody(deliveryId).slice(0, ULID_LENGTH)}`;
}

/** The part of a delivery id that tells it apart from the other deliveries of its message. */
export function deliveryTag(deliveryId: string): string {
  return ulidBody(deliveryId).slice(ULID_LENGTH);
}

/** A delivery id in the current form: `dlv_` + 26 + 12 Crockford characters. */
export function isDeliveryId(id: string): boolean {
  return /^dlv_[0-9A-HJKMNP-TV-Z]{38}$/.test(id);
}

/** The id of a kind at `date` with the given random half (16 Crockford characters). */
export function idAt(kind: IdKind, date: Date, random: string): string {
  return `${idPrefixes[kind]}_${encodeTime(Math.max(0, date.getTime()), ULID_TIME)}${random}`;
}

/** The smallest id of a kind created at `date` or later: a lower bound for "since" queries. */
export function idFloor(kind: IdKind, date: Date): string {
  return `${idPrefixes[kind]}_${encodeTime(Math.max(0, date.getTime()), 10)}0000000000000000`;
}

/** The largest id of a kind created before `date`: an inclusive upper bound for "before" queries. */
export function idCeiling(kind: IdKind, date: Date): string {
  // 'Z' is the largest Crockford digit, and no id of a kind is longer than 28 characters after its time.
  return `${idPrefixes[kind]}_${encodeTime(Math.max(0, date.getTime() - 1), 10)}${'Z'.repeat(28)}`;
}

/** When an id was drawn (its ULID time). */
export function timeOfId(id: string): Date {
  return new Date(decodeTime(ulidBody(id).slice(0, ULID_LENGTH)));
}

export function hasPrefix(id: string, kind: IdKind): boolean {
  return id.startsWith(`${idPrefixes[kind]}_`);
}
