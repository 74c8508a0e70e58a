import { decodeTime, encodeTime } from 'ulid';
import { deliveryIdFor, hasPrefix, type IdKind, idFloor, idPrefixes, ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';

const ULID_BODY = /^[0-9A-HJKMNP-TV-Z]{26}$/;

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
  const gen = ulidIdGenerator(() => Date.parse('2025-03-01T00:00:00.000Z'));
  const message = gen.next('message');

  test('is deterministic for a (message, endpoint) pair', () => {
    expect(deliveryIdFor(message, 'ep_A')).toBe(deliveryIdFor(message, 'ep_A'));
  });

  test('differs between endpoints and between messages', () => {
    const other = gen.next('message');
    const ids = new Set([deliveryIdFor(message, 'ep_A'), deliveryIdFor(message, 'ep_B'), deliveryIdFor(other, 'ep_A')]);
    expect(ids.size).toBe(3);
  });

  test('is dlv_ + a 26-character ULID body with the message time', () => {
    const id = deliveryIdFor(message, 'ep_A');
    expect(id).toMatch(/^dlv_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(id.slice(4, 14)).toBe(message.slice(4, 14));
    expect(decodeTime(id.slice(4))).toBe(Date.parse('2025-03-01T00:00:00.000Z'));
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
