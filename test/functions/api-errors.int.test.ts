/**
 * Integration (real local stack): every bad input of contract §8 gets a 4xx with the
 * `{error:{code,message,details}}` body that says what to fix.
 */
import { call, createEndpoint, createKey, createTenant, postMessage, putEventType, type TestTenant, testStack } from '../support/stack.ts';

interface ErrorBody {
  error: { code: string; message: string; details?: { path?: string; message: string }[] };
}

function expectError(response: { status: number; body: unknown }, status: number, code: string): ErrorBody['error'] {
  expect({ status: response.status, code: (response.body as ErrorBody).error?.code }).toEqual({ status, code });
  const { error } = response.body as ErrorBody;
  expect(error.message.length).toBeGreaterThan(10);
  return error;
}

describe('API errors (§8)', () => {
  let tenant: TestTenant;

  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'user.signed_up', {
      type: 'object',
      required: ['email'],
      properties: { email: { type: 'string', format: 'email' }, age: { type: 'integer', minimum: 0 } },
    });
  });

  test('malformed JSON → 400 invalid_json', async () => {
    const response = await call('POST', '/v1/messages', { key: tenant.key, body: '{"type": "user.signed_up", "payload": {' });
    const error = expectError(response, 400, 'invalid_json');
    expect(error.message).toMatch(/not valid JSON/);
  });

  test('unknown field → 400 validation_failed naming the field', async () => {
    const response = await call('POST', '/v1/messages', {
      key: tenant.key,
      body: { type: 'user.signed_up', payload: {}, priority: 'high' },
    });
    const error = expectError(response, 400, 'validation_failed');
    expect(error.details).toEqual([{ path: 'priority', message: 'unknown field: remove it' }]);
    expect(error.message).toContain('priority: unknown field');
    const nested = await call('POST', '/v1/endpoints', {
      key: tenant.key,
      body: { url: 'https://example.com/h', auth: { type: 'basic', username: 'u', password: 'p', realm: 'x' } },
    });
    expect(expectError(nested, 400, 'validation_failed').details).toEqual([{ path: 'auth.realm', message: 'unknown field: remove it' }]);
  });

  test('wrong type → 400 validation_failed with the path', async () => {
    const response = await call('POST', '/v1/endpoints', { key: tenant.key, body: { url: 'https://example.com/h', timeoutMs: 'soon' } });
    const error = expectError(response, 400, 'validation_failed');
    expect(error.details?.some((d) => d.path === 'timeoutMs')).toBe(true);
  });

  test('out-of-range value → 400 validation_failed', async () => {
    const response = await call('POST', '/v1/endpoints', { key: tenant.key, body: { url: 'https://example.com/h', timeoutMs: 120_000 } });
    expectError(response, 400, 'validation_failed');
  });

  test('missing body → 400 validation_failed', async () => {
    expectError(await call('POST', '/v1/messages', { key: tenant.key }), 400, 'validation_failed');
  });

  test('payload over 256 KiB → 413 payload_too_large', async () => {
    const response = await call('POST', '/v1/messages', {
      key: tenant.key,
      body: { type: 'user.signed_up', payload: { email: 'a@b.se', blob: 'x'.repeat(300 * 1024) } },
    });
    const error = expectError(response, 413, 'payload_too_large');
    expect(error.message).toMatch(/bytes/);
  });

  test('payload just over 256 KiB inside an envelope that fits → 413 from the payload rule', async () => {
    const response = await call('POST', '/v1/messages', {
      key: tenant.key,
      body: { type: 'user.signed_up', payload: { email: 'a@b.se', blob: 'x'.repeat(256 * 1024) } },
    });
    expect(expectError(response, 413, 'payload_too_large').message).toMatch(/256 KiB/);
  });

  test('missing key → 401, wrong key → 401, revoked key → 401', async () => {
    expectError(await call('GET', '/v1/endpoints'), 401, 'unauthorized');
    expectError(await call('GET', '/v1/endpoints', { key: 'sk_not-a-real-key-at-all-0000000000000000000' }), 401, 'unauthorized');
    expectError(await call('GET', '/v1/endpoints', { headers: { authorization: 'Basic abc' } }), 401, 'unauthorized');
    const key = await createKey(tenant, ['admin']);
    expect((await call('GET', '/v1/endpoints', { key })).status).toBe(200);
    const list = await call<{ data: { id: string; key: string }[] }>('GET', '/v1/api-keys', { key: tenant.key });
    const id = list.body.data.find((k) => key.endsWith(k.key.slice(-4)))?.id;
    expect((await call('DELETE', `/v1/api-keys/${id}`, { key: tenant.key })).status).toBe(204);
    expectError(await call('GET', '/v1/endpoints', { key }), 401, 'unauthorized');
  });

  test('wrong scope → 403 forbidden_scope; root key on tenant routes → 403', async () => {
    const ingestKey = await createKey(tenant, ['ingest']);
    expectError(await call('POST', '/v1/endpoints', { key: ingestKey, body: { url: 'https://example.com/h' } }), 403, 'forbidden_scope');
    expectError(await call('POST', '/v1/tenants', { key: tenant.key, body: { name: 'x' } }), 403, 'forbidden_scope');
    expectError(await call('GET', '/v1/endpoints', { key: testStack().rootKey }), 403, 'forbidden_scope');
    // The ingest key may post messages.
    expect(
      (await call('POST', '/v1/messages', { key: ingestKey, body: { type: 'user.signed_up', payload: { email: 'a@b.se' } } })).status,
    ).toBe(202);
  });

  test("another tenant's resources → 404, as if they did not exist", async () => {
    const other = await createTenant();
    await putEventType(other, 'user.signed_up');
    const endpoint = await createEndpoint(other, { url: 'http://127.0.0.1:9/never' });
    const message = await postMessage(other, 'user.signed_up', { email: 'x@y.se' });
    expectError(await call('GET', `/v1/endpoints/${endpoint.id}`, { key: tenant.key }), 404, 'not_found');
    expectError(await call('GET', `/v1/endpoints/${endpoint.id}/secret`, { key: tenant.key }), 404, 'not_found');
    expectError(await call('PATCH', `/v1/endpoints/${endpoint.id}`, { key: tenant.key, body: { disabled: true } }), 404, 'not_found');
    expectError(await call('DELETE', `/v1/endpoints/${endpoint.id}`, { key: tenant.key }), 404, 'not_found');
    expectError(await call('GET', `/v1/endpoints/${endpoint.id}/deliveries`, { key: tenant.key }), 404, 'not_found');
    expectError(await call('GET', `/v1/messages/${message.id}`, { key: tenant.key }), 404, 'not_found');
    expectError(await call('GET', `/v1/messages/${message.id}/deliveries`, { key: tenant.key }), 404, 'not_found');
    const mine = await call<{ data: { id: string }[] }>('GET', '/v1/messages?limit=100', { key: tenant.key });
    expect(mine.body.data.map((m) => m.id)).not.toContain(message.id);
    // The owner still sees them.
    expect((await call('GET', `/v1/endpoints/${endpoint.id}`, { key: other.key })).status).toBe(200);
  });

  test('unknown ids → 404 not_found', async () => {
    expectError(await call('GET', '/v1/endpoints/ep_01ZZZZZZZZZZZZZZZZZZZZZZZZ', { key: tenant.key }), 404, 'not_found');
    expectError(await call('GET', '/v1/messages/msg_01ZZZZZZZZZZZZZZZZZZZZZZZZ', { key: tenant.key }), 404, 'not_found');
    expectError(await call('GET', '/v1/deliveries/dlv_01ZZZZZZZZZZZZZZZZZZZZZZZZ', { key: tenant.key }), 404, 'not_found');
    expectError(await call('GET', '/v1/event-types/no.such.type', { key: tenant.key }), 404, 'not_found');
    expectError(await call('DELETE', '/v1/api-keys/key_01ZZZZZZZZZZZZZZZZZZZZZZZZ', { key: tenant.key }), 404, 'not_found');
    expectError(await call('GET', '/v1/nothing-here', { key: tenant.key }), 404, 'not_found');
  });

  test('unknown event type → 422 unknown_event_type; payload failing the schema → 422 schema_mismatch with details', async () => {
    const unknown = await call('POST', '/v1/messages', { key: tenant.key, body: { type: 'lock.exploded', payload: {} } });
    expect(expectError(unknown, 422, 'unknown_event_type').message).toMatch(/PUT \/v1\/event-types\/lock.exploded/);
    const mismatch = await call('POST', '/v1/messages', {
      key: tenant.key,
      body: { type: 'user.signed_up', payload: { email: 'not-an-email', age: -1 } },
    });
    const error = expectError(mismatch, 422, 'schema_mismatch');
    expect(error.details?.map((d) => d.path).sort()).toEqual(['payload.age', 'payload.email']);
  });

  test('endpoint URLs the address guard refuses → 400 forbidden_destination', async () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data',
      'http://10.0.0.8/hook',
      'http://192.168.1.1/hook',
      'ftp://example.com/x',
      'not a url',
    ]) {
      const response = await call('POST', '/v1/endpoints', { key: tenant.key, body: { url } });
      expectError(response, 400, 'forbidden_destination');
    }
    const endpoint = await createEndpoint(tenant, { url: 'http://127.0.0.1:9/ok' });
    expectError(
      await call('PATCH', `/v1/endpoints/${endpoint.id}`, { key: tenant.key, body: { url: 'http://[fd00:ec2::254]/' } }),
      400,
      'forbidden_destination',
    );
  });

  test('reserved headers and undeclared event types on endpoints are refused', async () => {
    const reserved = await call('POST', '/v1/endpoints', {
      key: tenant.key,
      body: { url: 'http://127.0.0.1:9/x', headers: { 'Webhook-Signature': 'forged' } },
    });
    expect(expectError(reserved, 400, 'validation_failed').message).toMatch(/reserved/);
    const undeclared = await call('POST', '/v1/endpoints', {
      key: tenant.key,
      body: { url: 'http://127.0.0.1:9/x', eventTypes: ['nope.nope'] },
    });
    expectError(undeclared, 422, 'unknown_event_type');
  });

  test('bad event type names and invalid schemas → 400', async () => {
    expectError(await call('PUT', '/v1/event-types/Lock.Unlocked', { key: tenant.key, body: {} }), 400, 'validation_failed');
    expectError(await call('PUT', '/v1/event-types/sluice.ping', { key: tenant.key, body: {} }), 400, 'validation_failed');
    const badSchema = await call('PUT', '/v1/event-types/bad.schema', { key: tenant.key, body: { schema: { type: 'nonsense' } } });
    expect(expectError(badSchema, 400, 'validation_failed').details?.[0]?.path).toBe('schema');
  });

  test('a cursor that was not issued by the API → 400; limit over 100 → 400', async () => {
    expectError(await call('GET', '/v1/messages?cursor=garbage!!', { key: tenant.key }), 400, 'validation_failed');
    const foreign = Buffer.from(JSON.stringify({ pk: 'TEN#someone-else', sk: 'EP#x' })).toString('base64url');
    expectError(await call('GET', `/v1/messages?cursor=${foreign}`, { key: tenant.key }), 400, 'validation_failed');
    expectError(await call('GET', '/v1/messages?limit=1000', { key: tenant.key }), 400, 'validation_failed');
  });

  test('a non-JSON content type is refused with 415 and a hint', async () => {
    const response = await call('POST', '/v1/messages', {
      key: tenant.key,
      body: 'type=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(expectError(response, 415, 'unsupported_media_type').message).toMatch(/application\/json/);
  });
});
