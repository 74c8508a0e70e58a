import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Webhook } from 'standardwebhooks';
import {
  buildRequest,
  classify,
  DEFAULT_FAILURE_WINDOW_SECONDS,
  type DeliveryReport,
  deliveryBody,
  InFlightAttempts,
  jobOf,
  MAX_QUEUE_DELAY_SECONDS,
  USER_AGENT,
} from '../../../../functions/lib/core/delivery.ts';
import { terminalStatuses } from '../../../../functions/lib/core/model.ts';
import type { HttpResult } from '../../../../functions/lib/core/ports.ts';
import { aDelivery, aMessage, anEndpoint, deferred, deliveryHarness, expectedSignature, jobFor, OLD_SECRET, SECRET, T0 } from './fakes.ts';

const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs).toISOString();

describe('deliveryBody', () => {
  test('is {"id","type","createdAt","data"} with data byte-identical to the stored payloadJson', () => {
    // `1.50`, the spacing and the key order would all be lost by a JSON.parse/JSON.stringify round trip.
    const payloadJson = '{"b": 1.50, "a":"ü \\u00e9",\n "nested":{"z":[1, 2]}}';
    const message = aMessage({ payloadJson });
    const body = deliveryBody(message);
    expect(body).toBe(`{"id":"${message.id}","type":"${message.type}","createdAt":"${message.createdAt}","data":${payloadJson}}`);
    const parsed: unknown = JSON.parse(body);
    expect(Object.keys(parsed as object)).toEqual(['id', 'type', 'createdAt', 'data']);
    expect(parsed).toEqual({ id: message.id, type: message.type, createdAt: message.createdAt, data: JSON.parse(payloadJson) });
  });

  test('escapes the envelope fields as JSON strings', () => {
    const body = deliveryBody(aMessage({ type: 'a"b', payloadJson: '{}' }));
    expect((JSON.parse(body) as { type: string }).type).toBe('a"b');
  });
});

describe('buildRequest', () => {
  // Signatures are verified with standardwebhooks, which only accepts timestamps near the real clock.
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const seconds = String(now.getTime() / 1000);
  const message = aMessage();
  const delivery = aDelivery();

  test('full mode: the headers of contract §5 and a signed JSON body', () => {
    const endpoint = anEndpoint({ timeoutMs: 4321, url: 'https://receiver.example.com/in?x=1' });
    const request = buildRequest(endpoint, message, delivery, 3, now);
    expect(request.url).toBe('https://receiver.example.com/in?x=1');
    expect(request.timeoutMs).toBe(4321);
    expect(request.body).toBe(deliveryBody(message));
    expect(request.headers).toEqual({
      'content-type': 'application/json',
      'user-agent': 'Sluice/1.0',
      'webhook-id': message.id,
      'webhook-timestamp': seconds,
      'webhook-signature': `v1,${expectedSignature(SECRET, message.id, Number(seconds), request.body)}`,
      'x-sluice-event-type': message.type,
      'x-sluice-delivery-id': delivery.id,
      'x-sluice-attempt': '3',
    });
    expect(USER_AGENT).toBe('Sluice/1.0');
  });

  test('the signature verifies with the standardwebhooks library', () => {
    const request = buildRequest(anEndpoint(), message, delivery, 1, now);
    const verified = new Webhook(SECRET).verify(request.body, { ...request.headers });
    expect(verified).toEqual(JSON.parse(request.body));
  });

  test('two active secrets: two signatures, each verifying with its own secret', () => {
    const endpoint = anEndpoint({
      secrets: [
        { value: SECRET, createdAt: at(0) },
        { value: OLD_SECRET, createdAt: '2025-01-01T00:00:00.000Z', expiresAt: new Date(now.getTime() + 3600_000).toISOString() },
      ],
    });
    const request = buildRequest(endpoint, message, delivery, 1, now);
    const signatures = (request.headers['webhook-signature'] ?? '').split(' ');
    expect(signatures).toEqual([
      `v1,${expectedSignature(SECRET, message.id, Number(seconds), request.body)}`,
      `v1,${expectedSignature(OLD_SECRET, message.id, Number(seconds), request.body)}`,
    ]);
    expect(() => new Webhook(SECRET).verify(request.body, { ...request.headers })).not.toThrow();
    expect(() => new Webhook(OLD_SECRET).verify(request.body, { ...request.headers })).not.toThrow();
  });

  test('an expired secret no longer signs', () => {
    const endpoint = anEndpoint({
      secrets: [
        { value: SECRET, createdAt: at(0) },
        { value: OLD_SECRET, createdAt: '2025-01-01T00:00:00.000Z', expiresAt: new Date(now.getTime() - 1000).toISOString() },
      ],
    });
    const request = buildRequest(endpoint, message, delivery, 1, now);
    expect(request.headers['webhook-signature']).toBe(`v1,${expectedSignature(SECRET, message.id, Number(seconds), request.body)}`);
    expect(() => new Webhook(OLD_SECRET).verify(request.body, { ...request.headers })).toThrow();
  });

  test('Basic auth is sent when the endpoint has it', () => {
    const endpoint = anEndpoint({ auth: { type: 'basic', username: 'hook', password: 'p@ss:wörd' } });
    const request = buildRequest(endpoint, message, delivery, 1, now);
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from('hook:p@ss:wörd').toString('base64')}`);
    expect(buildRequest(anEndpoint(), message, delivery, 1, now).headers.authorization).toBeUndefined();
  });

  test('custom headers are sent, but cannot override the reserved ones', () => {
    const endpoint = anEndpoint({
      auth: { type: 'basic', username: 'u', password: 'p' },
      headers: {
        'x-tenant-ref': 'abc-123',
        'user-agent': 'evil/1.0',
        'content-type': 'text/plain',
        'webhook-id': 'forged',
        'webhook-timestamp': '1',
        'webhook-signature': 'v1,forged',
        'x-sluice-event-type': 'forged',
        'x-sluice-delivery-id': 'forged',
        'x-sluice-attempt': '99',
        authorization: 'Bearer forged',
      },
    });
    const request = buildRequest(endpoint, message, delivery, 2, now);
    expect(request.headers['x-tenant-ref']).toBe('abc-123');
    expect(request.headers['user-agent']).toBe('Sluice/1.0');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['webhook-id']).toBe(message.id);
    expect(request.headers['webhook-timestamp']).toBe(seconds);
    expect(request.headers['x-sluice-event-type']).toBe(message.type);
    expect(request.headers['x-sluice-delivery-id']).toBe(delivery.id);
    expect(request.headers['x-sluice-attempt']).toBe('2');
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(() => new Webhook(SECRET).verify(request.body, { ...request.headers })).not.toThrow();
  });

  test('thin mode: empty body, x-message-id is the delivery id, no content-type, signed over the empty body', () => {
    const endpoint = anEndpoint({ mode: 'thin' });
    const request = buildRequest(endpoint, message, delivery, 1, now);
    expect(request.body).toBe('');
    expect(request.headers['x-message-id']).toBe(delivery.id);
    expect(request.headers['content-type']).toBeUndefined();
    expect(request.headers['webhook-id']).toBe(message.id);
    expect(request.headers['user-agent']).toBe('Sluice/1.0');
    expect(request.headers['webhook-signature']).toBe(`v1,${expectedSignature(SECRET, message.id, Number(seconds), '')}`);
    expect(new Webhook(SECRET).verify('', { ...request.headers })).toBeUndefined();
  });

  test('full mode has no x-message-id', () => {
    expect(buildRequest(anEndpoint(), message, delivery, 1, now).headers['x-message-id']).toBeUndefined();
  });
});

describe('classify', () => {
  test.each([
    [200, 'succeeded'],
    [204, 'succeeded'],
    [299, 'succeeded'],
    [301, 'failed'],
    [302, 'failed'],
    [400, 'failed'],
    [404, 'failed'],
    [410, 'gone'],
    [429, 'failed'],
    [500, 'failed'],
    [503, 'failed'],
  ] as const)('HTTP %i is %s', (statusCode, outcome) => {
    expect(classify({ durationMs: 1, statusCode })).toBe(outcome);
  });

  test('no status (timeout, refused, DNS, blocked) is a failure', () => {
    expect(classify({ durationMs: 1000, error: { code: 'timeout', message: 'no complete response' } })).toBe('failed');
  });
});

/** The DeliveryService over in-memory ports (shared with delivery-thin.test.ts). */
const setup = deliveryHarness;

function attempted(report: DeliveryReport) {
  if (report.kind !== 'attempted') throw new Error(`expected an attempt, got ${JSON.stringify(report)}`);
  return report;
}

describe('DeliveryService.run', () => {
  describe('an attempt', () => {
    test('2xx: succeeded, one attempt recorded, nothing re-enqueued', async () => {
      const s = setup();
      const report = attempted(await s.run());
      expect(s.sender.requests).toHaveLength(1);
      expect(s.sender.requests[0]?.headers['x-sluice-attempt']).toBe('1');
      expect(s.sender.requests[0]?.headers['x-sluice-delivery-id']).toBe(s.delivery.id);
      expect(s.attempts()).toEqual([
        {
          deliveryId: s.delivery.id,
          attempt: 1,
          trigger: 'scheduled',
          startedAt: T0.toISOString(),
          durationMs: 42,
          statusCode: 200,
          responseBody: 'ok',
          outcome: 'succeeded',
        },
      ]);
      expect(s.stored()).toEqual(report.delivery);
      expect(report.delivery).toMatchObject({ status: 'succeeded', attemptCount: 1, lastAttemptAt: T0.toISOString(), lastStatusCode: 200 });
      expect(report.delivery.nextAttemptAt).toBeUndefined();
      expect(report.retryInSeconds).toBeUndefined();
      expect(s.queue.calls).toEqual([]);
      expect(s.deadLetters.parked).toEqual([]);
    });

    test('a success after failures clears the last error and keeps the attempt count going', async () => {
      const s = setup({
        delivery: aDelivery({ status: 'failed', attemptCount: 2, lastError: 'timeout: slow', lastStatusCode: 500, nextAttemptAt: at(0) }),
      });
      const report = attempted(await s.run());
      expect(report.attempt.attempt).toBe(3);
      expect(report.delivery.status).toBe('succeeded');
      expect(report.delivery.lastStatusCode).toBe(200);
      expect(report.delivery.lastError).toBeUndefined();
    });

    test('500: failed, nextAttemptAt = now + jittered first delay, job re-enqueued with that delay', async () => {
      const s = setup({ answer: { durationMs: 7, statusCode: 500, responseBody: 'boom' }, random: () => 1 });
      const report = attempted(await s.run());
      // exponential: 5 s, +10 % with random 1.
      expect(report.retryInSeconds).toBeCloseTo(5.5, 9);
      expect(report.delivery).toMatchObject({ status: 'failed', attemptCount: 1, lastStatusCode: 500, nextAttemptAt: at(5500) });
      expect(s.stored()?.nextAttemptAt).toBe(at(5500));
      expect(s.attempts().map((a) => [a.attempt, a.outcome, a.statusCode, a.responseBody])).toEqual([[1, 'failed', 500, 'boom']]);
      expect(s.queue.calls).toEqual([{ jobs: [jobOf(s.delivery)], delaySeconds: 6, lane: 'retry' }]);
      expect(s.deadLetters.parked).toEqual([]);
    });

    test('the jitter low bound shortens the wait (random 0: 4.5 s, enqueued for 5 s)', async () => {
      const s = setup({ answer: { durationMs: 7, statusCode: 500 }, random: () => 0 });
      const report = attempted(await s.run());
      expect(report.delivery.nextAttemptAt).toBe(at(4500));
      expect(s.queue.calls[0]?.delaySeconds).toBe(5);
    });

    test('the queue delay is capped at 900 s while nextAttemptAt keeps the full wait', async () => {
      // Third attempt fails: exponential waits 30 min.
      const s = setup({ delivery: aDelivery({ status: 'failed', attemptCount: 2 }), answer: { durationMs: 7, statusCode: 503 } });
      const report = attempted(await s.run());
      expect(report.delivery.nextAttemptAt).toBe(at(1800_000));
      expect(MAX_QUEUE_DELAY_SECONDS).toBe(900);
      expect(s.queue.calls).toEqual([{ jobs: [jobOf(s.delivery)], delaySeconds: 900, lane: 'retry' }]);
    });

    test('a network error is a failure with the error recorded and no status code', async () => {
      const s = setup({ answer: { durationMs: 10_000, error: { code: 'timeout', message: 'no complete response within 10000 ms' } } });
      const report = attempted(await s.run());
      expect(report.attempt).toMatchObject({
        outcome: 'failed',
        error: 'timeout: no complete response within 10000 ms',
        durationMs: 10_000,
      });
      expect(report.attempt.statusCode).toBeUndefined();
      expect(report.delivery.lastError).toBe('timeout: no complete response within 10000 ms');
      expect(report.delivery.lastStatusCode).toBeUndefined();
      expect(report.delivery.status).toBe('failed');
      expect(s.queue.calls).toHaveLength(1);
    });

    test('a 3xx is a failure (redirects are not followed)', async () => {
      const s = setup({ answer: { durationMs: 3, statusCode: 302, headers: { location: 'https://elsewhere.example/' } } });
      const report = attempted(await s.run());
      expect(report.attempt.outcome).toBe('failed');
      expect(report.delivery.status).toBe('failed');
      expect(s.queue.calls).toHaveLength(1);
    });

    test('the last attempt failing: dead, parked in the dead-letter sink, not re-enqueued', async () => {
      const s = setup({
        endpoint: anEndpoint({ retryPolicy: { preset: 'linear' } }),
        delivery: aDelivery({ status: 'failed', attemptCount: 4 }),
        answer: { durationMs: 3, statusCode: 500 },
      });
      const report = attempted(await s.run());
      expect(report.attempt.attempt).toBe(5);
      expect(report.delivery.status).toBe('dead');
      expect(report.delivery.nextAttemptAt).toBeUndefined();
      expect(report.retryInSeconds).toBeUndefined();
      expect(s.stored()?.status).toBe('dead');
      expect(s.queue.calls).toEqual([]);
      expect(s.deadLetters.parked).toHaveLength(1);
      expect(s.deadLetters.parked[0]?.reason).toBe('retries exhausted');
      expect(JSON.parse(s.deadLetters.parked[0]?.body ?? '')).toEqual({ ...jobOf(s.delivery), attempts: 5 });
    });

    test('exponential: the 8th attempt is the last', async () => {
      const s = setup({ delivery: aDelivery({ status: 'failed', attemptCount: 7 }), answer: { durationMs: 3, statusCode: 500 } });
      expect(attempted(await s.run()).delivery.status).toBe('dead');
    });

    test('410: the endpoint is disabled through EndpointStore.disable and no retry is scheduled', async () => {
      const s = setup({ answer: { durationMs: 3, statusCode: 410 } });
      const report = attempted(await s.run());
      expect(report.attempt.outcome).toBe('gone');
      expect(report.delivery.status).not.toBe('succeeded');
      expect(report.delivery.nextAttemptAt).toBeUndefined();
      expect(report.retryInSeconds).toBeUndefined();
      expect(s.endpoints.disableCalls).toHaveLength(1);
      expect(s.endpoints.disableCalls[0]).toMatchObject({ tenantId: s.delivery.tenantId, id: s.delivery.endpointId, at: T0.toISOString() });
      expect(s.endpoints.disableCalls[0]?.reason).toMatch(/410/);
      expect(s.endpoints.endpoints.get(s.delivery.endpointId)?.disabled).toBe(true);
      expect(s.queue.calls).toEqual([]);
      expect(s.deadLetters.parked).toEqual([]);
    });

    test('429 with Retry-After longer than the schedule: honoured', async () => {
      // Second attempt fails: 300 s scheduled (330 at most with jitter); the receiver asks for 500 s.
      const s = setup({
        delivery: aDelivery({ status: 'failed', attemptCount: 1 }),
        answer: { durationMs: 3, statusCode: 429, headers: { 'retry-after': '500' } },
        random: () => 1,
      });
      const report = attempted(await s.run());
      expect(report.retryInSeconds).toBe(500);
      expect(report.delivery.nextAttemptAt).toBe(at(500_000));
      expect(s.queue.calls[0]?.delaySeconds).toBe(500);
    });

    test('429 with an excessive Retry-After: capped at twice the scheduled delay', async () => {
      const s = setup({
        delivery: aDelivery({ status: 'failed', attemptCount: 1 }),
        answer: { durationMs: 3, statusCode: 429, headers: { 'retry-after': '86400' } },
      });
      const report = attempted(await s.run());
      expect(report.retryInSeconds).toBe(600);
      expect(report.delivery.nextAttemptAt).toBe(at(600_000));
    });

    test('503 with Retry-After as an HTTP date is honoured too', async () => {
      const s = setup({
        delivery: aDelivery({ status: 'failed', attemptCount: 1 }),
        answer: { durationMs: 3, statusCode: 503, headers: { 'retry-after': new Date(T0.getTime() + 400_000).toUTCString() } },
      });
      expect(attempted(await s.run()).retryInSeconds).toBe(400);
    });

    test('Retry-After on a 500 is ignored', async () => {
      const s = setup({
        delivery: aDelivery({ status: 'failed', attemptCount: 1 }),
        answer: { durationMs: 3, statusCode: 500, headers: { 'retry-after': '500' } },
      });
      expect(attempted(await s.run()).retryInSeconds).toBe(300);
    });

    test('the retry is dated from when the attempt finished', async () => {
      const s = setup({ answer: { durationMs: 2000, statusCode: 500 } });
      s.sender.answer(() => {
        s.clock.advance(2000);
        return { durationMs: 2000, statusCode: 500 };
      });
      const report = attempted(await s.run());
      expect(report.attempt.startedAt).toBe(T0.toISOString());
      expect(report.delivery.lastAttemptAt).toBe(T0.toISOString());
      expect(report.delivery.updatedAt).toBe(at(2000));
      expect(report.delivery.nextAttemptAt).toBe(at(2000 + 5000));
    });
  });

  describe('without an HTTP call', () => {
    test('a job arriving early is deferred with the remaining delay', async () => {
      const s = setup({ delivery: aDelivery({ status: 'failed', attemptCount: 1, nextAttemptAt: at(120_000) }) });
      const job = jobFor(s.delivery);
      const report = await s.run(job);
      expect(report).toEqual({ kind: 'deferred', deliveryId: s.delivery.id, dueInSeconds: 120 });
      expect(s.queue.calls).toEqual([{ jobs: [job], delaySeconds: 120, lane: 'retry' }]);
      expect(s.sender.requests).toEqual([]);
      expect(s.deliveries.recordCalls).toEqual([]);
    });

    test('a long remaining delay is re-enqueued in steps of at most 900 s', async () => {
      const s = setup({ delivery: aDelivery({ status: 'failed', attemptCount: 4, nextAttemptAt: at(2 * 3600_000 + 300) }) });
      const report = await s.run();
      expect(report).toEqual({ kind: 'deferred', deliveryId: s.delivery.id, dueInSeconds: 7201 });
      expect(s.queue.calls[0]?.delaySeconds).toBe(900);
      expect(s.sender.requests).toEqual([]);
    });

    test('a job less than a second early is attempted', async () => {
      const s = setup({ delivery: aDelivery({ nextAttemptAt: at(800) }) });
      expect((await s.run()).kind).toBe('attempted');
      expect(s.sender.requests).toHaveLength(1);
    });

    test.each([...terminalStatuses])('a %s delivery is skipped', async (status) => {
      const s = setup({ delivery: aDelivery({ status, attemptCount: 1 }) });
      const report = await s.run();
      expect(report).toMatchObject({ kind: 'skipped', deliveryId: s.delivery.id });
      expect(s.sender.requests).toEqual([]);
      expect(s.deliveries.recordCalls).toEqual([]);
      expect(s.deliveries.updateCalls).toEqual([]);
      expect(s.queue.calls).toEqual([]);
    });

    test('a delivery missing from the ledger is skipped', async () => {
      const s = setup();
      const report = await s.run({ ...jobFor(s.delivery), deliveryId: 'dlv_unknown' });
      expect(report).toMatchObject({ kind: 'skipped', deliveryId: 'dlv_unknown' });
      expect(s.sender.requests).toEqual([]);
    });

    test('a deleted endpoint closes the delivery as dead', async () => {
      const s = setup({ endpoint: null });
      const report = await s.run();
      expect(report.kind).toBe('closed');
      expect(s.stored()).toMatchObject({
        status: 'dead',
        attemptCount: 0,
        lastError: 'the endpoint was deleted',
        updatedAt: T0.toISOString(),
      });
      expect(s.stored()?.nextAttemptAt).toBeUndefined();
      expect(s.sender.requests).toEqual([]);
      expect(s.queue.calls).toEqual([]);
      expect(s.deliveries.attempts.size).toBe(0);
    });

    test('a disabled endpoint leaves the delivery open, undated, and sends nothing', async () => {
      const s = setup({ endpoint: anEndpoint({ disabled: true, disabledReason: 'paused by ops' }) });
      const report = await s.run();
      expect(report.kind).toBe('closed');
      expect(s.stored()?.status).toBe('pending');
      expect(s.stored()?.nextAttemptAt).toBeUndefined();
      expect(s.stored()?.lastError).toContain('paused by ops');
      expect(s.sender.requests).toEqual([]);
      expect(s.queue.calls).toEqual([]);
      // A later scheduled job for the paused delivery does nothing either.
      expect((await s.run()).kind).toBe('skipped');
      expect(s.sender.requests).toEqual([]);
    });

    test('a message gone from history closes the delivery as dead', async () => {
      const s = setup({ message: null });
      const report = await s.run();
      expect(report.kind).toBe('closed');
      expect(s.stored()?.status).toBe('dead');
      expect(s.sender.requests).toEqual([]);
    });

    test('closing is conditional: if the ledger moved on meanwhile, the job is skipped', async () => {
      const s = setup({ endpoint: null });
      const job = jobFor(s.delivery);
      const context = await s.service.prepare([job]);
      s.deliveries.deliveries.set(s.delivery.id, { ...s.delivery, status: 'succeeded', attemptCount: 1 });
      const report = await s.service.run(job, context);
      expect(report.kind).toBe('skipped');
      expect(s.stored()?.status).toBe('succeeded');
    });
  });

  describe('manual trigger', () => {
    test('attempts even a dead delivery, numbered after the last attempt', async () => {
      const dead = aDelivery({ status: 'dead', attemptCount: 8, lastError: 'x' });
      const { nextAttemptAt: _unused, ...undated } = dead;
      const s = setup({ delivery: undated });
      const report = attempted(await s.run(jobFor(undated, 'manual')));
      expect(report.attempt).toMatchObject({ attempt: 9, trigger: 'manual', outcome: 'succeeded' });
      expect(report.delivery.status).toBe('succeeded');
      expect(s.sender.requests[0]?.headers['x-sluice-attempt']).toBe('9');
    });

    test('attempts at once even when the next scheduled attempt is hours away', async () => {
      const s = setup({ delivery: aDelivery({ status: 'failed', attemptCount: 2, nextAttemptAt: at(3 * 3600_000) }) });
      const report = attempted(await s.run(jobFor(s.delivery, 'manual')));
      expect(report.attempt.trigger).toBe('manual');
      expect(s.sender.requests).toHaveLength(1);
    });
  });

  test('a duplicate job racing the first: reported as skipped, no second enqueue', async () => {
    const s = setup({ answer: { durationMs: 3, statusCode: 500 } });
    const job = jobFor(s.delivery);
    // Both workers read the ledger before either wrote.
    const [first, second] = [await s.service.prepare([job]), await s.service.prepare([job])];
    const reports = [await s.service.run(job, first), await s.service.run(job, second)];
    expect(reports.map((r) => r.kind)).toEqual(['attempted', 'skipped']);
    expect(reports[1]).toMatchObject({ deliveryId: s.delivery.id, reason: expect.stringContaining('already recorded') });
    expect(s.attempts()).toHaveLength(1);
    expect(s.queue.calls).toHaveLength(1);
    expect(s.deadLetters.parked).toEqual([]);
  });

  // Contract §5/§6: a 2xx means "succeeded" in full mode only; for a thin endpoint it only says
  // "received", so the delivery stays open and is notified again until acknowledged.
  test('thin mode: a 2xx keeps the delivery open and schedules the next notification', async () => {
    const s = setup({ endpoint: anEndpoint({ mode: 'thin', retryPolicy: { preset: 'daily' } }) });
    const report = attempted(await s.run());
    expect(terminalStatuses.has(report.delivery.status)).toBe(false);
    expect(report.delivery.nextAttemptAt).toBe(at(60_000));
    expect(s.queue.calls).toHaveLength(1);
  });
});

/** Lets every pending promise callback run (the service awaits a few of them before it sends). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const SECOND = 'dlv_01JN0000000000000000002DLV';
const THIRD = 'dlv_01JN0000000000000000003DLV';

describe('InFlightAttempts', () => {
  const t = T0.getTime();

  test('an endpoint is slow once one of its attempts has been in flight for longer than slowAfterMs', () => {
    const inFlight = new InFlightAttempts(500);
    expect(inFlight.isSlow('ep_A', t)).toBe(false);
    const done = inFlight.begin('ep_A', t);
    expect(inFlight.isSlow('ep_A', t + 500)).toBe(false);
    expect(inFlight.isSlow('ep_A', t + 501)).toBe(true);
    expect(inFlight.isSlow('ep_B', t + 501)).toBe(false);
    done();
    expect(inFlight.isSlow('ep_A', t + 10_000)).toBe(false);
  });

  test('the default threshold is one second', () => {
    const inFlight = new InFlightAttempts();
    inFlight.begin('ep_A', t);
    expect(inFlight.isSlow('ep_A', t + 1000)).toBe(false);
    expect(inFlight.isSlow('ep_A', t + 1001)).toBe(true);
  });

  test('one attempt finishing does not hide an older one still in flight', () => {
    const inFlight = new InFlightAttempts(500);
    const older = inFlight.begin('ep_A', t);
    const newer = inFlight.begin('ep_A', t + 300);
    newer();
    expect(inFlight.isSlow('ep_A', t + 501)).toBe(true);
    older();
    expect(inFlight.isSlow('ep_A', t + 501)).toBe(false);
  });

  // Regression guard. At f0aa4a3 InFlightAttempts.begin made keys distinct with
  // `while (set.has(key)) key += 1e-6;`: at epoch milliseconds (~1.7e12) a double's spacing is
  // 2^-12, so `key + 1e-6 === key` and two attempts to one endpoint begun in the same millisecond
  // (the consumer runs a batch's records in parallel) hung the worker for good. The probe runs in
  // a child process so that such a loop cannot block this test runner.
  test('two attempts to one endpoint begun in the same millisecond are both tracked (and begin returns)', async () => {
    const root = path.resolve(__dirname, '../../../..');
    const module = pathToFileURL(path.join(root, 'functions/lib/core/delivery.ts')).href;
    const script = [
      `import { InFlightAttempts } from ${JSON.stringify(module)};`,
      'const inFlight = new InFlightAttempts(1000);',
      `const at = ${t};`,
      "process.stdout.write('ready\\n');",
      "const first = inFlight.begin('ep_A', at);",
      "const second = inFlight.begin('ep_A', at);",
      'first();',
      "process.stdout.write(inFlight.isSlow('ep_A', at + 1001) ? 'tracked\\n' : 'lost\\n');",
      'second();',
    ].join('\n');
    const result = await new Promise<{ output: string; hung: boolean }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root });
      let output = '';
      let hung = false;
      let timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('ready') && !hung) {
          // Two begin() calls take microseconds; a second means the loop does not end.
          clearTimeout(timer);
          timer = setTimeout(() => {
            hung = true;
            child.kill('SIGKILL');
          }, 1000);
        }
      });
      child.on('close', () => {
        clearTimeout(timer);
        resolve({ output, hung });
      });
    });
    expect(result.output).toContain('ready');
    expect(result.hung).toBe(false);
    expect(result.output).toContain('tracked');
  }, 30_000);
});

describe('DeliveryService.run: lanes', () => {
  test('a primary-lane job for a failing endpoint is diverted to the retry lane: no HTTP call, no ledger write', async () => {
    const s = setup({ endpoint: anEndpoint({ failingSince: at(-60_000), consecutiveFailures: 3, rateLimitPerSecond: 5 }) });
    const job = jobFor(s.delivery);
    const report = await s.run(job, 'primary');
    expect(report).toEqual({ kind: 'diverted', deliveryId: s.delivery.id, reason: 'endpoint is failing' });
    expect(s.queue.calls).toEqual([{ jobs: [job], delaySeconds: undefined, lane: 'retry' }]);
    expect(s.sender.requests).toEqual([]);
    expect(s.deliveries.recordCalls).toEqual([]);
    expect(s.deliveries.updateCalls).toEqual([]);
    expect(s.rateLimiter.calls).toEqual([]);
    expect(s.endpoints.failureCalls).toEqual([]);
  });

  test('run() without a lane is the primary lane', async () => {
    const s = setup({ endpoint: anEndpoint({ failingSince: at(-60_000) }) });
    const job = jobFor(s.delivery);
    const report = await s.service.run(job, await s.service.prepare([job]));
    expect(report.kind).toBe('diverted');
    expect(s.queue.jobsOn('retry')).toEqual([job]);
  });

  test("on the retry lane the failing endpoint's job is attempted", async () => {
    const s = setup({ endpoint: anEndpoint({ failingSince: at(-60_000) }), answer: { durationMs: 3, statusCode: 500 } });
    const report = attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(report.attempt.attempt).toBe(1);
    expect(s.sender.requests).toHaveLength(1);
    expect(s.queue.calls).toEqual([{ jobs: [jobOf(s.delivery)], delaySeconds: 5, lane: 'retry' }]);
  });

  test('a manual job on the primary lane is never diverted', async () => {
    const s = setup({ endpoint: anEndpoint({ failingSince: at(-60_000) }) });
    const report = attempted(await s.run(jobFor(s.delivery, 'manual'), 'primary'));
    expect(report.attempt.trigger).toBe('manual');
    expect(s.sender.requests).toHaveLength(1);
    expect(s.queue.calls).toEqual([]);
  });

  test('an endpoint with an attempt in flight for longer than slowAfterMs is slow: its next primary job is diverted', async () => {
    const s = setup({ inFlight: new InFlightAttempts(500), others: [aDelivery({ id: SECOND })] });
    const gate = deferred<HttpResult>();
    s.sender.answer(() => gate.promise);
    const first = s.run(jobFor(s.delivery), 'primary');
    await settle();
    expect(s.sender.requests).toHaveLength(1);

    s.clock.advance(501);
    const secondJob = { ...jobFor(s.delivery), deliveryId: SECOND };
    const report = await s.run(secondJob, 'primary');
    expect(report).toEqual({ kind: 'diverted', deliveryId: SECOND, reason: 'endpoint is slow' });
    expect(s.sender.requests).toHaveLength(1);
    expect(s.queue.calls).toEqual([{ jobs: [secondJob], delaySeconds: undefined, lane: 'retry' }]);
    expect(s.deliveries.deliveries.get(SECOND)).toEqual(aDelivery({ id: SECOND }));

    gate.resolve({ durationMs: 501, statusCode: 200 });
    expect(attempted(await first).delivery.status).toBe('succeeded');
    // The slow attempt is over: the endpoint is no longer slow.
    expect(attempted(await s.run(secondJob, 'primary')).delivery.status).toBe('succeeded');
    expect(s.sender.requests).toHaveLength(2);
  });

  test('an attempt in flight for exactly slowAfterMs does not divert, and the retry lane is never diverted for slowness', async () => {
    const s = setup({ inFlight: new InFlightAttempts(500), others: [aDelivery({ id: SECOND }), aDelivery({ id: THIRD })] });
    const gate = deferred<HttpResult>();
    s.sender.answer(() => gate.promise);
    const runs = [s.run(jobFor(s.delivery), 'primary')];
    await settle();
    s.clock.advance(500);
    runs.push(s.run({ ...jobFor(s.delivery), deliveryId: SECOND }, 'primary'));
    await settle();
    expect(s.sender.requests).toHaveLength(2);
    s.clock.advance(1);
    runs.push(s.run({ ...jobFor(s.delivery), deliveryId: THIRD }, 'retry'));
    await settle();
    expect(s.sender.requests).toHaveLength(3);
    gate.resolve({ durationMs: 1, statusCode: 200 });
    expect((await Promise.all(runs)).map((r) => r.kind)).toEqual(['attempted', 'attempted', 'attempted']);
    expect(s.queue.calls).toEqual([]);
  });
});

describe('DeliveryService.run: rate limit', () => {
  test('an endpoint without rateLimitPerSecond never asks the limiter', async () => {
    const s = setup();
    attempted(await s.run());
    expect(s.rateLimiter.calls).toEqual([]);
  });

  test("over the endpoint's budget for this second: throttled, re-enqueued for 1 s on the same lane, no HTTP call", async () => {
    const s = setup({ endpoint: anEndpoint({ rateLimitPerSecond: 2 }), others: [aDelivery({ id: SECOND }), aDelivery({ id: THIRD })] });
    const jobs = [jobFor(s.delivery), { ...jobFor(s.delivery), deliveryId: SECOND }, { ...jobFor(s.delivery), deliveryId: THIRD }];
    const reports = [];
    for (const job of jobs) reports.push(await s.run(job, 'primary'));
    expect(reports.map((r) => r.kind)).toEqual(['attempted', 'attempted', 'throttled']);
    expect(reports[2]).toEqual({ kind: 'throttled', deliveryId: THIRD });
    expect(s.rateLimiter.calls).toEqual(jobs.map(() => ({ endpointId: s.delivery.endpointId, limitPerSecond: 2, at: T0.toISOString() })));
    expect(s.sender.requests).toHaveLength(2);
    expect(s.queue.calls).toEqual([{ jobs: [jobs[2]], delaySeconds: 1, lane: 'primary' }]);
    expect(s.deliveries.deliveries.get(THIRD)).toEqual(aDelivery({ id: THIRD }));

    // The next second has room again.
    s.clock.advance(1000);
    expect((await s.run(jobs[2], 'primary')).kind).toBe('attempted');
  });

  test('a throttled retry-lane job stays on the retry lane, with its trigger', async () => {
    const s = setup({ endpoint: anEndpoint({ rateLimitPerSecond: 1 }) });
    await s.rateLimiter.tryAcquire(s.delivery.endpointId, 1, T0);
    const job = jobFor(s.delivery, 'manual');
    expect(await s.run(job, 'retry')).toEqual({ kind: 'throttled', deliveryId: s.delivery.id });
    expect(s.queue.calls).toEqual([{ jobs: [job], delaySeconds: 1, lane: 'retry' }]);
    expect(s.sender.requests).toEqual([]);
  });
});

describe('DeliveryService.run: the retry schedule counts scheduled attempts', () => {
  test('a scheduled failure uses the delay at its scheduled-attempt index, whatever the manual attempts', async () => {
    // Five attempts, two of them scheduled: the third scheduled attempt fails, exponential waits 30 min.
    const s = setup({
      delivery: aDelivery({ status: 'failed', attemptCount: 5, scheduledAttempts: 2 }),
      answer: { durationMs: 3, statusCode: 500 },
    });
    const report = attempted(await s.run());
    expect(report.attempt).toMatchObject({ attempt: 6, trigger: 'scheduled' });
    expect(report.delivery).toMatchObject({ attemptCount: 6, scheduledAttempts: 3, status: 'failed', nextAttemptAt: at(1800_000) });
    expect(report.retryInSeconds).toBe(1800);
    expect(s.queue.calls).toEqual([{ jobs: [jobOf(s.delivery)], delaySeconds: 900, lane: 'retry' }]);
  });

  test('only the scheduled attempts use up the schedule', async () => {
    // linear has 4 delays: 5 attempts in all.
    const policy = { preset: 'linear' } as const;
    const alive = setup({
      endpoint: anEndpoint({ retryPolicy: policy }),
      delivery: aDelivery({ status: 'failed', attemptCount: 9, scheduledAttempts: 3 }),
      answer: { durationMs: 3, statusCode: 500 },
    });
    const report = attempted(await alive.run());
    expect(report.delivery).toMatchObject({ status: 'failed', scheduledAttempts: 4 });
    expect(report.retryInSeconds).toBe(240);

    const last = setup({
      endpoint: anEndpoint({ retryPolicy: policy }),
      delivery: aDelivery({ status: 'failed', attemptCount: 9, scheduledAttempts: 4 }),
      answer: { durationMs: 3, statusCode: 500 },
    });
    expect(attempted(await last.run()).delivery).toMatchObject({ status: 'dead', scheduledAttempts: 5, attemptCount: 10 });
    expect(last.deadLetters.parked).toHaveLength(1);
  });

  test('a redriven delivery starts the schedule again: its manual attempt gets the FIRST delay, the next scheduled one the SECOND', async () => {
    const s = setup({
      delivery: aDelivery({ status: 'pending', attemptCount: 8, scheduledAttempts: 0, nextAttemptAt: at(0), lastStatusCode: 500 }),
      answer: { durationMs: 3, statusCode: 500 },
    });
    const manual = attempted(await s.run(jobFor(s.delivery, 'manual'), 'retry'));
    expect(manual.attempt).toMatchObject({ attempt: 9, trigger: 'manual', outcome: 'failed' });
    expect(manual.delivery).toMatchObject({ status: 'failed', scheduledAttempts: 1, nextAttemptAt: at(5000) });
    expect(manual.retryInSeconds).toBe(5);
    // The follow-up job is a scheduled one.
    expect(s.queue.calls).toEqual([{ jobs: [jobOf(s.delivery)], delaySeconds: 5, lane: 'retry' }]);

    s.clock.advance(5000);
    const scheduled = attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(scheduled.attempt).toMatchObject({ attempt: 10, trigger: 'scheduled' });
    expect(scheduled.delivery).toMatchObject({ status: 'failed', scheduledAttempts: 2, nextAttemptAt: at(5000 + 300_000) });
    expect(scheduled.retryInSeconds).toBe(300);
  });
});

describe('DeliveryService.run: manual attempts', () => {
  test.each([...terminalStatuses])('on a %s delivery, a failed manual attempt leaves the status, schedules nothing', async (status) => {
    const { nextAttemptAt: _none, ...finished } = aDelivery({ status, attemptCount: 8, lastStatusCode: 200 });
    const s = setup({ delivery: finished, answer: { durationMs: 3, statusCode: 503 } });
    const report = attempted(await s.run(jobFor(finished, 'manual'), 'retry'));
    expect(report.attempt).toMatchObject({ attempt: 9, trigger: 'manual', outcome: 'failed', statusCode: 503 });
    expect(report.delivery).toMatchObject({ status, attemptCount: 9, scheduledAttempts: 8, lastStatusCode: 503 });
    expect(report.delivery.nextAttemptAt).toBeUndefined();
    expect(report.retryInSeconds).toBeUndefined();
    expect(s.stored()).toEqual(report.delivery);
    expect(s.queue.calls).toEqual([]);
    // A dead delivery was parked when it died; it is not parked again.
    expect(s.deadLetters.parked).toEqual([]);
  });

  test('a succeeded delivery that succeeds again stays succeeded', async () => {
    const { nextAttemptAt: _none, ...done } = aDelivery({ status: 'succeeded', attemptCount: 1 });
    const s = setup({ delivery: done });
    expect(attempted(await s.run(jobFor(done, 'manual'))).delivery).toMatchObject({ status: 'succeeded', attemptCount: 2 });
  });

  test('before the next scheduled attempt is due: a failure keeps nextAttemptAt and does not use up a retry', async () => {
    const s = setup({
      delivery: aDelivery({ status: 'failed', attemptCount: 2, scheduledAttempts: 2, nextAttemptAt: at(3 * 3600_000) }),
      answer: { durationMs: 3, statusCode: 500 },
    });
    const manual = attempted(await s.run(jobFor(s.delivery, 'manual'), 'retry'));
    expect(manual.attempt).toMatchObject({ attempt: 3, trigger: 'manual', outcome: 'failed' });
    expect(manual.delivery).toMatchObject({ status: 'failed', attemptCount: 3, scheduledAttempts: 2, nextAttemptAt: at(3 * 3600_000) });
    expect(manual.retryInSeconds).toBeUndefined();
    expect(s.stored()).toEqual(manual.delivery);
    // The job already queued for the scheduled attempt still comes; nothing more is enqueued.
    expect(s.queue.calls).toEqual([]);

    // That scheduled attempt is the third on the schedule: exponential then waits 30 min.
    s.clock.set(new Date(at(3 * 3600_000)));
    const scheduled = attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(scheduled.delivery).toMatchObject({ attemptCount: 4, scheduledAttempts: 3 });
    expect(scheduled.retryInSeconds).toBe(1800);
  });

  test('before the next scheduled attempt is due: a success ends the delivery', async () => {
    const s = setup({ delivery: aDelivery({ status: 'failed', attemptCount: 2, nextAttemptAt: at(3 * 3600_000) }) });
    const report = attempted(await s.run(jobFor(s.delivery, 'manual')));
    expect(report.delivery.status).toBe('succeeded');
    expect(report.delivery.nextAttemptAt).toBeUndefined();
  });

  test('standing in for a due attempt: counts as that scheduled attempt, and the late scheduled job is deferred', async () => {
    const s = setup({
      delivery: aDelivery({ status: 'failed', attemptCount: 1, scheduledAttempts: 1, nextAttemptAt: at(-1000) }),
      answer: { durationMs: 3, statusCode: 500 },
    });
    const manual = attempted(await s.run(jobFor(s.delivery, 'manual'), 'retry'));
    expect(manual.delivery).toMatchObject({ status: 'failed', attemptCount: 2, scheduledAttempts: 2, nextAttemptAt: at(300_000) });
    expect(manual.retryInSeconds).toBe(300);
    expect(s.queue.calls).toEqual([{ jobs: [jobOf(s.delivery)], delaySeconds: 300, lane: 'retry' }]);

    // The scheduled job that was due arrives now: its attempt was already made.
    const late = await s.run(jobFor(s.delivery), 'retry');
    expect(late).toEqual({ kind: 'deferred', deliveryId: s.delivery.id, dueInSeconds: 300 });
    expect(s.sender.requests).toHaveLength(1);
  });

  test('a manual job for a disabled endpoint is skipped and leaves the delivery untouched', async () => {
    const { nextAttemptAt: _paused, ...waiting } = aDelivery({ status: 'failed', attemptCount: 2 });
    const s = setup({ delivery: waiting, endpoint: anEndpoint({ disabled: true, disabledReason: 'by hand' }) });
    const report = await s.run(jobFor(waiting, 'manual'), 'retry');
    expect(report).toEqual({ kind: 'skipped', deliveryId: waiting.id, reason: 'endpoint is disabled' });
    expect(s.stored()).toEqual(waiting);
    expect(s.sender.requests).toEqual([]);
    expect(s.deliveries.recordCalls).toEqual([]);
    expect(s.deliveries.updateCalls).toEqual([]);
    expect(s.queue.calls).toEqual([]);
  });

  // A manual retry of a finished delivery answered with 410 must not reopen it: enabling the
  // endpoint again would otherwise send an already delivered event a second time.
  test.each(['succeeded', 'dead'] as const)('on a %s delivery, a manual attempt answered 410 leaves the status', async (status) => {
    const { nextAttemptAt: _none, ...finished } = aDelivery({ status, attemptCount: 3 });
    const s = setup({ delivery: finished, answer: { durationMs: 3, statusCode: 410 } });
    const report = attempted(await s.run(jobFor(finished, 'manual'), 'retry'));
    expect(report.attempt.outcome).toBe('gone');
    expect(s.storedEndpoint()?.disabled).toBe(true);
    expect(report.delivery.status).toBe(status);
  });
});

describe('DeliveryService.run: endpoint health', () => {
  test.each<[string, HttpResult]>([
    ['500', { durationMs: 3, statusCode: 500 }],
    ['404', { durationMs: 3, statusCode: 404 }],
    ['429', { durationMs: 3, statusCode: 429 }],
    ['a redirect', { durationMs: 3, statusCode: 301 }],
    ['a network error', { durationMs: 10_000, error: { code: 'timeout', message: 'slow' } }],
  ])('%s counts against the endpoint, dated when the attempt finished', async (_name, answer) => {
    const s = setup();
    s.sender.answer(() => {
      s.clock.advance(2000);
      return answer;
    });
    attempted(await s.run());
    expect(s.endpoints.failureCalls).toEqual([{ tenantId: s.delivery.tenantId, id: s.delivery.endpointId, at: at(2000) }]);
    expect(s.storedEndpoint()).toMatchObject({ failingSince: at(2000), consecutiveFailures: 1, disabled: false });
    expect(s.endpoints.successCalls).toEqual([]);
  });

  test('further failures extend the run without moving its start', async () => {
    const s = setup({ answer: { durationMs: 3, statusCode: 500 } });
    attempted(await s.run());
    s.clock.advance(5000);
    attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(s.storedEndpoint()).toMatchObject({ failingSince: at(0), consecutiveFailures: 2 });
    expect(s.endpoints.disableCalls).toEqual([]);
  });

  test('a success on a failing endpoint ends its run of failures', async () => {
    const s = setup({ endpoint: anEndpoint({ failingSince: at(-3600_000), consecutiveFailures: 4 }) });
    attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(s.endpoints.successCalls).toEqual([{ tenantId: s.delivery.tenantId, id: s.delivery.endpointId }]);
    expect(s.storedEndpoint()?.failingSince).toBeUndefined();
    expect(s.storedEndpoint()?.consecutiveFailures).toBeUndefined();
    expect(s.endpoints.failureCalls).toEqual([]);
  });

  test('a success on a healthy endpoint does not write the endpoint', async () => {
    const s = setup();
    attempted(await s.run());
    expect(s.endpoints.successCalls).toEqual([]);
    expect(s.endpoints.failureCalls).toEqual([]);
    expect(s.storedEndpoint()).toEqual(anEndpoint());
  });

  test('410: delivery failed and undated, endpoint disabled, endpoint.disabled published; the report says why', async () => {
    const s = setup({ answer: { durationMs: 3, statusCode: 410 } });
    const report = attempted(await s.run());
    expect(report.delivery.status).toBe('failed');
    expect(report.delivery.nextAttemptAt).toBeUndefined();
    expect(s.stored()).toEqual(report.delivery);
    expect(report.endpointDisabled).toMatch(/410/);
    expect(s.storedEndpoint()).toMatchObject({ disabled: true, disabledReason: report.endpointDisabled });
    expect(s.systemEvents.published).toEqual([
      {
        tenantId: s.delivery.tenantId,
        type: 'endpoint.disabled',
        payload: {
          endpointId: s.delivery.endpointId,
          url: anEndpoint().url,
          reason: report.endpointDisabled,
          disabledAt: T0.toISOString(),
        },
      },
    ]);
  });

  test('410 seen by two workers at once: the endpoint is announced disabled once', async () => {
    const s = setup({ answer: { durationMs: 3, statusCode: 410 }, others: [aDelivery({ id: SECOND })] });
    const firstJob = jobFor(s.delivery);
    const secondJob = { ...jobFor(s.delivery), deliveryId: SECOND };
    // Both workers read the (still enabled) endpoint before either attempt.
    const firstContext = await s.service.prepare([firstJob]);
    const secondContext = await s.service.prepare([secondJob]);
    const first = attempted(await s.service.run(firstJob, firstContext));
    const second = attempted(await s.service.run(secondJob, secondContext));
    expect(s.endpoints.disableCalls).toHaveLength(2);
    expect(s.systemEvents.published).toHaveLength(1);
    expect(first.endpointDisabled).toMatch(/410/);
    expect(second.endpointDisabled).toBeUndefined();
  });

  test('failing for the whole window disables the endpoint and announces it with failingSince', async () => {
    const failingSince = at(-3600_000);
    const s = setup({
      endpoint: anEndpoint({ failingSince, consecutiveFailures: 40 }),
      answer: { durationMs: 3, statusCode: 500 },
      failureWindowSeconds: 3600,
    });
    const report = attempted(await s.run(jobFor(s.delivery), 'retry'));
    const reason = `every attempt failed from ${failingSince} to ${T0.toISOString()}`;
    expect(report.endpointDisabled).toBe(reason);
    expect(s.endpoints.disableCalls).toEqual([{ tenantId: s.delivery.tenantId, id: s.delivery.endpointId, reason, at: T0.toISOString() }]);
    expect(s.storedEndpoint()).toMatchObject({ disabled: true, disabledReason: reason, consecutiveFailures: 41, failingSince });
    expect(s.systemEvents.published).toEqual([
      {
        tenantId: s.delivery.tenantId,
        type: 'endpoint.disabled',
        payload: { endpointId: s.delivery.endpointId, url: anEndpoint().url, reason, disabledAt: T0.toISOString(), failingSince },
      },
    ]);
    // The delivery itself follows its schedule; its next job finds the endpoint disabled and pauses it.
    expect(report.delivery.status).toBe('failed');
    s.clock.advance(5000);
    expect((await s.run(jobFor(s.delivery), 'retry')).kind).toBe('closed');
    expect(s.stored()?.nextAttemptAt).toBeUndefined();
  });

  test('a run of failures shorter than the window is counted, not punished', async () => {
    const s = setup({
      endpoint: anEndpoint({ failingSince: at(-3600_000 + 1) }),
      answer: { durationMs: 3, statusCode: 500 },
      failureWindowSeconds: 3600,
    });
    const report = attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(report.endpointDisabled).toBeUndefined();
    expect(s.endpoints.failureCalls).toHaveLength(1);
    expect(s.endpoints.disableCalls).toEqual([]);
    expect(s.systemEvents.published).toEqual([]);
    expect(s.storedEndpoint()?.disabled).toBe(false);
  });

  test.each([
    ['exactly five days', 0, true],
    ['a second short of five days', 1000, false],
  ])('the default window is five days: failing for %s → disabled %s', async (_name, shortByMs, disabled) => {
    expect(DEFAULT_FAILURE_WINDOW_SECONDS).toBe(5 * 24 * 3600);
    const s = setup({
      endpoint: anEndpoint({ failingSince: at(-5 * 24 * 3600_000 + shortByMs) }),
      answer: { durationMs: 3, statusCode: 500 },
    });
    const report = attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(s.storedEndpoint()?.disabled).toBe(disabled);
    expect(report.endpointDisabled !== undefined).toBe(disabled);
    expect(s.systemEvents.published).toHaveLength(disabled ? 1 : 0);
  });

  test('two workers crossing the window at once: disable is tried twice, endpoint.disabled published once', async () => {
    const s = setup({
      endpoint: anEndpoint({ failingSince: at(-7200_000) }),
      answer: { durationMs: 3, statusCode: 500 },
      failureWindowSeconds: 3600,
      others: [aDelivery({ id: SECOND })],
    });
    const firstJob = jobFor(s.delivery);
    const secondJob = { ...jobFor(s.delivery), deliveryId: SECOND };
    const firstContext = await s.service.prepare([firstJob]);
    const secondContext = await s.service.prepare([secondJob]);
    const first = attempted(await s.service.run(firstJob, firstContext, 'retry'));
    const second = attempted(await s.service.run(secondJob, secondContext, 'retry'));
    expect(s.endpoints.disableCalls).toHaveLength(2);
    expect(s.systemEvents.published).toHaveLength(1);
    expect(s.systemEvents.published[0]?.type).toBe('endpoint.disabled');
    expect(first.endpointDisabled).toBeDefined();
    expect(second.endpointDisabled).toBeUndefined();
  });
});
