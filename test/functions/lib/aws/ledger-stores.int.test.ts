/**
 * Integration (the shared local stack's DynamoDB Local): the ledger adapters the hot path relies
 * on, against the real table, its indexes and its stream. What the API tests see from outside is
 * checked here from inside: one item per first attempt, index entries only where someone looks,
 * the key's slot as the idempotency claim, compressed payloads that come back byte for byte.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { BatchWriter } from '../../../../functions/lib/aws/batch-writer.ts';
import { documentClient } from '../../../../functions/lib/aws/clients.ts';
import { DynamoDeliveryStore } from '../../../../functions/lib/aws/dynamo-delivery-store.ts';
import { DynamoMessageStore } from '../../../../functions/lib/aws/dynamo-message-store.ts';
import { DynamoReplayTaskStore } from '../../../../functions/lib/aws/dynamo-replay-store.ts';
import { DynamoDispatchedMessages } from '../../../../functions/lib/aws/dynamo-scheduling.ts';
import { newMessagesOf } from '../../../../functions/lib/aws/ledger-items.ts';
import { keys } from '../../../../functions/lib/aws/ledger-keys.ts';
import type { LedgerTable } from '../../../../functions/lib/aws/ledger-table.ts';
import { deliveryIdFor, idCeiling, idempotentMessageId, idFloor, timeOfId, ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import type { Attempt, Delivery, Message, ReplayTask } from '../../../../functions/lib/core/model.ts';
import { generateDataKey } from '../../../../functions/lib/crypto/keyring.ts';
import { SecretBox } from '../../../../functions/lib/crypto/secret-box.ts';
import { testStack } from '../../../support/stack.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const ids = ulidIdGenerator();

let table: LedgerTable;
let messages: DynamoMessageStore;
let deliveries: DynamoDeliveryStore;

beforeAll(() => {
  process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
  table = {
    client: documentClient({ region: 'us-east-1', endpoint: testStack().dynamodbEndpoint }),
    name: 'sluice-ledger',
    retentionDays: 30,
  };
  messages = new DynamoMessageStore(table);
  deliveries = new DynamoDeliveryStore(table, new BatchWriter(table), new SecretBox({ current: 'k1', keys: { k1: generateDataKey() } }));
});

afterAll(() => table.client.destroy());

function aMessage(overrides: Partial<Message> = {}): Message {
  const tenantId = `ten_${ids.next('tenant').slice(4)}`;
  return {
    id: ids.next('message'),
    tenantId,
    type: 'lock.unlocked',
    payloadJson: '{"lockId":"L-1"}',
    createdAt: new Date().toISOString(),
    ...overrides,
  };
}

function aDelivery(message: Message, endpointId: string, overrides: Partial<Delivery> = {}): Delivery {
  return {
    id: deliveryIdFor(message.id, endpointId),
    tenantId: message.tenantId,
    messageId: message.id,
    endpointId,
    eventType: message.type,
    status: 'pending',
    attemptCount: 0,
    scheduledAttempts: 0,
    createdAt: message.createdAt,
    updatedAt: message.createdAt,
    ...overrides,
  };
}

function anAttempt(delivery: Delivery, attempt: number, overrides: Partial<Attempt> = {}): Attempt {
  return {
    deliveryId: delivery.id,
    attempt,
    trigger: 'scheduled',
    startedAt: new Date().toISOString(),
    durationMs: 12,
    statusCode: 200,
    responseBody: 'ok',
    outcome: 'succeeded',
    ...overrides,
  };
}

describe('DynamoMessageStore', () => {
  test('a payload comes back byte for byte, compressed at rest when that is smaller', async () => {
    // Keys that a parse-and-serialise round trip would drop or reorder, numbers beyond 2^53, escapes.
    const payloadJson = `{"__proto__":{"x":1},"constructor":"c","big":123456789012345678901234567890,"b":1,"b":2,"u":"\\u00e9\\ud83d\\ude00","pad":"${'lorem ipsum '.repeat(60)}"}`;
    const message = aMessage({ payloadJson, endpointIds: ['ep_A'] });
    expect(await messages.create(message, undefined)).toEqual({ created: true });
    expect(await messages.get(message.id)).toEqual(message);
    const { Item } = await table.client.send(new GetCommand({ TableName: table.name, Key: keys.message(message.id) }));
    expect(Item?.payload).toBeUndefined();
    expect((Item?.payloadDeflated as Uint8Array | undefined)?.length).toBeLessThan(payloadJson.length / 2);
  });

  test("a key's slot is its claim: a second post with the key writes nothing and gets the first message back", async () => {
    const tenantId = aMessage().tenantId;
    const first = aMessage({ tenantId, id: idempotentMessageId(tenantId, 'hash-1', new Date()) });
    expect(await messages.create(first, { keyHash: 'hash-1' })).toEqual({ created: true });
    const again = { ...first, id: idempotentMessageId(tenantId, 'hash-1', new Date(Date.now() + 5000)), payloadJson: '{"n":2}' };
    const result = await messages.create(again, { keyHash: 'hash-1' });
    expect(result).toEqual({ created: false, existing: { ...first, idempotencyKeyHash: 'hash-1' } });
    expect(await messages.get(again.id)).toBeUndefined();
  });

  test('a reused key: the slot holder points at the new message, conditionally, and is kept until its window ends', async () => {
    const tenantId = aMessage().tenantId;
    const holder = aMessage({ tenantId, id: idempotentMessageId(tenantId, 'hash-2', new Date()) });
    await messages.create(holder, { keyHash: 'hash-2' });
    const stored = { ...holder, idempotencyKeyHash: 'hash-2' };
    const windowEndsAt = new Date(Date.now() + 40 * 86_400_000).toISOString();
    const reuse = { messageId: ids.next('message'), createdAt: new Date().toISOString(), windowEndsAt };
    expect(await messages.reuseKey(stored, reuse, undefined)).toBe(true);
    // A concurrent reuse that read the holder before the pointer loses.
    expect(await messages.reuseKey(stored, { ...reuse, messageId: ids.next('message') }, undefined)).toBe(false);
    const next = { ...reuse, messageId: ids.next('message') };
    expect(await messages.reuseKey(stored, next, { ...reuse, messageId: 'msg_stale' })).toBe(false);
    expect(await messages.reuseKey(stored, next, reuse)).toBe(true);
    const { Item } = await table.client.send(new GetCommand({ TableName: table.name, Key: keys.message(holder.id) }));
    expect(Item?.keyReuse).toEqual(next);
    // The holder's retention (30 days) is stretched to the pointer's window (40 days).
    expect(Item?.expiresAt).toBe(Math.ceil(Date.parse(windowEndsAt) / 1000));
    const result = await messages.create(holder, { keyHash: 'hash-2' });
    expect(result.created === false && result.existing.keyReuse).toEqual(next);
  });

  test('messages list newest first, filtered by type in the index, page by page', async () => {
    const tenantId = aMessage().tenantId;
    const made: Message[] = [];
    for (let i = 0; i < 7; i++) {
      const message = aMessage({ tenantId, type: i % 2 === 0 ? 'lock.unlocked' : 'lock.locked', payloadJson: `{"i":${i}}` });
      await messages.create(message, undefined);
      made.push(message);
    }
    const unlocked = made.filter((m) => m.type === 'lock.unlocked').reverse();
    const firstPage = await messages.list(tenantId, { type: 'lock.unlocked' }, { limit: 3 });
    expect(firstPage.items).toEqual(unlocked.slice(0, 3));
    const secondPage = await messages.list(
      tenantId,
      { type: 'lock.unlocked' },
      { limit: 3, ...(firstPage.nextCursor && { cursor: firstPage.nextCursor }) },
    );
    expect(secondPage.items).toEqual(unlocked.slice(3));
    expect((await messages.list(tenantId, {}, { limit: 10 })).items).toEqual([...made].reverse());
  });
});

describe('DynamoDeliveryStore', () => {
  test('a first attempt that succeeded is one item, written in a batch, with the attempt on it', async () => {
    const message = aMessage();
    const delivery = aDelivery(message, 'ep_ONE', { status: 'succeeded', attemptCount: 1, lastStatusCode: 200 });
    const attempt = anAttempt(delivery, 1);
    await deliveries.settleFirstAttempt(delivery, attempt);
    const items = await table.client.send(new GetCommand({ TableName: table.name, Key: keys.delivery(delivery.id) }));
    // In the endpoint's history only: no open, dead or due index entry.
    expect(items.Item).toMatchObject({ gsi2pk: 'EP#ep_ONE', status: 'succeeded' });
    expect(items.Item).not.toHaveProperty('gsi3pk');
    expect(items.Item).not.toHaveProperty('gsi4pk');
    expect(items.Item).not.toHaveProperty('gsi5pk');
    expect(await deliveries.getWithAttempts(delivery.id)).toEqual({ delivery, attempts: [attempt], events: [] });
    expect(await deliveries.existing([delivery.id, deliveryIdFor(message.id, 'ep_NONE')])).toEqual(new Set([delivery.id]));
  });

  test('a failed first attempt is written only once; later attempts keep it and move the index entries', async () => {
    const message = aMessage();
    const next = new Date(Date.now() + 60_000).toISOString();
    const failed = aDelivery(message, 'ep_TWO', { status: 'failed', attemptCount: 1, scheduledAttempts: 1, nextAttemptAt: next });
    const first = anAttempt(failed, 1, { statusCode: 500, outcome: 'failed' });
    expect(await deliveries.recordFirstAttempt(failed, first)).toBe(true);
    expect(await deliveries.recordFirstAttempt(failed, first)).toBe(false);
    const dueKey = await table.client.send(new GetCommand({ TableName: table.name, Key: keys.delivery(failed.id) }));
    expect(dueKey.Item).toMatchObject({ gsi3pk: 'EP#ep_TWO#failed', gsi5pk: keys.dueShard(failed.id), gsi5sk: `${next}#${failed.id}` });
    expect((await deliveries.listByEndpoint('ep_TWO', { status: 'failed' }, { limit: 10 })).items).toEqual([failed]);

    const { nextAttemptAt: _n, ...rest } = failed;
    const dead: Delivery = { ...rest, status: 'dead', attemptCount: 2, scheduledAttempts: 2, lastError: 'gave up' };
    const second = anAttempt(failed, 2, { statusCode: 503, outcome: 'failed' });
    expect(await deliveries.recordAttempt({ delivery: dead, previous: failed, attempt: second })).toBe(true);
    // The same attempt number again is refused, whatever state it claims.
    expect(await deliveries.recordAttempt({ delivery: dead, previous: failed, attempt: second })).toBe(false);
    const history = await deliveries.getWithAttempts(failed.id);
    expect(history?.delivery).toEqual(dead);
    expect(history?.attempts).toEqual([first, second]);
    const item = await table.client.send(new GetCommand({ TableName: table.name, Key: keys.delivery(failed.id) }));
    expect(item.Item).toMatchObject({ gsi3pk: 'EP#ep_TWO#dead', gsi4pk: `TEN#${message.tenantId}#dead` });
    expect(item.Item).not.toHaveProperty('gsi5pk');
    expect((await deliveries.listDead(message.tenantId, {}, { limit: 10 })).items).toEqual([dead]);
    expect((await deliveries.listByEndpoint('ep_TWO', { status: 'failed' }, { limit: 10 })).items).toEqual([]);
  });

  test("an endpoint's history lists its deliveries newest first, by status from the index, without reading attempts", async () => {
    const endpointId = `ep_${ids.next('endpoint').slice(3)}`;
    const older = aMessage();
    const newer = aMessage();
    const ok = aDelivery(older, endpointId, { status: 'succeeded', attemptCount: 1 });
    const failing = aDelivery(newer, endpointId, { status: 'failed', attemptCount: 1, nextAttemptAt: new Date().toISOString() });
    await deliveries.settleFirstAttempt(ok, anAttempt(ok, 1));
    await deliveries.recordFirstAttempt(failing, anAttempt(failing, 1, { outcome: 'failed', statusCode: 500 }));
    const { nextAttemptAt: _n, ...open } = failing;
    await deliveries.recordAttempt({
      delivery: { ...open, attemptCount: 2, status: 'failed' },
      previous: failing,
      attempt: anAttempt(failing, 2),
    });
    expect((await deliveries.listByEndpoint(endpointId, {}, { limit: 10 })).items.map((d) => d.id)).toEqual([failing.id, ok.id]);
    expect((await deliveries.listByEndpoint(endpointId, { status: 'succeeded' }, { limit: 10 })).items).toEqual([ok]);
    const page = await deliveries.listByEndpoint(endpointId, {}, { limit: 1 });
    expect(page.items.map((d) => d.id)).toEqual([failing.id]);
    const next = await deliveries.listByEndpoint(endpointId, {}, { limit: 1, ...(page.nextCursor && { cursor: page.nextCursor }) });
    expect(next.items.map((d) => d.id)).toEqual([ok.id]);
  });

  test('every history list narrows to a window of creation time in its key condition, and pages within it', async () => {
    // Five messages a day apart, each delivered to one endpoint: dead, then open, alternately.
    const tenantId = aMessage().tenantId;
    const endpointId = `ep_${ids.next('endpoint').slice(3)}`;
    // Days in the past (well within the ledger's retention), at midnight.
    const start = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 10 * 86_400_000;
    const day = (n: number) => new Date(start + n * 86_400_000);
    const made = [0, 1, 2, 3, 4].map((n) => {
      const message = aMessage({ tenantId, id: ulidIdGenerator(() => day(n).getTime()).next('message'), createdAt: day(n).toISOString() });
      const status = n % 2 === 0 ? 'dead' : 'failed';
      return {
        message,
        delivery: aDelivery(message, endpointId, {
          status,
          attemptCount: 1,
          // Due tomorrow: the shared stack's sweeper must not take these up.
          ...(status === 'failed' && { nextAttemptAt: new Date(Date.now() + 86_400_000).toISOString() }),
        }),
      };
    });
    for (const { message, delivery } of made) {
      await messages.create(message, undefined);
      await deliveries.recordFirstAttempt(delivery, anAttempt(delivery, 1, { outcome: 'failed', statusCode: 500 }));
    }
    const window = { after: day(1), before: day(4) }; // days 1, 2 and 3
    const idsOf = (page: { items: readonly { id: string }[] }) => page.items.map((item) => item.id);
    const expected = (pick: (n: number) => boolean, of: 'message' | 'delivery') =>
      made
        .filter((_m, n) => pick(n))
        .reverse()
        .map((m) => m[of].id);
    const inWindow = (n: number) => n >= 1 && n <= 3;

    expect(idsOf(await messages.list(tenantId, window, { limit: 10 }))).toEqual(expected(inWindow, 'message'));
    expect(idsOf(await messages.list(tenantId, { after: day(3) }, { limit: 10 }))).toEqual(expected((n) => n >= 3, 'message'));
    expect(idsOf(await messages.list(tenantId, { before: day(1) }, { limit: 10 }))).toEqual(expected((n) => n < 1, 'message'));
    // The type filter and the window together, and a page boundary inside the window.
    expect(idsOf(await messages.list(tenantId, { ...window, type: 'lock.locked' }, { limit: 10 }))).toEqual([]);
    const first = await messages.list(tenantId, window, { limit: 2 });
    const rest = await messages.list(tenantId, window, { limit: 2, ...(first.nextCursor && { cursor: first.nextCursor }) });
    expect([...idsOf(first), ...idsOf(rest)]).toEqual(expected(inWindow, 'message'));
    expect(rest.nextCursor).toBeUndefined();

    // An endpoint's history (gsi2), by a listed status (gsi3), the open ones (gsi3, merged) and the tenant's dead (gsi4).
    expect(idsOf(await deliveries.listByEndpoint(endpointId, window, { limit: 10 }))).toEqual(expected(inWindow, 'delivery'));
    expect(idsOf(await deliveries.listByEndpoint(endpointId, { ...window, status: 'dead' }, { limit: 10 }))).toEqual(
      expected((n) => n === 2, 'delivery'),
    );
    expect(idsOf(await deliveries.listDead(tenantId, { after: day(2) }, { limit: 10 }))).toEqual(
      expected((n) => n === 2 || n === 4, 'delivery'),
    );
    const open = await deliveries.listOpenByEndpoint(endpointId, { before: day(4) }, { limit: 1 });
    expect(idsOf(open)).toEqual(expected((n) => n === 3, 'delivery'));
    const openRest = await deliveries.listOpenByEndpoint(
      endpointId,
      { before: day(4) },
      { limit: 1, ...(open.nextCursor && { cursor: open.nextCursor }) },
    );
    expect(idsOf(openRest)).toEqual(expected((n) => n === 1, 'delivery'));
    expect(idsOf(await deliveries.listOpenByEndpoint(endpointId, { after: day(2) }, { limit: 10 }))).toEqual(
      expected((n) => n === 3, 'delivery'),
    );
  });

  test("endpoint stats read the history index's ids and statuses newest first, bounded, and first attempts' durations by BatchGet", async () => {
    const endpointId = `ep_${ids.next('endpoint').slice(3)}`;
    // Messages a minute apart, two hours ago (within retention).
    const start = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
    const minute = (n: number) => new Date(start + n * 60_000);
    const messageAt = (n: number) =>
      aMessage({ id: ulidIdGenerator(() => minute(n).getTime()).next('message'), createdAt: minute(n).toISOString() });
    // Due tomorrow: the shared stack's sweeper must not take these up.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    const succeeded = aDelivery(messageAt(0), endpointId, { status: 'succeeded', attemptCount: 1 });
    const failed = aDelivery(messageAt(1), endpointId, { status: 'failed', attemptCount: 1, nextAttemptAt: tomorrow });
    const acknowledged = aDelivery(messageAt(2), endpointId, { status: 'acknowledged', attemptCount: 1 });
    const paused = aDelivery(messageAt(3), endpointId, { status: 'pending' });
    const movedThenFailed = aDelivery(messageAt(4), endpointId, { status: 'pending' });
    const elsewhere = aDelivery(messageAt(2), `${endpointId}X`, { status: 'dead', attemptCount: 1 });
    await deliveries.settleFirstAttempt(succeeded, anAttempt(succeeded, 1, { durationMs: 120 }));
    await deliveries.recordFirstAttempt(failed, anAttempt(failed, 1, { durationMs: 10_000, outcome: 'failed', statusCode: 500 }));
    await deliveries.recordFirstAttempt(acknowledged, anAttempt(acknowledged, 1, { durationMs: 35 }));
    await deliveries.create(paused);
    // Created without an attempt (moved to the retry lane), then its first attempt lands on the item.
    await deliveries.create(movedThenFailed);
    const attempted = { ...movedThenFailed, status: 'failed' as const, attemptCount: 1, nextAttemptAt: tomorrow };
    await deliveries.recordAttempt({
      delivery: attempted,
      previous: movedThenFailed,
      attempt: anAttempt(movedThenFailed, 1, { durationMs: 7 }),
    });
    await deliveries.recordFirstAttempt(elsewhere, anAttempt(elsewhere, 1));

    const window = { after: minute(0), before: minute(60) };
    expect(await deliveries.statusesByEndpoint(endpointId, window, 100)).toEqual([
      { id: movedThenFailed.id, status: 'failed' },
      { id: paused.id, status: 'pending' },
      { id: acknowledged.id, status: 'acknowledged' },
      { id: failed.id, status: 'failed' },
      { id: succeeded.id, status: 'succeeded' },
    ]);
    // Bounded: the newest `limit`, and the window is a key range.
    expect((await deliveries.statusesByEndpoint(endpointId, window, 2)).map((e) => e.id)).toEqual([movedThenFailed.id, paused.id]);
    expect((await deliveries.statusesByEndpoint(endpointId, { after: minute(1), before: minute(3) }, 100)).map((e) => e.id)).toEqual([
      acknowledged.id,
      failed.id,
    ]);
    expect(await deliveries.statusesByEndpoint(endpointId, { after: minute(60) }, 100)).toEqual([]);

    const durations = await deliveries.firstAttemptDurations([
      succeeded.id,
      failed.id,
      acknowledged.id,
      paused.id,
      movedThenFailed.id,
      deliveryIdFor(messageAt(9).id, endpointId),
    ]);
    expect(durations).toEqual(
      new Map([
        [succeeded.id, 120],
        [failed.id, 10_000],
        [acknowledged.id, 35],
        [movedThenFailed.id, 7],
      ]),
    );
    expect(await deliveries.firstAttemptDurations([])).toEqual(new Map());
  });

  test('delivery ids that are not of this ledger are simply not found', async () => {
    expect(await deliveries.get('dlv_01ZZZZZZZZZZZZZZZZZZZZZZZZ')).toBeUndefined();
    expect(await deliveries.getWithAttempts('not-an-id')).toBeUndefined();
    expect((await deliveries.getMany(['dlv_x', 'msg_y'])).size).toBe(0);
  });
});

describe('DynamoDispatchedMessages', () => {
  test('dispatched messages come back in id order after a position, with their endpoints; the bookmark is conditional', async () => {
    const dispatched = new DynamoDispatchedMessages(table);
    const start = dispatched.positionAt(new Date(Date.now() - 1000).toISOString());
    const made: Message[] = [];
    for (let i = 0; i < 5; i++) {
      const message = aMessage({ endpointIds: [`ep_${i}`, 'ep_X'] });
      await messages.create(message, undefined);
      made.push(message);
    }
    await messages.create(aMessage(), undefined); // no endpoints: not dispatched, not listed
    const before = new Date(Date.now() + 1000).toISOString();
    const page = (await dispatched.after(start, before, 100)).filter((m) => made.some((x) => x.id === m.messageId));
    expect(page.map((m) => m.messageId)).toEqual(made.map((m) => m.id));
    expect(page[0]).toEqual({
      messageId: made[0]?.id,
      tenantId: made[0]?.tenantId,
      endpointIds: ['ep_0', 'ep_X'],
      position: made[0]?.id,
      // The place's time: the id's. This helper draws ids apart from `createdAt`, which may differ by a millisecond.
      dispatchAt: timeOfId(made[0]?.id ?? ''),
    });
    const rest = (await dispatched.after(made[2]?.id, before, 100)).filter((m) => made.some((x) => x.id === m.messageId));
    expect(rest.map((m) => m.messageId)).toEqual(made.slice(3).map((m) => m.id));
  });
});

describe('scheduled messages in the ledger', () => {
  const DAY_MS = 86_400_000;
  const scheduledMessage = (aheadMs: number) => {
    const createdAt = new Date();
    return aMessage({
      id: ids.next('message', createdAt),
      createdAt: createdAt.toISOString(),
      deliverAt: new Date(createdAt.getTime() + aheadMs).toISOString(),
      endpointIds: ['ep_S1', 'ep_S2'],
    });
  };

  test('one far ahead waits among the scheduled until handed over once, then sits among the dispatched at its deliverAt', async () => {
    const dispatched = new DynamoDispatchedMessages(table);
    const message = scheduledMessage(3 * DAY_MS);
    await messages.create(message, undefined);
    const dueBy = new Date(Date.parse(message.deliverAt ?? '') + 1000).toISOString();
    expect(await dispatched.scheduledBefore(new Date(Date.parse(message.deliverAt ?? '') - 1000).toISOString(), 1000)).not.toContain(
      message.id,
    );
    expect(await dispatched.scheduledBefore(dueBy, 1000)).toContain(message.id);
    const start = dispatched.positionAt(new Date(Date.parse(message.deliverAt ?? '') - 1000).toISOString());
    expect((await dispatched.after(start, dueBy, 1000)).map((m) => m.messageId)).not.toContain(message.id);

    expect(await dispatched.handOver(message.id)).toBe(true);
    expect(await dispatched.handOver(message.id)).toBe(false);
    expect(await dispatched.scheduledBefore(dueBy, 1000)).not.toContain(message.id);
    const entry = (await dispatched.after(start, dueBy, 1000)).find((m) => m.messageId === message.id);
    expect(entry).toMatchObject({
      tenantId: message.tenantId,
      endpointIds: ['ep_S1', 'ep_S2'],
      dispatchAt: new Date(message.deliverAt ?? ''),
    });
    // Its place sorts by deliverAt: after it, nothing of it again.
    expect((await dispatched.after(entry?.position, dueBy, 1000)).map((m) => m.messageId)).not.toContain(message.id);
    expect(await messages.get(message.id)).toEqual(message);
  });

  test('cancel and release exclude each other: a cancelled message is never released, a released one never cancelled', async () => {
    const dispatched = new DynamoDispatchedMessages(table);
    const cancelled = scheduledMessage(2 * DAY_MS);
    await messages.create(cancelled, undefined);
    const at = new Date().toISOString();
    expect(await messages.cancel(cancelled, at)).toBe('cancelled');
    expect(await messages.cancel(cancelled, at)).toBe('already');
    expect(await messages.get(cancelled.id)).toEqual({ ...cancelled, cancelledAt: at });
    expect(await messages.release(cancelled.id, at)).toBe(false);
    expect(await dispatched.handOver(cancelled.id)).toBe(false);
    const item = (await table.client.send(new GetCommand({ TableName: table.name, Key: keys.message(cancelled.id) }))).Item;
    expect(item?.gsi5pk).toBeUndefined();

    const released = scheduledMessage(60_000);
    await messages.create(released, undefined);
    expect(await messages.release(released.id, at)).toBe(true);
    expect(await messages.release(released.id, new Date().toISOString())).toBe(true);
    expect(await messages.cancel(released, at)).toBe('released');
    expect((await messages.get(released.id))?.cancelledAt).toBeUndefined();
  });
});

describe('replays in the ledger', () => {
  test('a replay page reads the status partitions (or the whole history) oldest first, after the cursor, within the range', async () => {
    const endpointId = `ep_${ids.next('endpoint').slice(3)}`;
    const base = Date.now() - 60_000;
    const made: Delivery[] = [];
    const statuses = ['dead', 'failed', 'succeeded', 'dead', 'failed', 'dead'] as const;
    for (const [i, status] of statuses.entries()) {
      const message = aMessage({ id: ulidIdGenerator(() => base + i * 1000).next('message') });
      const delivery = aDelivery(message, endpointId, { status, attemptCount: 1, scheduledAttempts: 1 });
      await deliveries.recordFirstAttempt(delivery, anAttempt(delivery, 1, { outcome: status === 'succeeded' ? 'succeeded' : 'failed' }));
      made.push(delivery);
    }
    const range = { from: idFloor('delivery', new Date(base)), to: idCeiling('delivery', new Date(base + 60_000)) };
    const entry = (d: Delivery | undefined) => ({ id: d?.id, status: d?.status });
    const open = made.filter((d) => d.status !== 'succeeded');
    expect(await deliveries.replayPage(endpointId, ['failed', 'dead'], range, 3)).toEqual(open.slice(0, 3).map(entry));
    expect(await deliveries.replayPage(endpointId, ['failed', 'dead'], { ...range, after: open[2]?.id }, 3)).toEqual(
      open.slice(3).map(entry),
    );
    expect(await deliveries.replayPage(endpointId, ['dead'], range, 10)).toEqual(made.filter((d) => d.status === 'dead').map(entry));
    expect(await deliveries.replayPage(endpointId, 'all', { ...range, after: made[1]?.id }, 10)).toEqual(made.slice(2).map(entry));
    // `to` bounds by creation time: the last three were created after it.
    expect(await deliveries.replayPage(endpointId, 'all', { ...range, to: idCeiling('delivery', new Date(base + 2500)) }, 10)).toEqual(
      made.slice(0, 3).map(entry),
    );
  });

  test('a replay claim holds once per state: a second claim at the same attempt count fails, a new attempt frees it', async () => {
    const message = aMessage();
    const dead = aDelivery(message, 'ep_CLAIM', { status: 'dead', attemptCount: 1, scheduledAttempts: 1 });
    await deliveries.recordFirstAttempt(dead, anAttempt(dead, 1, { outcome: 'failed', statusCode: 500 }));
    expect(await deliveries.claimReplay(dead, 'task_A')).toBe(true);
    expect(await deliveries.claimReplay(dead, 'task_A')).toBe(false);
    expect(await deliveries.claimReplay(dead, 'task_B')).toBe(false);
    // The claim is the ledger's bookkeeping: the delivery reads as before.
    expect(await deliveries.get(dead.id)).toEqual(dead);
    const after: Delivery = { ...dead, attemptCount: 2 };
    expect(await deliveries.recordAttempt({ delivery: after, previous: dead, attempt: anAttempt(dead, 2, { outcome: 'failed' }) })).toBe(
      true,
    );
    expect(await deliveries.claimReplay(dead, 'task_B')).toBe(false);
    expect(await deliveries.claimReplay(after, 'task_B')).toBe(true);
  });

  test('tasks: one lock per endpoint, taken over only from the task it names; progress saved only from its step', async () => {
    const tasks = new DynamoReplayTaskStore(table);
    const tenantId = `ten_${ids.next('tenant').slice(4)}`;
    const at = new Date().toISOString();
    const task = (id: string): ReplayTask => ({
      id,
      tenantId,
      kind: 'replay',
      endpointId: 'ep_LOCKED',
      request: { since: at, eventTypes: ['a.b'], status: 'failed' },
      until: at,
      status: 'queued',
      counts: { scanned: 0, queued: 0 },
      step: 0,
      createdAt: at,
      updatedAt: at,
    });
    const first = task(ids.next('task'));
    expect(await tasks.current(tenantId, 'ep_LOCKED')).toBeUndefined();
    expect(await tasks.start(first, undefined)).toBe(true);
    expect(await tasks.current(tenantId, 'ep_LOCKED')).toEqual({ taskId: first.id, task: first });
    // A second start that did not see the lock, or saw another task in it, writes nothing.
    const second = task(ids.next('task'));
    expect(await tasks.start(second, undefined)).toBe(false);
    expect(await tasks.start(second, 'task_other')).toBe(false);
    expect(await tasks.get(tenantId, second.id)).toBeUndefined();

    const running: ReplayTask = { ...first, status: 'running', step: 1, cursor: 'dlv_X', counts: { scanned: 5, queued: 4 } };
    expect(await tasks.save(running, 0)).toBe(true);
    expect(await tasks.save({ ...running, step: 2 }, 0)).toBe(false);
    expect(await tasks.get(tenantId, first.id)).toEqual(running);

    // Replacing a stalled task: the abandoned one must still be at the step its replacer saw.
    const abandoned: ReplayTask = { ...running, status: 'failed', error: 'stalled', finishedAt: at };
    expect(await tasks.start(second, first.id, { ...abandoned, step: 0 })).toBe(false);
    expect(await tasks.start(second, first.id, abandoned)).toBe(true);
    expect(await tasks.get(tenantId, first.id)).toEqual(abandoned);
    expect(await tasks.current(tenantId, 'ep_LOCKED')).toEqual({ taskId: second.id, task: second });
  });
});

describe('the ledger stream', () => {
  test('new message items arrive on the stream and decode to the messages that were stored', async () => {
    const raw = new DynamoDBClient({ endpoint: testStack().dynamodbEndpoint, region: 'us-east-1', credentials });
    const streams = new DynamoDBStreamsClient({ endpoint: testStack().dynamodbEndpoint, region: 'us-east-1', credentials });
    try {
      const { Table } = await raw.send(new DescribeTableCommand({ TableName: table.name }));
      const streamArn = Table?.LatestStreamArn;
      expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' });
      const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
      const iterators = await Promise.all(
        (StreamDescription?.Shards ?? []).map(async (shard) => {
          const { ShardIterator } = await streams.send(
            new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId, ShardIteratorType: 'LATEST' }),
          );
          return ShardIterator;
        }),
      );
      const message = aMessage({ endpointIds: ['ep_S'], payloadJson: `{"text":"${'é'.repeat(400)}"}` });
      await messages.create(message, undefined);
      const records: _Record[] = [];
      for (const iterator of iterators)
        records.push(...((await streams.send(new GetRecordsCommand({ ShardIterator: iterator }))).Records ?? []));
      // As Lambda puts them in the event: binary attributes base64-encoded.
      const events = records.map(
        (record) =>
          JSON.parse(
            JSON.stringify({ eventName: record.eventName, dynamodb: record.dynamodb }, (_key, value: unknown) =>
              value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value,
            ),
          ) as DynamoDBRecord,
      );
      expect(newMessagesOf(events)).toContainEqual(message);
    } finally {
      raw.destroy();
      streams.destroy();
    }
  });
});
