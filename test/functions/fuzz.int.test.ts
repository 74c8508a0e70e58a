/**
 * Integration (real local stack): property-based fuzzing of every write route and of the inbound
 * hooks. Bodies are random JSON, valid bodies with a field dropped, retyped, nulled, blown up
 * to a huge or exotic string, or joined by an unknown field, and text that is not JSON at all.
 * The oracle is the route's own zod schema: what it refuses must answer 4xx with the error
 * body; nothing may ever answer 5xx; and a refused call must store nothing.
 */
import fc from 'fast-check';
import type { z } from 'zod';
import { createApiKey, createTenant as createTenantRoute, updateTenant } from '../../functions/lib/api/access-routes.ts';
import { CreateActionBody, HookBody } from '../../functions/lib/api/action-routes.ts';
import {
  createEndpoint as createEndpointRoute,
  putEventType as putEventTypeRoute,
  updateEndpoint,
} from '../../functions/lib/api/catalog-routes.ts';
import { createMessage } from '../../functions/lib/api/message-routes.ts';
import { recoverEndpoint, redriveDeadLetters } from '../../functions/lib/api/recovery-routes.ts';
import { receiverPool } from '../support/receiver.ts';
import { call, createEndpoint, createKey, createTenant, putEventType, type TestTenant, testStack } from '../support/stack.ts';

const CASES_PER_ROUTE = 1000;
/** Requests in flight at once: enough to finish in seconds, few enough to leave the stack to other suites. */
const IN_FLIGHT = 4;

interface Fixture {
  readonly tenant: TestTenant;
  readonly inboundKey: string;
  readonly endpointId: string;
  readonly keyId: string;
  readonly actionId: string;
}

type Who = 'tenant' | 'root' | 'inbound';

interface BodyRoute {
  readonly name: string;
  readonly method: string;
  readonly path: (fixture: Fixture) => string;
  readonly who: Who;
  /** The route's body schema: the oracle for what must be refused. */
  readonly schema: z.ZodType | undefined;
  /** A body the route accepts; the fuzzer bends it. */
  readonly valid: Record<string, unknown>;
}

const bodyRoutes: BodyRoute[] = [
  {
    name: 'POST /v1/tenants',
    method: 'POST',
    path: () => '/v1/tenants',
    who: 'root',
    schema: createTenantRoute.body,
    valid: { name: 'fuzz', ingestPerSecond: 10 },
  },
  {
    name: 'PATCH /v1/tenants/{id}',
    method: 'PATCH',
    path: (f) => `/v1/tenants/${f.tenant.id}`,
    who: 'root',
    schema: updateTenant.body,
    valid: { name: 'fuzz', ingestPerSecond: 10 },
  },
  {
    name: 'POST /v1/api-keys',
    method: 'POST',
    path: () => '/v1/api-keys',
    who: 'tenant',
    schema: createApiKey.body,
    valid: { name: 'k', scopes: ['ingest'] },
  },
  {
    name: 'PUT /v1/event-types/{name}',
    method: 'PUT',
    path: () => '/v1/event-types/fuzz.type',
    who: 'tenant',
    schema: putEventTypeRoute.body,
    valid: {
      description: 'd',
      schema: { type: 'object', properties: { n: { type: 'integer', minimum: 0 }, s: { type: 'string', pattern: '^[a-z]+$' } } },
    },
  },
  {
    name: 'POST /v1/endpoints',
    method: 'POST',
    path: () => '/v1/endpoints',
    who: 'tenant',
    schema: createEndpointRoute.body,
    valid: {
      url: 'http://127.0.0.1:9/fuzz',
      description: 'd',
      eventTypes: ['fuzz.type'],
      mode: 'full',
      headers: { 'X-Fuzz': 'yes' },
      auth: { type: 'basic', username: 'u', password: 'p' },
      retryPolicy: { preset: 'standard' },
      timeoutMs: 5000,
      rateLimitPerSecond: 10,
    },
  },
  {
    name: 'PATCH /v1/endpoints/{id}',
    method: 'PATCH',
    path: (f) => `/v1/endpoints/${f.endpointId}`,
    who: 'tenant',
    schema: updateEndpoint.body,
    valid: { description: 'd', headers: { 'X-Fuzz': 'yes' }, timeoutMs: 5000, disabled: false },
  },
  {
    name: 'POST /v1/endpoints/{id}/recover',
    method: 'POST',
    path: (f) => `/v1/endpoints/${f.endpointId}/recover`,
    who: 'tenant',
    schema: recoverEndpoint.body,
    valid: { since: '2026-01-01T00:00:00Z' },
  },
  {
    name: 'POST /v1/messages',
    method: 'POST',
    path: () => '/v1/messages',
    who: 'tenant',
    schema: createMessage.body,
    valid: { type: 'fuzz.type', payload: { n: 1, s: 'abc' } },
  },
  {
    name: 'POST /v1/dead-letters/redrive',
    method: 'POST',
    path: () => '/v1/dead-letters/redrive',
    who: 'tenant',
    schema: redriveDeadLetters.body,
    valid: { ids: ['dlv_x'] },
  },
  {
    name: 'POST /v1/actions',
    method: 'POST',
    path: () => '/v1/actions',
    who: 'tenant',
    schema: CreateActionBody,
    valid: { name: 'a', eventId: 'fuzz-event', action: 'restart_device', target: { type: 'all' }, params: { delay: 1 } },
  },
  {
    name: 'POST /v1/hooks',
    method: 'POST',
    path: () => '/v1/hooks',
    who: 'inbound',
    schema: HookBody,
    valid: { event_id: 'fuzz-hook', sensor_data: { id: 's', event: 'e', value: 1 } },
  },
];

/** Routes that take only an id in the path: fuzzed with hostile ids. */
const idRoutes: { name: string; method: string; path: (id: string) => string }[] = [
  { name: 'DELETE /v1/api-keys/{id}', method: 'DELETE', path: (id) => `/v1/api-keys/${id}` },
  { name: 'DELETE /v1/event-types/{name}', method: 'DELETE', path: (id) => `/v1/event-types/${id}` },
  { name: 'DELETE /v1/endpoints/{id}', method: 'DELETE', path: (id) => `/v1/endpoints/${id}` },
  { name: 'POST /v1/endpoints/{id}/secret/rotate', method: 'POST', path: (id) => `/v1/endpoints/${id}/secret/rotate` },
  { name: 'POST /v1/endpoints/{id}/test', method: 'POST', path: (id) => `/v1/endpoints/${id}/test` },
  { name: 'POST /v1/deliveries/{id}/retry', method: 'POST', path: (id) => `/v1/deliveries/${id}/retry` },
  { name: 'POST /v1/inbox/{id}/ack', method: 'POST', path: (id) => `/v1/inbox/${id}/ack` },
  { name: 'DELETE /v1/actions/{id}', method: 'DELETE', path: (id) => `/v1/actions/${id}` },
];

const exoticString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '\r\n', '__proto__', 'constructor', '😀'.repeat(10), '\ud800', '%E0%A4%A', '../..', "' OR 1=1 --"),
  fc.integer({ min: 10_000, max: 300_000 }).map((n) => 'x'.repeat(n)),
);
const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 4 }), exoticString, fc.constantFrom(null, -1, 0, 1e308, 2 ** 63, true, [], {}));

/** A body as text: mostly a valid body bent one way, sometimes random JSON or not JSON at all. */
function bodyText(valid: Record<string, unknown>): fc.Arbitrary<string> {
  const fields = Object.keys(valid);
  const field = fc.constantFrom(...fields);
  const bent = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(field, anyJson).map(([name, value]) => ({ ...valid, [name]: value })) },
    { weight: 2, arbitrary: field.map((name) => Object.fromEntries(Object.entries(valid).filter(([key]) => key !== name))) },
    { weight: 2, arbitrary: fc.tuple(exoticString, anyJson).map(([name, value]) => ({ ...valid, [`x${name}`]: value })) },
    { weight: 1, arbitrary: field.map((name) => ({ ...valid, [name]: null })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(field, fc.dictionary(exoticString, anyJson, { maxKeys: 5 }))
        .map(([name, value]) => ({ ...valid, [name]: value })),
    },
    { weight: 1, arbitrary: anyJson },
  );
  return fc.oneof(
    { weight: 9, arbitrary: bent.map((value) => JSON.stringify(value) ?? 'null') },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 50 }), fc.constantFrom('{', '{"a":}', '[1,]', "{'a':1}", '{"a":1}}', 'nul')) },
  );
}

/** Percent-encodes any string, lone surrogates included (as UTF-8 of U+FFFD, which is what a client would send). */
const percentEncoded = (text: string) => [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');

const hostileId = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }).map(percentEncoded),
  fc.constantFrom(
    '%E0%A4%A',
    '%',
    '%%',
    '%zz',
    'ep_..%2F..',
    'x'.repeat(70),
    'msg_01ZZZZZZZZZZZZZZZZZZZZZZZZ',
    '__proto__',
    'constructor',
    '%00',
    '%0D%0A',
  ),
  fc.stringMatching(/^(ep|key|dlv|act|msg)_[0-9A-Z]{26}$/),
);

function parses(text: string): { ok: true; value: unknown } | { ok: false } {
  // No body at all counts as `{}`: a route whose fields are all optional accepts it (README, Errors).
  if (text.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

interface Outcome {
  readonly status: number;
  readonly body: unknown;
}

async function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Outcome> {
  const response = await fetch(`${testStack().apiUrl}${path}`, { method, headers, ...(body !== undefined && { body }) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Runs `cases` through `check` with a few in flight at once; the first failure fails the test with its input. */
async function runAll<T>(cases: readonly T[], check: (input: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < cases.length) {
        const input = cases[next++] as T;
        try {
          await check(input);
        } catch (error) {
          throw new Error(`${(error as Error).message}\n  input: ${JSON.stringify(input).slice(0, 600)}`);
        }
      }
    }),
  );
}

/** Refused by the HTTP layer before any function runs (too big), in API Gateway's own shape. */
const GATEWAY_REFUSALS = new Set([413, 414, 431]);

function expectErrorBody(outcome: Outcome, hook: boolean): void {
  if (GATEWAY_REFUSALS.has(outcome.status) && outcome.body && !('error' in (outcome.body as object))) {
    expect(outcome.body).toEqual({ message: expect.any(String) });
  } else if (hook) expect(outcome.body).toEqual({ message: 'Error', error: expect.any(String) });
  else expect(outcome.body).toEqual({ error: expect.objectContaining({ code: expect.any(String), message: expect.any(String) }) });
}

interface Counts {
  readonly endpoints: number;
  readonly eventTypes: number;
  readonly apiKeys: number;
  readonly actions: number;
  readonly messages: number;
}

async function count(tenant: TestTenant, path: string): Promise<number> {
  let total = 0;
  let cursor: string | undefined;
  do {
    const page = await call<{ data: unknown[]; nextCursor?: string }>('GET', `${path}?limit=100${cursor ? `&cursor=${cursor}` : ''}`, {
      key: tenant.key,
    });
    total += page.body.data.length;
    cursor = page.body.nextCursor;
  } while (cursor);
  return total;
}

async function counts(tenant: TestTenant): Promise<Counts> {
  return {
    endpoints: await count(tenant, '/v1/endpoints'),
    eventTypes: await count(tenant, '/v1/event-types'),
    apiKeys: await count(tenant, '/v1/api-keys'),
    actions: await count(tenant, '/v1/actions'),
    messages: await count(tenant, '/v1/messages'),
  };
}

/** What a successful call of each creating route adds. */
const creates: Record<string, keyof Counts> = {
  'POST /v1/api-keys': 'apiKeys',
  'PUT /v1/event-types/{name}': 'eventTypes',
  'POST /v1/endpoints': 'endpoints',
  'POST /v1/messages': 'messages',
  'POST /v1/actions': 'actions',
  // A trigger that finds its action sends a device command: a message.
  'POST /v1/hooks': 'messages',
};

/**
 * Where the fixture's endpoint delivers: a receiver that answers 200. Deliveries failing for longer
 * than the shared stack's 15-s health window would disable the endpoint, and the tenant's
 * `endpoint.disabled` message would be one more than the fuzz accepted (seen on a loaded machine).
 */
const sinks = receiverPool();
afterAll(() => sinks.closeAll());

async function fixtureFor(): Promise<Fixture> {
  const tenant = await createTenant();
  await putEventType(tenant, 'fuzz.type', { type: 'object' });
  const endpoint = await createEndpoint(tenant, { url: (await sinks.start()).url });
  const keys = await call<{ data: { id: string }[] }>('GET', '/v1/api-keys', { key: tenant.key });
  const action = await call<{ id: string }>('POST', '/v1/actions', {
    key: tenant.key,
    body: { name: 'fixture', eventId: 'fuzz-hook', action: 'restart_device', target: { type: 'all' } },
  });
  return {
    tenant,
    inboundKey: await createKey(tenant, ['inbound']),
    endpointId: endpoint.id,
    keyId: keys.body.data[0]?.id ?? '',
    actionId: action.body.id,
  };
}

describe('fuzzing the write routes', () => {
  test.each(bodyRoutes.map((route) => [route.name, route] as const))(
    `%s: ${CASES_PER_ROUTE} hostile bodies, never a 5xx, the schema's refusals are 4xx with the error body, and they store nothing`,
    async (_name, route) => {
      expect(route.schema).toBeDefined();
      const fixture = await fixtureFor();
      const hook = route.path(fixture).startsWith('/v1/hooks');
      const auth: Record<Who, Record<string, string>> = {
        tenant: { authorization: `Bearer ${fixture.tenant.key}` },
        root: { authorization: `Bearer ${testStack().rootKey}` },
        inbound: { 'x-webhook-apikey': fixture.inboundKey },
      };
      const endpointBefore = await call('GET', `/v1/endpoints/${fixture.endpointId}`, { key: fixture.tenant.key });
      const before = await counts(fixture.tenant);
      const cases = fc.sample(bodyText(route.valid), { numRuns: CASES_PER_ROUTE, seed: 20261130 });
      let accepted = 0;
      let refusedBySchema = 0;
      await runAll(cases, async (text) => {
        const outcome = await send(route.method, route.path(fixture), { 'content-type': 'application/json', ...auth[route.who] }, text);
        expect(outcome.status).toBeLessThan(500);
        const parsed = parses(text);
        const schemaRefuses = !parsed.ok || !route.schema?.safeParse(parsed.value).success;
        if (schemaRefuses) {
          refusedBySchema++;
          expect([400, 413]).toContain(outcome.status);
        }
        if (outcome.status >= 400) expectErrorBody(outcome, hook);
        else accepted++;
      });
      // The sample really is hostile: most of it is refused by the schema.
      expect(refusedBySchema).toBeGreaterThan(CASES_PER_ROUTE / 2);

      const after = await counts(fixture.tenant);
      const grew = creates[route.name];
      expect(after).toEqual({ ...before, ...(grew && { [grew]: after[grew] }) });
      if (grew === 'eventTypes') expect(after.eventTypes - before.eventTypes).toBeLessThanOrEqual(1);
      else if (grew) expect(after[grew] - before[grew]).toBeLessThanOrEqual(accepted);
      if (route.name === 'PATCH /v1/endpoints/{id}' && accepted === 0) {
        expect((await call('GET', `/v1/endpoints/${fixture.endpointId}`, { key: fixture.tenant.key })).body).toEqual(endpointBefore.body);
      }
    },
  );

  test.each(idRoutes.map((route) => [route.name, route] as const))(
    `%s: ${CASES_PER_ROUTE} hostile ids, every one a 4xx with the error body, and nothing changes`,
    async (_name, route) => {
      const fixture = await fixtureFor();
      const secretBefore = await call('GET', `/v1/endpoints/${fixture.endpointId}/secret`, { key: fixture.tenant.key });
      const before = await counts(fixture.tenant);
      const ids = fc.sample(hostileId, { numRuns: CASES_PER_ROUTE, seed: 20261130 });
      await runAll(ids, async (id) => {
        const outcome = await send(
          route.method,
          route.path(id),
          { authorization: `Bearer ${fixture.tenant.key}`, 'content-type': 'application/json' },
          '{}',
        );
        expect(outcome.status).toBeGreaterThanOrEqual(400);
        expect(outcome.status).toBeLessThan(500);
        expectErrorBody(outcome, false);
      });
      expect(await counts(fixture.tenant)).toEqual(before);
      expect((await call('GET', `/v1/endpoints/${fixture.endpointId}/secret`, { key: fixture.tenant.key })).body).toEqual(
        secretBefore.body,
      );
    },
  );

  test(`GET /v1/hooks: ${CASES_PER_ROUTE} hostile query strings, never a 5xx, refusals in the hooks' shape`, async () => {
    const fixture = await fixtureFor();
    const payload = fc.oneof(
      bodyText({ event_id: 'fuzz-hook' }).map((text) => encodeURIComponent(Buffer.from(text).toString('base64'))),
      exoticString.map((text) => percentEncoded(text.slice(0, 10_000))),
      fc.constantFrom('%', '%E0%A4%A', '====', '+/+/', ''),
    );
    const queries = fc.sample(
      fc.tuple(
        fc.oneof(
          fc.constant(fixture.inboundKey),
          fc.constant(''),
          exoticString.map((s) => percentEncoded(s.slice(0, 200))),
        ),
        payload,
      ),
      { numRuns: CASES_PER_ROUTE, seed: 20261130 },
    );
    await runAll(queries, async ([key, data]) => {
      const outcome = await send('GET', `/v1/hooks?api_key=${key}&payload=${data}`, {});
      expect(outcome.status).toBeLessThan(500);
      if (outcome.status >= 400) expectErrorBody(outcome, true);
    });
  });
});

describe('tenancy', () => {
  const ID = /\b(?:ep|msg|dlv|key|act|ten)_[0-9A-Z]{20,}\b/g;

  test('sequences of calls by two tenants never return an id of the other', async () => {
    const tenants = [await createTenant(), await createTenant()] as const;
    const owned = [new Set<string>([tenants[0].id]), new Set<string>([tenants[1].id])];
    for (const [index, tenant] of tenants.entries()) {
      await putEventType(tenant, 'tenancy.check');
      owned[index]?.add((await createEndpoint(tenant, { url: 'http://127.0.0.1:9/tenancy' })).id);
    }
    const allIds = () => [...(owned[0] ?? []), ...(owned[1] ?? [])];
    const step = fc.record({
      who: fc.constantFrom(0, 1),
      op: fc.constantFrom(
        'createEndpoint',
        'postMessage',
        'createKey',
        'createAction',
        'listEndpoints',
        'listMessages',
        'listKeys',
        'listActions',
        'listDeadLetters',
        'getById',
        'deliveriesOf',
      ),
      pick: fc.nat(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 15 }), async (steps) => {
        for (const { who, op, pick } of steps) {
          const tenant = tenants[who];
          const mine = owned[who] as Set<string>;
          const theirs = owned[1 - who] as Set<string>;
          const any = allIds()[pick % allIds().length] ?? 'ep_x';
          const requests: Record<string, () => Promise<{ status: number; body: unknown }>> = {
            createEndpoint: () => call('POST', '/v1/endpoints', { key: tenant.key, body: { url: 'http://127.0.0.1:9/tenancy' } }),
            postMessage: () => call('POST', '/v1/messages', { key: tenant.key, body: { type: 'tenancy.check', payload: { pick } } }),
            createKey: () => call('POST', '/v1/api-keys', { key: tenant.key, body: { name: 'k', scopes: ['ingest'] } }),
            createAction: () =>
              call('POST', '/v1/actions', {
                key: tenant.key,
                body: { name: 'a', eventId: `e${pick}`, action: 'refresh_content', target: { type: 'all' } },
              }),
            listEndpoints: () => call('GET', '/v1/endpoints', { key: tenant.key }),
            listMessages: () => call('GET', '/v1/messages', { key: tenant.key }),
            listKeys: () => call('GET', '/v1/api-keys', { key: tenant.key }),
            listActions: () => call('GET', '/v1/actions', { key: tenant.key }),
            listDeadLetters: () => call('GET', '/v1/dead-letters', { key: tenant.key }),
            getById: () => {
              const kind = any.slice(0, any.indexOf('_'));
              const base = {
                ep: '/v1/endpoints',
                msg: '/v1/messages',
                dlv: '/v1/deliveries',
                act: '/v1/actions',
                key: '/v1/api-keys',
                ten: '/v1/endpoints',
              }[kind];
              return call('GET', `${base ?? '/v1/endpoints'}/${any}`, { key: tenant.key });
            },
            deliveriesOf: () => call('GET', `/v1/messages/${any}/deliveries`, { key: tenant.key }),
          };
          const response = await (requests[op] as () => Promise<{ status: number; body: unknown }>)();
          // A refusal may echo the id the caller sent; only what an answer hands out counts.
          const seen = response.status < 400 ? (JSON.stringify(response.body ?? {}).match(ID) ?? []) : [];
          for (const id of seen) {
            expect(theirs.has(id) ? `${op} by tenant ${who} returned ${id} of the other tenant` : 'ok').toBe('ok');
            mine.add(id);
          }
        }
      }),
      { numRuns: 40, seed: 20261130 },
    );
  });
});
