/**
 * Integration (real local stack, real receivers): fault injection. Each test ends on the ledger
 * invariant: every (message, endpoint) pair is succeeded, acknowledged or dead, and the counts
 * reconcile with what the receivers saw. Duplicates (same delivery, same attempt number) are
 * allowed by at-least-once delivery; the tests report them.
 */
import { ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../functions/lib/aws/ledger-keys.ts';
import { expectLedgerSettled } from '../support/ledger.ts';
import { Receiver, receiverPool, respondWith } from '../support/receiver.ts';
import {
  call,
  createEndpoint,
  createTenant,
  eventually,
  ledgerClient,
  postMessage,
  putEventType,
  sqsClient,
  stackLogText,
  type TestTenant,
  testStack,
} from '../support/stack.ts';

interface Attempt {
  attempt: number;
  trigger: string;
  startedAt: string;
  statusCode?: number;
  error?: string;
  outcome: string;
}
interface DeliveryDetail {
  id: string;
  status: string;
  attemptCount: number;
  nextAttemptAt?: string;
  lastError?: string;
  attempts: Attempt[];
}

const duplicatesSeen: Record<string, number> = {};

async function detail(tenant: TestTenant, deliveryId: string): Promise<DeliveryDetail> {
  return (await call<DeliveryDetail>('GET', `/v1/deliveries/${deliveryId}`, { key: tenant.key })).body;
}

async function setup(eventType = 'order.created'): Promise<TestTenant> {
  const tenant = await createTenant();
  await putEventType(tenant, eventType);
  return tenant;
}

const fast = { delaysSeconds: [1, 1, 1, 1, 1] };

/**
 * Every body on the delivery DLQ: each receive hides what it got for two seconds, so the next
 * one returns the rest, until nothing more comes back.
 */
async function dlqBodies(sqs: SQSClient): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: testStack().queues.delivery.deadLetterUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 2 }),
    );
    if (!Messages?.length) return bodies;
    bodies.push(...Messages.map((m) => m.Body ?? ''));
  }
}

describe('delivery under faults', () => {
  const receivers = receiverPool();
  const receiver = receivers.start;

  afterAll(async () => {
    await receivers.closeAll();
    console.log(`duplicates seen per fault: ${JSON.stringify(duplicatesSeen)}`);
  });

  test('receiver refusing connections, then recovering: every message delivered', async () => {
    const tenant = await setup();
    const probe = await Receiver.start();
    const port = probe.port;
    await probe.close();
    const endpoint = await createEndpoint(tenant, { url: `http://127.0.0.1:${port}/webhook`, retryPolicy: fast });
    for (let i = 0; i < 5; i++) await postMessage(tenant, 'order.created', { i });
    const firstFailure = await eventually(async () => {
      const list = await call<{ data: { id: string; attemptCount: number }[] }>(
        'GET',
        `/v1/endpoints/${endpoint.id}/deliveries?status=failed`,
        {
          key: tenant.key,
        },
      );
      return list.body.data.find((d) => d.attemptCount >= 1);
    }, 'a refused attempt');
    expect((await detail(tenant, firstFailure.id)).attempts[0]?.error).toMatch(/^connection_refused/);
    const back = await receiver(respondWith(200), port);
    const ledger = await expectLedgerSettled(tenant, 5, new Map([[endpoint.id, back]]));
    expect(ledger.byStatus).toEqual({ succeeded: 5 });
    duplicatesSeen.refused = ledger.duplicates;
  });

  test('slower than the timeout: every attempt times out, the delivery ends dead, is listed as a dead letter and is not put on the DLQ', async () => {
    const tenant = await setup();
    const slow = await receiver((_req, _i, res) => {
      setTimeout(() => res.writeHead(200).end(), 2500);
    });
    const endpoint = await createEndpoint(tenant, { url: slow.url, timeoutMs: 1000, retryPolicy: { delaysSeconds: [1, 1] } });
    const message = await postMessage(tenant, 'order.created', { slow: true });
    const ledger = await expectLedgerSettled(tenant, 1, new Map([[endpoint.id, slow]]));
    expect(ledger.byStatus).toEqual({ dead: 1 });
    const deliveryId = ledger.deliveries[0]?.id ?? '';
    const history = await detail(tenant, deliveryId);
    expect(history.attempts.map((a) => a.error?.split(':')[0])).toEqual(['timeout', 'timeout', 'timeout']);
    const deadLetters = await call<{ data: { id: string; messageId: string }[] }>('GET', '/v1/dead-letters', { key: tenant.key });
    expect(deadLetters.body.data).toEqual([expect.objectContaining({ id: deliveryId, messageId: message.id })]);
    // A customer's exhausted retries are not the pipeline's failure: nothing of this delivery goes to
    // the delivery DLQ (whose alarm pages an operator), while a poison job sent after it still does.
    const sqs = sqsClient();
    const poison = `poison ${Date.now()}`;
    await sqs.send(new SendMessageCommand({ QueueUrl: testStack().queues.retry.url, MessageBody: poison }));
    const parked = await eventually(async () => {
      const bodies = await dlqBodies(sqs);
      return bodies.includes(poison) ? bodies : undefined;
    }, 'the poison job on the DLQ');
    expect(parked.filter((body) => body.includes(deliveryId))).toEqual([]);
    sqs.destroy();
  });

  test('5xx twice, then 200: succeeded on the third attempt, each attempt recorded', async () => {
    const tenant = await setup();
    const flaky = await receiver((_req, index, res) => res.writeHead(index < 2 ? 500 : 200).end(index < 2 ? 'oops' : 'ok'));
    const endpoint = await createEndpoint(tenant, { url: flaky.url, retryPolicy: fast });
    await postMessage(tenant, 'order.created', {});
    const ledger = await expectLedgerSettled(tenant, 1, new Map([[endpoint.id, flaky]]));
    const history = await detail(tenant, ledger.deliveries[0]?.id ?? '');
    expect(history.attempts.map((a) => [a.attempt, a.statusCode, a.outcome, a.trigger])).toEqual([
      [1, 500, 'failed', 'scheduled'],
      [2, 500, 'failed', 'scheduled'],
      [3, 200, 'succeeded', 'scheduled'],
    ]);
    duplicatesSeen.fiveHundreds = ledger.duplicates;
  });

  test('429 with Retry-After: the next attempt waits at least that long (capped at twice the schedule)', async () => {
    const tenant = await setup();
    const limited = await receiver((_req, index, res) =>
      index === 0 ? res.writeHead(429, { 'retry-after': '3' }).end() : res.writeHead(200).end(),
    );
    const endpoint = await createEndpoint(tenant, { url: limited.url, retryPolicy: { delaysSeconds: [2, 2] } });
    await postMessage(tenant, 'order.created', {});
    const ledger = await expectLedgerSettled(tenant, 1, new Map([[endpoint.id, limited]]));
    const [first, second] = (await detail(tenant, ledger.deliveries[0]?.id ?? '')).attempts;
    const gap = Date.parse(second?.startedAt ?? '') - Date.parse(first?.startedAt ?? '');
    // Schedule: 2 s ±10 %; Retry-After 3 s is under the 4 s cap, so it is the floor.
    expect(gap).toBeGreaterThanOrEqual(2900);
    expect(first?.statusCode).toBe(429);
    expect(second?.statusCode).toBe(200);
  });

  test('410 Gone disables the endpoint, stops its pending deliveries and announces endpoint.disabled', async () => {
    const tenant = await setup();
    const gone = await receiver(respondWith(410));
    const watcher = await receiver();
    const endpoint = await createEndpoint(tenant, { url: gone.url, eventTypes: ['order.created'], retryPolicy: fast });
    const watching = await createEndpoint(tenant, { url: watcher.url, eventTypes: ['endpoint.disabled'] });
    await postMessage(tenant, 'order.created', { n: 1 });
    const [announcement] = await watcher.waitFor(1);
    expect(JSON.parse(announcement?.body ?? '{}')).toMatchObject({
      type: 'endpoint.disabled',
      data: { endpointId: endpoint.id, url: gone.url, reason: expect.stringContaining('410 Gone') },
    });
    const state = await call<{ disabled: boolean; disabledReason: string }>('GET', `/v1/endpoints/${endpoint.id}`, { key: tenant.key });
    expect(state.body).toMatchObject({ disabled: true, disabledReason: expect.stringContaining('410') });
    // Later messages wait: nothing more reaches the gone receiver.
    await postMessage(tenant, 'order.created', { n: 2 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(gone.requests).toHaveLength(1);
    const waiting = await call<{ data: { status: string; nextAttemptAt?: string }[] }>('GET', `/v1/endpoints/${endpoint.id}/deliveries`, {
      key: tenant.key,
    });
    expect(waiting.body.data.map((d) => d.status).sort()).toEqual(['failed', 'pending']);
    expect(waiting.body.data.every((d) => d.nextAttemptAt === undefined)).toBe(true);
    // The receiver comes back: enabling the endpoint resumes both, nothing was lost.
    gone.responder = respondWith(200);
    expect((await call('PATCH', `/v1/endpoints/${endpoint.id}`, { key: tenant.key, body: { disabled: false } })).status).toBe(200);
    const ledger = await expectLedgerSettled(
      tenant,
      3,
      new Map([
        [endpoint.id, gone],
        [watching.id, watcher],
      ]),
    );
    expect(ledger.byStatus).toEqual({ succeeded: 3 });
  });

  test('a catch-all endpoint disabled by a 410 does not get its own endpoint.disabled; another catch-all does', async () => {
    const tenant = await setup();
    const gone = await receiver(respondWith(410));
    const watcher = await receiver();
    const endpoint = await createEndpoint(tenant, { url: gone.url, retryPolicy: fast });
    await createEndpoint(tenant, { url: watcher.url, eventTypes: ['endpoint.disabled'] });
    const other = await receiver();
    await createEndpoint(tenant, { url: other.url });
    await postMessage(tenant, 'order.created', { n: 1 });
    await watcher.waitFor(1);
    const bodies = (await other.waitFor(2)).map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });
    expect(bodies.find((b) => b.type === 'endpoint.disabled')?.data).toMatchObject({ endpointId: endpoint.id });
    const own = await call<{ data: { eventType: string }[] }>('GET', `/v1/endpoints/${endpoint.id}/deliveries`, { key: tenant.key });
    expect(own.body.data.map((d) => d.eventType)).toEqual(['order.created']);
  });

  test('3xx is a failure and the redirect is never followed', async () => {
    const tenant = await setup();
    const target = await receiver();
    const redirecting = await receiver(respondWith(302, '', { location: target.url }));
    const endpoint = await createEndpoint(tenant, { url: redirecting.url, retryPolicy: { delaysSeconds: [1] } });
    await postMessage(tenant, 'order.created', {});
    const ledger = await expectLedgerSettled(tenant, 1, new Map([[endpoint.id, redirecting]]));
    expect(ledger.byStatus).toEqual({ dead: 1 });
    expect((await detail(tenant, ledger.deliveries[0]?.id ?? '')).attempts.map((a) => a.statusCode)).toEqual([302, 302]);
    expect(target.requests).toHaveLength(0);
  });

  test('connection reset mid-response is retried', async () => {
    const tenant = await setup();
    const resetting = await receiver((_req, index, res) => {
      if (index > 0) return void res.writeHead(200).end('ok');
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      res.socket?.destroy();
    });
    const endpoint = await createEndpoint(tenant, { url: resetting.url, retryPolicy: fast });
    await postMessage(tenant, 'order.created', {});
    const ledger = await expectLedgerSettled(tenant, 1, new Map([[endpoint.id, resetting]]));
    const attempts = (await detail(tenant, ledger.deliveries[0]?.id ?? '')).attempts;
    expect(attempts[0]).toMatchObject({ outcome: 'failed', error: expect.stringMatching(/^connection_reset|^network_error/) });
    expect(attempts.at(-1)).toMatchObject({ outcome: 'succeeded' });
  });

  test('DNS failure (the name stopped resolving after the endpoint was created) is retried until it resolves again', async () => {
    const tenant = await setup();
    const target = await receiver();
    const endpoint = await createEndpoint(tenant, { url: target.url, retryPolicy: fast });
    // What a deleted DNS record looks like to Sluice: the stored host no longer resolves.
    const ledger = ledgerClient();
    const setUrl = (url: string) =>
      ledger.send(
        new UpdateCommand({
          TableName: 'sluice-ledger',
          Key: { pk: `TEN#${tenant.id}`, sk: `EP#${endpoint.id}` },
          UpdateExpression: 'SET #url = :url',
          ExpressionAttributeNames: { '#url': 'url' },
          ExpressionAttributeValues: { ':url': url },
        }),
      );
    await setUrl(`http://sluice-test-host.invalid:${target.port}/webhook`);
    await postMessage(tenant, 'order.created', {});
    const failed = await eventually(async () => {
      const list = await call<{ data: { id: string; attemptCount: number }[] }>('GET', `/v1/endpoints/${endpoint.id}/deliveries`, {
        key: tenant.key,
      });
      return list.body.data.find((d) => d.attemptCount >= 1);
    }, 'a failed DNS attempt');
    expect((await detail(tenant, failed.id)).attempts[0]?.error).toMatch(/^dns_failure/);
    await setUrl(target.url);
    const settled = await expectLedgerSettled(tenant, 1, new Map([[endpoint.id, target]]));
    expect(settled.byStatus).toEqual({ succeeded: 1 });
    ledger.destroy();
  });

  test('the same queue message delivered several times records one attempt per number', async () => {
    const tenant = await setup();
    const target = await receiver((_req, index, res) => res.writeHead(index === 0 ? 500 : 200).end());
    const endpoint = await createEndpoint(tenant, { url: target.url, retryPolicy: { delaysSeconds: [2] } });
    const message = await postMessage(tenant, 'order.created', {});
    const [first] = await target.waitFor(1);
    const deliveryId = first?.headers['x-sluice-delivery-id'] ?? '';
    const job = JSON.stringify({ deliveryId, tenantId: tenant.id, messageId: message.id, endpointId: endpoint.id });
    // Three more copies of the retry's job, on both lanes, while the real one waits for its delay.
    const sqs = sqsClient();
    const { queues } = testStack();
    await sqs.send(new SendMessageCommand({ QueueUrl: queues.retry.url, MessageBody: job }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queues.retry.url, MessageBody: job }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queues.delivery.url, MessageBody: job }));
    sqs.destroy();
    const ledger = await expectLedgerSettled(tenant, 1, new Map([[endpoint.id, target]]));
    const history = await detail(tenant, deliveryId);
    expect(history.attempts.map((a) => a.attempt)).toEqual([1, 2]);
    expect(history.status).toBe('succeeded');
    expect(target.requests.every((r) => r.headers['webhook-id'] === message.id)).toBe(true);
    duplicatesSeen.duplicateJobs = ledger.duplicates;
  });

  test('poison messages (unparseable body, deleted endpoint) do not block the rest of their batch', async () => {
    const tenant = await setup();
    const healthy = await receiver();
    const doomed = await receiver(respondWith(500));
    const goodEndpoint = await createEndpoint(tenant, { url: healthy.url });
    const doomedEndpoint = await createEndpoint(tenant, { url: doomed.url, retryPolicy: { delaysSeconds: [3600] } });
    const message = await postMessage(tenant, 'order.created', {});
    await healthy.waitFor(1);
    await doomed.waitFor(1);
    expect((await call('DELETE', `/v1/endpoints/${doomedEndpoint.id}`, { key: tenant.key })).status).toBe(204);
    const deliveries = await call<{ data: { id: string; endpointId: string }[] }>('GET', `/v1/messages/${message.id}/deliveries`, {
      key: tenant.key,
    });
    const doomedDelivery = deliveries.body.data.find((d) => d.endpointId === doomedEndpoint.id);
    const healthyDelivery = deliveries.body.data.find((d) => d.endpointId === goodEndpoint.id);
    const jobOf = (d?: { id: string; endpointId: string }) =>
      JSON.stringify({ deliveryId: d?.id, tenantId: tenant.id, messageId: message.id, endpointId: d?.endpointId, trigger: 'manual' });
    const poison = `not json at all ${Date.now()}`;
    const sqs = sqsClient();
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: testStack().queues.retry.url,
        Entries: [
          { Id: 'poison', MessageBody: poison },
          { Id: 'deleted-endpoint', MessageBody: jobOf(doomedDelivery) },
          { Id: 'healthy', MessageBody: jobOf(healthyDelivery) },
          { Id: 'wrong-shape', MessageBody: '{"deliveryId": 42}' },
        ],
      }),
    );
    // The healthy job in the same batch is attempted (a manual second attempt).
    await healthy.waitFor(2);
    const parked = await eventually(async () => {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: testStack().queues.delivery.deadLetterUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
      );
      return Messages?.find((m) => m.Body === poison);
    }, 'the poison message parked on the DLQ');
    expect(parked.Body).toBe(poison);
    sqs.destroy();
    const closed = await eventually(async () => {
      const d = await detail(tenant, doomedDelivery?.id ?? '');
      return d.status === 'dead' ? d : undefined;
    }, 'the delivery of the deleted endpoint closed');
    expect(closed.lastError).toBe('the endpoint was deleted');
    const ledger = await expectLedgerSettled(tenant, 2, new Map([[goodEndpoint.id, healthy]]));
    expect(ledger.byStatus).toEqual({ succeeded: 1, dead: 1 });
  });

  test('a lost queue message loses no delivery: the sweeper finds the overdue work in the ledger', async () => {
    const tenant = await setup();
    const target = await receiver();
    const endpoint = await createEndpoint(tenant, { url: target.url, disabled: true });
    for (let i = 0; i < 10; i++) await postMessage(tenant, 'order.created', { i });
    const waiting = await eventually(async () => {
      const list = await call<{ data: { id: string }[] }>('GET', `/v1/endpoints/${endpoint.id}/deliveries`, { key: tenant.key });
      return list.body.data.length === 10 ? list.body.data : undefined;
    }, 'ten deliveries waiting');
    // The state a lost job leaves behind: the ledger says "due a minute ago", no queue holds a job.
    // (Written straight into DynamoDB: enabling through the API would enqueue the jobs.)
    const ledger = ledgerClient();
    const overdue = new Date(Date.now() - 60_000).toISOString();
    await ledger.send(
      new UpdateCommand({
        TableName: 'sluice-ledger',
        Key: { pk: `TEN#${tenant.id}`, sk: `EP#${endpoint.id}` },
        UpdateExpression: 'SET disabled = :false',
        ExpressionAttributeValues: { ':false': false },
      }),
    );
    for (const { id } of waiting) {
      await ledger.send(
        new UpdateCommand({
          TableName: 'sluice-ledger',
          Key: keys.delivery(id),
          UpdateExpression: 'SET nextAttemptAt = :at, gsi5pk = :shard, gsi5sk = :due',
          ExpressionAttributeValues: { ':at': overdue, ':shard': keys.dueShard(id), ':due': `${overdue}#${id}` },
        }),
      );
    }
    ledger.destroy();
    const settled = await expectLedgerSettled(tenant, 10, new Map([[endpoint.id, target]]), { timeoutMs: 30_000 });
    expect(settled.byStatus).toEqual({ succeeded: 10 });
    expect(stackLogText()).toContain('sweeper re-enqueued overdue work');
    duplicatesSeen.lostJobs = settled.duplicates;
  });

  test('the SQS server killed (SIGKILL) mid-run and restarted: everything accepted is delivered', async () => {
    const tenant = await setup();
    const target = await receiver();
    const endpoint = await createEndpoint(tenant, { url: target.url, retryPolicy: fast });
    const accepted: string[] = [];
    const poster = (async () => {
      for (let i = 0; i < 40; i++) {
        // A client retries a failed POST with the same Idempotency-Key: the ledger keeps one message.
        const key = `kill-${Date.now()}-${i}`;
        for (;;) {
          const response = await call<{ id: string }>('POST', '/v1/messages', {
            key: tenant.key,
            body: { type: 'order.created', payload: { i } },
            headers: { 'idempotency-key': key },
          });
          if (response.status === 202) {
            accepted.push(response.body.id);
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    })();
    await eventually(async () => (accepted.length >= 10 ? true : undefined), 'ten messages accepted');
    process.kill(testStack().pids.sqs ?? 0, 'SIGKILL');
    await poster;
    const ledger = await expectLedgerSettled(tenant, 40, new Map([[endpoint.id, target]]), { timeoutMs: 60_000 });
    expect(new Set(accepted).size).toBe(40);
    expect(ledger.byStatus).toEqual({ succeeded: 40 });
    duplicatesSeen.sqsKilled = ledger.duplicates;
  });
});
