/**
 * Integration: a DynamoDB outage on a real local stack (its own, since the outage would break
 * every other test on the shared one). With DynamoDB Local gone, the management API answers
 * `503 service_unavailable` with `Retry-After` and `x-request-id`, and the inbound hooks answer
 * 503 in their own shape; promptly, not after the AWS SDK has retried for seconds.
 *
 * The stack restarts a server that exits (as a managed service comes back), which would end the
 * outage within seconds and, in memory, with an empty ledger. So DynamoDB Local's guard shell
 * (the process group whose id the ready file gives) is frozen first, then java is killed: the
 * port refuses connections and nothing reports the exit.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { OUTAGE_MESSAGE } from '#lib/edge/outage';
import { type ReadyFile, startPrivateStack } from '../../support/private-stack.ts';

function refusesConnections(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** Stops DynamoDB Local for good: its guard shell frozen (so the stack never hears of the exit), then java killed. */
async function killDynamoDbLocal(ready: ReadyFile): Promise<void> {
  const guard = ready.pids.dynamodb;
  process.kill(guard, 'SIGSTOP');
  const java = execFileSync('pgrep', ['-P', String(guard), '-x', 'java'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map(Number);
  for (const pid of java) process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (!(await refusesConnections(ready.dynamodbEndpoint))) {
    if (Date.now() > deadline) throw new Error(`DynamoDB Local still accepts connections on ${ready.dynamodbEndpoint}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
  readonly ms: number;
}

async function call(ready: ReadyFile, method: string, route: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${ready.apiUrl}${route}`, {
    method,
    headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
    ms: performance.now() - started,
  };
}

describe('a DynamoDB outage on the local stack', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let ready: ReadyFile | undefined;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-outage-'));
  });

  afterAll(async () => {
    // No graceful stop: it would wait 5 s on the frozen guard before killing it. The SQS server's
    // guard ends fauxqs when the stack dies; DynamoDB Local's frozen group is killed here.
    const stack = child;
    if (stack && stack.exitCode === null && stack.signalCode === null) {
      const exited = new Promise((resolve) => stack.once('exit', resolve));
      stack.kill('SIGKILL');
      await exited;
    }
    if (ready) {
      try {
        process.kill(-ready.pids.dynamodb, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('the API answers 503 service_unavailable with Retry-After and x-request-id; the hooks 503 in their shape', async () => {
    const { ready: stack } = await startPrivateStack({
      dataDir: ':memory:',
      workDir: dir,
      logLevel: 'ERROR',
      spawned: (started) => {
        child = started;
      },
    });
    ready = stack;
    const tenant = await call(stack, 'POST', '/v1/tenants', { authorization: `Bearer ${stack.rootKey}` }, { name: 'Outage' });
    expect(tenant.status).toBe(201);
    const admin = { authorization: `Bearer ${String(tenant.body.apiKey)}` };
    expect((await call(stack, 'PUT', '/v1/event-types/door.opened', admin, { description: 'opened' })).status).toBe(201);
    expect(
      (await call(stack, 'POST', '/v1/endpoints', admin, { url: 'http://127.0.0.1:9/door', eventTypes: ['door.opened'] })).status,
    ).toBe(201);
    const inbound = await call(stack, 'POST', '/v1/api-keys', admin, { name: 'devices', scopes: ['inbound'] });
    const hookKey = { 'x-webhook-apikey': String(inbound.body.key) };
    expect(
      (
        await call(stack, 'POST', '/v1/actions', admin, {
          name: 'Open all',
          eventId: 'open-all',
          action: 'restart_device',
          target: { type: 'all' },
        })
      ).status,
    ).toBe(201);

    const postMessage = () => call(stack, 'POST', '/v1/messages', admin, { type: 'door.opened', payload: { door: 'front' } });
    const listEndpoints = () => call(stack, 'GET', '/v1/endpoints', admin);
    const triggerHook = () => call(stack, 'POST', '/v1/hooks', hookKey, { event_id: 'open-all' });
    // The same three requests work before the outage, so what follows is the outage's doing.
    const before = await Promise.all([postMessage(), listEndpoints(), triggerHook()]);
    expect(before.map((answer) => answer.status)).toEqual([202, 200, 200]);

    await killDynamoDbLocal(stack);
    const [posted, listed, hooked] = await Promise.all([postMessage(), listEndpoints(), triggerHook()]);

    for (const answer of [posted, listed]) {
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('1');
      const requestId = answer.headers.get('x-request-id');
      expect(requestId).toMatch(/^\S{8,}$/);
      expect(answer.body).toEqual({ error: { code: 'service_unavailable', message: OUTAGE_MESSAGE, requestId } });
    }
    expect(hooked.status).toBe(503);
    expect(hooked.headers.get('retry-after')).toBe('1');
    expect(hooked.headers.get('x-request-id')).toMatch(/^\S{8,}$/);
    expect(hooked.body).toEqual({ message: 'Error', error: OUTAGE_MESSAGE });

    // A refused connection fails fast: the SDK's retries (5 attempts, ~100 ms backoff) take well under a second here.
    for (const answer of [posted, listed, hooked]) expect(answer.ms).toBeLessThan(5_000);
  });
});
