/**
 * Integration (real local stack, real device receivers): inbound webhooks trigger actions that
 * become signed `device.command` deliveries to exactly the targeted devices.
 */
import { Webhook } from 'standardwebhooks';
import { Receiver } from '../support/receiver.ts';
import {
  type CreatedEndpoint,
  call,
  createEndpoint,
  createKey,
  createTenant,
  eventually,
  type TestTenant,
  testStack,
} from '../support/stack.ts';

interface HookAnswer {
  message: string;
  actionId?: string;
  deliveries?: number;
  error?: string;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

async function postHook(key: string | undefined, body: unknown): Promise<{ status: number; body: HookAnswer }> {
  const response = await fetch(`${testStack().apiUrl}/v1/hooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key && { 'x-webhook-apikey': key }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as HookAnswer };
}

async function getHook(query: string): Promise<{ status: number; body: HookAnswer }> {
  const response = await fetch(`${testStack().apiUrl}/v1/hooks?${query}`);
  return { status: response.status, body: (await response.json()) as HookAnswer };
}

describe('inbound hooks, actions and device commands', () => {
  let tenant: TestTenant;
  let inboundKey: string;
  const devices: { endpoint: CreatedEndpoint; receiver: Receiver }[] = [];
  let bystander: Receiver;
  let lobbyActionId: string;

  beforeAll(async () => {
    tenant = await createTenant();
    inboundKey = await createKey(tenant, ['inbound']);
    for (const [deviceId, groups] of [
      ['screen-1', ['lobby']],
      ['screen-2', ['lobby', 'east']],
      ['screen-3', ['office']],
    ] as const) {
      const receiver = await Receiver.start();
      devices.push({ endpoint: await createEndpoint(tenant, { url: receiver.url, deviceId, groups: [...groups] }), receiver });
    }
    // Subscribed to every type but not a device: device.command must never reach it.
    bystander = await Receiver.start();
    await createEndpoint(tenant, { url: bystander.url });
    const action = await call<{ id: string }>('POST', '/v1/actions', {
      key: tenant.key,
      body: {
        name: 'Lobby welcome page',
        eventId: 'lobby-welcome',
        action: 'load_url',
        params: { url: 'https://example.com/welcome' },
        target: { type: 'group', group: 'lobby' },
      },
    });
    expect(action.status).toBe(201);
    lobbyActionId = action.body.id;
  });

  afterAll(async () => {
    await Promise.all([...devices.map((d) => d.receiver.close()), bystander.close()]);
  });

  test('a POST trigger and a GET trigger each reach exactly the two lobby devices with a signed device.command', async () => {
    const posted = await postHook(inboundKey, { event_id: 'lobby-welcome' });
    expect(posted).toEqual({ status: 200, body: { message: 'success', actionId: lobbyActionId, deliveries: 2 } });
    const viaGet = await getHook(
      `api_key=${encodeURIComponent(inboundKey)}&payload=${encodeURIComponent(b64({ event_id: 'lobby-welcome' }))}`,
    );
    expect(viaGet).toEqual({ status: 200, body: { message: 'success', actionId: lobbyActionId, deliveries: 2 } });

    const [lobby1, lobby2, office] = devices;
    if (!lobby1 || !lobby2 || !office) throw new Error('devices missing');
    for (const device of [lobby1, lobby2]) {
      const requests = await device.receiver.waitFor(2);
      for (const request of requests) {
        const event = new Webhook(device.endpoint.secret).verify(request.body, request.headers) as {
          type: string;
          data: Record<string, unknown>;
        };
        expect(event.type).toBe('device.command');
        expect(event.data).toEqual({
          actionId: lobbyActionId,
          eventId: 'lobby-welcome',
          action: 'load_url',
          params: { url: 'https://example.com/welcome' },
          sensorData: null,
        });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(office.receiver.requests).toHaveLength(0);
    expect(bystander.requests).toHaveLength(0);
    expect(lobby1.receiver.requests).toHaveLength(2);
  });

  test('targets: one device, and all devices; sensor data travels with send_sensor_event', async () => {
    await call('POST', '/v1/actions', {
      key: tenant.key,
      body: { name: 'Restart screen 3', eventId: 'restart-3', action: 'restart_device', target: { type: 'device', deviceId: 'screen-3' } },
    });
    await call('POST', '/v1/actions', {
      key: tenant.key,
      body: { name: 'Sensor to all', eventId: 'sensor-all', action: 'send_sensor_event', target: { type: 'all' } },
    });
    const before = devices.map((d) => d.receiver.requests.length);
    expect((await postHook(inboundKey, { event_id: 'restart-3' })).body.deliveries).toBe(1);
    const sensor = await postHook(inboundKey, { event_id: 'sensor-all', sensor_data: { id: 'co2-1', event: 'reading', value: 812 } });
    expect(sensor.body).toMatchObject({ message: 'success', deliveries: 3 });
    await devices[2]?.receiver.waitFor((before[2] ?? 0) + 2);
    const last = devices[0]?.receiver;
    await last?.waitFor((before[0] ?? 0) + 1);
    const sensorEvent = JSON.parse(last?.requests.at(-1)?.body ?? '{}') as { data: { sensorData: unknown; action: string } };
    expect(sensorEvent.data).toMatchObject({ action: 'send_sensor_event', sensorData: { id: 'co2-1', event: 'reading', value: 812 } });
  });

  test('GET /v1/actions/{id}/trigger-url returns a working URL; every trigger is recorded without the key', async () => {
    const keys = await call<{ data: { id: string; key: string }[] }>('GET', '/v1/api-keys', { key: tenant.key });
    const keyId = keys.body.data.find((k) => inboundKey.endsWith(k.key.slice(-4)))?.id ?? '';
    const url = await call<{ url: string }>('GET', `/v1/actions/${lobbyActionId}/trigger-url?keyId=${keyId}`, { key: tenant.key });
    expect(url.status).toBe(200);
    expect(url.body.url).toContain(`${testStack().apiUrl}/v1/hooks?api_key=`);
    const opened = await fetch(url.body.url);
    expect(await opened.json()).toEqual({ message: 'success', actionId: lobbyActionId, deliveries: 2 });

    const triggers = await call<{ data: { keyId: string; sourceIp: string; eventId: string; outcome: string; deliveries: number }[] }>(
      'GET',
      `/v1/actions/${lobbyActionId}/triggers`,
      { key: tenant.key },
    );
    expect(triggers.body.data.length).toBeGreaterThanOrEqual(3);
    expect(triggers.body.data[0]).toMatchObject({
      keyId,
      sourceIp: '127.0.0.1',
      eventId: 'lobby-welcome',
      outcome: 'delivered',
      deliveries: 2,
    });
    expect(JSON.stringify(triggers.body)).not.toContain(inboundKey);
  });

  test('API keys can be revealed again by an admin, and a deleted key stops working at once', async () => {
    const created = await call<{ id: string; key: string }>('POST', '/v1/api-keys', {
      key: tenant.key,
      body: { name: 'sensor hub', scopes: ['inbound'] },
    });
    const revealed = await call<{ id: string; key: string; scopes: string[] }>('GET', `/v1/api-keys/${created.body.id}/reveal`, {
      key: tenant.key,
    });
    expect(revealed.status).toBe(200);
    expect(revealed.body).toMatchObject({ id: created.body.id, key: created.body.key, scopes: ['inbound'] });
    expect((await call('GET', `/v1/api-keys/${created.body.id}/reveal`, { key: created.body.key })).status).toBe(403);
    const listed = await call<{ data: { id: string; key: string }[] }>('GET', '/v1/api-keys', { key: tenant.key });
    expect(listed.body.data.find((k) => k.id === created.body.id)?.key).toBe(`sk_…${created.body.key.slice(-4)}`);
    expect((await postHook(created.body.key, { event_id: 'lobby-welcome' })).status).toBe(200);
    expect((await call('DELETE', `/v1/api-keys/${created.body.id}`, { key: tenant.key })).status).toBe(204);
    expect(await postHook(created.body.key, { event_id: 'lobby-welcome' })).toEqual({
      status: 401,
      body: { message: 'Error', error: expect.stringMatching(/key/) },
    });
  });

  test('errors answer the contract’s status and {"message":"Error","error"} body', async () => {
    const expectError = (answer: { status: number; body: HookAnswer }, status: number) => {
      expect(answer.status).toBe(status);
      expect(answer.body.message).toBe('Error');
      expect(answer.body.error?.length).toBeGreaterThan(5);
    };
    expectError(await postHook(undefined, { event_id: 'lobby-welcome' }), 401);
    expectError(await postHook('sk_wrong-key-0000000000000000000000000000000000', { event_id: 'lobby-welcome' }), 401);
    expectError(await postHook(testStack().rootKey, { event_id: 'lobby-welcome' }), 401);
    expectError(await postHook(await createKey(tenant, ['ingest']), { event_id: 'lobby-welcome' }), 401);
    const other = await createTenant();
    expectError(await postHook(await createKey(other, ['inbound']), { event_id: 'lobby-welcome' }), 404);
    expectError(await postHook(inboundKey, { event_id: 'no-such-event' }), 404);
    expectError(await postHook(inboundKey, '{"event_id": "lobby-welcome",'), 400);
    expectError(await postHook(inboundKey, { event_id: 'lobby-welcome', extra: true }), 400);
    expectError(await postHook(inboundKey, { event_id: 'sensor-all' }), 400);
    expectError(
      await postHook(inboundKey, { event_id: 'lobby-welcome', sensor_data: { id: 'x', event: 'y', value: 'z'.repeat(20_000) } }),
      413,
    );
    expectError(
      await getHook(`api_key=${encodeURIComponent(inboundKey)}&payload=${encodeURIComponent(Buffer.from('not json').toString('base64'))}`),
      400,
    );
    expectError(await getHook(`api_key=${encodeURIComponent(inboundKey)}&payload=%%%not-base64`), 400);
    expectError(await getHook(`payload=${encodeURIComponent(b64({ event_id: 'lobby-welcome' }))}`), 401);
    expectError(await getHook(`api_key=${encodeURIComponent(inboundKey)}`), 400);
    // The rejected sensor trigger is on record.
    const actions = await call<{ data: { id: string; eventId: string }[] }>('GET', '/v1/actions', { key: tenant.key });
    const sensorAction = actions.body.data.find((a) => a.eventId === 'sensor-all');
    const triggers = await call<{ data: { outcome: string; error?: string }[] }>('GET', `/v1/actions/${sensorAction?.id}/triggers`, {
      key: tenant.key,
    });
    expect(triggers.body.data).toContainEqual(
      expect.objectContaining({ outcome: 'rejected', error: expect.stringContaining('sensor_data') }),
    );
  });

  test('actions: validation per kind, unique event_id, delete stops triggering', async () => {
    const badUrl = await call<{ error: { code: string } }>('POST', '/v1/actions', {
      key: tenant.key,
      body: { name: 'x', eventId: 'bad-url', action: 'load_url', params: { url: 'not a url' }, target: { type: 'all' } },
    });
    expect(badUrl.status).toBe(400);
    const noParams = await call('POST', '/v1/actions', {
      key: tenant.key,
      body: { name: 'x', eventId: 'no-params', action: 'load_url', target: { type: 'all' } },
    });
    expect(noParams.status).toBe(400);
    const unknownKind = await call('POST', '/v1/actions', {
      key: tenant.key,
      body: { name: 'x', eventId: 'k', action: 'self_destruct', target: { type: 'all' } },
    });
    expect(unknownKind.status).toBe(400);
    const duplicate = await call<{ error: { code: string } }>('POST', '/v1/actions', {
      key: tenant.key,
      body: { name: 'again', eventId: 'lobby-welcome', action: 'refresh_content', target: { type: 'all' } },
    });
    expect(duplicate.status).toBe(409);
    const temporary = await call<{ id: string }>('POST', '/v1/actions', {
      key: tenant.key,
      body: { name: 'Pause', eventId: 'pause-all', action: 'pause_loop', target: { type: 'all' } },
    });
    expect((await postHook(inboundKey, { event_id: 'pause-all' })).status).toBe(200);
    expect((await call('DELETE', `/v1/actions/${temporary.body.id}`, { key: tenant.key })).status).toBe(204);
    expect((await postHook(inboundKey, { event_id: 'pause-all' })).status).toBe(404);
    expect((await call('GET', `/v1/actions/${temporary.body.id}`, { key: tenant.key })).status).toBe(404);
  });

  test('a key that triggers too fast gets 429', async () => {
    const key = await createKey(tenant, ['inbound']);
    const answers = await Promise.all(Array.from({ length: 30 }, () => postHook(key, { event_id: 'restart-3' })));
    const statuses = answers.map((a) => a.status);
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(answers.find((a) => a.status === 429)?.body).toEqual({ message: 'Error', error: expect.stringContaining('too many') });
    await eventually(async () => ((devices[2]?.receiver.requests.length ?? 0) > 0 ? true : undefined), 'restarts delivered');
  });
});
