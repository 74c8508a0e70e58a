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
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { OUTAGE_MESSAGE } from '#lib/edge/outage';

interface Ready {
  readonly apiUrl: string;
  readonly rootKey: string;
  readonly dynamodbEndpoint: string;
  /** `dynamodb`: DynamoDB Local's guard shell, which leads its process group (java is its child). */
  readonly pids: { readonly dynamodb: number };
}

const root = process.cwd();

/** Starts the stack; `spawned` hears of the child at once, so it is killed even if it never gets ready. */
async function startStack(dir: string, spawned: (child: ChildProcess) => void): Promise<Ready> {
  const readyFile = path.join(dir, 'ready.json');
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', '--quiet'], {
    cwd: root,
    env: { ...process.env, PORT: '0', SLUICE_DATA_DIR: ':memory:', SLUICE_READY_FILE: readyFile, POWERTOOLS_LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned(child);
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const deadline = Date.now() + 60_000;
  while (!existsSync(readyFile)) {
    if (child.exitCode !== null) throw new Error(`the stack exited ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`the stack was not ready in 60 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return JSON.parse(readFileSync(readyFile, 'utf8')) as Ready;
}

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
async function killDynamoDbLocal(ready: Ready): Promise<void> {
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

async function call(ready: Ready, method: string, route: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
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
  let ready: Ready | undefined;

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
    const stack = await startStack(dir, (started) => {
      child = started;
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
