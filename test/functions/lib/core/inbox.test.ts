import type { CreatedWindow } from '../../../../functions/lib/core/created-window.ts';
import { NotFoundError, ValidationError } from '../../../../functions/lib/core/errors.ts';
import { deliveryIdFor, ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import { InboxService, inboxStatuses, inboxStatusOf } from '../../../../functions/lib/core/inbox.ts';
import type { Delivery, DeliveryStatus, TenantPrincipal } from '../../../../functions/lib/core/model.ts';
import {
  aDelivery,
  aMessage,
  anEndpoint,
  FakeClock,
  InMemoryDeliveryStore,
  InMemoryEndpointStore,
  InMemoryMessageStore,
  T0,
  TENANT,
} from './fakes.ts';

const OTHER_TENANT = 'ten_01JN00000000000000000OTHER';

const THIN = anEndpoint({ id: 'ep_01JN0000000000000000000THIN', mode: 'thin', retryPolicy: { preset: 'daily' } });
const FULL = anEndpoint({ id: 'ep_01JN0000000000000000000FULL' });
const FOREIGN_THIN = anEndpoint({ id: 'ep_01JN000000000000000000OTHER', tenantId: OTHER_TENANT, mode: 'thin' });

const MESSAGE = aMessage();
const FOREIGN_MESSAGE = aMessage({ id: 'msg_01JN00000000000000000OTHER', tenantId: OTHER_TENANT });

/** A delivery of MESSAGE to THIN, due in a minute, unless overridden. */
const thinDelivery = (overrides: Partial<Delivery> = {}): Delivery =>
  aDelivery({
    id: 'dlv_01JN000000000000000000THIN',
    endpointId: THIN.id,
    attemptCount: 1,
    nextAttemptAt: new Date(T0.getTime() + 60_000).toISOString(),
    ...overrides,
  });

const RECEIVER: TenantPrincipal = { kind: 'tenant', tenantId: TENANT, keyId: 'key_01JN000000000000000RECEIVER', scopes: ['receiver'] };
const OTHER_RECEIVER: TenantPrincipal = { kind: 'tenant', tenantId: TENANT, keyId: 'key_01JN0000000000000RECEIVER2', scopes: ['admin'] };
const FOREIGN_RECEIVER: TenantPrincipal = {
  kind: 'tenant',
  tenantId: OTHER_TENANT,
  keyId: 'key_01JN00000000000000FOREIGN',
  scopes: ['receiver'],
};

function setup(deliveries: readonly Delivery[] = [thinDelivery()]) {
  const clock = new FakeClock(T0);
  const ids = ulidIdGenerator(() => clock.now().getTime());
  const store = new InMemoryDeliveryStore(deliveries);
  const endpoints = new InMemoryEndpointStore([THIN, FULL, FOREIGN_THIN]);
  const messages = new InMemoryMessageStore([MESSAGE, FOREIGN_MESSAGE]);
  const inbox = new InboxService({ deliveries: store, messages, endpoints, clock, ids });
  const events = (id = thinDelivery().id) => store.events.get(id) ?? [];
  return { clock, store, endpoints, messages, inbox, events };
}

describe('InboxService.fetch', () => {
  test('returns the delivery and its message, and records a fetched event with the key id', async () => {
    const s = setup();
    const item = await s.inbox.fetch(RECEIVER, thinDelivery().id);
    expect(item).toEqual({ delivery: thinDelivery(), message: MESSAGE });
    expect(s.events()).toEqual([
      { deliveryId: thinDelivery().id, id: expect.stringMatching(/^evt_/), type: 'fetched', at: T0.toISOString(), keyId: RECEIVER.keyId },
    ]);
  });

  test('every fetch is recorded, each with its own key, time and id; the delivery itself is unchanged', async () => {
    const s = setup();
    await s.inbox.fetch(RECEIVER, thinDelivery().id);
    s.clock.advance(2000);
    await s.inbox.fetch(OTHER_RECEIVER, thinDelivery().id);
    const events = s.events();
    expect(events.map((e) => [e.type, e.keyId, e.at])).toEqual([
      ['fetched', RECEIVER.keyId, T0.toISOString()],
      ['fetched', OTHER_RECEIVER.keyId, new Date(T0.getTime() + 2000).toISOString()],
    ]);
    expect(events[0]?.id).not.toBe(events[1]?.id);
    expect(s.store.deliveries.get(thinDelivery().id)).toEqual(thinDelivery());
  });

  test('a delivery of another tenant is a NotFoundError, and nothing is recorded', async () => {
    const foreign = thinDelivery({
      id: 'dlv_01JN00000000000000FOREIGN',
      tenantId: OTHER_TENANT,
      endpointId: FOREIGN_THIN.id,
      messageId: FOREIGN_MESSAGE.id,
    });
    const s = setup([foreign]);
    await expect(s.inbox.fetch(RECEIVER, foreign.id)).rejects.toThrow(NotFoundError);
    expect(s.events(foreign.id)).toEqual([]);
    // Its own tenant does see it.
    await expect(s.inbox.fetch(FOREIGN_RECEIVER, foreign.id)).resolves.toMatchObject({ message: FOREIGN_MESSAGE });
  });

  test('a delivery to a full-mode endpoint is a NotFoundError, and nothing is recorded', async () => {
    const full = thinDelivery({ id: 'dlv_01JN0000000000000000000FULL', endpointId: FULL.id });
    const s = setup([full]);
    await expect(s.inbox.fetch(RECEIVER, full.id)).rejects.toThrow(NotFoundError);
    expect(s.events(full.id)).toEqual([]);
  });

  test('an unknown delivery is a NotFoundError', async () => {
    const s = setup();
    await expect(s.inbox.fetch(RECEIVER, 'dlv_01JN000000000000000UNKNOWN')).rejects.toThrow(NotFoundError);
    expect(s.store.events.size).toBe(0);
  });

  test('a delivery whose message is gone is a NotFoundError, and nothing is recorded', async () => {
    const orphan = thinDelivery({ messageId: 'msg_01JN0000000000000000000GONE' });
    const s = setup([orphan]);
    await expect(s.inbox.fetch(RECEIVER, orphan.id)).rejects.toThrow(NotFoundError);
    expect(s.events()).toEqual([]);
  });
});

describe('InboxService.acknowledge', () => {
  test('the first ack closes the delivery, records the ack and says it was not acknowledged before', async () => {
    const s = setup();
    s.clock.advance(3000);
    const ackedAt = s.clock.now().toISOString();
    const result = await s.inbox.acknowledge(RECEIVER, thinDelivery().id);
    expect(result.alreadyAcknowledged).toBe(false);
    expect(result.delivery.status).toBe('acknowledged');
    expect(result.delivery.nextAttemptAt).toBeUndefined();
    expect(result.delivery.updatedAt).toBe(ackedAt);
    const stored = s.store.deliveries.get(thinDelivery().id);
    expect(stored).toEqual(result.delivery);
    expect(stored).not.toHaveProperty('nextAttemptAt');
    expect(s.events()).toEqual([
      { deliveryId: thinDelivery().id, id: expect.stringMatching(/^evt_/), type: 'acknowledged', at: ackedAt, keyId: RECEIVER.keyId },
    ]);
  });

  test('a second ack changes nothing and records nothing, and says it was already acknowledged', async () => {
    const s = setup();
    await s.inbox.acknowledge(RECEIVER, thinDelivery().id);
    const afterFirst = s.store.deliveries.get(thinDelivery().id);
    s.clock.advance(10_000);
    const second = await s.inbox.acknowledge(OTHER_RECEIVER, thinDelivery().id);
    expect(second.alreadyAcknowledged).toBe(true);
    expect(second.delivery).toEqual(afterFirst);
    expect(s.store.deliveries.get(thinDelivery().id)).toEqual(afterFirst);
    expect(s.events().map((e) => [e.type, e.keyId])).toEqual([['acknowledged', RECEIVER.keyId]]);
  });

  test('two acks at once: exactly one is the first, and one ack is recorded', async () => {
    const s = setup();
    const results = await Promise.all([
      s.inbox.acknowledge(RECEIVER, thinDelivery().id),
      s.inbox.acknowledge(OTHER_RECEIVER, thinDelivery().id),
    ]);
    expect(results.map((r) => r.alreadyAcknowledged).sort()).toEqual([false, true]);
    expect(results.every((r) => r.delivery.status === 'acknowledged')).toBe(true);
    expect(s.events().filter((e) => e.type === 'acknowledged')).toHaveLength(1);
  });

  test.each<DeliveryStatus>(['pending', 'failed', 'dead'])(
    'a %s delivery can be acknowledged (a late ack still counts)',
    async (status) => {
      const delivery = thinDelivery({ status, ...(status === 'dead' && { nextAttemptAt: undefined }) });
      const s = setup([delivery]);
      const result = await s.inbox.acknowledge(RECEIVER, delivery.id);
      expect(result.alreadyAcknowledged).toBe(false);
      expect(s.store.deliveries.get(delivery.id)?.status).toBe('acknowledged');
      expect(s.events().map((e) => e.type)).toEqual(['acknowledged']);
    },
  );

  test('fetch then ack leave both in the audit trail, in order', async () => {
    const s = setup();
    await s.inbox.fetch(RECEIVER, thinDelivery().id);
    await s.inbox.acknowledge(RECEIVER, thinDelivery().id);
    expect(s.events().map((e) => e.type)).toEqual(['fetched', 'acknowledged']);
  });

  test('another tenant’s delivery, or a full-mode one, is a NotFoundError and stays as it was', async () => {
    const foreign = thinDelivery({
      id: 'dlv_01JN00000000000000FOREIGN',
      tenantId: OTHER_TENANT,
      endpointId: FOREIGN_THIN.id,
      messageId: FOREIGN_MESSAGE.id,
    });
    const full = thinDelivery({ id: 'dlv_01JN0000000000000000000FULL', endpointId: FULL.id });
    const s = setup([foreign, full]);
    await expect(s.inbox.acknowledge(RECEIVER, foreign.id)).rejects.toThrow(NotFoundError);
    await expect(s.inbox.acknowledge(RECEIVER, full.id)).rejects.toThrow(NotFoundError);
    await expect(s.inbox.acknowledge(RECEIVER, 'dlv_01JN000000000000000UNKNOWN')).rejects.toThrow(NotFoundError);
    expect(s.store.deliveries.get(foreign.id)).toEqual(foreign);
    expect(s.store.deliveries.get(full.id)).toEqual(full);
    expect(s.store.events.size).toBe(0);
  });
});

describe('InboxService.list', () => {
  const at = (n: number) => `dlv_01JN00000000000000000000${String(n).padStart(2, '0')}`;
  const ledger: readonly Delivery[] = [
    thinDelivery({ id: at(1), status: 'pending' }),
    thinDelivery({ id: at(2), status: 'failed' }),
    thinDelivery({ id: at(3), status: 'dead', nextAttemptAt: undefined }),
    thinDelivery({ id: at(4), status: 'acknowledged', nextAttemptAt: undefined }),
    thinDelivery({ id: at(5), status: 'pending' }),
    thinDelivery({ id: at(6), status: 'acknowledged', nextAttemptAt: undefined }),
    // Open, but on another endpoint.
    thinDelivery({ id: at(7), status: 'pending', endpointId: FULL.id }),
  ];

  test('unacknowledged: the endpoint’s open deliveries (pending or failed), newest first', async () => {
    const s = setup(ledger);
    const page = await s.inbox.list(TENANT, THIN.id, { status: 'unacknowledged' }, { limit: 10 });
    expect(page.items.map((d) => [d.id, d.status])).toEqual([
      [at(5), 'pending'],
      [at(2), 'failed'],
      [at(1), 'pending'],
    ]);
  });

  test('acknowledged: the endpoint’s acknowledged deliveries, newest first', async () => {
    const s = setup(ledger);
    const page = await s.inbox.list(TENANT, THIN.id, { status: 'acknowledged' }, { limit: 10 });
    expect(page.items.map((d) => d.id)).toEqual([at(6), at(4)]);
  });

  test('an ack moves a delivery from one list to the other', async () => {
    const s = setup(ledger);
    await s.inbox.acknowledge(RECEIVER, at(5));
    expect((await s.inbox.list(TENANT, THIN.id, { status: 'unacknowledged' }, { limit: 10 })).items.map((d) => d.id)).toEqual([
      at(2),
      at(1),
    ]);
    expect((await s.inbox.list(TENANT, THIN.id, { status: 'acknowledged' }, { limit: 10 })).items.map((d) => d.id)).toEqual([
      at(6),
      at(5),
      at(4),
    ]);
  });

  test('expired: the endpoint’s dead deliveries, whose notifications ran out unacknowledged', async () => {
    const s = setup(ledger);
    const page = await s.inbox.list(TENANT, THIN.id, { status: 'expired' }, { limit: 10 });
    expect(page.items.map((d) => [d.id, inboxStatusOf(d)])).toEqual([[at(3), 'expired']]);
  });

  test('each listed delivery carries the status it was listed by', async () => {
    const s = setup(ledger);
    for (const status of inboxStatuses) {
      const page = await s.inbox.list(TENANT, THIN.id, { status }, { limit: 10 });
      expect(page.items.length).toBeGreaterThan(0);
      expect(page.items.every((d) => inboxStatusOf(d) === status)).toBe(true);
    }
  });

  test('a window of creation time narrows the list; an empty or inverted one is a ValidationError', async () => {
    const times = [new Date('2026-11-01T00:00:00Z'), new Date('2026-11-02T00:00:00Z'), new Date('2026-11-03T00:00:00Z')];
    const message = (at: Date) => ulidIdGenerator(() => at.getTime()).next('message');
    const dated = times.map((time) => thinDelivery({ id: deliveryIdFor(message(time), THIN.id), status: 'pending' }));
    const s = setup(dated);
    const list = (window: CreatedWindow) => s.inbox.list(TENANT, THIN.id, { status: 'unacknowledged', ...window }, { limit: 10 });
    expect((await list({ after: times[1] })).items.map((d) => d.id)).toEqual([dated[2]?.id, dated[1]?.id]);
    expect((await list({ before: times[1] })).items.map((d) => d.id)).toEqual([dated[0]?.id]);
    expect((await list({ after: times[0], before: times[2] })).items.map((d) => d.id)).toEqual([dated[1]?.id, dated[0]?.id]);
    await expect(list({ after: times[1], before: times[1] })).rejects.toThrow(/`after` must be earlier than `before`/);
    await expect(list({ after: times[2], before: times[0] })).rejects.toBeInstanceOf(ValidationError);
  });

  test('is paginated with the page it was given', async () => {
    const s = setup(ledger);
    const first = await s.inbox.list(TENANT, THIN.id, { status: 'unacknowledged' }, { limit: 2 });
    expect(first.items.map((d) => d.id)).toEqual([at(5), at(2)]);
    expect(first.nextCursor).toBeDefined();
    const second = await s.inbox.list(
      TENANT,
      THIN.id,
      { status: 'unacknowledged' },
      {
        limit: 2,
        ...(first.nextCursor && { cursor: first.nextCursor }),
      },
    );
    expect(second).toEqual({ items: [ledger[0]] });
  });

  test('a full-mode endpoint is a ValidationError', async () => {
    const s = setup(ledger);
    await expect(s.inbox.list(TENANT, FULL.id, { status: 'unacknowledged' }, { limit: 10 })).rejects.toThrow(ValidationError);
    await expect(s.inbox.list(TENANT, FULL.id, { status: 'acknowledged' }, { limit: 10 })).rejects.toThrow(
      /is neither a thin nor a poll endpoint/,
    );
  });

  test('an unknown endpoint, or another tenant’s, is a NotFoundError', async () => {
    const s = setup(ledger);
    await expect(s.inbox.list(TENANT, 'ep_01JN000000000000000UNKNOWN', { status: 'unacknowledged' }, { limit: 10 })).rejects.toThrow(
      NotFoundError,
    );
    await expect(s.inbox.list(TENANT, FOREIGN_THIN.id, { status: 'unacknowledged' }, { limit: 10 })).rejects.toThrow(NotFoundError);
  });
});
