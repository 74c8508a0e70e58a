/**
 * Integration (real local stack): a client generated from the served OpenAPI document works. The
 * committed types are exactly what the served document generates (no drift), the example client
 * compiles under `strict` with no cast (`npm run typecheck` covers it), and it creates a tenant,
 * an event type, an endpoint and a message, then lists the deliveries.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tour } from '../../examples/typed-client/client.ts';
import { Receiver } from '../support/receiver.ts';
import { call, eventually, testStack } from '../support/stack.ts';

describe('the typed client (openapi-typescript + openapi-fetch)', () => {
  test('the committed types are what the served document generates', async () => {
    const served = await call<Record<string, unknown>>('GET', '/v1/openapi.json');
    // openapi-typescript loads ESM-only modules: it runs in its own process (`npm run generate:client` regenerates).
    const generated = spawnSync(process.execPath, ['--import', 'tsx', 'examples/typed-client/write-types.ts', '--stdin'], {
      input: JSON.stringify(served.body),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(generated.stderr).toBe('');
    expect(generated.stdout).toBe(readFileSync('examples/typed-client/sluice-api.ts', 'utf8'));
  });

  test('the example client uses no casts', () => {
    const source = readFileSync('examples/typed-client/client.ts', 'utf8');
    expect(source).not.toMatch(/\bas\s+(unknown|any|never|[A-Z{[])/);
  });

  test('creates a tenant, an event type, an endpoint and a message, and lists the deliveries', async () => {
    const receiver = await Receiver.start();
    try {
      const result = await tour(testStack().apiUrl, testStack().rootKey, receiver.url);
      expect(result.tenantId).toMatch(/^ten_/);
      expect(result.endpointId).toMatch(/^ep_/);
      expect(result.messageId).toMatch(/^msg_/);
      expect(result.deliveryStatuses).toHaveLength(1);
      const delivered = await eventually(
        async () => receiver.requests.find((r) => r.headers['webhook-id'] === result.messageId),
        'the delivery',
      );
      expect(JSON.parse(delivered.body)).toMatchObject({ type: 'order.paid', data: { orderId: 'ord_1', amount: 42 } });
    } finally {
      await receiver.close();
    }
  });
});
