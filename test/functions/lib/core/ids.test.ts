import { createHash } from 'node:crypto';
import { decodeTime, encodeTime } from 'ulid';
import {
  deliveryIdFor,
  deliveryTag,
  hasPrefix,
  type IdKind,
  idCeiling,
  idempotentMessageId,
  idFloor,
  idPrefixes,
  isDeliveryId,
  messageIdOfDelivery,
  messageSlot,
  timeOfId,
  ulidIdGenerator,
} from '../../../../functions/lib/core/ids.ts';

const ULID_BODY = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const CROCKFORD = /^[0-9A-HJKMNP-TV-Z]+$/;

describe('ids', () => {
  test('the prefixes are those of the contract', () => {
    expect(idPrefixes).toMatchObject({ tenant: 'ten', apiKey: 'key', endpoint: 'ep', message: 'msg', delivery: 'dlv', action: 'act' });
  });

  test.each(Object.keys(idPrefixes) as IdKind[])('%s ids are <prefix>_ + a 26-character ULID', (kind) => {
    const id = ulidIdGenerator().next(kind);
    const [prefix, body = ''] = id.split('_');
    expect(prefix).toBe(idPrefixes[kind]);
    expect(body).toMatch(ULID_BODY);
    expect(hasPrefix(id, kind)).toBe(true);
  });

  test('hasPrefix needs the underscore', () => {
    expect(hasPrefix('msg_01ABC', 'message')).toBe(true);
    expect(hasPrefix('msgx_01ABC', 'message')).toBe(false);
    expect(hasPrefix('ep_01ABC', 'message')).toBe(false);
  });

  test('ids sort by creation time, and stay ordered within one millisecond', () => {
    let now = Date.parse('2025-03-01T00:00:00.000Z');
    const ids = ulidIdGenerator(() => now);
    const generated: string[] = [];
    for (let i = 0; i < 200; i++) {
      generated.push(ids.next('message'));
      if (i % 50 === 49) now += 1; // many ids share a millisecond
    }
    expect([...generated].sort()).toEqual(generated);
    expect(new Set(generated).size).toBe(generated.length);
  });

  test('the ULID carries the clock time it was drawn at', () => {
    const at = Date.parse('2025-03-01T12:34:56.789Z');
    const id = ulidIdGenerator(() => at).next('endpoint');
    expect(decodeTime(id.slice(3))).toBe(at);
  });
});

describe('deliveryIdFor', () => {
  const t = Date.parse('2025-03-01T00:00:00.000Z');
  const gen = ulidIdGenerator(() => t);
  const message = gen.next('message');

  test('is deterministic for a (message, endpoint) pair', () => {
    expect(deliveryIdFor(message, 'ep_A')).toBe(deliveryIdFor(message, 'ep_A'));
    const tag = createHash('sha256').update(`${message}|ep_A`).digest();
    const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    const expected = Array.from({ length: 12 }, (_, i) => crockford[(tag[i] ?? 0) & 31]).join('');
    expect(deliveryTag(deliveryIdFor(message, 'ep_A'))).toBe(expected);
  });

  test('differs between endpoints and between messages', () => {
    const other = gen.next('message');
    const ids = new Set([deliveryIdFor(message, 'ep_A'), deliveryIdFor(message, 'ep_B'), deliveryIdFor(other, 'ep_A')]);
    expect(ids.size).toBe(3);
  });

  test("is dlv_ + the message's 26-character ULID + 12 Crockford characters of hash (38 after the prefix)", () => {
    const id = deliveryIdFor(message, 'ep_A');
    expect(id).toMatch(/^dlv_[0-9A-HJKMNP-TV-Z]{38}$/);
    expect(id).toHaveLength(4 + 38);
    expect(id.slice(4, 30)).toBe(message.slice(4));
    expect(decodeTime(id.slice(4, 30))).toBe(t);
  });

  test('the tag is a hash of the pair, not of the endpoint alone', () => {
    const other = gen.next('message');
    const tagA = deliveryTag(deliveryIdFor(message, 'ep_A'));
    expect(tagA).toHaveLength(12);
    expect(tagA).toMatch(CROCKFORD);
    expect(deliveryTag(deliveryIdFor(other, 'ep_A'))).not.toBe(tagA);
    expect(deliveryTag(deliveryIdFor(message, 'ep_B'))).not.toBe(tagA);
  });

  test('sorts by the message time, whatever the endpoint', () => {
    let now = Date.parse('2025-03-01T00:00:00.000Z');
    const ids = ulidIdGenerator(() => now);
    const messages: string[] = [];
    for (let i = 0; i < 20; i++) {
      messages.push(ids.next('message'));
      now += 1000;
    }
    const deliveries = messages.map((m, i) => deliveryIdFor(m, `ep_${String.fromCharCode(90 - i)}`));
    expect([...deliveries].sort()).toEqual(deliveries);
  });

  test("a message's deliveries sit together, between its neighbours' deliveries", () => {
    let now = Date.parse('2025-03-01T00:00:00.000Z');
    const ids = ulidIdGenerator(() => now++);
    const [before, middle, after] = [ids.next('message'), ids.next('message'), ids.next('message')];
    const endpoints = Array.from({ length: 30 }, (_, i) => `ep_${i}`);
    const lowest = deliveryIdFor(after, 'ep_0');
    for (const endpoint of endpoints) {
      const id = deliveryIdFor(middle, endpoint);
      expect(id > deliveryIdFor(before, endpoint)).toBe(true);
      expect(id < lowest).toBe(true);
    }
  });
});

describe('messageIdOfDelivery, deliveryTag, isDeliveryId', () => {
  const message = ulidIdGenerator(() => Date.parse('2025-03-01T12:00:00.000Z')).next('message');

  test('a delivery id names its message: messageIdOfDelivery undoes deliveryIdFor', () => {
    for (const endpoint of ['ep_A', 'ep_B', 'ep_01JN00000000000000000000EP']) {
      expect(messageIdOfDelivery(deliveryIdFor(message, endpoint))).toBe(message);
    }
  });

  test('round trip: message id + tag rebuild the delivery id', () => {
    const id = deliveryIdFor(message, 'ep_A');
    const tag = deliveryTag(id);
    expect(`dlv_${messageIdOfDelivery(id).slice(4)}${tag}`).toBe(id);
    expect(id.endsWith(tag)).toBe(true);
  });

  test('works for idempotent message ids too', () => {
    const keyed = idempotentMessageId('ten_A', 'hash', new Date('2025-03-01T12:00:00.000Z'));
    const id = deliveryIdFor(keyed, 'ep_A');
    expect(isDeliveryId(id)).toBe(true);
    expect(messageIdOfDelivery(id)).toBe(keyed);
  });

  test('isDeliveryId accepts the current form only', () => {
    const id = deliveryIdFor(message, 'ep_A');
    expect(isDeliveryId(id)).toBe(true);
    // The old form (a drawn 26-character ULID), wrong prefixes and lengths, and non-Crockford letters.
    expect(isDeliveryId(ulidIdGenerator().next('delivery'))).toBe(false);
    expect(isDeliveryId(`msg_${id.slice(4)}`)).toBe(false);
    expect(isDeliveryId(id.slice(0, -1))).toBe(false);
    expect(isDeliveryId(`${id}0`)).toBe(false);
    expect(isDeliveryId(`${id.slice(0, -1)}U`)).toBe(false);
    expect(isDeliveryId(`${id.slice(0, -1)}a`)).toBe(false);
    expect(isDeliveryId(`x${id}`)).toBe(false);
  });
});

describe('idempotentMessageId and messageSlot', () => {
  const at = new Date('2025-03-01T12:00:00.000Z');
  const keyHash = createHash('sha256').update('order-42').digest('base64url');
  const otherKeyHash = createHash('sha256').update('order-43').digest('base64url');

  test('is msg_ + a ULID-shaped body whose time part is the time given', () => {
    const id = idempotentMessageId('ten_A', keyHash, at);
    expect(id).toMatch(/^msg_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(id.slice(4, 14)).toBe(encodeTime(at.getTime(), 10));
    expect(timeOfId(id)).toEqual(at);
    expect(hasPrefix(id, 'message')).toBe(true);
    const later = new Date('2025-03-02T08:15:30.123Z');
    expect(idempotentMessageId('ten_A', keyHash, later).slice(4, 14)).toBe(encodeTime(later.getTime(), 10));
    expect(timeOfId(idempotentMessageId('ten_A', keyHash, later))).toEqual(later);
  });

  test('is deterministic per tenant, key and time', () => {
    expect(idempotentMessageId('ten_A', keyHash, at)).toBe(idempotentMessageId('ten_A', keyHash, new Date(at.getTime())));
    expect(idempotentMessageId('ten_B', otherKeyHash, at)).toBe(idempotentMessageId('ten_B', otherKeyHash, at));
  });

  test('the slot is a hash of tenant and key only: the sha256 of `tenant|keyHash`, in 16 Crockford characters', () => {
    const slot = messageSlot(idempotentMessageId('ten_A', keyHash, at));
    expect(slot).toHaveLength(16);
    expect(slot).toMatch(CROCKFORD);
    const digest = createHash('sha256').update(`ten_A|${keyHash}`).digest();
    const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    expect(slot).toBe(Array.from({ length: 16 }, (_, i) => crockford[(digest[i] ?? 0) & 31]).join(''));
  });

  test('one slot per tenant and key, whatever the time', () => {
    const slot = messageSlot(idempotentMessageId('ten_A', keyHash, at));
    for (const offset of [1, 1000, 86_400_000, 60 * 86_400_000, -86_400_000]) {
      const id = idempotentMessageId('ten_A', keyHash, new Date(at.getTime() + offset));
      expect(id).not.toBe(idempotentMessageId('ten_A', keyHash, at));
      expect(messageSlot(id)).toBe(slot);
    }
  });

  test('another tenant or another key is another slot', () => {
    const slots = [
      idempotentMessageId('ten_A', keyHash, at),
      idempotentMessageId('ten_B', keyHash, at),
      idempotentMessageId('ten_A', otherKeyHash, at),
      idempotentMessageId('ten_B', otherKeyHash, at),
    ].map(messageSlot);
    expect(new Set(slots).size).toBe(4);
  });

  test('ids of different tenants or keys differ, at the same time', () => {
    const ids = new Set([
      idempotentMessageId('ten_A', keyHash, at),
      idempotentMessageId('ten_B', keyHash, at),
      idempotentMessageId('ten_A', 'another-hash', at),
    ]);
    expect(ids.size).toBe(3);
  });

  test("the tenant and the key are hashed apart: ('ten_A', 'bc') and ('ten_Ab', 'c') do not meet", () => {
    // A plain concatenation would make these equal; the separator keeps them apart.
    expect(idempotentMessageId('ten_A', 'bc', at)).not.toBe(idempotentMessageId('ten_Ab', 'c', at));
  });

  test('messageSlot is the random half of any message id', () => {
    const id = ulidIdGenerator(() => at.getTime()).next('message');
    expect(messageSlot(id)).toBe(id.slice(14));
    expect(messageSlot(id)).toHaveLength(16);
  });

  test('a time before the epoch is clamped to zero', () => {
    expect(idempotentMessageId('ten_A', keyHash, new Date(-5)).slice(4, 14)).toBe('0'.repeat(10));
  });
});

describe('timeOfId', () => {
  const at = new Date('2025-03-01T12:34:56.789Z');

  test('is the ULID time of message ids, drawn or idempotent', () => {
    expect(timeOfId(ulidIdGenerator(() => at.getTime()).next('message'))).toEqual(at);
    expect(timeOfId(idempotentMessageId('ten_A', 'k', at))).toEqual(at);
  });

  test("of a delivery id is its message's time", () => {
    const message = ulidIdGenerator(() => at.getTime()).next('message');
    expect(timeOfId(deliveryIdFor(message, 'ep_A'))).toEqual(at);
  });

  test('of an idFloor is the floor time', () => {
    expect(timeOfId(idFloor('message', at))).toEqual(at);
  });
});

describe('idFloor', () => {
  const since = new Date('2025-03-01T12:00:00.000Z');

  test('is <prefix>_ + the time part + the smallest random part', () => {
    expect(idFloor('delivery', since)).toBe(`dlv_${encodeTime(since.getTime(), 10)}${'0'.repeat(16)}`);
    expect(idFloor('message', since)).toMatch(/^msg_[0-9A-HJKMNP-TV-Z]{10}0{16}$/);
  });

  test('no id drawn at or after the time sorts below it; every id drawn before does', () => {
    const floor = idFloor('message', since);
    for (const offset of [0, 1, 1000, 86_400_000]) {
      expect(ulidIdGenerator(() => since.getTime() + offset).next('message') >= floor).toBe(true);
    }
    for (const offset of [1, 1000]) {
      expect(ulidIdGenerator(() => since.getTime() - offset).next('message') < floor).toBe(true);
    }
  });

  test('bounds idempotent message ids by their time too', () => {
    const floor = idFloor('message', since);
    expect(idempotentMessageId('ten_A', 'k', since) >= floor).toBe(true);
    expect(idempotentMessageId('ten_A', 'k', new Date(since.getTime() - 1)) < floor).toBe(true);
  });

  test("bounds delivery ids by their message's time", () => {
    const floor = idFloor('delivery', since);
    const atSince = ulidIdGenerator(() => since.getTime()).next('message');
    const justBefore = ulidIdGenerator(() => since.getTime() - 1).next('message');
    expect(deliveryIdFor(atSince, 'ep_A') >= floor).toBe(true);
    expect(deliveryIdFor(justBefore, 'ep_A') < floor).toBe(true);
  });

  test('a time before the epoch is clamped to zero', () => {
    expect(idFloor('delivery', new Date(-5))).toBe(`dlv_${'0'.repeat(26)}`);
  });
});

describe('idCeiling', () => {
  const before = new Date('2025-03-01T12:00:00.000Z');

  test('every id drawn before the time sorts at or below it; none drawn at or after it does', () => {
    const ceiling = idCeiling('message', before);
    for (const offset of [1, 1000, 86_400_000]) {
      expect(ulidIdGenerator(() => before.getTime() - offset).next('message') <= ceiling).toBe(true);
      expect(idempotentMessageId('ten_A', 'k', new Date(before.getTime() - offset)) <= ceiling).toBe(true);
    }
    for (const offset of [0, 1, 1000]) {
      expect(ulidIdGenerator(() => before.getTime() + offset).next('message') > ceiling).toBe(true);
    }
  });

  test("bounds delivery ids (longer than a message's) by their message's time", () => {
    const ceiling = idCeiling('delivery', before);
    const justBefore = ulidIdGenerator(() => before.getTime() - 1).next('message');
    const atBefore = ulidIdGenerator(() => before.getTime()).next('message');
    expect(deliveryIdFor(justBefore, 'ep_A') <= ceiling).toBe(true);
    expect(deliveryIdFor(atBefore, 'ep_A') > ceiling).toBe(true);
  });

  test('with idFloor, makes [after, before) an inclusive key range', () => {
    const after = new Date(before.getTime() - 60_000);
    expect(idFloor('message', after) <= idCeiling('message', before)).toBe(true);
    expect(timeOfId(idCeiling('message', before))).toEqual(new Date(before.getTime() - 1));
  });
});

describe('ulidIdGenerator with a given time', () => {
  test('the id carries exactly that time, even after a draw at a later time', () => {
    const ids = ulidIdGenerator(() => Date.parse('2026-01-01T00:00:01.000Z'));
    const later = ids.next('message');
    const at = new Date('2026-01-01T00:00:00.500Z');
    const stamped = ids.next('message', at);
    expect(timeOfId(stamped)).toEqual(at);
    expect(stamped < later).toBe(true);
    expect(ids.next('message', at)).not.toBe(stamped);
  });
});
