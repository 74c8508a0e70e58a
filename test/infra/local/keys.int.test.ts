/**
 * Integration: key rotation end to end on a persisted local stack (its own, like `npm start`, since
 * rotation takes a restart and the shared stack is in memory). `npm run keys` rotates the data key
 * and the root key while the stack runs; after a restart the values sealed before still open (the
 * endpoint's signing secret and Basic-auth password in a real delivery, the revealable API key),
 * new values carry the new key id, the re-seal moves every old value onto it, and the root-key
 * hand-over accepts both keys until it is finished. A last rotation is re-sealed with the stack stopped.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Webhook } from 'standardwebhooks';
import { ledgerTable } from '#infra/description';
import { type PrivateStack, quickJvm, type ReadyFile, startPrivateStack, stopPrivateStack } from '../../support/private-stack.ts';
import { Receiver } from '../../support/receiver.ts';

const root = process.cwd();
const run = promisify(execFile);

const startStack = (dataDir: string) => startPrivateStack({ dataDir, workDir: dataDir });
const stopStack = stopPrivateStack;

/** `npm run keys -- <args>` on the data dir; its output. */
async function keys(dataDir: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'infra/local/keys.ts', ...args], {
    cwd: root,
    // The offline re-seal starts DynamoDB Local itself: the same quick JVM as the stacks.
    env: { ...process.env, SLUICE_DATA_DIR: dataDir, ...quickJvm },
  });
  return stdout;
}

async function api(ready: ReadyFile, method: string, route: string, key: string, body?: unknown) {
  const response = await fetch(`${ready.apiUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** Every sealed value in the ledger, read raw from DynamoDB Local, by the item it is in. */
async function sealedValues(ready: ReadyFile): Promise<{ item: string; value: string }[]> {
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: ready.dynamodbEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
  try {
    const { Items = [] } = await client.send(new ScanCommand({ TableName: ledgerTable.localName }));
    return Items.flatMap((item) => {
      const name = `${String(item.entity)} ${String(item.sk)}`;
      const secrets = (item.secrets as { value: string }[] | undefined) ?? [];
      const auth = item.auth as { password?: string } | undefined;
      return [
        ...secrets.map((secret) => ({ item: name, value: secret.value })),
        ...(auth?.password ? [{ item: name, value: auth.password }] : []),
        ...(typeof item.sealedKey === 'string' ? [{ item: name, value: item.sealedKey }] : []),
      ];
    });
  } finally {
    client.destroy();
  }
}

const keyIdOf = (sealed: string) => sealed.split('.').slice(0, 2).join('.');

describe('key rotation on the local stack (npm run keys)', () => {
  let dataDir: string;
  const started: PrivateStack[] = [];
  let receiver: Receiver;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'sluice-keys-'));
    receiver = await Receiver.start();
  });

  afterAll(async () => {
    for (const stack of started) if (stack.child.exitCode === null) stack.child.kill('SIGKILL');
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('rotate, restart: old sealed secrets still open, new ones use the new key, the re-seal moves the rest; the root key hands over', async () => {
    // Before: a tenant, an endpoint with a signing secret and a Basic-auth password, a revealable key.
    const first = await startStack(dataDir);
    started.push(first);
    const rootBefore = first.ready.rootKey;
    const tenant = await api(first.ready, 'POST', '/v1/tenants', rootBefore, { name: 'Rotating' });
    const tenantKey = String(tenant.body.apiKey);
    await api(first.ready, 'PUT', '/v1/event-types/lock.unlocked', tenantKey, { description: 'unlocked' });
    const endpoint = await api(first.ready, 'POST', '/v1/endpoints', tenantKey, {
      url: receiver.url,
      eventTypes: ['lock.unlocked'],
      auth: { type: 'basic', username: 'acme', password: 's3cret' },
    });
    expect(endpoint.status).toBe(201);
    const revealable = await api(first.ready, 'POST', '/v1/api-keys', tenantKey, { name: 'reveal me', scopes: ['ingest'] });
    const before = await sealedValues(first.ready);
    // The admin key, the revealable key, the endpoint's secret and password.
    expect(before).toHaveLength(4);
    expect(new Set(before.map((sealed) => keyIdOf(sealed.value)))).toEqual(new Set(['v2.k1']));

    // Rotate both keys while the stack runs; they take effect at the next start.
    expect(await keys(dataDir, 'rotate-data-key')).toContain('Data key k2 added');
    const rotated = await keys(dataDir, 'rotate-root-key');
    const rootAfter = /New root key: (\S+)/.exec(rotated)?.[1] ?? '';
    expect(rootAfter).toMatch(/^root_/);
    // Re-sealing under a key the running stack has not loaded would strand values: refused.
    await expect(keys(dataDir, 'reseal')).rejects.toMatchObject({ stdout: expect.stringContaining('restart the stack first') });
    await stopStack(first);

    const second = await startStack(dataDir);
    started.push(second);
    expect(second.ready.rootKey).toBe(rootAfter);
    // Old sealed values open: the revealed key, the signing secret, and both in a real delivery.
    expect((await api(second.ready, 'GET', `/v1/api-keys/${String(revealable.body.id)}/reveal`, tenantKey)).body.key).toBe(
      revealable.body.key,
    );
    expect((await api(second.ready, 'GET', `/v1/endpoints/${String(endpoint.body.id)}/secret`, tenantKey)).body.secret).toBe(
      endpoint.body.secret,
    );
    await api(second.ready, 'POST', '/v1/messages', tenantKey, { type: 'lock.unlocked', payload: { lockId: 'L-1' } });
    const [delivery] = await receiver.waitFor(1);
    expect(delivery?.headers.authorization).toBe(`Basic ${Buffer.from('acme:s3cret').toString('base64')}`);
    expect(() => new Webhook(String(endpoint.body.secret)).verify(delivery?.body ?? '', delivery?.headers ?? {})).not.toThrow();

    // New values are sealed under k2; the old ones are still under k1 until the re-seal.
    const created = await api(second.ready, 'POST', '/v1/endpoints', tenantKey, { url: receiver.url, eventTypes: ['lock.unlocked'] });
    const afterRestart = await sealedValues(second.ready);
    expect(afterRestart.filter((sealed) => sealed.item.endsWith(String(created.body.id))).map((sealed) => keyIdOf(sealed.value))).toEqual([
      'v2.k2',
    ]);
    expect(afterRestart.filter((sealed) => keyIdOf(sealed.value) === 'v2.k1')).toHaveLength(4);

    // Both root keys work during the hand-over.
    expect((await api(second.ready, 'GET', '/v1/tenants', rootBefore)).status).toBe(200);
    expect((await api(second.ready, 'GET', '/v1/tenants', rootAfter)).status).toBe(200);

    const report = await keys(dataDir, 'reseal');
    expect(report).toContain('1 tenants, 4 items with sealed values (k1: 4, k2: 1): 3 re-sealed, 1 already under k2');
    const resealed = await sealedValues(second.ready);
    expect(resealed).toHaveLength(5);
    expect(new Set(resealed.map((sealed) => keyIdOf(sealed.value)))).toEqual(new Set(['v2.k2']));
    expect((await api(second.ready, 'GET', `/v1/api-keys/${String(revealable.body.id)}/reveal`, tenantKey)).body.key).toBe(
      revealable.body.key,
    );
    expect(await keys(dataDir, 'reseal', '--dry-run')).toContain('0 to re-seal, 4 already under k2');

    expect(await keys(dataDir, 'finish-root-key')).toContain('Hand-over finished');
    await stopStack(second);

    // After the hand-over only the new root key works; sealed values open as before.
    const third = await startStack(dataDir);
    started.push(third);
    expect((await api(third.ready, 'GET', '/v1/tenants', rootBefore)).status).toBe(401);
    expect((await api(third.ready, 'GET', '/v1/tenants', rootAfter)).status).toBe(200);
    expect((await api(third.ready, 'GET', `/v1/endpoints/${String(endpoint.body.id)}/secret`, tenantKey)).body.secret).toBe(
      endpoint.body.secret,
    );
    expect(await keys(dataDir, 'status')).toContain('Data keys: k1, k2; sealing with k2');
    await stopStack(third);

    // On a stopped stack the re-seal starts DynamoDB Local on the data dir itself.
    expect(await keys(dataDir, 'rotate-data-key')).toContain('Data key k3 added');
    const offline = await keys(dataDir, 'reseal');
    expect(offline).toContain('The stack is not running');
    expect(offline).toContain('4 items with sealed values (k2: 5): 4 re-sealed, 0 already under k3');
  }, 120_000);
});
