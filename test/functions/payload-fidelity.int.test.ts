/**
 * Integration (real local stack): a receiver gets exactly the payload text that was accepted:
 * prototype-special keys, duplicate keys, numbers beyond 2^53, unicode escapes and whitespace
 * survive ingest, storage (compressed or not), dispatch and delivery, and the API reads it back
 * the same way.
 */
import { Receiver } from '../support/receiver.ts';
import { call, createEndpoint, createKey, createTenant, eventually, putEventType, type TestTenant, testStack } from '../support/stack.ts';

const payloads = {
  prototypeKeys: '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":1}',
  duplicateKeys: '{"a":1,"a":2,"nested":{"b":"first","b":"second"}}',
  bigNumbers: '{"big":12345678901234567890123,"precise":0.1000000000000000055511151231257827,"exp":1E400,"negZero":-0}',
  unicodeEscapes: '{"e":"caf\\u00e9","emoji":"\\ud83d\\ude00","lone":"\\udc00","raw":"ß→😀","slash":"\\/","nul":"\\u0000"}',
  whitespace: '{\n  "spaced" : [ 1 ,\t2 ],\r\n  "last":{ }\n}',
  // Large enough to be stored compressed and sent by reference rather than inline.
  large: `{"__proto__":{"x":1},"big":98765432109876543210,"blob":"${'ab'.repeat(40 * 1024)}"}`,
};

describe('payload fidelity', () => {
  let tenant: TestTenant;
  let receiver: Receiver;

  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'fidelity.check', { type: 'object' });
    receiver = await Receiver.start();
    await createEndpoint(tenant, { url: receiver.url, eventTypes: ['fidelity.check'] });
  });

  afterAll(() => receiver.close());

  test.each(Object.entries(payloads))('%s reaches the receiver and the API byte for byte', async (_name, payloadText) => {
    const response = await fetch(`${testStack().apiUrl}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
      body: `{"type":"fidelity.check","payload":${payloadText}}`,
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    const delivered = await eventually(async () => receiver.requests.find((r) => r.headers['webhook-id'] === id), `delivery of ${id}`);
    expect(delivered.body.endsWith(`"data":${payloadText}}`)).toBe(true);

    const stored = await fetch(`${testStack().apiUrl}/v1/messages/${id}`, { headers: { authorization: `Bearer ${tenant.key}` } });
    expect(await stored.text()).toContain(`"payload":${payloadText}`);
    // Nothing on the way polluted a prototype.
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  test('the message list serves the payload text too', async () => {
    const list = await fetch(`${testStack().apiUrl}/v1/messages?type=fidelity.check&limit=100`, {
      headers: { authorization: `Bearer ${tenant.key}` },
    });
    const text = await list.text();
    expect(text).toContain(payloads.bigNumbers);
    expect(text).toContain(payloads.duplicateKeys);
    expect((JSON.parse(text) as { data: unknown[] }).data.length).toBe(Object.keys(payloads).length);
  });

  test('a thin receiver fetches the payload text from the inbox', async () => {
    const thinReceiver = await Receiver.start();
    try {
      const thin = await createTenant();
      await putEventType(thin, 'fidelity.thin');
      await createEndpoint(thin, { url: thinReceiver.url, mode: 'thin' });
      const payloadText = payloads.prototypeKeys.replace('}', ',"n":123456789012345678901}');
      const response = await call<{ id: string }>('POST', '/v1/messages', {
        key: thin.key,
        body: `{"type":"fidelity.thin","payload":${payloadText}}`,
      });
      expect(response.status).toBe(202);
      // A thin notice names the delivery in X-Message-Id; the receiver fetches the payload with it.
      const notice = await eventually(async () => thinReceiver.requests[0], 'thin notice');
      expect(notice.body).toBe('');
      const deliveryId = notice.headers['x-message-id'] ?? '';
      const receiverKey = await createKey(thin, ['receiver']);
      const item = await fetch(`${testStack().apiUrl}/v1/inbox/${deliveryId}`, { headers: { authorization: `Bearer ${receiverKey}` } });
      expect(item.status).toBe(200);
      expect(await item.text()).toContain(`"data":${payloadText}`);
    } finally {
      await thinReceiver.close();
    }
  });
});
