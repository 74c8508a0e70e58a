/**
 * Integration (real local stack): what an attacker sends, one row per distinct hostile input.
 * Every row must get its 4xx and an error body that says what to fix, never a 5xx. The classes:
 * schema denial of service, deep nesting, header injection, prototype keys, SSRF spellings,
 * scope escalation and cross-tenant access.
 */
import { call, createEndpoint, createKey, createTenant, postMessage, putEventType, type TestTenant, testStack } from '../support/stack.ts';

interface World {
  readonly tenant: TestTenant;
  readonly other: TestTenant;
  readonly ingestKey: string;
  readonly inboundKey: string;
  readonly endpointId: string;
  readonly otherEndpointId: string;
  readonly otherMessageId: string;
  readonly otherDeliveryId: string;
  readonly otherActionId: string;
  readonly otherKeyId: string;
}

interface Hostile {
  readonly method: string;
  readonly path: string;
  /** An object is sent as JSON; a string is sent as it is. */
  readonly body?: unknown;
  readonly key?: 'tenant' | 'ingest' | 'inbound' | 'root' | 'none' | 'other';
  readonly headers?: Record<string, string>;
}

interface Row {
  readonly name: string;
  readonly request: (world: World) => Hostile;
  readonly status: number;
  /** The management API's `error.code`; hooks answer `{message:"Error", error}` and have none. */
  readonly code?: string;
  /** What the message (or a detail path) must mention, so the caller knows what to fix. */
  readonly says?: RegExp;
}

const deep = (levels: number, leaf = '1') => `${'{"a":'.repeat(levels)}${leaf}${'}'.repeat(levels)}`;
const ep =
  (url: string): Row['request'] =>
  () => ({ method: 'POST', path: '/v1/endpoints', body: { url } });
const headers =
  (value: Record<string, unknown>): Row['request'] =>
  () => ({
    method: 'POST',
    path: '/v1/endpoints',
    body: { url: 'http://127.0.0.1:9/h', headers: value },
  });
const schema =
  (value: unknown): Row['request'] =>
  () => ({ method: 'PUT', path: '/v1/event-types/hostile.schema', body: { schema: value } });
const manyPatterns = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`p${i}`, { type: 'string', pattern: `^x${i}$` }]));
const b64 = (text: string) => Buffer.from(text).toString('base64');

const rows: Row[] = [
  // 1. Denial of service through a tenant's JSON Schema (catastrophic patterns themselves are accepted: they run on RE2, below).
  {
    name: 'schema pattern with lookahead',
    request: schema({ type: 'string', pattern: '^(?=a)a+$' }),
    status: 400,
    code: 'validation_failed',
    says: /RE2/,
  },
  {
    name: 'schema pattern with lookbehind',
    request: schema({ type: 'string', pattern: '(?<!a)b' }),
    status: 400,
    code: 'validation_failed',
    says: /RE2/,
  },
  {
    name: 'schema pattern with a backreference',
    request: schema({ type: 'string', pattern: '^(a+)\\1$' }),
    status: 400,
    code: 'validation_failed',
    says: /RE2/,
  },
  {
    name: 'schema patternProperties with a backreference',
    request: schema({ type: 'object', patternProperties: { '(x)\\1': {} } }),
    status: 400,
    code: 'validation_failed',
    says: /RE2/,
  },
  {
    name: 'schema with 33 patterns',
    request: schema({ type: 'object', properties: manyPatterns }),
    status: 400,
    code: 'validation_failed',
    says: /32 patterns/,
  },
  {
    name: 'schema pattern of 1001 characters',
    request: schema({ type: 'string', pattern: 'a'.repeat(1001) }),
    status: 400,
    code: 'validation_failed',
    says: /1000/,
  },
  {
    name: 'schema uniqueItems over unbounded objects',
    request: schema({ type: 'array', uniqueItems: true }),
    status: 400,
    code: 'validation_failed',
    says: /maxItems/,
  },
  {
    name: 'schema over 32 KiB',
    request: schema({ type: 'object', description: 'x'.repeat(40 * 1024) }),
    status: 400,
    code: 'validation_failed',
    says: /32768/,
  },
  {
    name: 'schema naming __proto__',
    request: () => ({
      method: 'PUT',
      path: '/v1/event-types/hostile.schema',
      body: '{"schema":{"properties":{"__proto__":{"type":"string"}}}}',
    }),
    status: 400,
    code: 'validation_failed',
    says: /__proto__/,
  },
  { name: 'schema that is an array', request: schema([{ type: 'string' }]), status: 400, code: 'validation_failed', says: /schema/ },
  { name: 'schema that is a string', request: schema('.*'), status: 400, code: 'validation_failed', says: /schema/ },
  { name: 'schema with an unknown type', request: schema({ type: 'nonsense' }), status: 400, code: 'validation_failed', says: /schema/ },
  // 2. Deep nesting: refused before any recursive walk.
  {
    name: 'message payload 5 000 levels deep',
    request: () => ({ method: 'POST', path: '/v1/messages', body: `{"type":"hostile.ok","payload":${deep(5000)}}` }),
    status: 400,
    code: 'validation_failed',
    says: /64 levels/,
  },
  {
    name: 'message body of 100 000 nested arrays',
    request: () => ({ method: 'POST', path: '/v1/messages', body: `${'['.repeat(100_000)}${']'.repeat(100_000)}` }),
    status: 400,
    code: 'validation_failed',
    says: /64 levels/,
  },
  {
    name: 'message payload 65 levels deep',
    request: () => ({ method: 'POST', path: '/v1/messages', body: `{"type":"hostile.ok","payload":${deep(64)}}` }),
    status: 400,
    code: 'validation_failed',
    says: /64 levels/,
  },
  {
    name: 'endpoint body 3 000 levels deep',
    request: () => ({ method: 'POST', path: '/v1/endpoints', body: `{"url":"http://127.0.0.1:9/h","headers":${deep(3000)}}` }),
    status: 400,
    code: 'validation_failed',
    says: /64 levels/,
  },
  {
    name: 'event type schema 3 000 levels deep',
    request: () => ({ method: 'PUT', path: '/v1/event-types/hostile.deep', body: `{"schema":${deep(3000, '{}')}}` }),
    status: 400,
    code: 'validation_failed',
    says: /64 levels/,
  },
  {
    name: 'tenant body 3 000 levels deep',
    request: () => ({ method: 'POST', path: '/v1/tenants', key: 'root', body: `{"name":"x","extra":${deep(3000)}}` }),
    status: 400,
    code: 'validation_failed',
    says: /64 levels/,
  },
  {
    name: 'action params 3 000 levels deep',
    request: () => ({
      method: 'POST',
      path: '/v1/actions',
      body: `{"name":"n","eventId":"e","action":"restart_device","target":{"type":"all"},"params":${deep(3000)}}`,
    }),
    status: 400,
    code: 'validation_failed',
    says: /64 levels/,
  },
  {
    name: 'hook POST 1 000 levels deep',
    request: () => ({ method: 'POST', path: '/v1/hooks', key: 'inbound', body: `{"event_id":"e","sensor_data":${deep(1000)}}` }),
    status: 400,
    says: /64 levels/,
  },
  {
    name: 'hook GET payload 1 000 levels deep',
    request: (w) => ({
      method: 'GET',
      path: `/v1/hooks?api_key=${w.inboundKey}&payload=${encodeURIComponent(b64(`{"event_id":${deep(1000)}}`))}`,
      key: 'none',
    }),
    status: 400,
    says: /64 levels/,
  },
  // 3. Custom headers: validated at create and patch, with the field path.
  // Values: visible ASCII only, refused at the field's path.
  ...(
    [
      ['with CR LF', 'ok\r\nX-Injected: 1'],
      ['with a bare LF', 'ok\nmore'],
      ['with NUL', 'ok\u0000'],
      ['with DEL', 'ok\u007f'],
      ['with a leading space', ' padded'],
      ['outside ASCII', 'café'],
      ['over 4 096 characters', 'v'.repeat(4097)],
      ['that is a number', 7],
    ] as const
  ).map(
    ([label, value]): Row => ({
      name: `header value ${label}`,
      request: headers({ 'X-A': value }),
      status: 400,
      code: 'validation_failed',
      says: /headers\.X-A/,
    }),
  ),
  { name: 'header name with a space', request: headers({ 'X A': 'v' }), status: 400, code: 'validation_failed', says: /header name/ },
  { name: 'header name with a colon', request: headers({ 'X-A:': 'v' }), status: 400, code: 'validation_failed', says: /header name/ },
  { name: 'empty header name', request: headers({ '': 'v' }), status: 400, code: 'validation_failed', says: /header name/ },
  // Sluice's own, hop-by-hop and framing headers, in any letter case.
  ...['AUTHORIZATION', 'WeBhOoK-Id', 'Transfer-Encoding', 'host', 'Content-Length', 'X-Sluice-Tenant', 'Upgrade'].map(
    (name): Row => ({
      name: `reserved header ${name}`,
      request: headers({ [name]: 'x' }),
      status: 400,
      code: 'validation_failed',
      says: /reserved/,
    }),
  ),
  {
    name: 'one header in two letter cases',
    request: headers({ 'X-Tag': 'a', 'x-tag': 'b' }),
    status: 400,
    code: 'validation_failed',
    says: /case/,
  },
  {
    name: 'a header named __proto__',
    request: () => ({ method: 'POST', path: '/v1/endpoints', body: '{"url":"http://127.0.0.1:9/h","headers":{"__proto__":"x"}}' }),
    status: 400,
    code: 'validation_failed',
    says: /__proto__/,
  },
  {
    name: '21 custom headers',
    request: headers(Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, 'v']))),
    status: 400,
    code: 'validation_failed',
    says: /at most 20/,
  },
  {
    name: 'custom headers over 8 KiB in total',
    request: headers({ 'X-A': 'a'.repeat(4000), 'X-B': 'b'.repeat(4000), 'X-C': 'c'.repeat(400) }),
    status: 400,
    code: 'validation_failed',
    says: /8192 bytes/,
  },
  {
    name: 'headers as an array',
    request: headers(['X-A: 1'] as unknown as Record<string, unknown>),
    status: 400,
    code: 'validation_failed',
    says: /headers/,
  },
  {
    name: 'PATCH a header value with CR LF',
    request: (w) => ({ method: 'PATCH', path: `/v1/endpoints/${w.endpointId}`, body: { headers: { 'X-A': 'a\r\nb' } } }),
    status: 400,
    code: 'validation_failed',
    says: /headers\.X-A/,
  },
  {
    name: 'PATCH a reserved header',
    request: (w) => ({ method: 'PATCH', path: `/v1/endpoints/${w.endpointId}`, body: { headers: { 'Webhook-Signature': 'v1,forged' } } }),
    status: 400,
    code: 'validation_failed',
    says: /reserved/,
  },
  // 4. Prototype keys and shapes where an object is expected.
  {
    name: 'top-level __proto__ in a message body',
    request: () => ({ method: 'POST', path: '/v1/messages', body: '{"type":"hostile.ok","payload":{},"__proto__":{"admin":true}}' }),
    status: 400,
    code: 'validation_failed',
    says: /__proto__/,
  },
  {
    name: 'top-level constructor in a tenant body',
    request: () => ({ method: 'POST', path: '/v1/tenants', key: 'root', body: '{"name":"x","constructor":{"prototype":{"admin":true}}}' }),
    status: 400,
    code: 'validation_failed',
    says: /constructor/,
  },
  {
    name: 'payload that is an array',
    request: () => ({ method: 'POST', path: '/v1/messages', body: { type: 'hostile.ok', payload: [1, 2] } }),
    status: 400,
    code: 'validation_failed',
    says: /payload/,
  },
  {
    name: 'payload that is null',
    request: () => ({ method: 'POST', path: '/v1/messages', body: { type: 'hostile.ok', payload: null } }),
    status: 400,
    code: 'validation_failed',
    says: /payload/,
  },
  {
    name: 'body that is the JSON null',
    request: () => ({ method: 'POST', path: '/v1/messages', body: 'null' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'body that is not JSON',
    request: () => ({ method: 'POST', path: '/v1/messages', body: "{'type':'x'}" }),
    status: 400,
    code: 'invalid_json',
    says: /not valid JSON/,
  },
  {
    name: 'body sent as a form',
    request: () => ({
      method: 'POST',
      path: '/v1/messages',
      body: 'type=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }),
    status: 415,
    code: 'unsupported_media_type',
    says: /application\/json/,
  },
  {
    name: 'event type name with a path traversal',
    request: () => ({ method: 'PUT', path: '/v1/event-types/..%2F..%2Fadmin', body: {} }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'payload failing a catastrophic pattern, answered at once',
    request: () => ({ method: 'POST', path: '/v1/messages', body: { type: 'hostile.redos', payload: { s: `${'a'.repeat(5000)}!` } } }),
    status: 422,
    code: 'schema_mismatch',
    says: /payload\.s/,
  },
  // SSRF spellings.
  { name: 'metadata service', request: ep('http://169.254.169.254/latest/meta-data'), status: 400, code: 'forbidden_destination' },
  {
    name: 'metadata service as an IPv4-mapped IPv6',
    request: ep('http://[::ffff:169.254.169.254]/'),
    status: 400,
    code: 'forbidden_destination',
  },
  { name: 'metadata service in hex', request: ep('http://0xa9fea9fe/'), status: 400, code: 'forbidden_destination' },
  { name: 'metadata service as one decimal', request: ep('http://2852039166/'), status: 400, code: 'forbidden_destination' },
  { name: 'metadata service in octal', request: ep('http://0251.0376.0251.0376/'), status: 400, code: 'forbidden_destination' },
  { name: 'IPv6 metadata service', request: ep('http://[fd00:ec2::254]/'), status: 400, code: 'forbidden_destination' },
  { name: 'private 10/8', request: ep('http://10.0.0.1/hook'), status: 400, code: 'forbidden_destination' },
  { name: 'private 172.16/12', request: ep('http://172.16.5.4/hook'), status: 400, code: 'forbidden_destination' },
  { name: 'private 192.168/16', request: ep('http://192.168.1.1/hook'), status: 400, code: 'forbidden_destination' },
  { name: 'carrier-grade NAT', request: ep('http://100.64.0.1/hook'), status: 400, code: 'forbidden_destination' },
  { name: 'unspecified address', request: ep('http://0.0.0.0/hook'), status: 400, code: 'forbidden_destination' },
  { name: 'link-local IPv6', request: ep('http://[fe80::1]/hook'), status: 400, code: 'forbidden_destination' },
  {
    name: 'credentials in the URL',
    request: ep('http://user:pass@127.0.0.1:9/hook'),
    status: 400,
    code: 'forbidden_destination',
    says: /auth/,
  },
  { name: 'file: URL', request: ep('file:///etc/passwd'), status: 400, code: 'forbidden_destination' },
  { name: 'gopher: URL', request: ep('gopher://127.0.0.1:25/_HELO'), status: 400, code: 'forbidden_destination' },
  { name: 'URL that is not absolute', request: ep('/relative/path'), status: 400, code: 'forbidden_destination' },
  // Scopes.
  {
    name: 'ingest key creating an endpoint',
    request: () => ({ method: 'POST', path: '/v1/endpoints', key: 'ingest', body: { url: 'http://127.0.0.1:9/h' } }),
    status: 403,
    code: 'forbidden_scope',
  },
  {
    name: 'ingest key declaring an event type',
    request: () => ({ method: 'PUT', path: '/v1/event-types/x.y', key: 'ingest', body: {} }),
    status: 403,
    code: 'forbidden_scope',
  },
  {
    name: 'ingest key minting an admin key',
    request: () => ({ method: 'POST', path: '/v1/api-keys', key: 'ingest', body: { name: 'k', scopes: ['admin'] } }),
    status: 403,
    code: 'forbidden_scope',
  },
  {
    name: 'inbound key posting a message',
    request: () => ({ method: 'POST', path: '/v1/messages', key: 'inbound', body: { type: 'hostile.ok', payload: {} } }),
    status: 403,
    code: 'forbidden_scope',
  },
  {
    name: 'admin key creating a tenant',
    request: () => ({ method: 'POST', path: '/v1/tenants', body: { name: 'x' } }),
    status: 403,
    code: 'forbidden_scope',
  },
  {
    name: 'admin key raising its own ingest budget',
    request: (w) => ({ method: 'PATCH', path: `/v1/tenants/${w.tenant.id}`, body: { ingestPerSecond: 10_000 } }),
    status: 403,
    code: 'forbidden_scope',
  },
  {
    name: 'root key on a tenant route',
    request: () => ({ method: 'GET', path: '/v1/endpoints', key: 'root' }),
    status: 403,
    code: 'forbidden_scope',
  },
  { name: 'no key', request: () => ({ method: 'GET', path: '/v1/endpoints', key: 'none' }), status: 401, code: 'unauthorized' },
  {
    name: 'a made-up key',
    request: () => ({
      method: 'GET',
      path: '/v1/endpoints',
      key: 'none',
      headers: { authorization: 'Bearer sk_forged0000000000000000000000000000' },
    }),
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'a key in the query string of a management route',
    request: (w) => ({ method: 'GET', path: `/v1/endpoints?api_key=${w.tenant.key}`, key: 'none' }),
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'hook without a key',
    request: () => ({ method: 'POST', path: '/v1/hooks', key: 'none', body: { event_id: 'e' } }),
    status: 401,
    says: /API key/,
  },
  {
    name: 'hook with an admin key',
    request: () => ({
      method: 'POST',
      path: '/v1/hooks',
      key: 'none',
      headers: { 'x-webhook-apikey': 'sk_forged0000000000000000000000000000' },
      body: { event_id: 'e' },
    }),
    status: 401,
  },
  // Cross-tenant access: another tenant's ids are answered as if they did not exist.
  {
    name: "another tenant's endpoint",
    request: (w) => ({ method: 'GET', path: `/v1/endpoints/${w.otherEndpointId}` }),
    status: 404,
    code: 'not_found',
  },
  {
    name: "another tenant's endpoint secret",
    request: (w) => ({ method: 'GET', path: `/v1/endpoints/${w.otherEndpointId}/secret` }),
    status: 404,
    code: 'not_found',
  },
  {
    name: "rotating another tenant's secret",
    request: (w) => ({ method: 'POST', path: `/v1/endpoints/${w.otherEndpointId}/secret/rotate`, body: {} }),
    status: 404,
    code: 'not_found',
  },
  {
    name: "testing another tenant's endpoint",
    request: (w) => ({ method: 'POST', path: `/v1/endpoints/${w.otherEndpointId}/test`, body: {} }),
    status: 404,
    code: 'not_found',
  },
  {
    name: "patching another tenant's endpoint",
    request: (w) => ({ method: 'PATCH', path: `/v1/endpoints/${w.otherEndpointId}`, body: { url: 'http://127.0.0.1:9/stolen' } }),
    status: 404,
    code: 'not_found',
  },
  {
    name: "another tenant's message",
    request: (w) => ({ method: 'GET', path: `/v1/messages/${w.otherMessageId}` }),
    status: 404,
    code: 'not_found',
  },
  {
    name: "retrying another tenant's delivery",
    request: (w) => ({ method: 'POST', path: `/v1/deliveries/${w.otherDeliveryId}/retry`, body: {} }),
    status: 404,
    code: 'not_found',
  },
  {
    name: "another tenant's delivery",
    request: (w) => ({ method: 'GET', path: `/v1/deliveries/${w.otherDeliveryId}` }),
    status: 404,
    code: 'not_found',
  },
  {
    name: "another tenant's action trigger URL",
    request: (w) => ({ method: 'GET', path: `/v1/actions/${w.otherActionId}/trigger-url?keyId=${w.otherKeyId}` }),
    status: 404,
    code: 'not_found',
  },
  {
    name: "revealing another tenant's API key",
    request: (w) => ({ method: 'GET', path: `/v1/api-keys/${w.otherKeyId}/reveal` }),
    status: 404,
    code: 'not_found',
  },
  {
    name: "deleting another tenant's API key",
    request: (w) => ({ method: 'DELETE', path: `/v1/api-keys/${w.otherKeyId}` }),
    status: 404,
    code: 'not_found',
  },
  {
    name: "subscribing to another tenant's event type",
    request: () => ({ method: 'POST', path: '/v1/endpoints', body: { url: 'http://127.0.0.1:9/h', eventTypes: ['theirs.only'] } }),
    status: 422,
    code: 'unknown_event_type',
  },
];

describe('hostile inputs', () => {
  let world: World;

  beforeAll(async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    await putEventType(tenant, 'hostile.ok');
    await putEventType(tenant, 'hostile.redos', { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } });
    await putEventType(other, 'theirs.only');
    const endpoint = await createEndpoint(tenant, { url: 'http://127.0.0.1:9/mine' });
    const otherEndpoint = await createEndpoint(other, { url: 'http://127.0.0.1:9/theirs' });
    const otherMessage = await postMessage(other, 'theirs.only', { secret: 'theirs' });
    const deliveries = await call<{ data: { id: string }[] }>('GET', `/v1/messages/${otherMessage.id}/deliveries`, { key: other.key });
    const action = await call<{ id: string }>('POST', '/v1/actions', {
      key: other.key,
      body: { name: 'reboot all', eventId: 'theirs', action: 'restart_device', target: { type: 'all' } },
    });
    const otherKey = await call<{ id: string }>('POST', '/v1/api-keys', { key: other.key, body: { name: 'theirs', scopes: ['ingest'] } });
    world = {
      tenant,
      other,
      ingestKey: await createKey(tenant, ['ingest']),
      inboundKey: await createKey(tenant, ['inbound']),
      endpointId: endpoint.id,
      otherEndpointId: otherEndpoint.id,
      otherMessageId: otherMessage.id,
      otherDeliveryId: deliveries.body.data[0]?.id ?? 'dlv_missing',
      otherActionId: action.body.id,
      otherKeyId: otherKey.body.id,
    };
  });

  test(`the table holds at least 60 distinct hostile inputs (${rows.length})`, () => {
    expect(new Set(rows.map((row) => row.name)).size).toBe(rows.length);
    expect(rows.length).toBeGreaterThanOrEqual(60);
  });

  test.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const request = row.request(world);
    const keys = {
      tenant: world.tenant.key,
      ingest: world.ingestKey,
      inbound: world.inboundKey,
      root: testStack().rootKey,
      other: world.other.key,
    };
    const who = request.key ?? 'tenant';
    const isHook = request.path.startsWith('/v1/hooks');
    const key = who === 'none' ? undefined : keys[who];
    const response = await call<Record<string, unknown>>(request.method, request.path, {
      ...(key && !isHook && { key }),
      headers: { ...(key && isHook && { 'x-webhook-apikey': key }), ...request.headers },
      ...(request.body !== undefined && { body: request.body }),
    });
    const text = JSON.stringify(response.body);
    expect({ status: response.status, body: response.body }).toEqual({ status: row.status, body: expect.any(Object) });
    if (isHook) {
      expect(response.body).toEqual({ message: 'Error', error: expect.any(String) });
    } else {
      const error = (response.body as { error: { code: string; message: string } }).error;
      expect(error.code).toBe(row.code);
      expect(error.message.length).toBeGreaterThan(10);
    }
    if (row.says) expect(text).toMatch(row.says);
  });
});

describe('schema denial of service', () => {
  test.each([
    ['pattern', { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } }, { s: `${'a'.repeat(30_000)}!` }],
    [
      'patternProperties',
      { type: 'object', patternProperties: { '^(a|aa)+$': { type: 'integer' } } },
      { [`${'a'.repeat(30_000)}!`]: 1, ['a'.repeat(64)]: 'x' },
    ],
    ['propertyNames', { type: 'object', propertyNames: { pattern: '^([a-z]+)*$' } }, { [`${'a'.repeat(30_000)}1`]: 1 }],
  ])(
    'a catastrophic %s: the hostile post answers within 1 s, and another tenant is answered within 200 ms meanwhile',
    async (keyword, schemaValue, payload) => {
      const attacker = await createTenant();
      const bystander = await createTenant();
      await putEventType(attacker, `redos.${keyword.toLowerCase()}`, schemaValue);
      // Warm the bystander's path so the measurement is the attack's effect, not a cold cache.
      await call('GET', '/v1/endpoints', { key: bystander.key });

      const started = performance.now();
      const hostile = call('POST', '/v1/messages', { key: attacker.key, body: { type: `redos.${keyword.toLowerCase()}`, payload } }).then(
        (response) => ({ response, ms: performance.now() - started }),
      );
      const bystanderTimes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const before = performance.now();
        expect((await call('GET', '/v1/endpoints', { key: bystander.key })).status).toBe(200);
        bystanderTimes.push(performance.now() - before);
      }
      const { response, ms } = await hostile;

      expect(response.status).toBe(422);
      expect((response.body as { error: { code: string } }).error.code).toBe('schema_mismatch');
      expect(ms).toBeLessThan(1000);
      expect(Math.max(...bystanderTimes)).toBeLessThan(200);
    },
  );
});
