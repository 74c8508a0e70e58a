import { NotFoundError, ValidationError } from '../../../../functions/lib/core/errors.ts';
import { HistoryService } from '../../../../functions/lib/core/history.ts';
import { deliveryIdFor } from '../../../../functions/lib/core/ids.ts';
import type { Delivery, Message } from '../../../../functions/lib/core/model.ts';
import { aMessage, anEndpoint, InMemoryDeliveryStore, InMemoryEndpointStore, InMemoryMessageStore, T0, TENANT } from './fakes.ts';

const OTHER = 'ten_01JN00000000000000000OTHER';
const endpointIds = ['ep_A', 'ep_B', 'ep_C', 'ep_D', 'ep_E'];
const MESSAGE = aMessage({ endpointIds });

function attempted(message: Message, endpointId: string, overrides: Partial<Delivery> = {}): Delivery {
  return {
    id: deliveryIdFor(message.id, endpointId),
    tenantId: message.tenantId,
    messageId: message.id,
    endpointId,
    eventType: message.type,
    status: 'succeeded',
    attemptCount: 1,
    scheduledAttempts: 0,
    lastAttemptAt: T0.toISOString(),
    lastStatusCode: 200,
    createdAt: message.createdAt,
    updatedAt: T0.toISOString(),
    ...overrides,
  };
}

function setup(deliveries: readonly Delivery[] = [], messages: readonly Message[] = [MESSAGE]) {
  const store = new InMemoryDeliveryStore(deliveries);
  const service = new HistoryService(store, new InMemoryMessageStore(messages), new InMemoryEndpointStore([anEndpoint()]));
  return { service, store };
}

describe("HistoryService.messageDeliveries: a message's deliveries from the moment it is accepted", () => {
  test('one per endpoint the message named, in its order: attempted ones as recorded, the others pending', async () => {
    const done = attempted(MESSAGE, 'ep_B');
    const failing = attempted(MESSAGE, 'ep_D', { status: 'failed', nextAttemptAt: '2025-03-01T12:00:05.000Z' });
    const s = setup([done, failing]);
    const page = await s.service.messageDeliveries(TENANT, MESSAGE.id, { limit: 10 });
    expect(page.nextCursor).toBeUndefined();
    expect(page.items.map((d) => [d.endpointId, d.status])).toEqual([
      ['ep_A', 'pending'],
      ['ep_B', 'succeeded'],
      ['ep_C', 'pending'],
      ['ep_D', 'failed'],
      ['ep_E', 'pending'],
    ]);
    expect(page.items[1]).toBe(done);
    expect(page.items[0]).toEqual({
      id: deliveryIdFor(MESSAGE.id, 'ep_A'),
      tenantId: TENANT,
      messageId: MESSAGE.id,
      endpointId: 'ep_A',
      eventType: MESSAGE.type,
      status: 'pending',
      attemptCount: 0,
      scheduledAttempts: 0,
      nextAttemptAt: MESSAGE.createdAt,
      createdAt: MESSAGE.createdAt,
      updatedAt: MESSAGE.createdAt,
    });
  });

  test('pages are slices of the endpoints, each read with one batch', async () => {
    const s = setup([attempted(MESSAGE, 'ep_C')]);
    const getMany = jest.spyOn(s.store, 'getMany');
    const first = await s.service.messageDeliveries(TENANT, MESSAGE.id, { limit: 2 });
    const second = await s.service.messageDeliveries(TENANT, MESSAGE.id, {
      limit: 2,
      ...(first.nextCursor && { cursor: first.nextCursor }),
    });
    const third = await s.service.messageDeliveries(TENANT, MESSAGE.id, {
      limit: 2,
      ...(second.nextCursor && { cursor: second.nextCursor }),
    });
    expect([first, second, third].flatMap((p) => p.items.map((d) => d.endpointId))).toEqual(endpointIds);
    expect(second.items.map((d) => d.status)).toEqual(['succeeded', 'pending']);
    expect(third.nextCursor).toBeUndefined();
    expect(getMany.mock.calls.map(([ids]) => ids.length)).toEqual([2, 2, 1]);
  });

  test('a message that reached no endpoint has no deliveries', async () => {
    const lonely = aMessage({ id: 'msg_01JN0000000000000000LONELY' });
    const s = setup([], [lonely]);
    expect(await s.service.messageDeliveries(TENANT, lonely.id, { limit: 10 })).toEqual({ items: [] });
  });

  test("another tenant's message, or none, is a 404", async () => {
    const s = setup();
    await expect(s.service.messageDeliveries(OTHER, MESSAGE.id, { limit: 10 })).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.service.messageDeliveries(TENANT, 'msg_01JN00000000000000000NONE', { limit: 10 })).rejects.toBeInstanceOf(NotFoundError);
  });

  test('a cursor that is not one of this listing is a 400', async () => {
    const s = setup();
    for (const cursor of [
      'garbage',
      Buffer.from('deliveries:99').toString('base64url'),
      Buffer.from('deliveries:-1').toString('base64url'),
    ]) {
      await expect(s.service.messageDeliveries(TENANT, MESSAGE.id, { limit: 2, cursor })).rejects.toBeInstanceOf(ValidationError);
    }
  });
});

describe('HistoryService.delivery', () => {
  test('a recorded delivery comes with its attempts and events', async () => {
    const done = attempted(MESSAGE, 'ep_A');
    const s = setup([done]);
    s.store.attempts.set(done.id, [
      {
        deliveryId: done.id,
        attempt: 1,
        trigger: 'scheduled',
        startedAt: T0.toISOString(),
        durationMs: 5,
        statusCode: 200,
        outcome: 'succeeded',
      },
    ]);
    const found = await s.service.delivery(TENANT, done.id);
    expect(found.delivery).toBe(done);
    expect(found.attempts).toHaveLength(1);
  });

  test('a delivery not attempted yet reads as pending, with no attempt: a receiver can look it up at once', async () => {
    const s = setup();
    const id = deliveryIdFor(MESSAGE.id, 'ep_E');
    expect(await s.service.delivery(TENANT, id)).toEqual({
      delivery: expect.objectContaining({ id, endpointId: 'ep_E', status: 'pending', attemptCount: 0 }),
      attempts: [],
      events: [],
    });
  });

  test("another tenant's delivery, one of an endpoint the message did not name, or a malformed id is a 404", async () => {
    const done = attempted(MESSAGE, 'ep_A');
    const s = setup([done]);
    await expect(s.service.delivery(OTHER, done.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.service.delivery(OTHER, deliveryIdFor(MESSAGE.id, 'ep_B'))).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.service.delivery(TENANT, deliveryIdFor(MESSAGE.id, 'ep_Z'))).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.service.delivery(TENANT, 'dlv_01ZZZZZZZZZZZZZZZZZZZZZZZZ')).rejects.toBeInstanceOf(NotFoundError);
  });
});
