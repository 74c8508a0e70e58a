import { NotFoundError, ValidationError } from '../../../../functions/lib/core/errors.ts';
import { EventTypeCatalog, EventTypeService, isReservedEventType, systemEventTypes } from '../../../../functions/lib/core/event-types.ts';
import type { EventType } from '../../../../functions/lib/core/model.ts';
import { operationalEventTypes } from '../../../../functions/lib/core/operational-events.ts';
import type { PayloadSchemaValidator, SchemaIssue } from '../../../../functions/lib/core/ports.ts';
import { FakeClock, InMemoryEventTypeStore, T0, TENANT } from './fakes.ts';

const OTHER = 'ten_01JN00000000000000000OTHER';

function anEventType(overrides: Partial<EventType> = {}): EventType {
  return { tenantId: TENANT, name: 'lock.unlocked', createdAt: T0.toISOString(), updatedAt: T0.toISOString(), ...overrides };
}

function setup(initial: readonly EventType[] = [anEventType()], ttlSeconds = 5, schemaIssues: readonly SchemaIssue[] = []) {
  const store = new InMemoryEventTypeStore(initial);
  const clock = new FakeClock(T0);
  const catalog = new EventTypeCatalog(store, clock, ttlSeconds);
  const validator: PayloadSchemaValidator = { checkSchema: () => schemaIssues, validate: () => [] };
  const service = new EventTypeService(store, validator, clock, catalog);
  const get = jest.spyOn(store, 'get');
  return { store, clock, catalog, service, get };
}

describe('EventTypeCatalog', () => {
  test('a found type is kept for the ttl: one read, a change in the store not seen until then', async () => {
    const s = setup();
    expect(await s.catalog.find(TENANT, 'lock.unlocked')).toEqual(anEventType());
    await s.store.put(anEventType({ description: 'changed elsewhere' }));
    s.clock.advance(4_999);
    expect(await s.catalog.find(TENANT, 'lock.unlocked')).toEqual(anEventType());
    expect(s.get).toHaveBeenCalledTimes(1);
    s.clock.advance(1);
    expect(await s.catalog.find(TENANT, 'lock.unlocked')).toEqual(anEventType({ description: 'changed elsewhere' }));
    expect(s.get).toHaveBeenCalledTimes(2);
  });

  test('only found types are kept: an unknown type is read every time, so one declared a moment ago is found', async () => {
    const s = setup([]);
    expect(await s.catalog.find(TENANT, 'lock.unlocked')).toBeUndefined();
    expect(await s.catalog.find(TENANT, 'lock.unlocked')).toBeUndefined();
    expect(s.get).toHaveBeenCalledTimes(2);
    // Declared by another process: no invalidation here, yet it is found at once.
    await s.store.put(anEventType());
    expect(await s.catalog.find(TENANT, 'lock.unlocked')).toEqual(anEventType());
  });

  test('types are kept by tenant and name', async () => {
    const s = setup([anEventType(), anEventType({ name: 'lock.locked' }), anEventType({ tenantId: OTHER, description: 'theirs' })]);
    expect(await s.catalog.find(TENANT, 'lock.unlocked')).toEqual(anEventType());
    expect(await s.catalog.find(TENANT, 'lock.locked')).toEqual(anEventType({ name: 'lock.locked' }));
    expect(await s.catalog.find(OTHER, 'lock.unlocked')).toEqual(anEventType({ tenantId: OTHER, description: 'theirs' }));
    expect(await s.catalog.find(OTHER, 'lock.locked')).toBeUndefined();
    expect(s.get.mock.calls).toEqual([
      [TENANT, 'lock.unlocked'],
      [TENANT, 'lock.locked'],
      [OTHER, 'lock.unlocked'],
      [OTHER, 'lock.locked'],
    ]);
  });

  test('invalidate(tenant, name) drops that type only', async () => {
    const s = setup([anEventType(), anEventType({ name: 'lock.locked' })]);
    await s.catalog.find(TENANT, 'lock.unlocked');
    await s.catalog.find(TENANT, 'lock.locked');
    s.catalog.invalidate(TENANT, 'lock.unlocked');
    await s.catalog.find(TENANT, 'lock.unlocked');
    await s.catalog.find(TENANT, 'lock.locked');
    expect(s.get.mock.calls.map(([, name]) => name)).toEqual(['lock.unlocked', 'lock.locked', 'lock.unlocked']);
  });

  test('ttl 0: every find reads the store', async () => {
    const s = setup([anEventType()], 0);
    await s.catalog.find(TENANT, 'lock.unlocked');
    await s.catalog.find(TENANT, 'lock.unlocked');
    expect(s.get).toHaveBeenCalledTimes(2);
  });
});

describe('EventTypeService keeps the catalog current in its process', () => {
  const schema = { type: 'object', required: ['lockId'] };

  test('put: the next find sees the new version at once', async () => {
    const s = setup();
    await s.catalog.find(TENANT, 'lock.unlocked');
    s.clock.advance(1000);
    const { eventType, created } = await s.service.put(TENANT, 'lock.unlocked', { description: 'v2', schema });
    expect(created).toBe(false);
    expect(eventType).toEqual({
      tenantId: TENANT,
      name: 'lock.unlocked',
      description: 'v2',
      schema,
      createdAt: T0.toISOString(),
      updatedAt: '2025-03-01T12:00:01.000Z',
    });
    expect(await s.catalog.find(TENANT, 'lock.unlocked')).toEqual(eventType);
  });

  test('put of a new type: created, and found at once', async () => {
    const s = setup([]);
    expect(await s.catalog.find(TENANT, 'user.updated')).toBeUndefined();
    const { eventType, created } = await s.service.put(TENANT, 'user.updated', {});
    expect(created).toBe(true);
    expect(eventType).toEqual({ tenantId: TENANT, name: 'user.updated', createdAt: T0.toISOString(), updatedAt: T0.toISOString() });
    expect(await s.catalog.find(TENANT, 'user.updated')).toEqual(eventType);
  });

  test('delete: the next find no longer finds the type', async () => {
    const s = setup();
    expect(await s.catalog.find(TENANT, 'lock.unlocked')).toBeDefined();
    await s.service.delete(TENANT, 'lock.unlocked');
    expect(await s.catalog.find(TENANT, 'lock.unlocked')).toBeUndefined();
  });

  test("a change to one tenant's type leaves another tenant's cached copy alone", async () => {
    const s = setup([anEventType(), anEventType({ tenantId: OTHER })]);
    await s.catalog.find(OTHER, 'lock.unlocked');
    await s.service.delete(TENANT, 'lock.unlocked');
    expect(await s.catalog.find(OTHER, 'lock.unlocked')).toEqual(anEventType({ tenantId: OTHER }));
    expect(s.get.mock.calls.filter(([tenantId]) => tenantId === OTHER)).toHaveLength(1);
  });

  test('a refused put leaves the cached type as it was', async () => {
    const s = setup([anEventType()], 5, [{ path: '/type', message: 'must be a known type' }]);
    await s.catalog.find(TENANT, 'lock.unlocked');
    await expect(s.service.put(TENANT, 'lock.unlocked', { schema: { type: 'thing' } })).rejects.toBeInstanceOf(ValidationError);
    expect(await s.catalog.find(TENANT, 'lock.unlocked')).toEqual(anEventType());
    expect(await s.store.get(TENANT, 'lock.unlocked')).toEqual(anEventType());
  });

  test('deleting an unknown type is a 404', async () => {
    const s = setup([]);
    await expect(s.service.delete(TENANT, 'nope')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('EventTypeService.put: names', () => {
  test('names are lower-case words separated by dots', async () => {
    const s = setup([]);
    for (const bad of ['Lock.Unlocked', 'lock..unlocked', '.lock', 'lock.', 'lock-unlocked', '']) {
      await expect(s.service.put(TENANT, bad, {})).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(s.service.put(TENANT, 'lock_2.unlocked_now', {})).resolves.toMatchObject({ created: true });
  });

  test("Sluice's own types and the sluice. namespace are reserved", async () => {
    const s = setup([]);
    expect([...systemEventTypes].sort()).toEqual([
      'device.command',
      'endpoint.created',
      'endpoint.deleted',
      'endpoint.disabled',
      'endpoint.enabled',
      'endpoint.updated',
      'message.attempt.exhausted',
      'message.attempt.failing',
      'message.attempt.recovered',
      'sluice.ping',
    ]);
    for (const name of [...systemEventTypes, 'sluice.anything']) {
      expect(isReservedEventType(name)).toBe(true);
      await expect(s.service.put(TENANT, name, {})).rejects.toThrow(/reserved/);
    }
    expect(isReservedEventType('lock.unlocked')).toBe(false);
    expect(s.store.eventTypes.size).toBe(0);
  });
});

describe('EventTypeRegistry: the operational events are built in', () => {
  test('get answers one with its schema; asked for, the last page lists them after the tenant’s types; they cannot be deleted', async () => {
    const s = setup([anEventType({ name: 'lock.unlocked' })]);
    const failing = await s.service.get(TENANT, 'message.attempt.failing');
    expect(failing).toMatchObject({ name: 'message.attempt.failing', builtIn: true, schema: { type: 'object' } });
    expect((await s.service.list(TENANT, { limit: 50 })).items.map((t) => t.name)).toEqual(['lock.unlocked']);
    const page = await s.service.list(TENANT, { limit: 50 }, { includeBuiltIn: true });
    expect(page.items.map((t) => t.name)).toEqual(['lock.unlocked', ...operationalEventTypes]);
    const first = await s.service.list(TENANT, { limit: 1 }, { includeBuiltIn: true });
    if (first.nextCursor !== undefined) expect(first.items.map((t) => t.name)).toEqual(['lock.unlocked']);
    await expect(s.service.delete(TENANT, 'endpoint.created')).rejects.toThrow('built in');
  });
});
