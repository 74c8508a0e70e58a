import { createHash } from 'node:crypto';
import { encodeTime } from 'ulid';
import { EndpointDirectory } from '../../../../functions/lib/core/endpoint-directory.ts';
import {
  IdempotencyKeyReusedError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  SchemaMismatchError,
  UnknownEventTypeError,
} from '../../../../functions/lib/core/errors.ts';
import { EventTypeCatalog } from '../../../../functions/lib/core/event-types.ts';
import {
  type IdGenerator,
  type IdKind,
  idempotentMessageId,
  messageSlot,
  timeOfId,
  ulidIdGenerator,
} from '../../../../functions/lib/core/ids.ts';
import { TenantIngestBudgets, TokenBucketBudget } from '../../../../functions/lib/core/ingest-budget.ts';
import {
  IDEMPOTENCY_WINDOW_SECONDS,
  MAX_PAYLOAD_BYTES,
  MessageService,
  requestFingerprint,
} from '../../../../functions/lib/core/messages.ts';
import type { Endpoint, EventType, JsonDocument, JsonObject, Message } from '../../../../functions/lib/core/model.ts';
import type {
  IdempotencyClaim,
  IngestBudget,
  KeyReuse,
  MessageCreateResult,
  PayloadSchemaValidator,
  SchemaIssue,
  StoredMessage,
} from '../../../../functions/lib/core/ports.ts';
import { TenantDirectory } from '../../../../functions/lib/core/tenants.ts';
import {
  aMessage,
  anEndpoint,
  FakeClock,
  InMemoryEndpointStore,
  InMemoryEventTypeStore,
  InMemoryMessageStore,
  InMemoryTenantStore,
  T0,
  TENANT,
} from './fakes.ts';

const OTHER = 'ten_01JN00000000000000000OTHER';
const DAY_MS = 86_400_000;

function anEventType(overrides: Partial<EventType> = {}): EventType {
  return {
    tenantId: TENANT,
    name: 'lock.unlocked',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-02T00:00:00.000Z',
    ...overrides,
  };
}

const lockSchema: JsonObject = { type: 'object', required: ['lockId'], properties: { lockId: { type: 'string' } } };

const all = anEndpoint({ id: 'ep_ALL' });
const locks = anEndpoint({ id: 'ep_LOCKS', eventTypes: ['lock.unlocked', 'lock.locked'] });
const users = anEndpoint({ id: 'ep_USERS', eventTypes: ['user.updated'] });
const paused = anEndpoint({ id: 'ep_PAUSED', disabled: true, disabledReason: 'by hand' });
const failing = anEndpoint({ id: 'ep_FAILING', failingSince: '2025-03-01T10:00:00.000Z', consecutiveFailures: 3 });
const theirs = anEndpoint({ id: 'ep_THEIRS', tenantId: OTHER });

interface Setup {
  readonly endpoints?: readonly Endpoint[];
  readonly eventTypes?: readonly EventType[];
  readonly messages?: readonly Message[];
  /** Per-tenant buckets, all tenants at `perSecond` (none of them has its own rate). */
  readonly budget?: { readonly buckets: IngestBudget; readonly perSecond: number };
  readonly ids?: IdGenerator;
  readonly issues?: readonly SchemaIssue[];
  readonly store?: ScriptedMessageStore;
}

/**
 * The fake message store, with hooks that run before a call reaches it: a test makes another
 * post's write land between two of this post's calls, or makes this post stop halfway.
 */
class ScriptedMessageStore extends InMemoryMessageStore {
  beforeCreate: ((message: Message, claim: IdempotencyClaim | undefined) => Promise<void>) | undefined;
  beforeReuse: ((holder: StoredMessage, reuse: KeyReuse, previous: KeyReuse | undefined) => Promise<void>) | undefined;

  override async create(message: Message, claim: IdempotencyClaim | undefined): Promise<MessageCreateResult> {
    await this.beforeCreate?.(message, claim);
    return super.create(message, claim);
  }

  override async reuseKey(holder: StoredMessage, reuse: KeyReuse, previous: KeyReuse | undefined): Promise<boolean> {
    await this.beforeReuse?.(holder, reuse, previous);
    return super.reuseKey(holder, reuse, previous);
  }
}

function setup(options: Setup = {}) {
  const clock = new FakeClock(T0);
  const messages = options.store ?? new ScriptedMessageStore(options.messages ?? []);
  const eventTypeStore = new InMemoryEventTypeStore(
    options.eventTypes ?? [anEventType(), anEventType({ name: 'user.updated' }), anEventType({ tenantId: OTHER })],
  );
  const endpointStore = new InMemoryEndpointStore(options.endpoints ?? []);
  // Every id the service draws, in order.
  const drawn: string[] = [];
  const generator = options.ids ?? ulidIdGenerator(() => clock.now().getTime());
  const draw = (kind: IdKind, at?: Date) => {
    const id = generator.next(kind, at);
    drawn.push(id);
    return id;
  };
  const validations: { cacheKey: string; schema: Record<string, unknown>; data: unknown }[] = [];
  const validator: PayloadSchemaValidator = {
    checkSchema: () => [],
    validate: (cacheKey, schema, data) => {
      validations.push({ cacheKey, schema, data });
      return options.issues ?? [];
    },
  };
  const service = new MessageService({
    messages,
    eventTypes: new EventTypeCatalog(eventTypeStore, clock, 0),
    validator,
    endpoints: new EndpointDirectory(endpointStore, clock, 0),
    clock,
    ids: { next: (kind, at) => draw(kind, at) },
    ...(options.budget && {
      budget: new TenantIngestBudgets(
        new TenantDirectory(new InMemoryTenantStore(), clock, 0),
        options.budget.buckets,
        options.budget.perSecond,
      ),
    }),
  });
  return { service, messages, eventTypeStore, endpointStore, validations, clock, drawn };
}

const hashOf = (key: string) => createHash('sha256').update(key).digest('base64url');
const payload = { lockId: 'L-1', at: '2025-03-01T11:59:00Z' };

/** A payload as the edge hands it over: its value, and its text (here the value serialised). */
function jsonDocument(value: JsonObject): JsonDocument {
  return { text: JSON.stringify(value), value };
}

describe('MessageService.ingest: accepting a message', () => {
  test('stores one message, the payload serialised once, with the endpoints subscribed to its type', async () => {
    const s = setup({ endpoints: [all, locks, users, paused, failing, theirs] });
    const result = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    expect(result.created).toBe(true);
    expect(result.message).toStrictEqual({
      id: expect.stringMatching(/^msg_[0-9A-HJKMNP-TV-Z]{26}$/),
      tenantId: TENANT,
      type: 'lock.unlocked',
      payloadJson: JSON.stringify(payload),
      createdAt: T0.toISOString(),
      // Disabled and failing endpoints are targets too: their first attempts pause or wait on the retry lane.
      endpointIds: [all.id, locks.id, paused.id, failing.id],
    });
    expect(timeOfId(result.message.id)).toEqual(T0);
    expect(s.messages.messages.get(result.message.id)).toStrictEqual(result.message);
    // One conditional write, with no idempotency claim.
    expect(s.messages.createCalls).toEqual([{ message: result.message, claim: undefined }]);
  });

  test('a message no endpoint subscribes to is stored without endpointIds', async () => {
    const s = setup({ endpoints: [users, theirs] });
    const { message, created } = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    expect(created).toBe(true);
    expect(message).not.toHaveProperty('endpointIds');
    expect(message).not.toHaveProperty('attemptedInline');
    expect(s.messages.messages.get(message.id)).toStrictEqual(message);
  });

  test('an endpoint with an empty list of types gets nothing', async () => {
    const s = setup({ endpoints: [anEndpoint({ id: 'ep_NONE', eventTypes: [] }), locks] });
    const { message } = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    expect(message.endpointIds).toEqual([locks.id]);
  });

  test('every post without a key is a new message', async () => {
    const s = setup({ endpoints: [all] });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    const second = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    expect(first.message.id).not.toBe(second.message.id);
    expect(second.created).toBe(true);
    expect(s.messages.messages.size).toBe(2);
  });

  test('a drawn id whose slot is taken (a random-id collision) is replaced by the next one', async () => {
    const held = aMessage({ id: `msg_${encodeTime(T0.getTime() - DAY_MS, 10)}AAAAAAAAAAAAAAAA`, tenantId: OTHER });
    const fresh = `msg_${encodeTime(T0.getTime(), 10)}BBBBBBBBBBBBBBBB`;
    const drawn = [`msg_${encodeTime(T0.getTime(), 10)}AAAAAAAAAAAAAAAA`, fresh];
    const s = setup({ messages: [held], ids: { next: () => drawn.shift() ?? 'msg_EXHAUSTED' } });
    const { message, created } = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    expect(created).toBe(true);
    expect(message.id).toBe(fresh);
    expect(s.messages.createCalls.map((c) => c.message.id)).toEqual([`msg_${encodeTime(T0.getTime(), 10)}AAAAAAAAAAAAAAAA`, fresh]);
    expect(s.messages.messages.get(held.id)).toStrictEqual(held);
  });
});

describe('MessageService.ingest: what is refused', () => {
  test('an undeclared type, or one declared by another tenant only, is an unknown type; nothing is stored', async () => {
    const s = setup({ endpoints: [all], eventTypes: [anEventType({ tenantId: OTHER, name: 'theirs.only' })] });
    await expect(s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload))).rejects.toBeInstanceOf(UnknownEventTypeError);
    await expect(s.service.ingest(TENANT, 'theirs.only', jsonDocument(payload))).rejects.toThrow(
      "event type 'theirs.only' is not declared",
    );
    expect(s.messages.createCalls).toEqual([]);
  });

  test("a payload is validated against the type's schema, keyed by tenant, type and version", async () => {
    const s = setup({ eventTypes: [anEventType({ schema: lockSchema })] });
    await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    expect(s.validations).toEqual([{ cacheKey: `${TENANT}/lock.unlocked@2025-01-02T00:00:00.000Z`, schema: lockSchema, data: payload }]);
    expect(s.messages.messages.size).toBe(1);
  });

  test('a payload that does not match is refused with the issues; nothing is stored', async () => {
    const issues = [{ path: '/lockId', message: 'must be string' }];
    const s = setup({ eventTypes: [anEventType({ schema: lockSchema })], issues, endpoints: [all] });
    const error = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument({ lockId: 7 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaMismatchError);
    expect(error).toMatchObject({
      code: 'schema_mismatch',
      details: issues,
      message: "payload does not match the schema of 'lock.unlocked'",
    });
    expect(s.messages.createCalls).toEqual([]);
  });

  test('a type without a schema accepts any object, without a validation', async () => {
    const s = setup({ issues: [{ path: '', message: 'would fail' }] });
    const { created } = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument({ anything: [1, 2, 3] }));
    expect(created).toBe(true);
    expect(s.validations).toEqual([]);
  });

  test('a payload of exactly 256 KiB is accepted; one byte more is too large', async () => {
    expect(MAX_PAYLOAD_BYTES).toBe(256 * 1024);
    const s = setup();
    // {"d":"…"} is 8 bytes around the string.
    const atLimit = { d: 'x'.repeat(MAX_PAYLOAD_BYTES - 8) };
    expect(Buffer.byteLength(JSON.stringify(atLimit))).toBe(MAX_PAYLOAD_BYTES);
    expect((await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(atLimit))).created).toBe(true);
    const over = { d: 'x'.repeat(MAX_PAYLOAD_BYTES - 7) };
    await expect(s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(over))).rejects.toThrow(
      `payload is ${MAX_PAYLOAD_BYTES + 1} bytes; the limit is ${MAX_PAYLOAD_BYTES} bytes (256 KiB)`,
    );
    expect(s.messages.messages.size).toBe(1);
  });

  test('the limit counts UTF-8 bytes, not characters', async () => {
    const s = setup();
    const wide = { d: 'é'.repeat((MAX_PAYLOAD_BYTES - 8) / 2 + 1) };
    expect(JSON.stringify(wide).length).toBeLessThan(MAX_PAYLOAD_BYTES);
    await expect(s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(wide))).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(s.messages.createCalls).toEqual([]);
  });

  test('an oversized payload is refused before its type is looked up', async () => {
    const s = setup({ eventTypes: [] });
    await expect(s.service.ingest(TENANT, 'nope', jsonDocument({ d: 'x'.repeat(MAX_PAYLOAD_BYTES) }))).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );
  });
});

describe('MessageService.ingest: the per-tenant budget', () => {
  test('over budget: RateLimitedError with the seconds to wait, before any other check; nothing is stored', async () => {
    const s = setup({ budget: { buckets: new TokenBucketBudget(new FakeClock(T0)), perSecond: 0.4 }, eventTypes: [anEventType()] });
    await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    // Refused before anything else: even an unknown type gets the 429.
    const error = await s.service.ingest(TENANT, 'not.declared', jsonDocument(payload)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    // One token at 0.4 a second: 2.5 s, rounded up for Retry-After.
    expect(error).toMatchObject({ code: 'rate_limited', retryAfterSeconds: 3 });
    // Whole seconds in the message too, as in Retry-After.
    expect((error as Error).message).toBe('this tenant is over its ingest budget; retry in 3 s');
    expect(s.messages.messages.size).toBe(1);
  });

  test("one tenant's flood leaves another tenant's budget alone", async () => {
    const s = setup({ budget: { buckets: new TokenBucketBudget(new FakeClock(T0)), perSecond: 1 } });
    await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    await expect(s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload))).rejects.toBeInstanceOf(RateLimitedError);
    expect((await s.service.ingest(OTHER, 'lock.unlocked', jsonDocument(payload))).created).toBe(true);
  });

  test("the budget is asked for the posting tenant, and a fractional wait becomes at least a second's Retry-After", async () => {
    const asked: string[] = [];
    const budget: IngestBudget = {
      take: (tenantId) => {
        asked.push(tenantId);
        return asked.length === 1 ? { ok: true } : { ok: false, retryAfterSeconds: 0.2 };
      },
    };
    const s = setup({ budget: { buckets: budget, perSecond: 10 } });
    await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    await expect(s.service.ingest(OTHER, 'lock.unlocked', jsonDocument(payload))).rejects.toMatchObject({
      retryAfterSeconds: 1,
      message: 'this tenant is over its ingest budget; retry in 1 s',
    });
    expect(asked).toEqual([TENANT, OTHER]);
  });

  test('without a budget there is no per-tenant limit', async () => {
    const s = setup();
    for (let i = 0; i < 50; i++) await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    expect(s.messages.messages.size).toBe(50);
  });
});

describe('MessageService.ingest: endpoint filters and metadata', () => {
  const rich = { amount: 250, customer: { plan: 'pro' }, tags: ['vip'] };

  test('a filter is evaluated after the event types: an endpoint it turns away is no target, and nothing more is read or written', async () => {
    const bigOrders = anEndpoint({ id: 'ep_BIG', filter: { 'data.amount': { $gte: 100 } } });
    const smallOrders = anEndpoint({ id: 'ep_SMALL', filter: { 'data.amount': { $lt: 100 } } });
    const pro = anEndpoint({ id: 'ep_PRO', filter: { data: { customer: { plan: 'pro' } } } });
    const eu = anEndpoint({ id: 'ep_EU', filter: { 'metadata.region': { $startsWith: 'eu-' } } });
    // Subscribed to another type: its filter would hold, but the type comes first.
    const usersOnly = anEndpoint({ id: 'ep_USERS', eventTypes: ['user.created'], filter: { 'data.amount': { $gt: 0 } } });
    const s = setup({ endpoints: [bigOrders, smallOrders, pro, eu, usersOnly] });
    const listsBefore = s.endpointStore.listCalls;
    const { message } = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(rich), { metadata: { region: 'eu-west-1' } });
    expect(message.endpointIds).toEqual(['ep_BIG', 'ep_PRO', 'ep_EU']);
    expect(message.metadata).toEqual({ region: 'eu-west-1' });
    expect(s.endpointStore.listCalls - listsBefore).toBe(1);
    expect(s.messages.createCalls).toHaveLength(1);
  });

  test('a message every filter turns away is stored with no target', async () => {
    const s = setup({ endpoints: [anEndpoint({ id: 'ep_F', filter: { 'data.amount': { $gt: 1000 } } })] });
    const { message } = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(rich));
    expect(message).not.toHaveProperty('endpointIds');
    expect(message).not.toHaveProperty('metadata');
  });

  test('a repeat of a key with other metadata is another request (422); with the same metadata, a replay', async () => {
    const s = setup({ endpoints: [all] });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(rich), {
      idempotencyKey: 'k-1',
      metadata: { region: 'eu', tier: 'a' },
    });
    const again = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(rich), {
      idempotencyKey: 'k-1',
      metadata: { tier: 'a', region: 'eu' },
    });
    expect(again).toEqual({ message: first.message, created: false });
    await expect(
      s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(rich), { idempotencyKey: 'k-1', metadata: { region: 'us' } }),
    ).rejects.toThrow(IdempotencyKeyReusedError);
  });
});

describe('MessageService.ingest: idempotency keys', () => {
  const KEY = 'order-42';
  const WINDOW_MS = IDEMPOTENCY_WINDOW_SECONDS * 1000;
  const later = (ms: number) => new Date(T0.getTime() + ms).toISOString();

  test('the key is kept as base64url SHA-256, and names the slot of the message', async () => {
    const s = setup({ endpoints: [all] });
    const { message } = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    const keyHash = createHash('sha256').update(KEY, 'utf8').digest('base64url');
    expect(keyHash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.messages.createCalls).toEqual([{ message, claim: { keyHash } }]);
    expect(message.id).toBe(idempotentMessageId(TENANT, keyHash, T0));
    expect(timeOfId(message.id)).toEqual(T0);
    expect(message.endpointIds).toEqual([all.id]);
    // The first post holds the slot, with its claim and no pointer; no id was drawn.
    expect(s.messages.slotOf(message.id)).toStrictEqual({ ...message, idempotencyKeyHash: keyHash });
    expect(s.drawn).toEqual([]);
    expect(s.messages.reuseCalls).toEqual([]);
    // The key itself is stored nowhere.
    expect(JSON.stringify(s.messages.createCalls)).not.toContain(KEY);
  });

  test('the same key within 24 h returns the first message, created: false, with one conditional write that stores nothing', async () => {
    const s = setup({ endpoints: [all] });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    s.clock.advance(WINDOW_MS - 1);
    // The same request again: the first message stands.
    const repeat = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(repeat.created).toBe(false);
    expect(repeat.message).toStrictEqual(first.message);
    expect(repeat.message).not.toHaveProperty('idempotencyKeyHash');
    expect(s.messages.messages.size).toBe(1);
    // The repeat tried the same slot, with the same claim, and was answered with the first message.
    expect(s.messages.createCalls).toHaveLength(2);
    expect(s.messages.createCalls.map((c) => messageSlot(c.message.id))).toEqual([
      messageSlot(first.message.id),
      messageSlot(first.message.id),
    ]);
    expect(s.messages.createCalls[1]?.message.id).toBe(idempotentMessageId(TENANT, hashOf(KEY), s.clock.now()));
    expect(s.messages.createCalls[1]?.claim).toEqual({ keyHash: hashOf(KEY) });
    // Nothing else: no pointer, no id drawn, the holder unchanged.
    expect(s.messages.reuseCalls).toEqual([]);
    expect(s.drawn).toEqual([]);
    expect(s.messages.slotOf(first.message.id)).toStrictEqual({ ...first.message, idempotencyKeyHash: hashOf(KEY) });
  });

  test('the holder is returned as a message: without its claim or its pointer', async () => {
    const s = setup();
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    const holder = s.messages.slotOf(first.message.id);
    if (!holder) throw new Error('no holder');
    const pointer: KeyReuse = { messageId: 'msg_01JN0000000000000000POINT', createdAt: later(0), windowEndsAt: later(WINDOW_MS) };
    await s.messages.reuseKey(holder, pointer, undefined);
    const repeat = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(repeat).toStrictEqual({ message: first.message, created: false });
  });

  test('a different tenant with the same key gets its own message', async () => {
    const s = setup();
    const ours = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    const other = await s.service.ingest(OTHER, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(other.created).toBe(true);
    expect(other.message.tenantId).toBe(OTHER);
    expect(other.message.id).toBe(idempotentMessageId(OTHER, hashOf(KEY), T0));
    expect(messageSlot(other.message.id)).not.toBe(messageSlot(ours.message.id));
    expect(s.messages.messages.size).toBe(2);
    // Each holds its own slot; a repeat of each finds its own.
    expect(await s.service.ingest(OTHER, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY })).toEqual({
      message: other.message,
      created: false,
    });
    expect(await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY })).toEqual({
      message: ours.message,
      created: false,
    });
    expect(s.messages.reuseCalls).toEqual([]);
  });

  test('different keys of one tenant are different messages', async () => {
    const s = setup();
    const a = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: 'a' });
    const b = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: 'b' });
    expect(b.created).toBe(true);
    expect(b.message.id).not.toBe(a.message.id);
    expect(messageSlot(b.message.id)).not.toBe(messageSlot(a.message.id));
  });

  test('a key reused 24 h later makes a new message under a drawn id; the old one is kept and its holder points at the new one', async () => {
    const s = setup({ endpoints: [all] });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    s.clock.advance(WINDOW_MS);
    const now = s.clock.now();
    const second = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(second.created).toBe(true);
    // A drawn id, not one in the key's slot.
    expect(s.drawn).toEqual([second.message.id]);
    expect(second.message.id).toMatch(/^msg_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(messageSlot(second.message.id)).not.toBe(messageSlot(first.message.id));
    expect(timeOfId(second.message.id)).toEqual(now);
    expect(second.message).toStrictEqual({
      id: second.message.id,
      tenantId: TENANT,
      type: 'lock.unlocked',
      payloadJson: JSON.stringify(payload),
      createdAt: now.toISOString(),
      endpointIds: [all.id],
    });
    expect(s.messages.messages.get(first.message.id)).toStrictEqual(first.message);
    expect(s.messages.messages.get(second.message.id)).toStrictEqual(second.message);
    expect(s.messages.messages.size).toBe(2);

    // The holder now points at it, for the new message's 24 h (the adapter keeps the holder that long).
    const pointer: KeyReuse = { messageId: second.message.id, createdAt: now.toISOString(), windowEndsAt: later(2 * WINDOW_MS) };
    expect(s.messages.reuseCalls).toEqual([{ holder: first.message.id, reuse: pointer, previous: undefined }]);
    expect(s.messages.slotOf(first.message.id)).toStrictEqual({ ...first.message, idempotencyKeyHash: hashOf(KEY), keyReuse: pointer });
    // Writes: the claim attempt in the slot (refused), then the new message, without a claim.
    expect(s.messages.createCalls.slice(1).map((c) => [c.message.id, c.claim])).toEqual([
      [idempotentMessageId(TENANT, hashOf(KEY), now), { keyHash: hashOf(KEY) }],
      [second.message.id, undefined],
    ]);
    // The new message is not listed under its key anywhere but the pointer: its own slot holds no claim.
    expect(s.messages.slotOf(second.message.id)).toStrictEqual(second.message);
  });

  test('a repeat within the new window returns the reused message, up to the last millisecond, and writes nothing', async () => {
    const s = setup({ endpoints: [all] });
    await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    s.clock.advance(WINDOW_MS);
    const second = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    const writes = s.messages.createCalls.length;

    s.clock.advance(3_600_000);
    const repeat = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(repeat).toStrictEqual({ message: second.message, created: false });
    s.clock.advance(WINDOW_MS - 3_600_000 - 1);
    const last = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(last).toStrictEqual({ message: second.message, created: false });

    // Each repeat: one refused claim attempt; no pointer moved, no id drawn, nothing stored.
    expect(s.messages.createCalls).toHaveLength(writes + 2);
    expect(s.messages.createCalls.slice(writes).every((c) => c.claim?.keyHash === hashOf(KEY))).toBe(true);
    expect(s.messages.reuseCalls).toHaveLength(1);
    expect(s.drawn).toEqual([second.message.id]);
    expect(s.messages.messages.size).toBe(2);
  });

  test('a third use after the new window ends moves the pointer, from the old pointer', async () => {
    const s = setup({ endpoints: [all] });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    s.clock.advance(WINDOW_MS);
    const second = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    const oldPointer = s.messages.reuseCalls[0]?.reuse;
    expect(oldPointer?.messageId).toBe(second.message.id);

    // Exactly 24 h after the second message: its window is over.
    s.clock.advance(WINDOW_MS);
    const third = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(third.created).toBe(true);
    expect(third.message).toMatchObject({ createdAt: later(2 * WINDOW_MS), payloadJson: JSON.stringify(payload) });
    expect(s.drawn).toEqual([second.message.id, third.message.id]);
    const newPointer: KeyReuse = { messageId: third.message.id, createdAt: later(2 * WINDOW_MS), windowEndsAt: later(3 * WINDOW_MS) };
    expect(s.messages.reuseCalls[1]).toEqual({ holder: first.message.id, reuse: newPointer, previous: oldPointer });
    expect(s.messages.slotOf(first.message.id)?.keyReuse).toEqual(newPointer);
    // All three are kept.
    expect([...s.messages.messages.keys()].sort()).toEqual([first.message.id, second.message.id, third.message.id].sort());
    expect(s.messages.messages.get(second.message.id)).toStrictEqual(second.message);

    // A repeat now finds the third.
    s.clock.advance(1000);
    expect(await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY })).toStrictEqual({
      message: third.message,
      created: false,
    });
  });

  test('a key reused every day for 60 days keeps working, with the same writes per post (generations ran out after 16)', async () => {
    const s = setup({ endpoints: [all] });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    const ids = new Set([first.message.id]);
    let previous: KeyReuse | undefined;
    for (let day = 1; day <= 60; day++) {
      // To exactly 24 h after the previous post (the repeat below stood a minute later).
      s.clock.advance(day === 1 ? WINDOW_MS : WINDOW_MS - 60_000);
      const writes = s.messages.createCalls.length;
      const reuses = s.messages.reuseCalls.length;
      const post = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
      expect(post.created).toBe(true);
      expect(ids.has(post.message.id)).toBe(false);
      ids.add(post.message.id);
      // A refused claim attempt, one pointer move, one new message: every day alike.
      expect(s.messages.createCalls.length - writes).toBe(2);
      expect(s.messages.reuseCalls.length - reuses).toBe(1);
      const reuse = s.messages.reuseCalls.at(-1);
      expect(reuse).toEqual({
        holder: first.message.id,
        reuse: { messageId: post.message.id, createdAt: s.clock.now().toISOString(), windowEndsAt: later((day + 1) * WINDOW_MS) },
        previous,
      });
      previous = reuse?.reuse;

      // And the key still answers repeats within the day: one refused write, nothing else.
      s.clock.advance(60_000);
      const repeat = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
      expect(repeat).toStrictEqual({ message: post.message, created: false });
      expect(s.messages.createCalls.length - writes).toBe(3);
      expect(s.messages.reuseCalls.length - reuses).toBe(1);
    }
    expect(s.messages.messages.size).toBe(61);
    expect(s.drawn).toHaveLength(60);
    expect(s.messages.slotOf(first.message.id)?.keyReuse).toEqual(previous);
  });

  test("once the holder is gone (TTL, after the pointer's window), the next post is a fresh holder of the slot", async () => {
    const s = setup({ endpoints: [all] });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    s.clock.advance(WINDOW_MS);
    const second = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    // The adapter keeps the holder until the pointer's window ends (windowEndsAt), so it can only
    // go after that: then the key is free, as for a key never used.
    s.clock.advance(WINDOW_MS);
    expect(s.messages.slotOf(first.message.id)?.keyReuse?.windowEndsAt).toBe(s.clock.now().toISOString());
    s.messages.expire(first.message.id);
    const now = s.clock.now();
    const third = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(third.created).toBe(true);
    expect(third.message.id).toBe(idempotentMessageId(TENANT, hashOf(KEY), now));
    expect(s.messages.createCalls.at(-1)).toEqual({ message: third.message, claim: { keyHash: hashOf(KEY) } });
    expect(s.messages.slotOf(third.message.id)).toStrictEqual({ ...third.message, idempotencyKeyHash: hashOf(KEY) });
    // No pointer moved and no id drawn for it.
    expect(s.messages.reuseCalls).toHaveLength(1);
    expect(s.drawn).toEqual([second.message.id]);
    expect(s.messages.messages.get(second.message.id)).toStrictEqual(second.message);
    // It holds the key for its own 24 h.
    s.clock.advance(WINDOW_MS - 1);
    expect(await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY })).toStrictEqual({
      message: third.message,
      created: false,
    });
  });

  test("a post that stopped after the pointer and before its message: a repeat stores it under the pointer's id and time", async () => {
    const store = new ScriptedMessageStore();
    const s = setup({ endpoints: [all], store });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    s.clock.advance(WINDOW_MS);
    const reusedAt = s.clock.now().toISOString();
    // The unclaimed write of the new message never happens: the function stops.
    store.beforeCreate = async (_message, claim) => {
      if (claim) return;
      store.beforeCreate = undefined;
      throw new Error('the function timed out');
    };
    await expect(s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY })).rejects.toThrow(
      'the function timed out',
    );
    const pointer = s.messages.slotOf(first.message.id)?.keyReuse;
    expect(pointer).toEqual({ messageId: s.drawn[0], createdAt: reusedAt, windowEndsAt: later(2 * WINDOW_MS) });
    expect(s.messages.messages.size).toBe(1);

    // The client retries an hour later: the message is stored as the stopped post would have.
    s.clock.advance(3_600_000);
    const retry = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(retry.created).toBe(true);
    expect(retry.message).toStrictEqual({
      id: s.drawn[0],
      tenantId: TENANT,
      type: 'lock.unlocked',
      payloadJson: JSON.stringify(payload),
      createdAt: reusedAt,
      endpointIds: [all.id],
    });
    expect(s.messages.createCalls.at(-1)).toEqual({ message: retry.message, claim: undefined });
    expect(s.messages.messages.get(retry.message.id)).toStrictEqual(retry.message);
    // No new id and no pointer move: the pointer already names it.
    expect(s.drawn).toHaveLength(1);
    expect(s.messages.reuseCalls).toHaveLength(1);
    expect(s.messages.slotOf(first.message.id)?.keyReuse).toEqual(pointer);

    // From then on it is an ordinary repeat.
    s.clock.advance(1000);
    expect(await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY })).toStrictEqual({
      message: retry.message,
      created: false,
    });
    expect(s.messages.messages.size).toBe(2);
  });

  test("a reuse whose drawn id lands in another message's slot: the key is pointed at a new id, not stuck", async () => {
    // The first id drawn (for the reuse, a day on) shares its slot (random half) with a message already stored.
    const collidingSlot = 'Q'.repeat(16);
    const colliding = aMessage({ id: `msg_${encodeTime(T0.getTime() - 1000, 10)}${collidingSlot}` });
    const draws = [`msg_${encodeTime(T0.getTime() + WINDOW_MS, 10)}${collidingSlot}`];
    const ordinary = ulidIdGenerator(() => T0.getTime() + WINDOW_MS);
    const s = setup({ endpoints: [all], messages: [colliding], ids: { next: (kind) => draws.shift() ?? ordinary.next(kind) } });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    s.clock.advance(WINDOW_MS);
    const reused = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(reused.created).toBe(true);
    expect(reused.message.id.endsWith(collidingSlot)).toBe(false);
    // The holder points at the message actually stored, and a repeat finds it.
    expect(s.messages.slotOf(first.message.id)?.keyReuse?.messageId).toBe(reused.message.id);
    s.clock.advance(1000);
    expect(await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY })).toStrictEqual({
      message: reused.message,
      created: false,
    });
    // The unrelated message is untouched.
    expect(s.messages.messages.get(colliding.id)).toStrictEqual(colliding);
  });

  test('two repeats recovering the same missing message: one stores it, the other returns it', async () => {
    const store = new ScriptedMessageStore();
    const s = setup({ store });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    s.clock.advance(WINDOW_MS);
    store.beforeCreate = async (_message, claim) => {
      if (claim) return;
      store.beforeCreate = undefined;
      throw new Error('the function timed out');
    };
    await expect(s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY })).rejects.toThrow(
      'the function timed out',
    );
    const pointer = s.messages.slotOf(first.message.id)?.keyReuse;
    if (!pointer) throw new Error('no pointer');

    // Our repeat finds the pointed-at message missing; another repeat stores it just before our write.
    const theirs = aMessage({ id: pointer.messageId, createdAt: pointer.createdAt, payloadJson: JSON.stringify(payload) });
    store.beforeCreate = async (message, claim) => {
      if (claim) return;
      store.beforeCreate = undefined;
      expect(message).toMatchObject({ id: pointer.messageId, createdAt: pointer.createdAt, payloadJson: JSON.stringify(payload) });
      expect(await store.create(theirs, undefined)).toEqual({ created: true });
    };
    const repeat = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(repeat).toStrictEqual({ message: theirs, created: false });
    expect(s.messages.messages.size).toBe(2);
    expect(s.messages.messages.get(pointer.messageId)).toStrictEqual(theirs);
    expect(s.drawn).toHaveLength(1);
  });

  test("two posts reusing the key at once: the one whose pointer loses returns the winner's message; one new message only", async () => {
    const store = new ScriptedMessageStore();
    const s = setup({ endpoints: [all], store });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    s.clock.advance(WINDOW_MS);
    const now = s.clock.now().toISOString();
    // Between our read of the holder and our pointer write, another post points it at its own message and stores it.
    const winner = aMessage({ id: 'msg_01JN000000000000000WINNER', createdAt: now, payloadJson: JSON.stringify(payload) });
    const theirPointer: KeyReuse = { messageId: winner.id, createdAt: now, windowEndsAt: later(2 * WINDOW_MS) };
    store.beforeReuse = async (holder, _reuse, previous) => {
      store.beforeReuse = undefined;
      expect(await store.reuseKey(holder, theirPointer, previous)).toBe(true);
      expect(await store.create(winner, undefined)).toEqual({ created: true });
    };
    const ours = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(ours).toStrictEqual({ message: winner, created: false });
    // Our pointer write was refused (the holder no longer pointed nowhere), and our drawn id was never stored.
    expect(s.messages.reuseCalls).toEqual([
      { holder: first.message.id, reuse: theirPointer, previous: undefined },
      {
        holder: first.message.id,
        reuse: { messageId: s.drawn[0], createdAt: now, windowEndsAt: later(2 * WINDOW_MS) },
        previous: undefined,
      },
    ]);
    expect(s.messages.slotOf(first.message.id)?.keyReuse).toEqual(theirPointer);
    expect(s.messages.messages.has(s.drawn[0] ?? '')).toBe(false);
    expect([...s.messages.messages.keys()].sort()).toEqual([first.message.id, winner.id].sort());
  });

  test("the loser of the pointer race stores the winner's message when the winner has not yet: still one message", async () => {
    const store = new ScriptedMessageStore();
    const s = setup({ store });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    s.clock.advance(WINDOW_MS);
    const now = s.clock.now().toISOString();
    const theirPointer: KeyReuse = { messageId: 'msg_01JN000000000000000WINNER', createdAt: now, windowEndsAt: later(2 * WINDOW_MS) };
    store.beforeReuse = async (holder, _reuse, previous) => {
      store.beforeReuse = undefined;
      await store.reuseKey(holder, theirPointer, previous);
    };
    const ours = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(ours.created).toBe(true);
    expect(ours.message).toMatchObject({ id: theirPointer.messageId, createdAt: now, payloadJson: JSON.stringify(payload) });
    // The winner's own write then finds its id taken by the same message: nothing doubles.
    expect(await store.create(aMessage({ id: theirPointer.messageId, createdAt: now }), undefined)).toMatchObject({ created: false });
    expect(s.messages.messages.size).toBe(2);
    expect(s.messages.slotOf(first.message.id)?.keyReuse).toEqual(theirPointer);
  });

  test('two posts of the key after the window, concurrently: one creates, the other gets the same message', async () => {
    const s = setup({ endpoints: [all] });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    s.clock.advance(WINDOW_MS);
    const [a, b] = await Promise.all([
      s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY }),
      s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY }),
    ]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(a.message).toStrictEqual(b.message);
    expect(s.messages.messages.size).toBe(2);
    expect(s.messages.slotOf(first.message.id)?.keyReuse?.messageId).toBe(a.message.id);
    // They did race: both drew an id and wrote a pointer from the same state; one of the writes lost.
    expect(s.drawn).toHaveLength(2);
    expect(s.messages.reuseCalls.map((c) => c.previous)).toEqual([undefined, undefined]);
    expect(s.drawn).toContain(a.message.id);
  });

  test('when every pointer write loses, the post fails after a few rounds rather than store a second message', async () => {
    const store = new ScriptedMessageStore();
    const s = setup({ store });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    s.clock.advance(WINDOW_MS);
    // Always beaten: some other post keeps moving the pointer to a message whose window is already over.
    let n = 0;
    store.beforeReuse = async (holder) => {
      const current = store.slotOf(holder.id)?.keyReuse;
      const stale: KeyReuse = { messageId: `msg_01JN00000000000000000OLD0${n++}`, createdAt: later(-WINDOW_MS), windowEndsAt: later(0) };
      const hook = store.beforeReuse;
      store.beforeReuse = undefined;
      await store.reuseKey(holder, stale, current);
      store.beforeReuse = hook;
    };
    await expect(s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY })).rejects.toThrow(
      `the idempotency key of tenant ${TENANT} is contended; retry the post`,
    );
    // Four rounds: four refused claim attempts, four lost pointer writes; nothing stored.
    expect(s.messages.createCalls.slice(1).map((c) => c.claim)).toEqual(Array(4).fill({ keyHash: hashOf(KEY) }));
    expect(s.drawn).toHaveLength(4);
    expect(s.messages.messages.size).toBe(1);
    expect(s.messages.messages.get(first.message.id)).toStrictEqual(first.message);
  });

  test('a slot held by an unrelated message (a random id with the same random half): the post is stored under a drawn id', async () => {
    const slot = messageSlot(idempotentMessageId(TENANT, hashOf(KEY), T0));
    // Drawn without a key, two days ago, by the same tenant: it holds the slot but is no claim of the key.
    const unrelated = aMessage({ id: `msg_${encodeTime(T0.getTime() - 2 * DAY_MS, 10)}${slot}`, createdAt: '2025-02-27T12:00:00.000Z' });
    const s = setup({ messages: [unrelated] });
    const { message, created } = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(created).toBe(true);
    expect(s.drawn).toEqual([message.id]);
    expect(messageSlot(message.id)).not.toBe(slot);
    expect(s.messages.createCalls.map((c) => [c.message.id, c.claim])).toEqual([
      [idempotentMessageId(TENANT, hashOf(KEY), T0), { keyHash: hashOf(KEY) }],
      [message.id, undefined],
    ]);
    expect(s.messages.messages.get(unrelated.id)).toStrictEqual(unrelated);
    expect(s.messages.slotOf(unrelated.id)).toStrictEqual(unrelated);
    expect(s.messages.reuseCalls).toEqual([]);
    // The key cannot be kept: a repeat is another message.
    const repeat = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    expect(repeat.created).toBe(true);
    expect(repeat.message.id).not.toBe(message.id);
    expect(s.messages.messages.size).toBe(3);
  });

  test('a recent message in the slot is no claim unless it is the same tenant and the same key', async () => {
    const keyHash = hashOf(KEY);
    const slotId = idempotentMessageId(TENANT, keyHash, T0);
    const heldBy = async (holder: Message, claim: IdempotencyClaim) => {
      const s = setup();
      await s.messages.create(holder, claim);
      const { message, created } = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
      expect(created).toBe(true);
      expect(s.drawn).toEqual([message.id]);
      expect(message.tenantId).toBe(TENANT);
      expect(s.messages.slotOf(slotId)).toStrictEqual({ ...holder, idempotencyKeyHash: claim.keyHash });
      expect(s.messages.reuseCalls).toEqual([]);
    };
    // Within the window, but another tenant's claim of the same hash in this slot…
    await heldBy(aMessage({ id: slotId, tenantId: OTHER, createdAt: T0.toISOString() }), { keyHash });
    // …or this tenant's claim of another key.
    await heldBy(aMessage({ id: slotId, createdAt: T0.toISOString() }), { keyHash: hashOf('another key') });
  });

  test('without a key, when every drawn id finds its slot taken, the post fails rather than overwrite', async () => {
    const taken = Array.from({ length: 4 }, (_, i) => aMessage({ id: `msg_${encodeTime(T0.getTime() - DAY_MS, 10)}AAAAAAAAAAAAAAA${i}` }));
    const drawn = taken.map((m) => `msg_${encodeTime(T0.getTime(), 10)}${messageSlot(m.id)}`);
    const s = setup({ messages: taken, ids: { next: () => drawn.shift() ?? 'msg_EXHAUSTED' } });
    await expect(s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload))).rejects.toThrow('no free ledger slot for a new message');
    expect(s.messages.createCalls).toHaveLength(4);
    expect(s.messages.messages.size).toBe(4);
    for (const m of taken) expect(s.messages.messages.get(m.id)).toStrictEqual(m);
  });
});

describe('MessageService.ingest: a key used again for a different request', () => {
  const KEY = 'order-43';
  test('a different payload or type within the window is refused with 422, naming the first request', async () => {
    const s = setup({ endpoints: [all] });
    const first = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload), { idempotencyKey: KEY });
    for (const [type, body] of [
      ['lock.unlocked', { ...payload, lockId: 'L-2' }],
      ['user.updated', payload],
    ] as const) {
      const error = await s.service.ingest(TENANT, type, jsonDocument(body), { idempotencyKey: KEY }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IdempotencyKeyReusedError);
      expect((error as IdempotencyKeyReusedError).message).toContain(first.message.id);
      expect((error as IdempotencyKeyReusedError).details).toEqual([
        {
          path: 'idempotency-key',
          message: `first used for a request with fingerprint ${requestFingerprint('lock.unlocked', JSON.stringify(payload))}`,
        },
      ]);
    }
    expect(s.messages.messages.size).toBe(1);
  });

  test('the same payload with other whitespace is a different request: the text is what is sent', async () => {
    const s = setup({ endpoints: [all] });
    await s.service.ingest(TENANT, 'lock.unlocked', { text: '{"a":1}', value: { a: 1 } }, { idempotencyKey: KEY });
    await expect(
      s.service.ingest(TENANT, 'lock.unlocked', { text: '{ "a": 1 }', value: { a: 1 } }, { idempotencyKey: KEY }),
    ).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });
});

describe('MessageService.publish', () => {
  test('stores a message for exactly the endpoints given, whatever their subscriptions', async () => {
    const device = anEndpoint({ id: 'ep_DEVICE', eventTypes: ['lock.locked'], deviceId: 'dev-1' });
    const s = setup({ eventTypes: [] });
    const { message, created } = await s.service.publish({
      tenantId: TENANT,
      type: 'device.command',
      payloadJson: '{"action":"restart_device"}',
      endpoints: [device, users],
    });
    expect(created).toBe(true);
    expect(message).toStrictEqual({
      id: expect.stringMatching(/^msg_/),
      tenantId: TENANT,
      type: 'device.command',
      payloadJson: '{"action":"restart_device"}',
      createdAt: T0.toISOString(),
      endpointIds: [device.id, users.id],
    });
    expect(s.messages.messages.get(message.id)).toStrictEqual(message);
  });

  test('attemptedInline is recorded when the caller attempts the message itself, absent otherwise', async () => {
    const s = setup();
    const inline = await s.service.publish({
      tenantId: TENANT,
      type: 'sluice.ping',
      payloadJson: '{}',
      endpoints: [all],
      attemptedInline: true,
    });
    const plain = await s.service.publish({
      tenantId: TENANT,
      type: 'sluice.ping',
      payloadJson: '{}',
      endpoints: [all],
      attemptedInline: false,
    });
    expect(inline.message.attemptedInline).toBe(true);
    expect(s.messages.messages.get(inline.message.id)?.attemptedInline).toBe(true);
    expect(plain.message).not.toHaveProperty('attemptedInline');
  });

  test('no endpoints: no endpointIds', async () => {
    const s = setup();
    const { message } = await s.service.publish({ tenantId: TENANT, type: 'x.y', payloadJson: '{}', endpoints: [] });
    expect(message).not.toHaveProperty('endpointIds');
  });

  test('an idempotency key works as it does for ingest', async () => {
    const s = setup();
    const request = { tenantId: TENANT, type: 'device.command', payloadJson: '{}', endpoints: [all], idempotencyKey: 'k' };
    const first = await s.service.publish(request);
    const again = await s.service.publish(request);
    expect(first.message.id).toBe(idempotentMessageId(TENANT, hashOf('k'), T0));
    expect(again).toEqual({ message: first.message, created: false });
  });
});

describe('MessageService.publishSystemEvent', () => {
  test('stores a message of the system type, with no declared event type, for the subscribers of that type', async () => {
    const watcher = anEndpoint({ id: 'ep_WATCHER', eventTypes: ['endpoint.disabled'] });
    const s = setup({ endpoints: [all, locks, watcher, theirs], eventTypes: [] });
    const event = { endpointId: 'ep_A', url: 'https://receiver.example.com/hooks', reason: 'gone', disabledAt: T0.toISOString() };
    const message = await s.service.publishSystemEvent(TENANT, 'endpoint.disabled', event);
    expect(message).toStrictEqual({
      id: expect.stringMatching(/^msg_[0-9A-HJKMNP-TV-Z]{26}$/),
      tenantId: TENANT,
      type: 'endpoint.disabled',
      payloadJson: JSON.stringify(event),
      createdAt: T0.toISOString(),
      endpointIds: [all.id, watcher.id],
    });
    expect(s.messages.messages.get(message?.id ?? '')).toStrictEqual(message);
    expect(s.validations).toEqual([]);
  });

  test('no subscriber: the message is stored, for the history, without endpointIds', async () => {
    const s = setup({ endpoints: [locks] });
    const message = await s.service.publishSystemEvent(TENANT, 'endpoint.disabled', { endpointId: 'ep_A' });
    expect(message).not.toHaveProperty('endpointIds');
    expect(s.messages.messages.has(message?.id ?? '')).toBe(true);
  });

  test('an opt-in operational event nobody subscribes to is not stored; a subscriber gets it, a catch-all endpoint does not', async () => {
    const watcher = anEndpoint({ id: 'ep_OPS', eventTypes: ['endpoint.created', 'message.attempt.exhausted'] });
    const s = setup({ endpoints: [all, locks] });
    expect(await s.service.publishSystemEvent(TENANT, 'endpoint.created', { endpointId: 'ep_A' })).toBeUndefined();
    expect(s.messages.createCalls).toEqual([]);
    const t = setup({ endpoints: [all, watcher] });
    expect((await t.service.publishSystemEvent(TENANT, 'message.attempt.exhausted', { deliveryId: 'dlv_1' }))?.endpointIds).toEqual([
      watcher.id,
    ]);
  });

  test('explicitOnly keeps catch-all endpoints out (and stores nothing without a named subscriber); exceptEndpointId leaves one out', async () => {
    const named = anEndpoint({ id: 'ep_NAMED', eventTypes: ['endpoint.disabled', 'endpoint.updated'] });
    const s = setup({ endpoints: [all] });
    expect(await s.service.publishSystemEvent(TENANT, 'endpoint.disabled', { endpointId: 'ep_X' }, { explicitOnly: true })).toBeUndefined();
    const t = setup({ endpoints: [all, named] });
    const sent = await t.service.publishSystemEvent(TENANT, 'endpoint.disabled', { endpointId: 'ep_X' }, { explicitOnly: true });
    expect(sent?.endpointIds).toEqual([named.id]);
    expect(
      await t.service.publishSystemEvent(TENANT, 'endpoint.updated', { endpointId: named.id }, { exceptEndpointId: named.id }),
    ).toBeUndefined();
  });

  test('every call is a new message (no idempotency key)', async () => {
    const s = setup({ endpoints: [all] });
    const first = await s.service.publishSystemEvent(TENANT, 'endpoint.disabled', { endpointId: 'ep_A' });
    const second = await s.service.publishSystemEvent(TENANT, 'endpoint.disabled', { endpointId: 'ep_A' });
    expect(first?.id).not.toBe(second?.id);
    expect(s.messages.messages.size).toBe(2);
    expect(s.messages.createCalls.map((c) => c.claim)).toEqual([undefined, undefined]);
  });
});

describe('MessageService.get and list', () => {
  test("a tenant reads its own messages; another tenant's or an unknown id is a 404", async () => {
    const s = setup();
    const { message } = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    expect(await s.service.get(TENANT, message.id)).toStrictEqual(message);
    await expect(s.service.get(OTHER, message.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.service.get(TENANT, 'msg_01JN000000000000000000NONE')).rejects.toBeInstanceOf(NotFoundError);
  });

  test("list shows the tenant's messages only, filtered by type", async () => {
    const s = setup();
    const lock = await s.service.ingest(TENANT, 'lock.unlocked', jsonDocument(payload));
    const user = await s.service.ingest(TENANT, 'user.updated', jsonDocument(payload));
    await s.service.ingest(OTHER, 'lock.unlocked', jsonDocument(payload));
    expect((await s.service.list(TENANT, {}, { limit: 10 })).items.map((m) => m.id).sort()).toEqual(
      [lock.message.id, user.message.id].sort(),
    );
    expect((await s.service.list(TENANT, { type: 'user.updated' }, { limit: 10 })).items).toEqual([user.message]);
  });
});
