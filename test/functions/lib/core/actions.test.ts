import { AccessService, hashKey } from '../../../../functions/lib/core/access.ts';
import {
  type ActionInput,
  ActionService,
  DEFAULT_HOOK_RATE_LIMIT_PER_SECOND,
  DEVICE_COMMAND_TYPE,
  HookService,
  targetedDevices,
} from '../../../../functions/lib/core/actions.ts';
import { ApiKeyService } from '../../../../functions/lib/core/api-keys.ts';
import { DeliveryService } from '../../../../functions/lib/core/delivery.ts';
import { DispatchService } from '../../../../functions/lib/core/dispatch.ts';
import { EndpointDirectory } from '../../../../functions/lib/core/endpoint-directory.ts';
import {
  ConflictError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
  ValidationError,
} from '../../../../functions/lib/core/errors.ts';
import { EventTypeCatalog } from '../../../../functions/lib/core/event-types.ts';
import { deliveryIdFor, ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import { isFirstAttemptJob } from '../../../../functions/lib/core/jobs.ts';
import { MessageService } from '../../../../functions/lib/core/messages.ts';
import type {
  Action,
  ActionTarget,
  ApiKey,
  Endpoint,
  KeyGrant,
  Message,
  Scope,
  TriggerRecord,
} from '../../../../functions/lib/core/model.ts';
import type { RateLimiter } from '../../../../functions/lib/core/ports.ts';
import { decodePayload } from '../../../../functions/lib/edge/hooks.ts';
import { AjvPayloadValidator } from '../../../../functions/lib/schema/ajv-validator.ts';
import {
  anEndpoint,
  FakeClock,
  FakeRateLimiter,
  firstJobFor,
  InMemoryActionStore,
  InMemoryApiKeyStore,
  InMemoryDeliveryStore,
  InMemoryEndpointStore,
  InMemoryEventTypeStore,
  InMemoryMessageStore,
  RecordingDeliveryQueue,
  RecordingSystemEventPublisher,
  ScriptedHttpSender,
  SnapshotContextLoader,
  T0,
  TENANT,
} from './fakes.ts';

const OTHER_TENANT = 'ten_01JN00000000000000000OTHER';
const ROOT_KEY = 'sk_root_0123456789abcdefghijklmnopqrstuvwxyzABCDEF';
const SOURCE_IP = '203.0.113.7';
const BASE_URL = 'https://hooks.sluice.example.com';

// The devices of TENANT, and endpoints that must never be reached by an action.
const SCREEN_1 = anEndpoint({ id: 'ep_01JN000000000000000SCREEN1', deviceId: 'screen-1', groups: ['lobby'] });
const SCREEN_2 = anEndpoint({ id: 'ep_01JN000000000000000SCREEN2', deviceId: 'screen-2', groups: ['lobby', 'floor-2'] });
const SCREEN_3 = anEndpoint({ id: 'ep_01JN000000000000000SCREEN3', deviceId: 'screen-3' });
/** In the lobby group but not a device: no deviceId. */
const PLAIN = anEndpoint({ id: 'ep_01JN00000000000000000PLAIN', groups: ['lobby'] });
/** A device of another tenant, with the same deviceId and group as SCREEN_1. */
const FOREIGN = anEndpoint({ id: 'ep_01JN0000000000000000FOREIGN', tenantId: OTHER_TENANT, deviceId: 'screen-1', groups: ['lobby'] });

const ALL_ENDPOINTS = [SCREEN_1, SCREEN_2, SCREEN_3, PLAIN] as const;

describe('targetedDevices', () => {
  test('a device target reaches the endpoint with that deviceId only', () => {
    expect(targetedDevices(ALL_ENDPOINTS, { type: 'device', deviceId: 'screen-2' })).toEqual([SCREEN_2]);
  });

  test('a device target that matches no endpoint reaches nothing', () => {
    expect(targetedDevices(ALL_ENDPOINTS, { type: 'device', deviceId: 'screen-9' })).toEqual([]);
  });

  test('a group target reaches the devices in that group, in the given order', () => {
    expect(targetedDevices(ALL_ENDPOINTS, { type: 'group', group: 'lobby' })).toEqual([SCREEN_1, SCREEN_2]);
    expect(targetedDevices(ALL_ENDPOINTS, { type: 'group', group: 'floor-2' })).toEqual([SCREEN_2]);
    expect(targetedDevices(ALL_ENDPOINTS, { type: 'group', group: 'roof' })).toEqual([]);
  });

  test('an all target reaches every device and nothing else', () => {
    expect(targetedDevices(ALL_ENDPOINTS, { type: 'all' })).toEqual([SCREEN_1, SCREEN_2, SCREEN_3]);
  });

  test.each<[string, ActionTarget]>([
    ['device', { type: 'device', deviceId: 'screen-1' }],
    ['group', { type: 'group', group: 'lobby' }],
    ['all', { type: 'all' }],
  ])('an endpoint without a deviceId is never targeted (%s target)', (_kind, target) => {
    expect(targetedDevices([PLAIN], target)).toEqual([]);
    expect(targetedDevices(ALL_ENDPOINTS, target)).not.toContain(PLAIN);
  });

  test('a group name is matched exactly, not as a prefix or substring', () => {
    const lobbyEast = anEndpoint({ id: 'ep_EAST', deviceId: 'screen-e', groups: ['lobby-east'] });
    expect(targetedDevices([lobbyEast], { type: 'group', group: 'lobby' })).toEqual([]);
  });
});

function clockAndIds() {
  const clock = new FakeClock(T0);
  const ids = ulidIdGenerator(() => clock.now().getTime());
  return { clock, ids };
}

function accessOver(apiKeys: InMemoryApiKeyStore, clock: FakeClock, ids: ReturnType<typeof ulidIdGenerator>): AccessService {
  return new AccessService({ apiKeys, rootKey: { hashes: async () => [hashKey(ROOT_KEY)] }, clock, ids });
}

const lobbyWelcome: ActionInput = {
  name: 'Lobby welcome',
  eventId: 'lobby-welcome',
  action: 'load_url',
  params: { url: 'https://example.com/welcome' },
  target: { type: 'group', group: 'lobby' },
};

describe('ActionService', () => {
  function setup() {
    const { clock, ids } = clockAndIds();
    const apiKeys = new InMemoryApiKeyStore();
    const access = accessOver(apiKeys, clock, ids);
    const actions = new InMemoryActionStore();
    const service = new ActionService({ actions, apiKeys: new ApiKeyService(access, apiKeys), clock, ids });
    return { clock, ids, apiKeys, access, actions, service };
  }

  describe('create', () => {
    test('stores the action with an act_ id and the creation time', async () => {
      const s = setup();
      const action = await s.service.create(TENANT, lobbyWelcome);
      expect(action.id).toMatch(/^act_[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(action).toEqual({ id: action.id, tenantId: TENANT, ...lobbyWelcome, createdAt: T0.toISOString() });
      expect(s.actions.actions.get(action.id)).toEqual(action);
    });

    test('an action without params is stored without a params field', async () => {
      const s = setup();
      const action = await s.service.create(TENANT, {
        name: 'Reboot',
        eventId: 'reboot',
        action: 'restart_device',
        target: { type: 'all' },
      });
      expect(Object.keys(action)).not.toContain('params');
      expect(s.actions.actions.get(action.id)).not.toHaveProperty('params');
    });

    test('each action gets its own id', async () => {
      const s = setup();
      const first = await s.service.create(TENANT, lobbyWelcome);
      const second = await s.service.create(TENANT, { ...lobbyWelcome, eventId: 'lobby-goodbye' });
      expect(second.id).not.toBe(first.id);
      expect(s.actions.actions.size).toBe(2);
    });

    test('an event_id maps to one action per tenant: a second one is a ConflictError and the first stays', async () => {
      const s = setup();
      const first = await s.service.create(TENANT, lobbyWelcome);
      await expect(s.service.create(TENANT, { ...lobbyWelcome, name: 'Duplicate' })).rejects.toThrow(ConflictError);
      expect([...s.actions.actions.values()]).toEqual([first]);
    });

    test('another tenant may use the same event_id', async () => {
      const s = setup();
      await s.service.create(TENANT, lobbyWelcome);
      const theirs = await s.service.create(OTHER_TENANT, lobbyWelcome);
      expect(await s.actions.findByEventId(OTHER_TENANT, 'lobby-welcome')).toEqual(theirs);
    });
  });

  describe('get, list and delete', () => {
    test('get returns the tenant’s action', async () => {
      const s = setup();
      const action = await s.service.create(TENANT, lobbyWelcome);
      expect(await s.service.get(TENANT, action.id)).toEqual(action);
    });

    test('get of an unknown action, or of another tenant’s, is a NotFoundError', async () => {
      const s = setup();
      const action = await s.service.create(TENANT, lobbyWelcome);
      await expect(s.service.get(TENANT, 'act_01JN0000000000000000000000')).rejects.toThrow(NotFoundError);
      await expect(s.service.get(OTHER_TENANT, action.id)).rejects.toThrow(NotFoundError);
    });

    test('list returns the tenant’s actions only', async () => {
      const s = setup();
      const mine = await s.service.create(TENANT, lobbyWelcome);
      await s.service.create(OTHER_TENANT, lobbyWelcome);
      expect((await s.service.list(TENANT, { limit: 10 })).items).toEqual([mine]);
    });

    test('delete removes the action and frees its event_id', async () => {
      const s = setup();
      const action = await s.service.create(TENANT, lobbyWelcome);
      await s.service.delete(TENANT, action.id);
      expect(s.actions.actions.size).toBe(0);
      await expect(s.service.get(TENANT, action.id)).rejects.toThrow(NotFoundError);
      const again = await s.service.create(TENANT, lobbyWelcome);
      expect(await s.actions.findByEventId(TENANT, 'lobby-welcome')).toEqual(again);
    });

    test('delete of an unknown action, or of another tenant’s, is a NotFoundError and removes nothing', async () => {
      const s = setup();
      const action = await s.service.create(TENANT, lobbyWelcome);
      await expect(s.service.delete(TENANT, 'act_01JN0000000000000000000000')).rejects.toThrow(NotFoundError);
      await expect(s.service.delete(OTHER_TENANT, action.id)).rejects.toThrow(NotFoundError);
      expect(s.actions.actions.get(action.id)).toEqual(action);
    });
  });

  describe('triggers', () => {
    function aTrigger(actionId: string, id: string): TriggerRecord {
      return {
        id,
        actionId,
        tenantId: TENANT,
        at: T0.toISOString(),
        keyId: 'key_1',
        sourceIp: SOURCE_IP,
        eventId: 'lobby-welcome',
        outcome: 'delivered',
      };
    }

    test('lists the action’s triggers, newest first', async () => {
      const s = setup();
      const action = await s.service.create(TENANT, lobbyWelcome);
      await s.actions.recordTrigger(aTrigger(action.id, 'evt_01'));
      await s.actions.recordTrigger(aTrigger(action.id, 'evt_02'));
      await s.actions.recordTrigger(aTrigger('act_other', 'evt_03'));
      const page = await s.service.triggers(TENANT, action.id, { limit: 10 });
      expect(page.items.map((t) => t.id)).toEqual(['evt_02', 'evt_01']);
    });

    test('for an unknown action, or another tenant’s, is a NotFoundError', async () => {
      const s = setup();
      const action = await s.service.create(TENANT, lobbyWelcome);
      await s.actions.recordTrigger(aTrigger(action.id, 'evt_01'));
      await expect(s.service.triggers(TENANT, 'act_01JN0000000000000000000000', { limit: 10 })).rejects.toThrow(NotFoundError);
      await expect(s.service.triggers(OTHER_TENANT, action.id, { limit: 10 })).rejects.toThrow(NotFoundError);
    });
  });

  describe('triggerUrl', () => {
    async function withKey(s: ReturnType<typeof setup>, scopes: readonly Scope[], tenantId = TENANT) {
      return s.access.createKey(tenantId, 'alert service', scopes);
    }

    test('is a GET /v1/hooks URL with the key and the base64 of {"event_id": …}', async () => {
      const s = setup();
      const action = await s.service.create(TENANT, lobbyWelcome);
      const { apiKey, key } = await withKey(s, ['inbound']);
      const url = new URL(await s.service.triggerUrl(TENANT, action.id, apiKey.id, BASE_URL));
      expect(`${url.origin}${url.pathname}`).toBe(`${BASE_URL}/v1/hooks`);
      expect([...url.searchParams.keys()]).toEqual(['api_key', 'payload']);
      expect(url.searchParams.get('api_key')).toBe(key);
      const payload = url.searchParams.get('payload') ?? '';
      expect(Buffer.from(payload, 'base64').toString('utf8')).toBe('{"event_id":"lobby-welcome"}');
      // What the GET hook itself would read from it.
      expect(JSON.parse(decodePayload(payload) ?? 'null')).toEqual({ event_id: 'lobby-welcome' });
    });

    test('the payload is URL-encoded: `+`, `/` and `=` of its base64 survive the query string', async () => {
      const s = setup();
      // Its base64 holds `+`, `/` and `=` (eyJldmVudF9pZCI6ImV2LT8/Pz5+In0=).
      const action = await s.service.create(TENANT, { ...lobbyWelcome, eventId: 'ev-???>~' });
      const { apiKey } = await withKey(s, ['inbound']);
      const raw = await s.service.triggerUrl(TENANT, action.id, apiKey.id, BASE_URL);
      expect(raw).toContain('payload=eyJldmVudF9pZCI6ImV2LT8%2FPz5%2BIn0%3D');
      const payload = new URL(raw).searchParams.get('payload') ?? '';
      expect(JSON.parse(Buffer.from(payload, 'base64').toString('utf8'))).toEqual({ event_id: 'ev-???>~' });
    });

    test('the key is URL-encoded', async () => {
      const s = setup();
      const action = await s.service.create(TENANT, lobbyWelcome);
      // A key with characters that mean something in a query string (generated keys are base64url).
      const key = 'sk_a+b/c=d&e f?g#h';
      const apiKey: ApiKey = {
        id: 'key_01JN00000000000000000ODD',
        tenantId: TENANT,
        name: 'odd',
        scopes: ['inbound'],
        last4: 'g#h',
        createdAt: T0.toISOString(),
      };
      await s.apiKeys.create(apiKey, hashKey(key), key);
      const raw = await s.service.triggerUrl(TENANT, action.id, apiKey.id, BASE_URL);
      expect(raw).toContain(`api_key=${encodeURIComponent(key)}&`);
      const url = new URL(raw);
      expect(url.hash).toBe('');
      expect(url.searchParams.get('api_key')).toBe(key);
      expect([...url.searchParams.keys()]).toEqual(['api_key', 'payload']);
    });

    test('an admin key may be used too', async () => {
      const s = setup();
      const action = await s.service.create(TENANT, lobbyWelcome);
      const { apiKey, key } = await withKey(s, ['admin']);
      expect(new URL(await s.service.triggerUrl(TENANT, action.id, apiKey.id, BASE_URL)).searchParams.get('api_key')).toBe(key);
    });

    test.each<[string, readonly Scope[]]>([
      ['ingest', ['ingest']],
      ['receiver', ['receiver']],
      ['ingest and receiver', ['ingest', 'receiver']],
    ])('a key without inbound or admin scope (%s) is a ValidationError', async (_name, scopes) => {
      const s = setup();
      const action = await s.service.create(TENANT, lobbyWelcome);
      const { apiKey } = await withKey(s, scopes);
      await expect(s.service.triggerUrl(TENANT, action.id, apiKey.id, BASE_URL)).rejects.toThrow(ValidationError);
      await expect(s.service.triggerUrl(TENANT, action.id, apiKey.id, BASE_URL)).rejects.toThrow(/'inbound' scope/);
    });

    test('an unknown key, or another tenant’s, is a NotFoundError', async () => {
      const s = setup();
      const action = await s.service.create(TENANT, lobbyWelcome);
      const { apiKey: theirs } = await withKey(s, ['inbound'], OTHER_TENANT);
      await expect(s.service.triggerUrl(TENANT, action.id, 'key_01JN0000000000000000000000', BASE_URL)).rejects.toThrow(NotFoundError);
      await expect(s.service.triggerUrl(TENANT, action.id, theirs.id, BASE_URL)).rejects.toThrow(NotFoundError);
    });

    test('for an unknown action is a NotFoundError, whatever the key', async () => {
      const s = setup();
      const { apiKey } = await withKey(s, ['inbound']);
      await expect(s.service.triggerUrl(TENANT, 'act_01JN0000000000000000000000', apiKey.id, BASE_URL)).rejects.toThrow(NotFoundError);
    });
  });
});

interface HookSetup {
  readonly endpoints?: readonly Endpoint[];
  readonly rateLimiter?: RateLimiter;
  readonly rateLimitPerSecond?: number;
  readonly apiKeys?: InMemoryApiKeyStore;
  /** How long the endpoint directory keeps a tenant's endpoints; 0 (no caching) unless given. */
  readonly cacheSeconds?: number;
}

function hookSetup(options: HookSetup = {}) {
  const { clock, ids } = clockAndIds();
  const apiKeys = options.apiKeys ?? new InMemoryApiKeyStore();
  const access = accessOver(apiKeys, clock, ids);
  const actions = new InMemoryActionStore();
  const endpoints = new InMemoryEndpointStore(options.endpoints ?? [...ALL_ENDPOINTS, FOREIGN]);
  // No caching unless asked: what a test puts in the store is what the hook sees.
  const directory = new EndpointDirectory(endpoints, clock, options.cacheSeconds ?? 0);
  const messages = new InMemoryMessageStore();
  const messageService = new MessageService({
    messages,
    eventTypes: new EventTypeCatalog(new InMemoryEventTypeStore(), clock, 0),
    validator: new AjvPayloadValidator(),
    endpoints: directory,
    clock,
    ids,
  });
  const publish = jest.spyOn(messageService, 'publish');
  /** The limiter in use unless the test gave its own. */
  const limiter = new FakeRateLimiter();
  const rateLimiter = options.rateLimiter ?? limiter;
  const hooks = new HookService({
    access,
    actions,
    endpoints: directory,
    messages: messageService,
    rateLimiter,
    clock,
    ids,
    ...(options.rateLimitPerSecond !== undefined && { rateLimitPerSecond: options.rateLimitPerSecond }),
  });
  const actionService = new ActionService({ actions, apiKeys: new ApiKeyService(access, apiKeys), clock, ids });
  const createAction = (input: Partial<ActionInput> = {}, tenantId = TENANT): Promise<Action> =>
    actionService.create(tenantId, { ...lobbyWelcome, ...input });
  const createKey = async (scopes: readonly Scope[], tenantId = TENANT) => access.createKey(tenantId, 'caller', scopes);

  // Downstream of the ledger, as in production: dispatch reads the stored message, the delivery
  // worker makes its first attempts.
  const deliveries = new InMemoryDeliveryStore();
  const queue = new RecordingDeliveryQueue();
  const sender = new ScriptedHttpSender({ durationMs: 7, statusCode: 200 });
  const dispatch = new DispatchService({ endpoints: directory, queue, clock });
  const delivery = new DeliveryService({
    deliveries,
    endpointStore: endpoints,
    endpoints: directory,
    loader: new SnapshotContextLoader(deliveries, endpoints, messages),
    queue,
    sender,
    rateLimiter: new FakeRateLimiter(),
    systemEvents: new RecordingSystemEventPublisher(clock),
    messages: new InMemoryMessageStore(),
    clock,
    random: () => 0.5,
  });
  /** Dispatches the message as the ledger's stream would, then runs the first-attempt jobs it queued. */
  const dispatchAndDeliver = async (message: Message): Promise<number> => {
    const before = queue.calls.length;
    const jobs = await dispatch.dispatch([message]);
    for (const call of queue.calls.slice(before)) {
      for (const task of call.tasks) {
        if (!isFirstAttemptJob(task)) continue;
        await delivery.runFirst(task, await delivery.prepare([{ task, receiveCount: 1 }]), call.lane ?? 'primary');
      }
    }
    return jobs;
  };
  /** The one message stored so far. */
  const onlyMessage = (): Message => {
    const all = [...messages.messages.values()];
    expect(all).toHaveLength(1);
    const [message] = all;
    if (!message) throw new Error('no message');
    return message;
  };
  return {
    clock,
    ids,
    apiKeys,
    access,
    actions,
    endpoints,
    messages,
    publish,
    deliveries,
    queue,
    sender,
    limiter,
    hooks,
    createAction,
    createKey,
    dispatchAndDeliver,
    onlyMessage,
  };
}

/** Nothing happened: no trigger recorded, no command published or stored, so nothing to dispatch or deliver. */
function expectNothingSent(s: ReturnType<typeof hookSetup>): void {
  expect(s.actions.triggers).toEqual([]);
  expect(s.publish).not.toHaveBeenCalled();
  expect(s.messages.createCalls).toEqual([]);
  expect(s.messages.messages.size).toBe(0);
  expect(s.deliveries.deliveries.size).toBe(0);
  expect(s.queue.calls).toEqual([]);
}

describe('HookService.trigger', () => {
  describe('the key', () => {
    test.each<[string, string | undefined]>([
      ['missing', undefined],
      ['empty', ''],
      ['unknown', 'sk_this_key_was_never_issued_0000000000000000000'],
    ])('%s: UnauthorizedError, before anything else', async (_case, key) => {
      const s = hookSetup();
      await s.createAction();
      await expect(s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).rejects.toThrow(UnauthorizedError);
      expect(s.limiter.calls).toEqual([]);
      expectNothingSent(s);
    });

    test('a revoked key is an UnauthorizedError', async () => {
      const s = hookSetup();
      await s.createAction();
      const { apiKey, key } = await s.createKey(['inbound']);
      await s.apiKeys.delete(TENANT, apiKey.id);
      await expect(s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).rejects.toThrow(UnauthorizedError);
      expectNothingSent(s);
    });

    test('the root key is an UnauthorizedError (it belongs to no tenant)', async () => {
      const s = hookSetup();
      await s.createAction();
      await expect(s.hooks.trigger(ROOT_KEY, { eventId: 'lobby-welcome' }, SOURCE_IP)).rejects.toThrow(UnauthorizedError);
      expectNothingSent(s);
    });

    test.each<[string, readonly Scope[]]>([
      ['ingest', ['ingest']],
      ['receiver', ['receiver']],
      ['ingest and receiver', ['ingest', 'receiver']],
    ])('a key without the inbound scope (%s) is an UnauthorizedError that names the scope', async (_name, scopes) => {
      const s = hookSetup();
      await s.createAction();
      const { key } = await s.createKey(scopes);
      await expect(s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).rejects.toThrow(/'inbound' scope/);
      await expect(s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).rejects.toThrow(UnauthorizedError);
      expectNothingSent(s);
    });

    test.each<[string, readonly Scope[]]>([
      ['inbound', ['inbound']],
      ['admin', ['admin']],
      ['ingest and inbound', ['ingest', 'inbound']],
    ])('a key with %s may trigger', async (_name, scopes) => {
      const s = hookSetup();
      await s.createAction();
      const { key } = await s.createKey(scopes);
      expect((await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).deliveries).toBe(2);
      expect(s.actions.triggers).toHaveLength(1);
    });

    // Regression guard, fixed (functions/lib/core/actions.ts, HookService.trigger, the `.catch(() => { throw new
    // UnauthorizedError(…) })` on `access.authenticate`, line 117): every failure of authenticate
    // becomes a 401 "missing or not valid", including a failure of the key store itself (DynamoDB
    // throttling, a timeout). The caller is told its valid key is invalid and stops, where the hook
    // edge would otherwise answer 500 "it is safe to retry" (functions/lib/edge/hooks.ts, hookErrors).
    // Fix: rethrow anything that is not an UnauthorizedError, e.g.
    // `.catch((error) => { if (error instanceof UnauthorizedError) throw new UnauthorizedError(…); throw error; })`.
    test('a failure of the key store is not reported as an invalid key', async () => {
      class UnavailableKeyStore extends InMemoryApiKeyStore {
        override async findGrant(_keyHash: string): Promise<KeyGrant | undefined> {
          throw new Error('ProvisionedThroughputExceededException: the key store is throttled');
        }
      }
      const s = hookSetup({ apiKeys: new UnavailableKeyStore() });
      await s.createAction();
      const { key } = await s.createKey(['inbound']);
      const error: unknown = await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(UnauthorizedError);
      expect((error as Error).message).toMatch(/throttled/);
    });
  });

  describe('the rate limit', () => {
    test('a refusing limiter is a RateLimitedError, and nothing is recorded or sent', async () => {
      const refusing: RateLimiter = { tryAcquire: async () => false };
      const s = hookSetup({ rateLimiter: refusing });
      await s.createAction();
      const { key } = await s.createKey(['inbound']);
      await expect(s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).rejects.toThrow(RateLimitedError);
      expectNothingSent(s);
    });

    test(`is per key, ${DEFAULT_HOOK_RATE_LIMIT_PER_SECOND} triggers a second by default`, async () => {
      const limiter = new FakeRateLimiter();
      const s = hookSetup({ rateLimiter: limiter });
      await s.createAction();
      const { apiKey, key } = await s.createKey(['inbound']);
      const { key: otherKey } = await s.createKey(['inbound']);
      for (let i = 0; i < DEFAULT_HOOK_RATE_LIMIT_PER_SECOND; i++) await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP);
      await expect(s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).rejects.toThrow(
        `at most ${DEFAULT_HOOK_RATE_LIMIT_PER_SECOND} a second`,
      );
      expect(s.actions.triggers).toHaveLength(DEFAULT_HOOK_RATE_LIMIT_PER_SECOND);
      // Another key has its own budget, and the next second brings a new one.
      await expect(s.hooks.trigger(otherKey, { eventId: 'lobby-welcome' }, SOURCE_IP)).resolves.toMatchObject({ deliveries: 2 });
      s.clock.advance(1000);
      await expect(s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).resolves.toMatchObject({ deliveries: 2 });
      expect(limiter.calls[0]).toEqual({
        subject: { hookKeyId: apiKey.id },
        limitPerSecond: DEFAULT_HOOK_RATE_LIMIT_PER_SECOND,
        at: T0.toISOString(),
      });
    });

    test('the configured limit is used instead of the default', async () => {
      const limiter = new FakeRateLimiter();
      const s = hookSetup({ rateLimiter: limiter, rateLimitPerSecond: 2 });
      await s.createAction();
      const { key } = await s.createKey(['inbound']);
      await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP);
      await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP);
      await expect(s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).rejects.toThrow(/at most 2 a second/);
      expect(limiter.calls.map((c) => c.limitPerSecond)).toEqual([2, 2, 2]);
    });
  });

  describe('the action', () => {
    test('an unknown event_id is a NotFoundError, and nothing is recorded', async () => {
      const s = hookSetup();
      await s.createAction();
      const { key } = await s.createKey(['inbound']);
      await expect(s.hooks.trigger(key, { eventId: 'no-such-event' }, SOURCE_IP)).rejects.toThrow(NotFoundError);
      expectNothingSent(s);
    });

    test('another tenant’s event_id is a NotFoundError for this tenant’s key', async () => {
      const s = hookSetup();
      await s.createAction({}, OTHER_TENANT);
      const { key } = await s.createKey(['inbound']);
      await expect(s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).rejects.toThrow(NotFoundError);
      expectNothingSent(s);
    });

    test('send_sensor_event without sensor data is a ValidationError, recorded as rejected', async () => {
      const s = hookSetup();
      const action = await s.createAction({ eventId: 'temp-alert', action: 'send_sensor_event', params: {} });
      const { apiKey, key } = await s.createKey(['inbound']);
      await expect(s.hooks.trigger(key, { eventId: 'temp-alert' }, SOURCE_IP)).rejects.toThrow(ValidationError);
      expect(s.actions.triggers).toEqual([
        {
          id: expect.stringMatching(/^evt_/),
          actionId: action.id,
          tenantId: TENANT,
          at: T0.toISOString(),
          keyId: apiKey.id,
          sourceIp: SOURCE_IP,
          eventId: 'temp-alert',
          outcome: 'rejected',
          error: 'sensor_data is required for a send_sensor_event action',
        },
      ]);
      expect(JSON.stringify(s.actions.triggers)).not.toContain(key);
      expect(s.publish).not.toHaveBeenCalled();
      expect(s.messages.messages.size).toBe(0);
      expect(s.deliveries.deliveries.size).toBe(0);
      expect(s.queue.calls).toEqual([]);
    });
  });

  describe('a success', () => {
    test('publishes a device.command to exactly the targeted devices, which dispatch delivers, and records the trigger', async () => {
      const s = hookSetup();
      const action = await s.createAction();
      const { apiKey, key } = await s.createKey(['inbound']);

      const result = await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP);
      expect(result).toEqual({ actionId: action.id, deliveries: 2 });

      // The command message: one write, naming its targets, left to dispatch (not attempted inline).
      const message = s.onlyMessage();
      expect(message).toEqual({
        id: expect.stringMatching(/^msg_[0-9A-HJKMNP-TV-Z]{26}$/),
        tenantId: TENANT,
        type: DEVICE_COMMAND_TYPE,
        payloadJson: expect.any(String),
        createdAt: T0.toISOString(),
        endpointIds: [SCREEN_1.id, SCREEN_2.id],
      });
      expect(s.messages.createCalls).toEqual([{ message, claim: undefined }]);
      expect(DEVICE_COMMAND_TYPE).toBe('device.command');
      const payload: unknown = JSON.parse(message.payloadJson);
      expect(payload).toEqual({
        actionId: action.id,
        eventId: 'lobby-welcome',
        action: 'load_url',
        params: { url: 'https://example.com/welcome' },
        sensorData: null,
      });
      expect(Object.keys(payload as object)).toEqual(['actionId', 'eventId', 'action', 'params', 'sensorData']);

      // Published to the lobby devices of this tenant: not PLAIN (no deviceId), not FOREIGN (other tenant).
      expect(s.publish).toHaveBeenCalledTimes(1);
      expect(s.publish).toHaveBeenCalledWith({
        tenantId: TENANT,
        type: DEVICE_COMMAND_TYPE,
        payloadJson: message.payloadJson,
        endpoints: [SCREEN_1, SCREEN_2],
      });
      // The hook itself writes no delivery and queues nothing: that is dispatch's job.
      expect(s.deliveries.deliveries.size).toBe(0);
      expect(s.queue.calls).toEqual([]);

      // Dispatch: one first-attempt job for both devices, on the primary lane, payload inline.
      expect(await s.dispatchAndDeliver(message)).toBe(1);
      expect(s.queue.calls[0]).toEqual({
        tasks: [firstJobFor(message, [SCREEN_1.id, SCREEN_2.id])],
        delaySeconds: undefined,
        lane: 'primary',
      });
      const expectedIds = [SCREEN_1, SCREEN_2].map((ep) => deliveryIdFor(message.id, ep.id));
      expect([...s.deliveries.deliveries.keys()].sort()).toEqual([...expectedIds].sort());
      for (const endpoint of [SCREEN_1, SCREEN_2]) {
        expect(s.deliveries.deliveries.get(deliveryIdFor(message.id, endpoint.id))).toMatchObject({
          tenantId: TENANT,
          messageId: message.id,
          endpointId: endpoint.id,
          eventType: 'device.command',
          status: 'succeeded',
          attemptCount: 1,
        });
      }
      expect(s.sender.requests.map((r) => r.headers['x-sluice-delivery-id']).sort()).toEqual([...expectedIds].sort());
      expect(s.sender.requests.every((r) => r.headers['x-sluice-event-type'] === 'device.command')).toBe(true);
      expect(s.sender.requests.every((r) => JSON.parse(r.body).data.actionId === action.id)).toBe(true);

      // The trigger record: key id, never the key.
      expect(s.actions.triggers).toEqual([
        {
          id: expect.stringMatching(/^evt_/),
          actionId: action.id,
          tenantId: TENANT,
          at: T0.toISOString(),
          keyId: apiKey.id,
          sourceIp: SOURCE_IP,
          eventId: 'lobby-welcome',
          outcome: 'delivered',
          messageId: message.id,
          deliveries: 2,
        },
      ]);
      expect(JSON.stringify(s.actions.triggers)).not.toContain(key);
      expect(JSON.stringify(s.actions.triggers)).not.toContain(hashKey(key));
      expect((await s.actions.listTriggers(action.id, { limit: 10 })).items).toEqual(s.actions.triggers);
    });

    test('the command is routed by its target only: an endpoint subscribed to every type gets nothing', async () => {
      const s = hookSetup();
      // PLAIN has no eventTypes filter (subscribed to everything), but it is no device.
      expect(PLAIN.eventTypes).toBeUndefined();
      await s.createAction({ target: { type: 'all' } });
      const { key } = await s.createKey(['inbound']);
      await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP);
      const message = s.onlyMessage();
      expect(message.endpointIds).toEqual([SCREEN_1.id, SCREEN_2.id, SCREEN_3.id]);
      expect(message.attemptedInline).toBeUndefined();
      expect(await s.dispatchAndDeliver(message)).toBe(1);
      expect(s.queue.firstJobs.flatMap((j) => j.endpointIds)).toEqual([SCREEN_1.id, SCREEN_2.id, SCREEN_3.id]);
      expect(s.deliveries.deliveries.size).toBe(3);
      expect([...s.deliveries.deliveries.values()].map((d) => d.endpointId)).not.toContain(PLAIN.id);
      expect(s.queue.jobs).toEqual([]);
    });

    test('a device target reaches that one device; sensor data and the action’s params travel in the payload', async () => {
      const s = hookSetup();
      const action = await s.createAction({
        eventId: 'temp-alert',
        action: 'send_sensor_event',
        params: { threshold: 30 },
        target: { type: 'device', deviceId: 'screen-3' },
      });
      const { key } = await s.createKey(['inbound']);
      const sensorData = { id: 'sensor-7', event: 'temperature', value: 31.5 };
      expect(await s.hooks.trigger(key, { eventId: 'temp-alert', sensorData }, SOURCE_IP)).toEqual({ actionId: action.id, deliveries: 1 });
      const message = s.onlyMessage();
      expect(JSON.parse(message.payloadJson)).toEqual({
        actionId: action.id,
        eventId: 'temp-alert',
        action: 'send_sensor_event',
        params: { threshold: 30 },
        sensorData,
      });
      expect(s.publish).toHaveBeenCalledWith(expect.objectContaining({ type: 'device.command', endpoints: [SCREEN_3] }));
      expect(message.endpointIds).toEqual([SCREEN_3.id]);
      await s.dispatchAndDeliver(message);
      expect([...s.deliveries.deliveries.values()].map((d) => d.endpointId)).toEqual([SCREEN_3.id]);
      expect(s.actions.triggers[0]).toMatchObject({ outcome: 'delivered', deliveries: 1, messageId: message.id });
    });

    test('an action without params sends params {}', async () => {
      const s = hookSetup();
      await s.createAction({ eventId: 'reboot', action: 'restart_device', params: undefined, target: { type: 'all' } });
      const { key } = await s.createKey(['inbound']);
      await s.hooks.trigger(key, { eventId: 'reboot' }, SOURCE_IP);
      const [message] = [...s.messages.messages.values()];
      expect(JSON.parse(message?.payloadJson ?? '{}')).toMatchObject({ action: 'restart_device', params: {}, sensorData: null });
    });

    test('no targeted device: the command is still recorded, with 0 deliveries, and dispatch has nothing to send', async () => {
      const s = hookSetup();
      const action = await s.createAction({ target: { type: 'device', deviceId: 'screen-9' } });
      const { key } = await s.createKey(['inbound']);
      expect(await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).toEqual({ actionId: action.id, deliveries: 0 });
      expect(s.publish).toHaveBeenCalledWith(expect.objectContaining({ type: 'device.command', endpoints: [] }));
      const message = s.onlyMessage();
      expect(message).not.toHaveProperty('endpointIds');
      expect(await s.dispatchAndDeliver(message)).toBe(0);
      expect(s.deliveries.deliveries.size).toBe(0);
      expect(s.queue.calls).toEqual([]);
      expect(s.actions.triggers).toEqual([expect.objectContaining({ outcome: 'delivered', deliveries: 0, messageId: message.id })]);
    });

    test('a disabled device is a target too: its delivery waits, undated, with no attempt and no job, and it counts', async () => {
      const disabled = { ...SCREEN_2, disabled: true, disabledReason: 'paused by the operator' };
      const s = hookSetup({ endpoints: [SCREEN_1, disabled, SCREEN_3] });
      await s.createAction();
      const { key } = await s.createKey(['inbound']);
      expect((await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).deliveries).toBe(2);
      const message = s.onlyMessage();
      expect(message.endpointIds).toEqual([SCREEN_1.id, disabled.id]);
      await s.dispatchAndDeliver(message);
      const waiting = s.deliveries.deliveries.get(deliveryIdFor(message.id, disabled.id));
      expect(waiting).toMatchObject({ status: 'pending', attemptCount: 0, endpointId: disabled.id });
      expect(waiting?.nextAttemptAt).toBeUndefined();
      expect(s.deliveries.attempts.get(deliveryIdFor(message.id, disabled.id))).toBeUndefined();
      // Only the enabled device was called; nothing was queued for the disabled one.
      expect(s.sender.requests.map((r) => r.headers['x-sluice-delivery-id'])).toEqual([deliveryIdFor(message.id, SCREEN_1.id)]);
      expect(s.queue.jobs).toEqual([]);
    });

    test('a failing device’s first attempt is dispatched on the retry lane, behind nothing healthy', async () => {
      const failing = { ...SCREEN_2, failingSince: '2025-03-01T11:00:00.000Z', consecutiveFailures: 3 };
      const s = hookSetup({ endpoints: [SCREEN_1, failing, SCREEN_3] });
      await s.createAction();
      const { key } = await s.createKey(['inbound']);
      await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP);
      const message = s.onlyMessage();
      expect(await s.dispatchAndDeliver(message)).toBe(2);
      expect(s.queue.jobsOn('primary')).toEqual([firstJobFor(message, [SCREEN_1.id])]);
      expect(s.queue.jobsOn('retry')).toEqual([firstJobFor(message, [failing.id])]);
    });

    test('each trigger is a new command message, recorded newest first', async () => {
      const s = hookSetup();
      const action = await s.createAction();
      const { key } = await s.createKey(['inbound']);
      await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP);
      s.clock.advance(5000);
      await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, '198.51.100.2');
      const messages = [...s.messages.messages.values()];
      expect(messages).toHaveLength(2);
      expect(new Set(messages.map((m) => m.id)).size).toBe(2);
      for (const message of messages) await s.dispatchAndDeliver(message);
      expect(s.deliveries.deliveries.size).toBe(4);
      const page = await s.actions.listTriggers(action.id, { limit: 10 });
      expect(page.items.map((t) => [t.sourceIp, t.at])).toEqual([
        ['198.51.100.2', new Date(T0.getTime() + 5000).toISOString()],
        [SOURCE_IP, T0.toISOString()],
      ]);
      expect(page.items.map((t) => t.messageId).sort()).toEqual(messages.map((m) => m.id).sort());
    });

    test('the devices come from the endpoint directory: its copy serves until it expires', async () => {
      const s = hookSetup({ cacheSeconds: 5 });
      await s.createAction();
      const { key } = await s.createKey(['inbound']);
      expect((await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).deliveries).toBe(2);
      // A device added by another process: this one's copy does not have it yet.
      const screen4 = anEndpoint({ id: 'ep_01JN000000000000000SCREEN4', deviceId: 'screen-4', groups: ['lobby'] });
      await s.endpoints.create(screen4);
      s.clock.advance(4999);
      expect((await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).deliveries).toBe(2);
      s.clock.advance(1);
      expect((await s.hooks.trigger(key, { eventId: 'lobby-welcome' }, SOURCE_IP)).deliveries).toBe(3);
      expect(s.publish.mock.calls.map(([request]) => request.endpoints.map((e) => e.id))).toEqual([
        [SCREEN_1.id, SCREEN_2.id],
        [SCREEN_1.id, SCREEN_2.id],
        [SCREEN_1.id, SCREEN_2.id, screen4.id],
      ]);
    });
  });
});

describe('InMemoryActionStore (fake of ActionStore)', () => {
  const anAction = (overrides: Partial<Action> = {}): Action => ({
    id: 'act_01',
    tenantId: TENANT,
    name: 'Lobby welcome',
    eventId: 'lobby-welcome',
    action: 'load_url',
    target: { type: 'all' },
    createdAt: T0.toISOString(),
    ...overrides,
  });

  test('create refuses a second action for an event_id of the tenant with a ConflictError', async () => {
    const store = new InMemoryActionStore([anAction()]);
    await expect(store.create(anAction({ id: 'act_02' }))).rejects.toThrow(ConflictError);
    await store.create(anAction({ id: 'act_03', tenantId: OTHER_TENANT }));
    expect([...store.actions.keys()]).toEqual(['act_01', 'act_03']);
  });

  test('get and findByEventId see only the tenant’s actions', async () => {
    const store = new InMemoryActionStore([anAction()]);
    expect(await store.get(TENANT, 'act_01')).toEqual(anAction());
    expect(await store.get(OTHER_TENANT, 'act_01')).toBeUndefined();
    expect(await store.findByEventId(TENANT, 'lobby-welcome')).toEqual(anAction());
    expect(await store.findByEventId(OTHER_TENANT, 'lobby-welcome')).toBeUndefined();
    expect(await store.findByEventId(TENANT, 'other')).toBeUndefined();
  });

  test('delete is false for a missing or foreign action; listTriggers is per action, newest first, paginated', async () => {
    const store = new InMemoryActionStore([anAction()]);
    expect(await store.delete(OTHER_TENANT, 'act_01')).toBe(false);
    const trigger = (id: string, actionId = 'act_01'): TriggerRecord => ({
      id,
      actionId,
      tenantId: TENANT,
      at: T0.toISOString(),
      keyId: 'key_1',
      sourceIp: SOURCE_IP,
      eventId: 'lobby-welcome',
      outcome: 'delivered',
    });
    for (const t of [trigger('evt_1'), trigger('evt_3'), trigger('evt_2'), trigger('evt_4', 'act_02')]) await store.recordTrigger(t);
    const first = await store.listTriggers('act_01', { limit: 2 });
    expect(first.items.map((t) => t.id)).toEqual(['evt_3', 'evt_2']);
    const second = await store.listTriggers('act_01', { limit: 2, ...(first.nextCursor && { cursor: first.nextCursor }) });
    expect(second).toEqual({ items: [trigger('evt_1')] });
    expect(await store.delete(TENANT, 'act_01')).toBe(true);
    expect(await store.delete(TENANT, 'act_01')).toBe(false);
  });
});
