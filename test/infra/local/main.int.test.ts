/**
 * Integration: `npm start` as a user runs it (infra/local/main.ts in its own process), on a
 * persisted data dir: clean stop on SIGTERM, no child outliving a SIGKILLed stack, state and
 * keys surviving a restart, and clear errors for a port in use.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { quickJvm } from '../../support/private-stack.ts';

interface Ready {
  pid: number;
  apiUrl: string;
  rootKey: string;
  dynamodbEndpoint: string;
  sqsEndpoint: string;
}

interface Started {
  child: ChildProcess;
  ready: Ready;
  output: () => string;
}

const root = process.cwd();

async function startMain(dataDir: string, extraEnv: Record<string, string> = {}, args: string[] = []): Promise<Started> {
  const readyFile = path.join(dataDir, `ready-${Date.now()}.json`);
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', ...args], {
    cwd: root,
    env: { ...process.env, PORT: '0', SLUICE_DATA_DIR: dataDir, SLUICE_READY_FILE: readyFile, ...quickJvm, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const deadline = Date.now() + 60_000;
  while (!existsSync(readyFile)) {
    if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`not ready in 60 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, ready: JSON.parse(readFileSync(readyFile, 'utf8')) as Ready, output: () => output };
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function portOpen(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Processes whose command line mentions `needle` (ps, so it works for any owner). */
function processesMatching(needle: string): string[] {
  return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(needle) && !line.includes('ps -eo'));
}

async function api(ready: Ready, method: string, route: string, key: string, body?: unknown) {
  const response = await fetch(`${ready.apiUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('npm start (infra/local/main.ts)', () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'sluice-main-'));
  });

  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('persists across a SIGTERM restart; no child process outlives a SIGKILLed stack', async () => {
    const first = await startMain(dataDir, {}, ['--with-examples']);
    expect(first.output()).toMatch(/Example tenant ten_\w+ with 12 event types; its admin key: sk_/);
    expect(first.output()).toMatch(/Ready in \d+\.\d s/);
    expect(first.output()).toContain(`Root key: ${first.ready.rootKey}`);
    expect(first.output()).toContain('curl -s -X POST $SLUICE/v1/tenants');
    const health = await fetch(`${first.ready.apiUrl}/health`);
    expect(health.status).toBe(200);

    const tenant = await api(first.ready, 'POST', '/v1/tenants', first.ready.rootKey, { name: 'Persisted' });
    const key = String(tenant.body.apiKey);
    await api(first.ready, 'PUT', '/v1/event-types/lock.locked', key, {});
    const endpoint = await api(first.ready, 'POST', '/v1/endpoints', key, { url: 'http://127.0.0.1:9/x' });
    const message = await api(first.ready, 'POST', '/v1/messages', key, { type: 'lock.locked', payload: { a: 1 } });
    expect(message.status).toBe(202);

    first.child.kill('SIGTERM');
    expect(await exited(first.child)).toBe(0);
    expect(first.output()).toMatch(/Stopped\./);
    expect(await portOpen(first.ready.dynamodbEndpoint)).toBe(false);
    expect(await portOpen(first.ready.sqsEndpoint)).toBe(false);

    // Same data dir: same root key, the tenant's key still works, sealed secrets still open.
    const second = await startMain(dataDir);
    expect(second.ready.rootKey).toBe(first.ready.rootKey);
    expect((await api(second.ready, 'GET', `/v1/messages/${message.body.id}`, key)).body).toMatchObject({
      type: 'lock.locked',
      payload: { a: 1 },
    });
    const secret = await api(second.ready, 'GET', `/v1/endpoints/${endpoint.body.id}/secret`, key);
    expect(secret.body.secret).toBe(endpoint.body.secret);

    // SIGKILL leaves no orphan: DynamoDB Local (java) and fauxqs notice their parent is gone.
    const dynamoPort = new URL(second.ready.dynamodbEndpoint).port;
    expect(processesMatching(`-port ${dynamoPort}`).length).toBeGreaterThan(0);
    second.child.kill('SIGKILL');
    await exited(second.child);
    const deadline = Date.now() + 15_000;
    while ((await portOpen(second.ready.dynamodbEndpoint)) || (await portOpen(second.ready.sqsEndpoint))) {
      if (Date.now() > deadline) throw new Error(`children still running: ${processesMatching(`-port ${dynamoPort}`).join('; ')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(processesMatching(`-port ${dynamoPort}`)).toEqual([]);
  });

  test('without Java it says what to install', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts'], {
      cwd: root,
      // A PATH with no java on it (node itself is started by absolute path).
      env: { ...process.env, PORT: '0', SLUICE_DATA_DIR: ':memory:', PATH: path.dirname(process.execPath) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    expect(await exited(child)).toBe(1);
    expect(output).toContain('needs Java 17');
    expect(output).toContain('apt-get install -y openjdk-17-jre-headless');
  });

  test('a port in use is reported with what to change', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts'], {
        cwd: root,
        env: { ...process.env, PORT: String(port), SLUICE_DATA_DIR: ':memory:' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      expect(await exited(child)).toBe(1);
      expect(output).toContain(`port ${port}`);
      expect(output).toMatch(/PORT=/);
    } finally {
      blocker.close();
    }
  });
});
