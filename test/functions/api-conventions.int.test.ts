/**
 * Integration (real local stack): the conventions clients and SDK generators rely on. The served
 * OpenAPI document passes Redocly's recommended lint with no problem; live answers match the
 * schemas it declares, with no undeclared field; and the HTTP semantics hold (request ids, 404 and
 * 405 with Allow from the `$default` function, HEAD, 415, 204 without a content type, 400 for
 * malformed percent-encoding, a `done` flag on lists).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { keys } from '../../functions/lib/aws/ledger-keys.ts';
import { Receiver, respondWith } from '../support/receiver.ts';
import {
  call,
  createEndpoint,
  createTenant,
  eventually,
  ledgerClient,
  postMessage,
  putEventType,
  type TestTenant,
  testStack,
} from '../support/stack.ts';

type Json = Record<string, unknown>;

/** Every object schema that lists its properties admits no others: an undeclared field in an answer fails. */
function closeObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closeObjects);
  if (typeof node !== 'object' || node === null) return node;
  const copy = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, closeObjects(value)])) as Json;
  if (copy.type === 'object' && copy.properties && copy.additionalProperties === undefined) copy.additionalProperties = false;
  return copy;
}

const pointer = (...parts: string[]) => parts.map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

describe('the OpenAPI document', () => {
  let doc: Json;

  beforeAll(async () => {
    doc = (await call<Json>('GET', '/v1/openapi.json')).body;
  });

  test('passes `redocly lint` (recommended rules) with no error and no warning', () => {
    const linted = spawnSync(process.execPath, [path.join('test', 'support', 'openapi-lint.mts')], {
      input: JSON.stringify(doc),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(linted.stderr).toBe('');
    expect(JSON.parse(linted.stdout)).toEqual([]);
  });

  test('live answers match their declared schemas, field for field', async () => {
    const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
    ajv.addSchema({ ...(closeObjects(doc) as Json), $id: 'openapi.json' });
    const check = async (method: string, route: string, template: string, status: number, options: Parameters<typeof call>[2] = {}) => {
      const response = await call(method, route, options);
      expect({ route, status: response.status }).toEqual({ route, status });
      const ref = `openapi.json#/${pointer('paths', template, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema')}`;
      const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
      const valid = validate(response.body);
      expect({ route, errors: valid ? [] : validate.errors }).toEqual({ route, errors: [] });
      return response.body as Json;
    };

    const receiver = await Receiver.start();
    try {
      const tenant = (await check('POST', '/v1/tenants', '/v1/tenants', 201, {
        key: testStack().rootKey,
        body: { name: 'conventions' },
      })) as {
        id: string;
        apiKey: string;
      };
      const key = tenant.apiKey;
      await check('PUT', '/v1/event-types/conventions.check', '/v1/event-types/{name}', 201, {
        key,
        body: { description: 'd', schema: { type: 'object' } },
      });
      const endpoint = await check('POST', '/v1/endpoints', '/v1/endpoints', 201, {
        key,
        body: { url: receiver.url, headers: { 'X-A': 'b' } },
      });
      const message = await check('POST', '/v1/messages', '/v1/messages', 202, {
        key,
        body: { type: 'conventions.check', payload: { a: 1 } },
      });
      await eventually(async () => receiver.requests[0], 'the delivery');
      await check('GET', '/v1/messages', '/v1/messages', 200, { key });
      await check('GET', `/v1/messages/${message.id}`, '/v1/messages/{id}', 200, { key });
      const deliveries = await check('GET', `/v1/messages/${message.id}/deliveries`, '/v1/messages/{id}/deliveries', 200, { key });
      const deliveryId = (deliveries.data as { id: string }[])[0]?.id ?? '';
      await eventually(async () => {
        const delivery = await call<{ status: string }>('GET', `/v1/deliveries/${deliveryId}`, { key });
        return delivery.body.status === 'succeeded' ? true : undefined;
      }, 'the delivery to succeed');
      await check('GET', `/v1/deliveries/${deliveryId}`, '/v1/deliveries/{id}', 200, { key });
      await check('GET', '/v1/endpoints', '/v1/endpoints', 200, { key });
      await check('GET', `/v1/endpoints/${endpoint.id}`, '/v1/endpoints/{id}', 200, { key });
      await check('GET', `/v1/endpoints/${endpoint.id}/deliveries`, '/v1/endpoints/{id}/deliveries', 200, { key });
      await check('GET', `/v1/endpoints/${endpoint.id}/stats`, '/v1/endpoints/{id}/stats', 200, { key });
      await check('GET', '/v1/event-types', '/v1/event-types', 200, { key });
      await check('GET', '/v1/api-keys', '/v1/api-keys', 200, { key });
      await check('GET', '/v1/dead-letters', '/v1/dead-letters', 200, { key });
      await check('POST', '/v1/messages', '/v1/messages', 400, { key, body: { type: 'conventions.check' } });
      await check('GET', '/v1/endpoints/ep_01ZZZZZZZZZZZZZZZZZZZZZZZZ', '/v1/endpoints/{id}', 404, { key });
    } finally {
      await receiver.close();
    }
  });
});

describe('HTTP semantics', () => {
  let tenant: TestTenant;

  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'conventions.http');
  });

  const raw = (method: string, route: string, init: RequestInit = {}) =>
    fetch(`${testStack().apiUrl}${route}`, { method, ...init, headers: { authorization: `Bearer ${tenant.key}`, ...init.headers } });

  test('every answer carries x-request-id; a well-formed one sent by the client is kept and named in errors', async () => {
    const plain = await raw('GET', '/v1/endpoints');
    expect(plain.headers.get('x-request-id')).toMatch(/^\S{8,}$/);
    const traced = await raw('GET', '/v1/endpoints/ep_01ZZZZZZZZZZZZZZZZZZZZZZZZ', { headers: { 'x-request-id': 'trace-0123456789' } });
    expect(traced.headers.get('x-request-id')).toBe('trace-0123456789');
    expect(((await traced.json()) as { error: { requestId: string } }).error.requestId).toBe('trace-0123456789');
    const forged = await raw('GET', '/v1/endpoints', { headers: { 'x-request-id': 'no spaces allowed here' } });
    expect(forged.headers.get('x-request-id')).not.toBe('no spaces allowed here');
  });

  test('a method the path does not have: 405 method_not_allowed with Allow', async () => {
    const response = await raw('PUT', '/v1/messages');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST, GET, HEAD');
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toMatch(/^\S{8,}$/);
    expect(((await response.json()) as { error: { code: string; requestId: string } }).error).toMatchObject({
      code: 'method_not_allowed',
      requestId,
    });
  });

  test('a path no route has: 404 not_found from the $default function, with the request id like every answer', async () => {
    const response = await raw('GET', '/v1/nowhere');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/json');
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toMatch(/^\S{8,}$/);
    expect(await response.json()).toEqual({
      error: { code: 'not_found', message: 'no route for GET /v1/nowhere; see GET /v1/openapi.json', requestId },
    });
    const traced = await raw('POST', '/x', { headers: { 'x-request-id': 'trace-unknown-route' } });
    expect(traced.headers.get('x-request-id')).toBe('trace-unknown-route');
    expect(((await traced.json()) as { error: { requestId: string } }).error.requestId).toBe('trace-unknown-route');
    const head = await raw('HEAD', '/v1/nowhere');
    expect(head.status).toBe(404);
    expect(await head.text()).toBe('');
  });

  test('HEAD on a GET route: the same status and headers, no body', async () => {
    const get = await raw('GET', '/v1/endpoints');
    const head = await raw('HEAD', '/v1/endpoints');
    expect(head.status).toBe(get.status);
    expect(head.headers.get('content-type')).toBe('application/json');
    expect(await head.text()).toBe('');
    expect((await raw('HEAD', '/v1/endpoints/ep_01ZZZZZZZZZZZZZZZZZZZZZZZZ')).status).toBe(404);
  });

  test('a body that is not JSON by content type: 415 unsupported_media_type', async () => {
    const response = await raw('POST', '/v1/messages', { body: 'type=x', headers: { 'content-type': 'text/plain' } });
    expect(response.status).toBe(415);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
  });

  test('204 answers carry no content type', async () => {
    const endpoint = await createEndpoint(tenant, { url: 'http://127.0.0.1:9/gone' });
    const response = await raw('DELETE', `/v1/endpoints/${endpoint.id}`);
    expect(response.status).toBe(204);
    expect(response.headers.get('content-type')).toBeNull();
    expect(await response.text()).toBe('');
  });

  test('malformed percent-encoding in a path: 400, not 500', async () => {
    const response = await raw('GET', '/v1/endpoints/%E0%A4%A');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'validation_failed',
      message: expect.stringMatching(/percent-encoding/),
    });
  });

  test('lists say when they are done: a full last page is not followed by an empty one', async () => {
    for (let i = 0; i < 4; i++) await postMessage(tenant, 'conventions.http', { i });
    const first = await call<{ data: unknown[]; done: boolean; nextCursor?: string }>('GET', '/v1/messages?limit=2', { key: tenant.key });
    expect(first.body).toMatchObject({ done: false, nextCursor: expect.any(String) });
    expect(first.body.data).toHaveLength(2);
    const last = await call<{ data: unknown[]; done: boolean; nextCursor?: string }>(
      'GET',
      `/v1/messages?limit=2&cursor=${first.body.nextCursor}`,
      { key: tenant.key },
    );
    expect(last.body.data).toHaveLength(2);
    expect(last.body.done).toBe(true);
    expect(last.body.nextCursor).toBeUndefined();
    const whole = await call<{ data: unknown[]; done: boolean }>('GET', '/v1/messages?limit=4', { key: tenant.key });
    expect(whole.body).toMatchObject({ done: true });
  });
});

describe('history lists: a window of creation time, and dead letters by endpoint', () => {
  type Listed = { data: { id: string; messageId?: string; endpointId?: string }[]; done: boolean };
  let tenant: TestTenant;
  let created: { id: string; createdAt: string }[];
  let endpointId: string;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'conventions.window');
    const target = await Receiver.start();
    receivers.push(target);
    endpointId = (await createEndpoint(tenant, { url: target.url })).id;
    created = [];
    for (let i = 0; i < 3; i++) {
      created.push(await postMessage(tenant, 'conventions.window', { i }));
      // Distinct milliseconds, so each message has its own place in time.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await target.waitFor(3);
  });

  afterAll(async () => Promise.all(receivers.map((r) => r.close())));

  const ids = async (route: string) => {
    const response = await call<Listed>('GET', route, { key: tenant.key });
    expect({ route, status: response.status }).toEqual({ route, status: 200 });
    return response.body.data.map((item) => item.messageId ?? item.id);
  };
  const q = (value: string) => encodeURIComponent(value);

  test('after is inclusive, before exclusive, on messages and on an endpoint’s deliveries', async () => {
    const [m1, m2, m3] = created;
    if (!m1 || !m2 || !m3) throw new Error('three messages');
    expect(await ids(`/v1/messages?after=${q(m2.createdAt)}`)).toEqual([m3.id, m2.id]);
    expect(await ids(`/v1/messages?before=${q(m2.createdAt)}`)).toEqual([m1.id]);
    expect(await ids(`/v1/messages?after=${q(m1.createdAt)}&before=${q(m3.createdAt)}`)).toEqual([m2.id, m1.id]);
    expect(await ids(`/v1/messages?after=${q(m1.createdAt)}&before=${q(m3.createdAt)}&type=conventions.window&limit=1`)).toEqual([m2.id]);
    expect(await ids(`/v1/endpoints/${endpointId}/deliveries?after=${q(m2.createdAt)}`)).toEqual([m3.id, m2.id]);
    // Any offset is accepted; the window is in absolute time.
    const m2AtPlusOne = new Date(m2.createdAt).toISOString().replace('Z', '+00:00');
    expect(await ids(`/v1/endpoints/${endpointId}/deliveries?before=${q(m2AtPlusOne)}&status=succeeded`)).toEqual([m1.id]);
  });

  test('a window that is empty, inverted or not a time is a 400 that says what to fix', async () => {
    const [m1, m2] = created;
    const inverted = await call<{ error: { code: string; details: { path: string }[] } }>(
      'GET',
      `/v1/messages?after=${q(m2?.createdAt ?? '')}&before=${q(m1?.createdAt ?? '')}`,
      { key: tenant.key },
    );
    expect(inverted.status).toBe(400);
    expect(inverted.body.error).toMatchObject({ code: 'validation_failed', details: [{ path: 'query.after' }] });
    const notATime = await call<{ error: { code: string; details: { path: string }[] } }>('GET', '/v1/dead-letters?before=yesterday', {
      key: tenant.key,
    });
    expect(notATime.status).toBe(400);
    expect(notATime.body.error.details).toEqual([expect.objectContaining({ path: 'query.before' })]);
  });

  test('unknown query parameters are refused by name, so a typo never silently widens a list', async () => {
    const typo = await call<{ error: { code: string; details: { path: string; message: string }[] } }>(
      'GET',
      '/v1/messages?since=2026-01-01',
      {
        key: tenant.key,
      },
    );
    expect(typo.status).toBe(400);
    expect(typo.body.error.details).toEqual([{ path: 'query.since', message: 'unknown field: remove it' }]);
  });

  test('dead letters of one endpoint: its own only; another tenant’s endpoint is a 404', async () => {
    const failing = await Receiver.start(respondWith(500));
    receivers.push(failing);
    await putEventType(tenant, 'conventions.dead');
    const [one, two] = [
      await createEndpoint(tenant, { url: failing.url, eventTypes: ['conventions.dead'], retryPolicy: { delaysSeconds: [1] } }),
      await createEndpoint(tenant, { url: failing.url, eventTypes: ['conventions.dead'], retryPolicy: { delaysSeconds: [1] } }),
    ];
    const message = await postMessage(tenant, 'conventions.dead', { n: 1 });
    await eventually(async () => {
      const dead = await call<Listed>('GET', '/v1/dead-letters', { key: tenant.key });
      return dead.body.data.filter((d) => d.messageId === message.id).length === 2 ? true : undefined;
    }, 'both deliveries dead');
    const ofOne = await call<Listed>('GET', `/v1/dead-letters?endpointId=${one?.id}`, { key: tenant.key });
    expect(ofOne.body.data.map((d) => [d.messageId, d.endpointId])).toEqual([[message.id, one?.id]]);
    expect(await ids(`/v1/dead-letters?endpointId=${two?.id}&after=${q(message.createdAt)}`)).toEqual([message.id]);
    expect(await ids(`/v1/dead-letters?endpointId=${two?.id}&before=${q(message.createdAt)}`)).toEqual([]);
    const other = await createTenant();
    const foreign = await call<{ error: { code: string } }>('GET', `/v1/dead-letters?endpointId=${one?.id}`, { key: other.key });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('not_found');
  });
});

describe('Idempotency-Key', () => {
  let tenant: TestTenant;

  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'conventions.idem');
  });

  const post = (route: string, key: string, body: unknown, who = tenant.key) =>
    call<Json>('POST', route, { key: who, body, headers: { 'idempotency-key': key } });

  test('a creating POST repeated with the same key and body answers the first answer, marked replayed', async () => {
    const body = { url: 'http://127.0.0.1:9/idem', description: 'once' };
    const first = await post('/v1/endpoints', 'ep-key-1', body);
    const again = await post('/v1/endpoints', 'ep-key-1', body);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBe('false');
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const list = await call<{ data: { description?: string }[] }>('GET', '/v1/endpoints', { key: tenant.key });
    expect(list.body.data.filter((endpoint) => endpoint.description === 'once')).toHaveLength(1);
  });

  test('the same key on a different body is 422 idempotency_key_reused, naming the first request by fingerprint', async () => {
    await post('/v1/endpoints', 'ep-key-2', { url: 'http://127.0.0.1:9/a' });
    const reused = await post('/v1/endpoints', 'ep-key-2', { url: 'http://127.0.0.1:9/b' });
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({
      error: {
        code: 'idempotency_key_reused',
        details: [{ path: 'idempotency-key', message: expect.stringMatching(/fingerprint sha256:[0-9a-f]{64}/) }],
      },
    });
  });

  test('keys are scoped: another route, or another tenant, with the same key is a new request', async () => {
    const endpoint = await post('/v1/endpoints', 'shared-key', { url: 'http://127.0.0.1:9/c' });
    const apiKey = await post('/v1/api-keys', 'shared-key', { name: 'k', scopes: ['ingest'] });
    expect([endpoint.status, apiKey.status]).toEqual([201, 201]);
    expect(apiKey.headers.get('idempotent-replayed')).toBe('false');
    const other = await createTenant();
    const theirs = await post('/v1/endpoints', 'shared-key', { url: 'http://127.0.0.1:9/c' }, other.key);
    expect(theirs.headers.get('idempotent-replayed')).toBe('false');
    expect(theirs.body.id).not.toBe(endpoint.body.id);
  });

  test('a first answer that carries a secret is kept sealed: the records never hold a key or a signing secret in the clear', async () => {
    const endpoint = await post('/v1/endpoints', 'sealed-secret', { url: 'http://127.0.0.1:9/sealed' });
    const apiKey = await post('/v1/api-keys', 'sealed-key', { name: 'sealed', scopes: ['ingest'] });
    const replayed = await post('/v1/api-keys', 'sealed-key', { name: 'sealed', scopes: ['ingest'] });
    expect([endpoint.status, apiKey.status, replayed.status]).toEqual([201, 201, 201]);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    // The replay opens the sealed record: the same key as the first answer.
    expect(replayed.body.key).toBe(apiKey.body.key);
    const ledger = ledgerClient();
    try {
      const records = await ledger.send(
        new QueryCommand({
          TableName: 'sluice-ledger',
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.idempotencyRecords() },
        }),
      );
      const dump = JSON.stringify(records.Items);
      expect(records.Items?.length).toBeGreaterThanOrEqual(2);
      expect(dump).not.toContain(String(endpoint.body.secret));
      expect(dump).not.toContain(String(apiKey.body.key));
      expect(dump).toMatch(/v2\.k\d+\./);
    } finally {
      ledger.destroy();
    }
  });

  test('a request that fails keeps no record: the same key works once the request is fixed', async () => {
    const refused = await post('/v1/endpoints', 'ep-key-3', { url: 'http://10.0.0.1/private' });
    expect(refused.status).toBe(400);
    const fixed = await post('/v1/endpoints', 'ep-key-3', { url: 'http://127.0.0.1:9/fixed' });
    expect(fixed.status).toBe(201);
    expect(fixed.headers.get('idempotent-replayed')).toBe('false');
  });

  test('POST /v1/messages: the same body replays, a different body with the same key is 422', async () => {
    const first = await post('/v1/messages', 'msg-key-1', { type: 'conventions.idem', payload: { n: 1 } });
    const again = await post('/v1/messages', 'msg-key-1', { type: 'conventions.idem', payload: { n: 1 } });
    expect([first.status, again.status]).toEqual([202, 202]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    const reused = await post('/v1/messages', 'msg-key-1', { type: 'conventions.idem', payload: { n: 2 } });
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({
      error: { code: 'idempotency_key_reused', message: expect.stringContaining(String(first.body.id)) },
    });
  });

  test('the key must be 1 to 256 characters', async () => {
    const tooLong = await post('/v1/endpoints', 'k'.repeat(257), { url: 'http://127.0.0.1:9/d' });
    expect(tooLong.status).toBe(400);
  });
});

describe('documented behaviour', () => {
  test('POST /v1/dead-letters/redrive with no body redrives all, as {ids?} promises', async () => {
    const tenant = await createTenant();
    const response = await call<{ redriven?: number }>('POST', '/v1/dead-letters/redrive', { key: tenant.key });
    expect(response.status).toBeLessThan(300);
    const missing = await call('POST', '/v1/messages', { key: tenant.key });
    expect(missing.status).toBe(400);
  });
});

describe('CORS (the fixture allows http://portal.test:8080)', () => {
  const allowed = 'http://portal.test:8080';

  test('a preflight from an allowed origin is answered with what may be sent', async () => {
    const response = await fetch(`${testStack().apiUrl}/v1/messages`, {
      method: 'OPTIONS',
      headers: { origin: allowed, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(response.headers.get('access-control-allow-headers')).toContain('idempotency-key');
  });

  test('answers to an allowed origin name it and expose the headers a page needs; other origins get no CORS headers', async () => {
    const tenant = await createTenant();
    const mine = await fetch(`${testStack().apiUrl}/v1/endpoints`, { headers: { origin: allowed, authorization: `Bearer ${tenant.key}` } });
    expect(mine.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(mine.headers.get('access-control-expose-headers')).toContain('x-request-id');
    const theirs = await fetch(`${testStack().apiUrl}/v1/endpoints`, {
      headers: { origin: 'https://evil.example', authorization: `Bearer ${tenant.key}` },
    });
    expect(theirs.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${testStack().apiUrl}/v1/endpoints`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.status).toBe(405);
  });
});
