import { buildRequest } from '../../../../functions/lib/core/delivery-request.ts';
import { EndpointDirectory } from '../../../../functions/lib/core/endpoint-directory.ts';
import { EndpointService, SECRET_OVERLAP_SECONDS } from '../../../../functions/lib/core/endpoints.ts';
import { NotFoundError, ValidationError } from '../../../../functions/lib/core/errors.ts';
import { ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import { jobOf } from '../../../../functions/lib/core/jobs.ts';
import type { Delivery, Endpoint } from '../../../../functions/lib/core/model.ts';
import {
  aDelivery,
  aMessage,
  anEndpoint,
  expectedSignature,
  FakeClock,
  InMemoryDeliveryStore,
  InMemoryEndpointStore,
  InMemoryEventTypeStore,
  OLD_SECRET,
  RecordingDeliveryQueue,
  RecordingDestinationGuard,
  RecordingSystemEventPublisher,
  SECRET,
  T0,
  TENANT,
} from './fakes.ts';

const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs).toISOString();
const DAY_MS = 24 * 3600_000;

/** The directory caches for a minute: only an invalidation makes it read the store again sooner. */
const DIRECTORY_CACHE_SECONDS = 60;

function setup(endpoints: readonly Endpoint[], deliveries: readonly Delivery[] = []) {
  const endpointStore = new InMemoryEndpointStore(endpoints);
  const deliveryStore = new InMemoryDeliveryStore(deliveries);
  const queue = new RecordingDeliveryQueue();
  const guard = new RecordingDestinationGuard();
  const clock = new FakeClock(T0);
  const directory = new EndpointDirectory(endpointStore, clock, DIRECTORY_CACHE_SECONDS);
  const listAll = jest.spyOn(endpointStore, 'listAll');
  const systemEvents = new RecordingSystemEventPublisher(clock);
  const service = new EndpointService({
    endpoints: endpointStore,
    eventTypes: new InMemoryEventTypeStore(),
    deliveries: deliveryStore,
    queue,
    guard,
    clock,
    ids: ulidIdGenerator(() => clock.now().getTime()),
    directory,
    systemEvents,
  });
  return { service, endpointStore, deliveryStore, queue, guard, clock, directory, listAll, systemEvents };
}

describe('EndpointService.rotateSecret', () => {
  const endpoint = anEndpoint({ secrets: [{ value: SECRET, createdAt: '2025-01-01T00:00:00.000Z' }] });

  test('a new secret comes first; the previous one keeps signing for 24 hours', async () => {
    const s = setup([endpoint]);
    const secrets = await s.service.rotateSecret(TENANT, endpoint.id);
    expect(SECRET_OVERLAP_SECONDS).toBe(24 * 3600);
    expect(secrets).toHaveLength(2);
    const [fresh, previous] = secrets;
    expect(fresh?.value).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(fresh?.value.slice('whsec_'.length) ?? '', 'base64')).toHaveLength(32);
    expect(fresh?.value).not.toBe(SECRET);
    expect(fresh?.createdAt).toBe(T0.toISOString());
    expect(fresh?.expiresAt).toBeUndefined();
    expect(previous).toEqual({ value: SECRET, createdAt: '2025-01-01T00:00:00.000Z', expiresAt: at(DAY_MS) });
    expect(s.endpointStore.endpoints.get(endpoint.id)).toEqual({ ...endpoint, secrets, updatedAt: T0.toISOString() });
  });

  test('during the overlap both secrets sign; afterwards only the new one', async () => {
    const s = setup([endpoint]);
    const [fresh] = await s.service.rotateSecret(TENANT, endpoint.id);
    s.clock.advance(DAY_MS - 1);
    expect((await s.service.secrets(TENANT, endpoint.id)).map((x) => x.value)).toEqual([fresh?.value, SECRET]);
    const rotated = s.endpointStore.endpoints.get(endpoint.id) ?? endpoint;
    const now = s.clock.now();
    const message = aMessage();
    const subject = {
      messageId: message.id,
      type: message.type,
      createdAt: message.createdAt,
      deliveryId: aDelivery().id,
      payloadJson: message.payloadJson,
    };
    const request = buildRequest(rotated, subject, 1, now);
    const seconds = Math.floor(now.getTime() / 1000);
    expect(request.headers['webhook-signature']).toBe(
      [fresh?.value ?? '', SECRET].map((secret) => `v1,${expectedSignature(secret, aMessage().id, seconds, request.body)}`).join(' '),
    );
    s.clock.advance(1);
    expect((await s.service.secrets(TENANT, endpoint.id)).map((x) => x.value)).toEqual([fresh?.value]);
  });

  test('rotating again during an overlap keeps the earlier expiry and drops expired secrets', async () => {
    const overlapping = anEndpoint({
      secrets: [
        { value: SECRET, createdAt: at(-DAY_MS) },
        { value: OLD_SECRET, createdAt: at(-30 * DAY_MS), expiresAt: at(3600_000) },
        { value: 'whsec_expired', createdAt: at(-60 * DAY_MS), expiresAt: at(-1) },
      ],
    });
    const s = setup([overlapping]);
    const secrets = await s.service.rotateSecret(TENANT, overlapping.id);
    expect(secrets.slice(1)).toEqual([
      { value: SECRET, createdAt: at(-DAY_MS), expiresAt: at(DAY_MS) },
      { value: OLD_SECRET, createdAt: at(-30 * DAY_MS), expiresAt: at(3600_000) },
    ]);
    expect(secrets.map((x) => x.value)).not.toContain('whsec_expired');
  });

  test("another tenant's endpoint is a 404 and is left as it was", async () => {
    const theirs = anEndpoint({ tenantId: 'ten_OTHER' });
    const s = setup([theirs]);
    await expect(s.service.rotateSecret(TENANT, theirs.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(s.endpointStore.endpoints.get(theirs.id)).toEqual(theirs);
  });
});

describe('EndpointService.update: enabling a disabled endpoint', () => {
  const off = anEndpoint({
    disabled: true,
    disabledReason: 'every attempt failed from 2025-02-24T12:00:00.000Z to 2025-03-01T11:00:00.000Z',
    failingSince: '2025-02-24T12:00:00.000Z',
    consecutiveFailures: 57,
  });
  const n = (i: number) => `dlv_01JN${String(i).padStart(22, '0')}`;
  const undated = (overrides: Partial<Delivery>): Delivery => {
    const { nextAttemptAt: _none, ...rest } = aDelivery(overrides);
    return rest;
  };
  const waitingPending = undated({ id: n(1), status: 'pending' });
  const waitingFailed = undated({ id: n(2), status: 'failed', attemptCount: 3, lastError: 'endpoint is disabled' });
  const scheduled = aDelivery({ id: n(3), status: 'failed', attemptCount: 1, nextAttemptAt: at(DAY_MS) });
  const dead = undated({ id: n(4), status: 'dead', attemptCount: 8 });
  const succeeded = undated({ id: n(5), status: 'succeeded', attemptCount: 1 });
  const elsewhere = undated({ id: n(6), status: 'pending', endpointId: 'ep_01JN0000000000000000000EL' });
  const all = [waitingPending, waitingFailed, scheduled, dead, succeeded, elsewhere];

  test('clears the disabled reason and the health record, and resumes the deliveries that waited', async () => {
    const s = setup([off], all);
    s.clock.advance(3600_000);
    const now = at(3600_000);
    const updated = await s.service.update(TENANT, off.id, { disabled: false });

    expect(updated.disabled).toBe(false);
    for (const field of ['disabledReason', 'failingSince', 'consecutiveFailures'] as const) expect(updated[field]).toBeUndefined();
    expect(s.endpointStore.endpoints.get(off.id)).toEqual(updated);
    expect(updated.updatedAt).toBe(now);

    expect(s.deliveryStore.deliveries.get(waitingPending.id)).toEqual({ ...waitingPending, nextAttemptAt: now, updatedAt: now });
    expect(s.deliveryStore.deliveries.get(waitingFailed.id)).toEqual({ ...waitingFailed, nextAttemptAt: now, updatedAt: now });
    for (const untouched of [scheduled, dead, succeeded, elsewhere])
      expect(s.deliveryStore.deliveries.get(untouched.id)).toEqual(untouched);

    expect(s.queue.calls).toHaveLength(1);
    expect(s.queue.calls[0]?.lane).toBe('primary');
    expect(s.queue.calls[0]?.delaySeconds).toBeUndefined();
    // The one call's tasks are exactly these two delivery jobs (no first-attempt job).
    expect(s.queue.calls[0]?.tasks).toHaveLength(2);
    expect([...s.queue.jobs].sort((a, b) => (a.deliveryId < b.deliveryId ? -1 : 1))).toEqual([jobOf(waitingPending), jobOf(waitingFailed)]);
  });

  test('nothing waiting: nothing enqueued', async () => {
    const s = setup([off], [scheduled]);
    await s.service.update(TENANT, off.id, { disabled: false });
    expect(s.queue.calls).toEqual([]);
  });

  test('other changes to a disabled endpoint resume nothing and keep its health record', async () => {
    const s = setup([off], all);
    const updated = await s.service.update(TENANT, off.id, { description: 'still off' });
    expect(updated).toMatchObject({
      disabled: true,
      disabledReason: off.disabledReason,
      failingSince: off.failingSince,
      consecutiveFailures: 57,
    });
    expect(s.queue.calls).toEqual([]);
    expect(s.deliveryStore.deliveries.get(waitingPending.id)).toEqual(waitingPending);
  });

  test('`disabled: false` on an enabled endpoint resumes nothing and keeps its run of failures', async () => {
    const failing = anEndpoint({ failingSince: '2025-03-01T11:00:00.000Z', consecutiveFailures: 4 });
    const s = setup([failing], [waitingPending]);
    const updated = await s.service.update(TENANT, failing.id, { disabled: false });
    expect(updated).toMatchObject({ disabled: false, failingSince: failing.failingSince, consecutiveFailures: 4 });
    expect(s.queue.calls).toEqual([]);
    expect(s.deliveryStore.deliveries.get(waitingPending.id)).toEqual(waitingPending);
  });

  test('a delivery that moved on between the read and the write is not resumed', async () => {
    const s = setup([off], [waitingPending, waitingFailed]);
    const update = s.deliveryStore.update.bind(s.deliveryStore);
    s.deliveryStore.update = async (next, previous) => {
      if (previous.id === waitingFailed.id) s.deliveryStore.deliveries.set(previous.id, { ...waitingFailed, status: 'dead' });
      return update(next, previous);
    };
    await s.service.update(TENANT, off.id, { disabled: false });
    expect(s.queue.jobs).toEqual([jobOf(waitingPending)]);
    expect(s.deliveryStore.deliveries.get(waitingFailed.id)?.status).toBe('dead');
  });
});

describe('EndpointService: changes reach the endpoint directory at once', () => {
  const endpoint = anEndpoint({ description: 'before' });
  const theirs = anEndpoint({ id: 'ep_01JN00000000000000000THEIR', tenantId: 'ten_OTHER' });

  /** A setup whose directory has read TENANT's endpoints once, so it holds a copy good for a minute. */
  async function primed(endpoints: readonly Endpoint[] = [endpoint, theirs]) {
    const s = setup(endpoints);
    expect(await s.directory.all(TENANT)).toEqual(endpoints.filter((e) => e.tenantId === TENANT));
    expect(s.listAll).toHaveBeenCalledTimes(1);
    return s;
  }

  test('the directory does cache: a change made behind the service (another process) shows only after its ttl', async () => {
    const s = await primed();
    const added = anEndpoint({ id: 'ep_01JN00000000000000000ADDED' });
    await s.endpointStore.create(added);
    s.clock.advance(DIRECTORY_CACHE_SECONDS * 1000 - 1);
    expect(await s.directory.all(TENANT)).toEqual([endpoint]);
    expect(s.listAll).toHaveBeenCalledTimes(1);
    s.clock.advance(1);
    expect(await s.directory.all(TENANT)).toEqual([endpoint, added]);
    expect(s.listAll).toHaveBeenCalledTimes(2);
  });

  test('create: the next directory.all lists the new endpoint', async () => {
    const s = await primed();
    const created = await s.service.create(TENANT, { url: 'https://new.example.com/hooks' });
    expect(await s.directory.all(TENANT)).toEqual([endpoint, created]);
    expect(await s.directory.cached(TENANT, created.id)).toEqual(created);
    expect(s.listAll).toHaveBeenCalledTimes(2);
  });

  test('update: the next directory.all has the new version', async () => {
    const s = await primed();
    s.clock.advance(1000);
    const updated = await s.service.update(TENANT, endpoint.id, { description: 'after', url: 'https://moved.example.com/hooks' });
    expect(await s.directory.all(TENANT)).toEqual([updated]);
    expect(await s.directory.cached(TENANT, endpoint.id)).toMatchObject({
      description: 'after',
      url: 'https://moved.example.com/hooks',
      updatedAt: at(1000),
    });
  });

  test('update that disables or enables: routing sees the new state at once', async () => {
    const s = await primed();
    await s.service.update(TENANT, endpoint.id, { disabled: true });
    expect((await s.directory.cached(TENANT, endpoint.id))?.disabled).toBe(true);
    await s.service.update(TENANT, endpoint.id, { disabled: false });
    expect((await s.directory.cached(TENANT, endpoint.id))?.disabled).toBe(false);
    expect(s.listAll).toHaveBeenCalledTimes(3);
  });

  test('rotateSecret: the next first attempt signs with the new secrets', async () => {
    const s = await primed();
    const secrets = await s.service.rotateSecret(TENANT, endpoint.id);
    expect((await s.directory.cached(TENANT, endpoint.id))?.secrets).toEqual(secrets);
    expect((await s.directory.all(TENANT)).map((e) => e.secrets)).toEqual([secrets]);
  });

  test('delete: the next directory.all no longer lists the endpoint', async () => {
    const s = await primed();
    await s.service.delete(TENANT, endpoint.id);
    expect(await s.directory.all(TENANT)).toEqual([]);
    expect(await s.directory.cached(TENANT, endpoint.id)).toBeUndefined();
  });

  test('a change to one tenant leaves the copy of another tenant cached', async () => {
    const s = await primed();
    expect(await s.directory.all('ten_OTHER')).toEqual([theirs]);
    expect(s.listAll).toHaveBeenCalledTimes(2);
    await s.service.update(TENANT, endpoint.id, { description: 'after' });
    expect(await s.directory.all('ten_OTHER')).toEqual([theirs]);
    expect(s.listAll).toHaveBeenCalledTimes(2);
    expect((await s.directory.all(TENANT)).map((e) => e.description)).toEqual(['after']);
    expect(s.listAll).toHaveBeenCalledTimes(3);
  });

  test('a change that fails changes nothing the directory holds', async () => {
    const s = await primed();
    await expect(s.service.update(TENANT, theirs.id, { description: 'hijack' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.service.rotateSecret(TENANT, theirs.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.service.delete(TENANT, theirs.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(await s.directory.all(TENANT)).toEqual([endpoint]);
    expect(await s.directory.all('ten_OTHER')).toEqual([theirs]);
  });
});

describe('EndpointService: filters', () => {
  const filter = { 'data.amount': { $gte: 100 } };

  test('create and update check the filter: an invalid one is a ValidationError and nothing is stored', async () => {
    const s = setup([]);
    await expect(s.service.create(TENANT, { url: 'https://example.com/hook', filter: { 'data.amount': { $gte: [1] } } })).rejects.toThrow(
      ValidationError,
    );
    expect(s.endpointStore.endpoints.size).toBe(0);
    const created = await s.service.create(TENANT, { url: 'https://example.com/hook', filter });
    expect(created.filter).toEqual(filter);
    await expect(s.service.update(TENANT, created.id, { filter: { $xor: [] } })).rejects.toThrow('unknown operator $xor');
    expect((await s.service.get(TENANT, created.id)).filter).toEqual(filter);
    // null clears it.
    expect(await s.service.update(TENANT, created.id, { filter: null })).not.toHaveProperty('filter');
  });

  test('testFilter: the event types first, then the filter, explained', async () => {
    const endpoint = anEndpoint({ eventTypes: ['order.created'], filter });
    const s = setup([endpoint]);
    expect(await s.service.testFilter(TENANT, endpoint.id, { type: 'order.created', data: { amount: 150 } })).toEqual({
      matches: true,
      subscribed: true,
      explanation: { path: 'data.amount', operator: '$gte', operand: 100, found: [150], matched: true },
    });
    expect(await s.service.testFilter(TENANT, endpoint.id, { type: 'order.refunded', data: { amount: 150 } })).toMatchObject({
      matches: false,
      subscribed: false,
    });
    const plain = anEndpoint({ id: 'ep_PLAIN' });
    const t = setup([plain]);
    expect(await t.service.testFilter(TENANT, plain.id, { type: 'x.y', data: {} })).toEqual({ matches: true, subscribed: true });
    await expect(t.service.testFilter(TENANT, 'ep_NONE', { type: 'x.y', data: {} })).rejects.toThrow(NotFoundError);
  });
});

describe('EndpointService: operational events', () => {
  test('created, updated, disabled and enabled, each once, without secrets or passwords; deleted, as a task for the retry lane', async () => {
    const s = setup([]);
    const created = await s.service.create(TENANT, {
      url: 'https://example.com/hook',
      auth: { type: 'basic', username: 'u', password: 'pw-secret' },
      headers: { 'x-token': 'header-secret' },
    });
    await s.service.update(TENANT, created.id, { description: 'orders' });
    await s.service.update(TENANT, created.id, { disabled: true });
    await s.service.update(TENANT, created.id, { disabled: false });
    await s.service.delete(TENANT, created.id);
    expect(s.systemEvents.published.map((event) => event.type)).toEqual([
      'endpoint.created',
      'endpoint.updated',
      'endpoint.disabled',
      'endpoint.enabled',
    ]);
    expect(s.systemEvents.published[0]?.payload).toEqual({
      endpointId: created.id,
      url: 'https://example.com/hook',
      mode: 'full',
      disabled: false,
    });
    expect(s.systemEvents.published[2]?.payload).toMatchObject({ endpointId: created.id, reason: 'disabled through the API' });
    // Deleting may not write a message: the event goes to the retry lane's consumer, keyed so a redelivery stores it once.
    expect(s.queue.calls.at(-1)).toEqual({
      tasks: [
        {
          kind: 'announce',
          tenantId: TENANT,
          type: 'endpoint.deleted',
          payload: { endpointId: created.id, deletedAt: T0.toISOString() },
          key: `endpoint.deleted:${created.id}`,
        },
      ],
      delaySeconds: undefined,
      lane: 'retry',
    });
    const text = JSON.stringify(s.systemEvents.published);
    for (const secret of ['pw-secret', 'header-secret', created.secrets[0]?.value ?? 'whsec_']) expect(text).not.toContain(secret);
  });

  test('a refused change announces nothing', async () => {
    const s = setup([]);
    await expect(s.service.create(TENANT, { url: 'https://example.com/hook', filter: { $bad: 1 } })).rejects.toThrow(ValidationError);
    await expect(s.service.delete(TENANT, 'ep_NONE')).rejects.toThrow(NotFoundError);
    expect(s.systemEvents.published).toEqual([]);
  });
});

describe('EndpointService: poll endpoints', () => {
  test('a poll endpoint has no url and a day to be acknowledged; every other mode needs a url', async () => {
    const s = setup([]);
    const poll = await s.service.create(TENANT, { mode: 'poll' });
    expect(poll).toMatchObject({ mode: 'poll', retryPolicy: { preset: 'daily' } });
    expect(poll.url).toBeUndefined();
    expect(s.guard.checked).toEqual([]);
    await expect(s.service.create(TENANT, { mode: 'poll', url: 'https://example.com/hook' })).rejects.toThrow(
      new ValidationError('a poll endpoint has no url: its receiver pulls deliveries from GET /v1/inbox'),
    );
    await expect(s.service.create(TENANT, {})).rejects.toThrow(new ValidationError('url is required (only a poll endpoint has none)'));
    await expect(s.service.create(TENANT, { mode: 'thin' })).rejects.toThrow(ValidationError);
  });

  test('an endpoint cannot become a poll endpoint, nor stop being one', async () => {
    const s = setup([]);
    const poll = await s.service.create(TENANT, { mode: 'poll' });
    const full = await s.service.create(TENANT, { url: 'https://example.com/hook' });
    await expect(s.service.update(TENANT, poll.id, { mode: 'full', url: 'https://example.com/hook' })).rejects.toThrow(
      'an endpoint cannot become or stop being a poll endpoint (it is poll); create a new endpoint instead',
    );
    await expect(s.service.update(TENANT, full.id, { mode: 'poll' })).rejects.toThrow('(it is full)');
    await expect(s.service.update(TENANT, poll.id, { url: 'https://example.com/hook' })).rejects.toThrow('a poll endpoint has no url');
    expect(await s.service.update(TENANT, poll.id, { description: 'pulled by sluice listen' })).toMatchObject({ mode: 'poll' });
  });
});
