/**
 * Integration: nothing accepted is ever lost. 1000 messages are accepted while the receiver is
 * down, the whole local stack is killed with SIGKILL, started again on the same data dir, the
 * receiver comes back, and every message is delivered. Runs its own persisted stack (the shared
 * one is in memory), as a user's `npm start` would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expectLedgerSettled } from '../support/ledger.ts';
import { Receiver } from '../support/receiver.ts';
import { createEndpoint, createTenant, putEventType } from '../support/stack.ts';

const MESSAGES = 1000;

interface Started {
  readonly child: ChildProcess;
  readonly ready: string;
  readonly apiUrl: string;
}

async function startStack(dataDir: string): Promise<Started> {
  const readyFile = path.join(dataDir, `ready-${Date.now()}.json`);
  const log = path.join(dataDir, 'stack.log');
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', '--quiet'], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      PORT: '0',
      SLUICE_DATA_DIR: dataDir,
      SLUICE_READY_FILE: readyFile,
      SLUICE_SWEEP_INTERVAL_SECONDS: '1',
      SLUICE_SWEEP_GRACE_SECONDS: '10',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.once('exit', () => writeFileSync(log, output));
  const deadline = Date.now() + 90_000;
  while (!existsSync(readyFile)) {
    if (child.exitCode !== null) throw new Error(`stack exited ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`stack not ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const ready = readFileSync(readyFile, 'utf8');
  return { child, ready, apiUrl: (JSON.parse(ready) as { apiUrl: string }).apiUrl };
}

describe('crash recovery', () => {
  let dataDir: string;
  const sharedStack = process.env.SLUICE_TEST_STACK;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'sluice-crash-'));
  });

  afterAll(async () => {
    process.env.SLUICE_TEST_STACK = sharedStack;
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test(`${MESSAGES} messages accepted while the receiver is down survive a SIGKILL of the stack`, async () => {
    const first = await startStack(dataDir);
    children.push(first.child);
    // The test helpers talk to whichever stack SLUICE_TEST_STACK names.
    process.env.SLUICE_TEST_STACK = first.ready;
    const tenant = await createTenant('crash test');
    await putEventType(tenant, 'order.created');
    const probe = await Receiver.start();
    const port = probe.port;
    await probe.close();
    const endpoint = await createEndpoint(tenant, {
      url: `http://127.0.0.1:${port}/webhook`,
      retryPolicy: { delaysSeconds: [1, 2, 3, ...Array.from({ length: 17 }, () => 5)] },
    });

    let accepted = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < MESSAGES) {
          const i = next++;
          const response = await fetch(`${first.apiUrl}/v1/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ type: 'order.created', payload: { i } }),
          });
          if (response.status !== 202) throw new Error(`message ${i} answered ${response.status}`);
          accepted++;
        }
      }),
    );
    expect(accepted).toBe(MESSAGES);

    // The whole stack dies at once: no graceful stop, attempts cut off mid-flight.
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));

    const second = await startStack(dataDir);
    children.push(second.child);
    process.env.SLUICE_TEST_STACK = second.ready;
    const receiver = await Receiver.start(undefined, port);
    const recoveredAt = Date.now();
    try {
      const ledger = await expectLedgerSettled(tenant, MESSAGES, new Map([[endpoint.id, receiver]]), { timeoutMs: 240_000 });
      expect(ledger.byStatus).toEqual({ succeeded: MESSAGES });
      const uniqueMessages = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
      expect(uniqueMessages.size).toBe(MESSAGES);
      const lastDelivery = Math.max(...receiver.requests.map((r) => r.receivedAt));
      const figures = {
        messages: MESSAGES,
        requestsReceived: receiver.requests.length,
        duplicates: ledger.duplicates,
        secondsFromRecoveryToLastDelivery: Number(((lastDelivery - recoveredAt) / 1000).toFixed(1)),
      };
      console.log(`crash recovery: ${JSON.stringify(figures)}`);
      mkdirSync('.test-stack', { recursive: true });
      writeFileSync(path.join('.test-stack', 'crash-recovery.json'), `${JSON.stringify(figures, null, 2)}\n`);
    } finally {
      await receiver.close();
      second.child.kill('SIGTERM');
      await new Promise((resolve) => second.child.once('exit', resolve));
    }
  }, 420_000);
});
