/**
 * Integration: nothing accepted is ever lost. 1000 messages are accepted while the receiver is
 * down, the whole local stack is killed with SIGKILL, started again on the same data dir, the
 * receiver comes back, and every message is delivered. Runs its own persisted stack (the shared
 * one is in memory), as a user's `npm start` would.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expectLedgerSettled } from '../support/ledger.ts';
import { type PrivateStack, startPrivateStack } from '../support/private-stack.ts';
import { Receiver } from '../support/receiver.ts';
import { createEndpoint, createTenant, putEventType } from '../support/stack.ts';

const MESSAGES = 1000;

/** A stack of the test's own on `dataDir`, with a sweeper fast enough for the test's minutes. */
function startStack(dataDir: string): Promise<PrivateStack> {
  return startPrivateStack({
    dataDir,
    workDir: dataDir,
    // DynamoDB Local with its optimising compiler: 1000 messages are load enough to repay it.
    env: { SLUICE_SWEEP_INTERVAL_SECONDS: '1', SLUICE_SWEEP_GRACE_SECONDS: '10', JAVA_TOOL_OPTIONS: '' },
    readyTimeoutMs: 90_000,
    logFile: path.join(dataDir, 'stack.log'),
  });
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
    process.env.SLUICE_TEST_STACK = JSON.stringify(first.ready);
    const tenant = await createTenant('crash test');
    await putEventType(tenant, 'order.created');
    const probe = await Receiver.start();
    const port = probe.port;
    await probe.close();
    // Every refused attempt costs the stack ledger writes and queue sends: retries a second or two
    // apart, 1000 deliveries deep, swamp it and slow the posting fourfold. So each delivery fails
    // once as it arrives and retries a minute later, by when the stack has been killed and restarted
    // (a slower machine's retries come 30 s apart, and ten minutes of them leave none dead).
    const endpoint = await createEndpoint(tenant, {
      url: `http://127.0.0.1:${port}/webhook`,
      retryPolicy: { delaysSeconds: [60, ...Array.from({ length: 19 }, () => 30)] },
    });

    let accepted = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < MESSAGES) {
          const i = next++;
          const response = await fetch(`${first.ready.apiUrl}/v1/messages`, {
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
    process.env.SLUICE_TEST_STACK = JSON.stringify(second.ready);
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
