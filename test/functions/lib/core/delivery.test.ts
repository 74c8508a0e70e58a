import {
  type AttributedReport,
  DEFAULT_FAILURE_WINDOW_SECONDS,
  type DeliveryReport,
  MAX_QUEUE_DELAY_SECONDS,
} from '../../../../functions/lib/core/delivery.ts';
import { deliveryBody } from '../../../../functions/lib/core/delivery-request.ts';
import { deliveryIdFor } from '../../../../functions/lib/core/ids.ts';
import { InFlightAttempts } from '../../../../functions/lib/core/in-flight.ts';
import { type DeliveryJob, type DeliveryTask, type FirstAttemptJob, jobOf } from '../../../../functions/lib/core/jobs.ts';
import { type Delivery, type Message, terminalStatuses } from '../../../../functions/lib/core/model.ts';
import type { HttpResult } from '../../../../functions/lib/core/ports.ts';
import { aDelivery, aMessage, anEndpoint, deferred, deliveryHarness, firstJobFor, jobFor, T0, TENANT } from './fakes.ts';

const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs).toISOString();

/** The DeliveryService over in-memory ports (shared with delivery-thin.test.ts). */
const setup = deliveryHarness;

/** What a worker reads for one later-attempt job (first seen: receiveCount 1). */
async function ledgerOf(s: ReturnType<typeof setup>, job: DeliveryJob) {
  return (await s.service.prepare([{ task: job, receiveCount: 1 }])).ledger;
}

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
      expect(s.queue.calls).toEqual([{ tasks: [jobOf(s.delivery)], delaySeconds: 6, lane: 'retry' }]);
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
      expect(s.queue.calls).toEqual([{ tasks: [jobOf(s.delivery)], delaySeconds: 900, lane: 'retry' }]);
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

    test('the last attempt failing: dead in the ledger (a dead letter), not re-enqueued', async () => {
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
      expect(s.queue.calls).toEqual([{ tasks: [job], delaySeconds: 120, lane: 'retry' }]);
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
      const ledger = await ledgerOf(s, job);
      s.deliveries.deliveries.set(s.delivery.id, { ...s.delivery, status: 'succeeded', attemptCount: 1 });
      const report = await s.service.run(job, ledger);
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
    const [first, second] = [await ledgerOf(s, job), await ledgerOf(s, job)];
    const reports = [await s.service.run(job, first), await s.service.run(job, second)];
    expect(reports.map((r) => r.kind)).toEqual(['attempted', 'skipped']);
    expect(reports[1]).toMatchObject({ deliveryId: s.delivery.id, reason: expect.stringContaining('already recorded') });
    expect(s.attempts()).toHaveLength(1);
    expect(s.queue.calls).toHaveLength(1);
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

describe('DeliveryService.run: lanes', () => {
  test('a primary-lane job for a failing endpoint is diverted to the retry lane: no HTTP call, no ledger write', async () => {
    const s = setup({ endpoint: anEndpoint({ failingSince: at(-60_000), consecutiveFailures: 3, rateLimitPerSecond: 5 }) });
    const job = jobFor(s.delivery);
    const report = await s.run(job, 'primary');
    expect(report).toEqual({ kind: 'diverted', deliveryId: s.delivery.id, reason: 'endpoint is failing' });
    expect(s.queue.calls).toEqual([{ tasks: [job], delaySeconds: undefined, lane: 'retry' }]);
    expect(s.sender.requests).toEqual([]);
    expect(s.deliveries.recordCalls).toEqual([]);
    expect(s.deliveries.updateCalls).toEqual([]);
    expect(s.rateLimiter.calls).toEqual([]);
    expect(s.endpoints.failureCalls).toEqual([]);
  });

  test('run() without a lane is the primary lane', async () => {
    const s = setup({ endpoint: anEndpoint({ failingSince: at(-60_000) }) });
    const job = jobFor(s.delivery);
    const report = await s.service.run(job, await ledgerOf(s, job));
    expect(report.kind).toBe('diverted');
    expect(s.queue.jobsOn('retry')).toEqual([job]);
  });

  test("on the retry lane the failing endpoint's job is attempted", async () => {
    const s = setup({ endpoint: anEndpoint({ failingSince: at(-60_000) }), answer: { durationMs: 3, statusCode: 500 } });
    const report = attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(report.attempt.attempt).toBe(1);
    expect(s.sender.requests).toHaveLength(1);
    expect(s.queue.calls).toEqual([{ tasks: [jobOf(s.delivery)], delaySeconds: 5, lane: 'retry' }]);
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
    expect(s.queue.calls).toEqual([{ tasks: [secondJob], delaySeconds: undefined, lane: 'retry' }]);
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
    expect(s.rateLimiter.calls).toEqual(
      jobs.map(() => ({ subject: { endpointId: s.delivery.endpointId }, limitPerSecond: 2, at: T0.toISOString() })),
    );
    expect(s.sender.requests).toHaveLength(2);
    expect(s.queue.calls).toEqual([{ tasks: [jobs[2]], delaySeconds: 1, lane: 'primary' }]);
    expect(s.deliveries.deliveries.get(THIRD)).toEqual(aDelivery({ id: THIRD }));

    // The next second has room again.
    s.clock.advance(1000);
    expect((await s.run(jobs[2], 'primary')).kind).toBe('attempted');
  });

  test('a throttled retry-lane job stays on the retry lane, with its trigger', async () => {
    const s = setup({ endpoint: anEndpoint({ rateLimitPerSecond: 1 }) });
    await s.rateLimiter.tryAcquire({ endpointId: s.delivery.endpointId }, 1, T0);
    const job = jobFor(s.delivery, 'manual');
    expect(await s.run(job, 'retry')).toEqual({ kind: 'throttled', deliveryId: s.delivery.id });
    expect(s.queue.calls).toEqual([{ tasks: [job], delaySeconds: 1, lane: 'retry' }]);
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
    expect(s.queue.calls).toEqual([{ tasks: [jobOf(s.delivery)], delaySeconds: 900, lane: 'retry' }]);
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
    expect(s.queue.calls).toEqual([{ tasks: [jobOf(s.delivery)], delaySeconds: 5, lane: 'retry' }]);

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
    expect(s.queue.calls).toEqual([{ tasks: [jobOf(s.delivery)], delaySeconds: 300, lane: 'retry' }]);

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
        options: { exceptEndpointId: s.delivery.endpointId },
      },
    ]);
  });

  test('410 seen by two workers at once: the endpoint is announced disabled once', async () => {
    const s = setup({ answer: { durationMs: 3, statusCode: 410 }, others: [aDelivery({ id: SECOND })] });
    const firstJob = jobFor(s.delivery);
    const secondJob = { ...jobFor(s.delivery), deliveryId: SECOND };
    // Both workers read the (still enabled) endpoint before either attempt.
    const firstLedger = await ledgerOf(s, firstJob);
    const secondLedger = await ledgerOf(s, secondJob);
    const first = attempted(await s.service.run(firstJob, firstLedger));
    const second = attempted(await s.service.run(secondJob, secondLedger));
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
        options: { exceptEndpointId: s.delivery.endpointId },
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
    const firstLedger = await ledgerOf(s, firstJob);
    const secondLedger = await ledgerOf(s, secondJob);
    const first = attempted(await s.service.run(firstJob, firstLedger, 'retry'));
    const second = attempted(await s.service.run(secondJob, secondLedger, 'retry'));
    expect(s.endpoints.disableCalls).toHaveLength(2);
    expect(s.systemEvents.published).toHaveLength(1);
    expect(s.systemEvents.published[0]?.type).toBe('endpoint.disabled');
    expect(first.endpointDisabled).toBeDefined();
    expect(second.endpointDisabled).toBeUndefined();
  });
});

// First attempts: a message's dispatch queues one FirstAttemptJob for up to ten endpoints; the
// worker reads nothing from the ledger for it (endpoints from the directory, the payload from the
// job) and writes each delivery once, after its attempt.

const MESSAGE = aMessage();
const EP = anEndpoint();
const EP_B = anEndpoint({ id: 'ep_01JN0000000000000000000EPB', url: 'https://b.example.com/hooks' });
const EP_C = anEndpoint({ id: 'ep_01JN0000000000000000000EPC', url: 'https://c.example.com/hooks' });
/** Another message of the tenant, for a second first attempt to the same endpoint. */
const LATER_MESSAGE = aMessage({ id: MESSAGE.id.replace('0MSG', '1MSG'), payloadJson: '{"n":2}' });
const FIRST_ID = deliveryIdFor(MESSAGE.id, EP.id);

const idsOf = (endpointId: string = EP.id, messageId: string = MESSAGE.id) => ({
  tenantId: MESSAGE.tenantId,
  messageId,
  endpointId,
  deliveryId: deliveryIdFor(messageId, endpointId),
});

/** The delivery a first attempt starts from: what `create` writes when no attempt is made. */
function newDelivery(overrides: Partial<Delivery> = {}): Delivery {
  return {
    id: FIRST_ID,
    tenantId: TENANT,
    messageId: MESSAGE.id,
    endpointId: EP.id,
    eventType: MESSAGE.type,
    status: 'pending',
    attemptCount: 0,
    scheduledAttempts: 0,
    nextAttemptAt: T0.toISOString(),
    createdAt: MESSAGE.createdAt,
    updatedAt: T0.toISOString(),
    ...overrides,
  };
}

/** A delivery closed or paused without an attempt: undated, with the reason as its last error. */
function undated(status: Delivery['status'], lastError: string): Delivery {
  const { nextAttemptAt: _none, ...rest } = newDelivery();
  return { ...rest, status, lastError };
}

/** The later-attempt job of the first-attempt delivery. */
const RETRY_JOB: DeliveryJob = { deliveryId: FIRST_ID, tenantId: TENANT, messageId: MESSAGE.id, endpointId: EP.id };

function only(reports: readonly AttributedReport[]): AttributedReport {
  expect(reports).toHaveLength(1);
  const [report] = reports;
  if (!report) throw new Error('no report');
  return report;
}

function bodyOf(payloadJson: string, message: Message = MESSAGE): string {
  return deliveryBody({ messageId: message.id, type: message.type, createdAt: message.createdAt, payloadJson });
}

const sentDeliveryIds = (s: ReturnType<typeof setup>) => s.sender.requests.map((r) => r.headers['x-sluice-delivery-id']);

describe('DeliveryService.runFirst: an attempt', () => {
  test('2xx: settled unconditionally as succeeded, nothing queued, the endpoint not written', async () => {
    const s = setup();
    const report = only(await s.runFirst());
    expect(report.ids).toEqual(idsOf());
    const done = attempted(report);
    const attempt = {
      deliveryId: FIRST_ID,
      attempt: 1,
      trigger: 'scheduled',
      startedAt: T0.toISOString(),
      durationMs: 42,
      statusCode: 200,
      responseBody: 'ok',
      outcome: 'succeeded',
    };
    expect(done.attempt).toEqual(attempt);
    const { nextAttemptAt: _none, ...rest } = newDelivery();
    expect(done.delivery).toEqual({ ...rest, status: 'succeeded', attemptCount: 1, lastAttemptAt: T0.toISOString(), lastStatusCode: 200 });
    expect(done.retryInSeconds).toBeUndefined();
    expect(done.endpointDisabled).toBeUndefined();
    // One unconditional write of the delivery with its attempt; nothing else.
    expect(s.deliveries.settleCalls).toEqual([{ delivery: done.delivery, attempt }]);
    expect(s.deliveries.firstCalls).toEqual([]);
    expect(s.deliveries.createCalls).toEqual([]);
    expect(s.deliveries.recordCalls).toEqual([]);
    expect(s.deliveries.updateCalls).toEqual([]);
    expect(s.deliveries.deliveries.get(FIRST_ID)).toEqual(done.delivery);
    expect(s.deliveries.attempts.get(FIRST_ID)).toEqual([attempt]);
    expect(s.queue.calls).toEqual([]);
    // A healthy endpoint that answers 2xx is not written.
    expect(s.endpoints.successCalls).toEqual([]);
    expect(s.endpoints.failureCalls).toEqual([]);
    expect(s.endpoints.disableCalls).toEqual([]);
    expect(s.endpoints.endpoints.get(EP.id)).toEqual(EP);
    expect(s.systemEvents.published).toEqual([]);
  });

  test('the request: the job’s message, the derived delivery id, attempt 1, signed', async () => {
    const s = setup();
    await s.runFirst();
    expect(s.sender.requests).toHaveLength(1);
    const [request] = s.sender.requests;
    expect(request?.url).toBe(EP.url);
    expect(request?.timeoutMs).toBe(EP.timeoutMs);
    expect(request?.body).toBe(bodyOf(MESSAGE.payloadJson));
    expect(request?.headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-id': MESSAGE.id,
      'x-sluice-event-type': MESSAGE.type,
      'x-sluice-delivery-id': FIRST_ID,
      'x-sluice-attempt': '1',
    });
    expect(request?.headers['webhook-signature']).toMatch(/^v1,/);
  });

  test('a job with its payload reads nothing: no ledger load, no delivery read, no fresh endpoint read', async () => {
    const s = setup();
    const getMany = jest.spyOn(s.deliveries, 'getMany');
    const fresh = jest.spyOn(s.directory, 'fresh');
    const cached = jest.spyOn(s.directory, 'cached');
    // The job's payload is what is sent, whatever the ledger holds.
    const job: FirstAttemptJob = { ...firstJobFor(MESSAGE, [EP.id]), payloadJson: '{"inline": 2.50}' };
    attempted(only(await s.runFirst(job)));
    expect(s.sender.requests[0]?.body).toBe(bodyOf('{"inline": 2.50}'));
    expect(s.loader.loadCalls).toEqual([]);
    expect(getMany).not.toHaveBeenCalled();
    expect(fresh).not.toHaveBeenCalled();
    expect(cached).toHaveBeenCalledWith(TENANT, EP.id);
  });

  test('a job without its payload (too large to travel) sends the message read through the loader', async () => {
    const s = setup();
    const job = firstJobFor(MESSAGE, [EP.id], false);
    expect(job.payloadJson).toBeUndefined();
    const done = attempted(only(await s.runFirst(job)));
    expect(s.loader.loadCalls).toEqual([{ jobs: [], messageIds: [MESSAGE.id] }]);
    expect(s.sender.requests[0]?.body).toBe(bodyOf(MESSAGE.payloadJson));
    expect(done.delivery.status).toBe('succeeded');
  });

  test('a job without its payload whose message is gone: created dead, nothing sent', async () => {
    const s = setup({ message: null });
    const report = only(await s.runFirst(firstJobFor(MESSAGE, [EP.id], false)));
    const dead = undated('dead', 'the message is gone (expired from history)');
    expect(report).toEqual({ kind: 'closed', delivery: dead, reason: dead.lastError, ids: idsOf() });
    expect(s.deliveries.createCalls).toEqual([dead]);
    expect(s.deliveries.deliveries.get(FIRST_ID)).toEqual(dead);
    expect(s.sender.requests).toEqual([]);
    expect(s.queue.calls).toEqual([]);
  });

  test('500: recorded only if new (recordFirstAttempt), failed, a retry job on the retry lane with the policy’s delay', async () => {
    const s = setup({ answer: { durationMs: 7, statusCode: 500, responseBody: 'boom' }, random: () => 1 });
    const failed = attempted(only(await s.runFirst()));
    // exponential: 5 s, +10 % with random 1.
    expect(failed.retryInSeconds).toBeCloseTo(5.5, 9);
    expect(failed.attempt).toEqual({
      deliveryId: FIRST_ID,
      attempt: 1,
      trigger: 'scheduled',
      startedAt: T0.toISOString(),
      durationMs: 7,
      statusCode: 500,
      responseBody: 'boom',
      outcome: 'failed',
    });
    expect(failed.delivery).toEqual(
      newDelivery({
        status: 'failed',
        attemptCount: 1,
        scheduledAttempts: 1,
        lastAttemptAt: T0.toISOString(),
        lastStatusCode: 500,
        nextAttemptAt: at(5500),
      }),
    );
    expect(s.deliveries.firstCalls).toEqual([{ delivery: failed.delivery, attempt: failed.attempt }]);
    expect(s.deliveries.settleCalls).toEqual([]);
    expect(s.deliveries.createCalls).toEqual([]);
    expect(s.deliveries.deliveries.get(FIRST_ID)).toEqual(failed.delivery);
    // The retry is a later-attempt job of the delivery, not another first-attempt job.
    expect(s.queue.calls).toEqual([{ tasks: [RETRY_JOB], delaySeconds: 6, lane: 'retry' }]);
    expect(s.queue.firstJobs).toEqual([]);
    expect(s.endpoints.failureCalls).toEqual([{ tenantId: TENANT, id: EP.id, at: T0.toISOString() }]);

    // The retry job finds the delivery in the ledger and makes attempt 2.
    s.clock.advance(5500);
    s.sender.answer({ durationMs: 3, statusCode: 200 });
    const retry = attempted(await s.run(RETRY_JOB, 'retry'));
    expect(retry.attempt).toMatchObject({ attempt: 2, trigger: 'scheduled', outcome: 'succeeded' });
    expect(s.deliveries.recordCalls.map((r) => r.previous)).toEqual([failed.delivery]);
    expect(s.deliveries.attempts.get(FIRST_ID)?.map((a) => a.attempt)).toEqual([1, 2]);
  });

  test('the retry is dated from when the attempt finished, which also dates the failure', async () => {
    const s = setup();
    s.sender.answer(() => {
      s.clock.advance(2000);
      return { durationMs: 2000, statusCode: 500 };
    });
    const failed = attempted(only(await s.runFirst()));
    expect(failed.attempt.startedAt).toBe(T0.toISOString());
    expect(failed.delivery).toMatchObject({ lastAttemptAt: T0.toISOString(), updatedAt: at(2000), nextAttemptAt: at(7000) });
    expect(s.endpoints.failureCalls).toEqual([{ tenantId: TENANT, id: EP.id, at: at(2000) }]);
  });

  test('429 with Retry-After: honoured on a first attempt too (capped at twice the scheduled delay)', async () => {
    const s = setup({ answer: { durationMs: 3, statusCode: 429, headers: { 'retry-after': '8' } } });
    const failed = attempted(only(await s.runFirst()));
    expect(failed.retryInSeconds).toBe(8);
    expect(failed.delivery.nextAttemptAt).toBe(at(8000));
    expect(s.queue.calls).toEqual([{ tasks: [RETRY_JOB], delaySeconds: 8, lane: 'retry' }]);

    const capped = setup({ answer: { durationMs: 3, statusCode: 503, headers: { 'retry-after': '3600' } } });
    expect(attempted(only(await capped.runFirst())).retryInSeconds).toBe(10);
  });

  test('a policy without retries: the failed first attempt is dead', async () => {
    const s = setup({ endpoint: anEndpoint({ retryPolicy: { delaysSeconds: [] } }), answer: { durationMs: 3, statusCode: 500 } });
    const dead = attempted(only(await s.runFirst()));
    expect(dead.delivery).toMatchObject({ status: 'dead', attemptCount: 1, scheduledAttempts: 1 });
    expect(dead.delivery.nextAttemptAt).toBeUndefined();
    expect(dead.retryInSeconds).toBeUndefined();
    expect(s.deliveries.firstCalls).toHaveLength(1);
    expect(s.queue.calls).toEqual([]);
  });

  test('a failure another copy of the job already recorded: skipped, nothing queued, nothing parked or counted', async () => {
    const s = setup({ answer: { durationMs: 3, statusCode: 500 } });
    const earlier = newDelivery({ status: 'failed', attemptCount: 1, scheduledAttempts: 1, lastStatusCode: 500, nextAttemptAt: at(5000) });
    s.deliveries.deliveries.set(FIRST_ID, earlier);
    const report = only(await s.runFirst());
    expect(report).toEqual({ kind: 'skipped', deliveryId: FIRST_ID, reason: 'attempt 1 was already recorded', ids: idsOf() });
    // The copy did POST (a first-seen job reads nothing first), but its record lost the race.
    expect(s.sender.requests).toHaveLength(1);
    expect(s.deliveries.firstCalls).toHaveLength(1);
    expect(s.deliveries.deliveries.get(FIRST_ID)).toEqual(earlier);
    expect(s.queue.calls).toEqual([]);
    expect(s.endpoints.failureCalls).toEqual([]);
  });

  test('two copies of a job attempting at once: one records and schedules the retry, the other is skipped', async () => {
    const s = setup();
    const gate = deferred<HttpResult>();
    s.sender.answer(() => gate.promise);
    const job = firstJobFor(MESSAGE, [EP.id]);
    const contexts = [await s.service.prepare([{ task: job, receiveCount: 1 }]), await s.service.prepare([{ task: job, receiveCount: 1 }])];
    const runs = contexts.map((context) => s.service.runFirst(job, context, 'retry'));
    await settle();
    expect(s.sender.requests).toHaveLength(2);
    gate.resolve({ durationMs: 3, statusCode: 500 });
    const reports = (await Promise.all(runs)).flat();
    expect(reports.map((r) => r.kind)).toEqual(['attempted', 'skipped']);
    expect(s.deliveries.attempts.get(FIRST_ID)).toHaveLength(1);
    expect(s.queue.calls).toEqual([{ tasks: [RETRY_JOB], delaySeconds: 5, lane: 'retry' }]);
  });

  test('a success is final: it replaces what a concurrent copy of the job recorded', async () => {
    const s = setup();
    const earlier = newDelivery({ status: 'failed', attemptCount: 1, scheduledAttempts: 1, lastStatusCode: 500, nextAttemptAt: at(5000) });
    s.deliveries.deliveries.set(FIRST_ID, earlier);
    const done = attempted(only(await s.runFirst(undefined, 'retry')));
    expect(done.delivery.status).toBe('succeeded');
    expect(s.deliveries.settleCalls).toEqual([{ delivery: done.delivery, attempt: done.attempt }]);
    expect(s.deliveries.firstCalls).toEqual([]);
    expect(s.deliveries.deliveries.get(FIRST_ID)).toEqual(done.delivery);
  });

  test('manual (an operator’s test ping): the attempt is recorded as manual', async () => {
    const s = setup();
    const job = firstJobFor(MESSAGE, [EP.id]);
    const context = await s.service.prepare([{ task: job, receiveCount: 1 }]);
    const done = attempted(only(await s.service.runFirst(job, context, 'retry', { manual: true })));
    expect(done.attempt).toMatchObject({ attempt: 1, trigger: 'manual', outcome: 'succeeded' });
    expect(s.deliveries.settleCalls.map((c) => c.attempt.trigger)).toEqual(['manual']);
    expect(s.deliveries.attempts.get(FIRST_ID)?.map((a) => a.trigger)).toEqual(['manual']);
  });

  test('a failed manual first attempt is recorded as manual; its retry is a scheduled job on the schedule', async () => {
    const s = setup({ answer: { durationMs: 3, statusCode: 500 } });
    const job = firstJobFor(MESSAGE, [EP.id]);
    const context = await s.service.prepare([{ task: job, receiveCount: 1 }]);
    const failed = attempted(only(await s.service.runFirst(job, context, 'retry', { manual: true })));
    expect(failed.attempt.trigger).toBe('manual');
    expect(s.deliveries.firstCalls.map((c) => c.attempt.trigger)).toEqual(['manual']);
    expect(failed.delivery).toMatchObject({ status: 'failed', scheduledAttempts: 1, nextAttemptAt: at(5000) });
    expect(s.queue.calls).toEqual([{ tasks: [RETRY_JOB], delaySeconds: 5, lane: 'retry' }]);
  });
});

describe('DeliveryService.runFirst: without an HTTP call', () => {
  test('a deleted endpoint: the delivery is created dead, nothing sent', async () => {
    const s = setup({ endpoint: null });
    const fresh = jest.spyOn(s.directory, 'fresh');
    const report = only(await s.runFirst());
    const dead = undated('dead', 'the endpoint was deleted');
    expect(report).toEqual({ kind: 'closed', delivery: dead, reason: 'the endpoint was deleted', ids: idsOf() });
    expect(s.deliveries.createCalls).toEqual([dead]);
    expect(s.deliveries.deliveries.get(FIRST_ID)).toEqual(dead);
    expect(s.deliveries.attempts.has(FIRST_ID)).toBe(false);
    expect(s.deliveries.firstCalls).toEqual([]);
    expect(s.deliveries.settleCalls).toEqual([]);
    expect(s.sender.requests).toEqual([]);
    expect(s.queue.calls).toEqual([]);
    // Closing rests on a consistent read.
    expect(fresh).toHaveBeenCalledWith(TENANT, EP.id);
  });

  test('a disabled endpoint: the delivery is created paused (pending, undated), nothing sent', async () => {
    const s = setup({ endpoint: anEndpoint({ disabled: true, disabledReason: 'paused by ops', rateLimitPerSecond: 5 }) });
    const report = only(await s.runFirst());
    const paused = undated('pending', 'endpoint is disabled (paused by ops)');
    expect(report).toEqual({ kind: 'closed', delivery: paused, reason: 'endpoint is disabled (paused by ops)', ids: idsOf() });
    expect(s.deliveries.createCalls).toEqual([paused]);
    expect(s.deliveries.deliveries.get(FIRST_ID)).toEqual(paused);
    expect(s.sender.requests).toEqual([]);
    expect(s.queue.calls).toEqual([]);
    expect(s.rateLimiter.calls).toEqual([]);
    // A later job for the paused delivery does nothing either.
    expect(await s.run(RETRY_JOB, 'retry')).toMatchObject({ kind: 'skipped', reason: 'delivery is paused (endpoint disabled)' });
    expect(s.sender.requests).toEqual([]);
  });

  test('a disabled endpoint without a reason: the last error says only that', async () => {
    const s = setup({ endpoint: anEndpoint({ disabled: true }) });
    expect(only(await s.runFirst())).toMatchObject({ kind: 'closed', delivery: { lastError: 'endpoint is disabled' } });
  });

  test.each([
    ['the endpoint was deleted', null],
    ['endpoint is disabled', anEndpoint({ disabled: true })],
  ] as const)('%s, but the delivery is already in the ledger: skipped, the ledger untouched', async (_case, endpoint) => {
    const s = setup({ endpoint });
    const existing = newDelivery({ status: 'succeeded', attemptCount: 1 });
    s.deliveries.deliveries.set(FIRST_ID, existing);
    expect(only(await s.runFirst())).toEqual({ kind: 'skipped', deliveryId: FIRST_ID, reason: 'already in the ledger', ids: idsOf() });
    expect(s.deliveries.deliveries.get(FIRST_ID)).toEqual(existing);
  });
});

describe('DeliveryService.runFirst: a cached endpoint', () => {
  test('the cache says disabled, the ledger says enabled: re-read fresh, and attempted', async () => {
    const s = setup({ endpoint: anEndpoint({ disabled: true }), cacheSeconds: 60 });
    await s.directory.all(TENANT);
    // Enabled elsewhere: this process's copy has not seen it.
    s.endpoints.endpoints.set(EP.id, EP);
    expect((await s.directory.cached(TENANT, EP.id))?.disabled).toBe(true);
    const fresh = jest.spyOn(s.directory, 'fresh');
    const done = attempted(only(await s.runFirst()));
    expect(fresh).toHaveBeenCalledTimes(1);
    expect(done.delivery.status).toBe('succeeded');
    expect(sentDeliveryIds(s)).toEqual([FIRST_ID]);
    expect(s.deliveries.createCalls).toEqual([]);
  });

  test('the cache does not have it, the ledger does (created since): re-read fresh, and attempted', async () => {
    const s = setup({ endpoint: null, cacheSeconds: 60 });
    expect(await s.directory.all(TENANT)).toEqual([]);
    s.endpoints.endpoints.set(EP.id, EP);
    expect(await s.directory.cached(TENANT, EP.id)).toBeUndefined();
    expect(attempted(only(await s.runFirst())).delivery.status).toBe('succeeded');
    expect(s.deliveries.createCalls).toEqual([]);
  });

  test('disabled in the cache and in the ledger: paused after one fresh read', async () => {
    const s = setup({ endpoint: anEndpoint({ disabled: true, disabledReason: 'by hand' }), cacheSeconds: 60 });
    await s.directory.all(TENANT);
    const fresh = jest.spyOn(s.directory, 'fresh');
    expect(only(await s.runFirst())).toMatchObject({ kind: 'closed', delivery: { status: 'pending' } });
    expect(fresh).toHaveBeenCalledTimes(1);
    expect(s.sender.requests).toEqual([]);
  });

  test('an enabled copy is used as it is for the cache’s age (no read per attempt), then the change is seen', async () => {
    const s = setup({ cacheSeconds: 60 });
    await s.directory.all(TENANT);
    s.endpoints.endpoints.set(EP.id, { ...EP, disabled: true });
    const fresh = jest.spyOn(s.directory, 'fresh');
    expect(attempted(only(await s.runFirst())).delivery.status).toBe('succeeded');
    expect(fresh).not.toHaveBeenCalled();

    s.clock.advance(60_000);
    const report = only(await s.runFirst(firstJobFor(LATER_MESSAGE, [EP.id])));
    expect(report).toMatchObject({ kind: 'closed', delivery: { status: 'pending' }, ids: idsOf(EP.id, LATER_MESSAGE.id) });
    expect(s.sender.requests).toHaveLength(1);
  });
});

describe('DeliveryService.runFirst: lanes', () => {
  test('primary lane, failing endpoint: created pending and due now, a delivery job to the retry lane; no HTTP call', async () => {
    const s = setup({ endpoint: anEndpoint({ failingSince: at(-60_000), consecutiveFailures: 3, rateLimitPerSecond: 5 }) });
    const report = only(await s.runFirst());
    expect(report).toEqual({ kind: 'diverted', deliveryId: FIRST_ID, reason: 'endpoint is failing', ids: idsOf() });
    expect(s.deliveries.createCalls).toEqual([newDelivery()]);
    expect(s.queue.calls).toEqual([{ tasks: [RETRY_JOB], delaySeconds: undefined, lane: 'retry' }]);
    expect(s.sender.requests).toEqual([]);
    expect(s.rateLimiter.calls).toEqual([]);
    expect(s.deliveries.firstCalls).toEqual([]);
    expect(s.deliveries.settleCalls).toEqual([]);
    expect(s.endpoints.failureCalls).toEqual([]);

    // On the retry lane that job makes the first attempt of the delivery now in the ledger.
    const done = attempted(await s.run(RETRY_JOB, 'retry'));
    expect(done.attempt).toMatchObject({ attempt: 1, trigger: 'scheduled', outcome: 'succeeded' });
    expect(s.deliveries.recordCalls.map((r) => r.previous)).toEqual([newDelivery()]);
    expect(s.endpoints.successCalls).toEqual([{ tenantId: TENANT, id: EP.id }]);
  });

  test('retry lane, failing endpoint: attempted; a success ends the run of failures and refreshes the cache', async () => {
    const s = setup({ endpoint: anEndpoint({ failingSince: at(-60_000), consecutiveFailures: 3 }) });
    const invalidate = jest.spyOn(s.directory, 'invalidate');
    const done = attempted(only(await s.runFirst(undefined, 'retry')));
    expect(done.delivery.status).toBe('succeeded');
    expect(s.deliveries.createCalls).toEqual([]);
    expect(s.endpoints.successCalls).toEqual([{ tenantId: TENANT, id: EP.id }]);
    expect(s.endpoints.endpoints.get(EP.id)?.failingSince).toBeUndefined();
    expect(invalidate).toHaveBeenCalledWith(TENANT);
    expect(s.queue.calls).toEqual([]);
  });

  test('primary lane, an attempt in flight for longer than slowAfterMs: diverted as slow', async () => {
    const inFlight = new InFlightAttempts(500);
    const done = inFlight.begin(EP.id, T0.getTime() - 501);
    const s = setup({ inFlight });
    expect(only(await s.runFirst())).toEqual({ kind: 'diverted', deliveryId: FIRST_ID, reason: 'endpoint is slow', ids: idsOf() });
    expect(s.deliveries.createCalls).toEqual([newDelivery()]);
    expect(s.queue.calls).toEqual([{ tasks: [RETRY_JOB], delaySeconds: undefined, lane: 'retry' }]);
    expect(s.sender.requests).toEqual([]);

    // The retry lane is never diverted for slowness.
    expect(attempted(only(await s.runFirst(firstJobFor(LATER_MESSAGE, [EP.id]), 'retry'))).delivery.status).toBe('succeeded');
    // Once that attempt is over the endpoint is no longer slow.
    done();
    const another = aMessage({ id: MESSAGE.id.replace('0MSG', '2MSG') });
    expect(only(await s.runFirst(firstJobFor(another, [EP.id])))).toMatchObject({ kind: 'attempted' });
  });

  test('an attempt in flight for exactly slowAfterMs does not divert', async () => {
    const inFlight = new InFlightAttempts(500);
    inFlight.begin(EP.id, T0.getTime() - 500);
    const s = setup({ inFlight });
    expect(only(await s.runFirst()).kind).toBe('attempted');
  });

  test('a first attempt hanging on an endpoint makes it slow for the next message’s first attempt', async () => {
    const s = setup({ inFlight: new InFlightAttempts(500) });
    const gate = deferred<HttpResult>();
    s.sender.answer(() => gate.promise);
    const hanging = s.runFirst();
    await settle();
    s.clock.advance(501);
    const next = only(await s.runFirst(firstJobFor(LATER_MESSAGE, [EP.id])));
    expect(next).toMatchObject({ kind: 'diverted', reason: 'endpoint is slow', ids: idsOf(EP.id, LATER_MESSAGE.id) });
    expect(sentDeliveryIds(s)).toEqual([FIRST_ID]);
    gate.resolve({ durationMs: 501, statusCode: 200 });
    expect(attempted(only(await hanging)).delivery.status).toBe('succeeded');
  });

  test('diverted, but the delivery is already in the ledger: skipped, nothing queued', async () => {
    const s = setup({ endpoint: anEndpoint({ failingSince: at(-60_000) }) });
    s.deliveries.deliveries.set(FIRST_ID, newDelivery());
    expect(only(await s.runFirst())).toEqual({ kind: 'skipped', deliveryId: FIRST_ID, reason: 'already in the ledger', ids: idsOf() });
    expect(s.queue.calls).toEqual([]);
  });
});

describe('DeliveryService.runFirst: rate limit', () => {
  test('within the budget: the limiter is asked, and the attempt made', async () => {
    const s = setup({ endpoint: anEndpoint({ rateLimitPerSecond: 2 }) });
    expect(only(await s.runFirst()).kind).toBe('attempted');
    expect(s.rateLimiter.calls).toEqual([{ subject: { endpointId: EP.id }, limitPerSecond: 2, at: T0.toISOString() }]);
  });

  test.each(['primary', 'retry'] as const)(
    'over the budget on the %s lane: created due in 1 s, a delivery job delayed 1 s on the same lane; no HTTP call',
    async (lane) => {
      const s = setup({ endpoint: anEndpoint({ rateLimitPerSecond: 1 }) });
      await s.rateLimiter.tryAcquire({ endpointId: EP.id }, 1, T0);
      expect(only(await s.runFirst(undefined, lane))).toEqual({ kind: 'throttled', deliveryId: FIRST_ID, ids: idsOf() });
      const waiting = newDelivery({ nextAttemptAt: at(1000) });
      expect(s.deliveries.createCalls).toEqual([waiting]);
      expect(s.queue.calls).toEqual([{ tasks: [RETRY_JOB], delaySeconds: 1, lane }]);
      expect(s.sender.requests).toEqual([]);
      expect(s.deliveries.firstCalls).toEqual([]);

      // A second later there is room: the job makes the first attempt.
      s.clock.advance(1000);
      const done = attempted(await s.run(RETRY_JOB, lane));
      expect(done.attempt).toMatchObject({ attempt: 1, outcome: 'succeeded' });
      expect(s.deliveries.recordCalls.map((r) => r.previous)).toEqual([waiting]);
    },
  );

  test('throttled, but the delivery is already in the ledger: skipped, nothing queued', async () => {
    const s = setup({ endpoint: anEndpoint({ rateLimitPerSecond: 1 }) });
    await s.rateLimiter.tryAcquire({ endpointId: EP.id }, 1, T0);
    s.deliveries.deliveries.set(FIRST_ID, newDelivery());
    expect(only(await s.runFirst())).toEqual({ kind: 'skipped', deliveryId: FIRST_ID, reason: 'already in the ledger', ids: idsOf() });
    expect(s.queue.calls).toEqual([]);
  });
});

describe('DeliveryService.runFirst: several endpoints', () => {
  test('each endpoint of the job is attempted, all at once; each report carries its ids', async () => {
    const s = setup();
    await s.endpoints.create(EP_B);
    await s.endpoints.create(EP_C);
    const gate = deferred<void>();
    s.sender.answer(async (request) => {
      await gate.promise;
      return request.url === EP_B.url ? { durationMs: 3, statusCode: 500 } : { durationMs: 3, statusCode: 200 };
    });
    const running = s.runFirst(firstJobFor(MESSAGE, [EP.id, EP_B.id, EP_C.id]));
    await settle();
    // Every request is out before any answer came back.
    const [a, b, c] = [idsOf(EP.id), idsOf(EP_B.id), idsOf(EP_C.id)];
    expect([...sentDeliveryIds(s)].sort()).toEqual([a.deliveryId, b.deliveryId, c.deliveryId].sort());
    gate.resolve();
    const reports = await running;

    expect(reports.map((r) => r.ids)).toEqual([a, b, c]);
    expect(reports.map((r) => (r.kind === 'attempted' ? r.delivery.status : r.kind))).toEqual(['succeeded', 'failed', 'succeeded']);
    for (const report of reports) {
      const delivery = attempted(report).delivery;
      expect(delivery).toMatchObject({ id: report.ids.deliveryId, endpointId: report.ids.endpointId, messageId: MESSAGE.id });
    }
    // Each request went to its endpoint, named its own delivery.
    const urlOf = new Map(s.sender.requests.map((r) => [r.headers['x-sluice-delivery-id'], r.url]));
    expect(urlOf).toEqual(
      new Map([
        [a.deliveryId, EP.url],
        [b.deliveryId, EP_B.url],
        [c.deliveryId, EP_C.url],
      ]),
    );
    expect(s.deliveries.settleCalls.map((call) => call.delivery.id).sort()).toEqual([a.deliveryId, c.deliveryId].sort());
    expect(s.deliveries.firstCalls.map((call) => call.delivery.id)).toEqual([b.deliveryId]);
    expect(s.queue.calls).toEqual([
      {
        tasks: [{ deliveryId: b.deliveryId, tenantId: TENANT, messageId: MESSAGE.id, endpointId: EP_B.id }],
        delaySeconds: 5,
        lane: 'retry',
      },
    ]);
    expect(s.endpoints.failureCalls.map((call) => call.id)).toEqual([EP_B.id]);
  });

  test('one endpoint gone, one disabled, one failing, one healthy: each handled on its own', async () => {
    const s = setup();
    const disabled = anEndpoint({ id: 'ep_01JN0000000000000000000EPD', disabled: true });
    const failing = anEndpoint({ id: 'ep_01JN0000000000000000000EPF', failingSince: at(-1000) });
    await s.endpoints.create(disabled);
    await s.endpoints.create(failing);
    const gone = 'ep_01JN0000000000000000000EPG';
    const reports = await s.runFirst(firstJobFor(MESSAGE, [gone, disabled.id, failing.id, EP.id]));
    expect(reports.map((r) => [r.ids.endpointId, r.kind])).toEqual([
      [gone, 'closed'],
      [disabled.id, 'closed'],
      [failing.id, 'diverted'],
      [EP.id, 'attempted'],
    ]);
    expect(sentDeliveryIds(s)).toEqual([FIRST_ID]);
    expect(s.queue.jobs).toEqual([{ ...RETRY_JOB, deliveryId: deliveryIdFor(MESSAGE.id, failing.id), endpointId: failing.id }]);
  });
});

describe('DeliveryService.prepare and runTask', () => {
  test('receiveCount 1: a first-attempt job reads nothing, not even its deliveries', async () => {
    const s = setup();
    const getMany = jest.spyOn(s.deliveries, 'getMany');
    const job = firstJobFor(MESSAGE, [EP.id, EP_B.id]);
    const context = await s.service.prepare([{ task: job, receiveCount: 1 }]);
    expect(getMany).not.toHaveBeenCalled();
    expect(s.loader.loadCalls).toEqual([]);
    expect(context.recorded.size).toBe(0);
    expect(context.ledger.message(MESSAGE.id)).toBeUndefined();
  });

  test('receiveCount > 1: the job’s deliveries are read, and those already recorded are skipped without a request', async () => {
    const s = setup();
    await s.endpoints.create(EP_B);
    const getMany = jest.spyOn(s.deliveries, 'getMany');
    const recorded = newDelivery({ status: 'failed', attemptCount: 1, scheduledAttempts: 1, nextAttemptAt: at(5000) });
    s.deliveries.deliveries.set(FIRST_ID, recorded);
    const reports = await s.runFirst(firstJobFor(MESSAGE, [EP.id, EP_B.id]), 'primary', 2);
    expect(getMany).toHaveBeenCalledTimes(1);
    expect(getMany).toHaveBeenCalledWith([FIRST_ID, idsOf(EP_B.id).deliveryId]);
    expect(reports[0]).toEqual({ kind: 'skipped', deliveryId: FIRST_ID, reason: 'an earlier run recorded it (failed)', ids: idsOf() });
    expect(reports[1]).toMatchObject({ kind: 'attempted', ids: idsOf(EP_B.id) });
    expect(sentDeliveryIds(s)).toEqual([idsOf(EP_B.id).deliveryId]);
    expect(s.deliveries.deliveries.get(FIRST_ID)).toEqual(recorded);
    expect(s.deliveries.firstCalls).toEqual([]);
    expect(s.queue.calls).toEqual([]);
  });

  test('a job the sweeper sent again (recheck) reads its deliveries first, even when SQS hands it out for the first time', async () => {
    const s = setup();
    const getMany = jest.spyOn(s.deliveries, 'getMany');
    // The original job was only slow: its attempt recorded the delivery before the copy runs.
    const recorded = newDelivery({ status: 'succeeded', attemptCount: 1 });
    s.deliveries.deliveries.set(FIRST_ID, recorded);
    const reports = await s.runFirst({ ...firstJobFor(MESSAGE, [EP.id]), recheck: true }, 'retry', 1);
    expect(getMany).toHaveBeenCalledWith([FIRST_ID]);
    expect(reports).toEqual([{ kind: 'skipped', deliveryId: FIRST_ID, reason: 'an earlier run recorded it (succeeded)', ids: idsOf() }]);
    expect(s.sender.requests).toEqual([]);
  });

  test('receiveCount > 1 with nothing recorded yet: every endpoint is attempted', async () => {
    const s = setup();
    const reports = await s.runFirst(undefined, 'primary', 3);
    expect(reports.map((r) => r.kind)).toEqual(['attempted']);
    expect(s.sender.requests).toHaveLength(1);
  });

  test('a mixed batch is one load: later-attempt jobs and the messages of first jobs without their payload', async () => {
    const s = setup();
    const getMany = jest.spyOn(s.deliveries, 'getMany');
    await s.messages.create(LATER_MESSAGE, undefined);
    const later = jobFor(s.delivery);
    const withPayload = firstJobFor(MESSAGE, [EP.id]);
    const withoutPayload = firstJobFor(LATER_MESSAGE, [EP.id], false);
    const context = await s.service.prepare([
      { task: later, receiveCount: 1 },
      { task: withPayload, receiveCount: 1 },
      { task: withoutPayload, receiveCount: 1 },
    ]);
    expect(s.loader.loadCalls).toEqual([{ jobs: [later], messageIds: [LATER_MESSAGE.id] }]);
    expect(getMany).not.toHaveBeenCalled();
    expect(context.ledger.delivery(s.delivery.id)).toEqual(s.delivery);
    expect(context.ledger.message(LATER_MESSAGE.id)).toEqual(LATER_MESSAGE);
  });

  test('runTask: a first-attempt job gives one report an endpoint, a delivery job one report with its ids', async () => {
    const s = setup();
    await s.endpoints.create(EP_B);
    const later = jobFor(s.delivery);
    const first = firstJobFor(MESSAGE, [EP.id, EP_B.id]);
    const tasks: DeliveryTask[] = [later, first];
    const context = await s.service.prepare(tasks.map((task) => ({ task, receiveCount: 1 })));
    const [laterReports, firstReports] = await Promise.all(tasks.map((task) => s.service.runTask(task, context, 'primary')));
    expect(laterReports).toEqual([
      expect.objectContaining({
        kind: 'attempted',
        ids: {
          tenantId: s.delivery.tenantId,
          messageId: s.delivery.messageId,
          endpointId: s.delivery.endpointId,
          deliveryId: s.delivery.id,
        },
      }),
    ]);
    expect(firstReports?.map((r) => [r.kind, r.ids])).toEqual([
      ['attempted', idsOf()],
      ['attempted', idsOf(EP_B.id)],
    ]);
    expect(s.sender.requests).toHaveLength(3);
    expect(s.deliveries.recordCalls.map((r) => r.delivery.id)).toEqual([s.delivery.id]);
    expect(s.deliveries.settleCalls.map((c) => c.delivery.id)).toEqual([FIRST_ID, idsOf(EP_B.id).deliveryId]);
  });

  test('runTask on a later-attempt job reports what run() reports (here: skipped, no such delivery)', async () => {
    const s = setup();
    const job = { ...jobFor(s.delivery), deliveryId: 'dlv_unknown' };
    const context = await s.service.prepare([{ task: job, receiveCount: 1 }]);
    expect(await s.service.runTask(job, context, 'retry')).toEqual([
      {
        kind: 'skipped',
        deliveryId: 'dlv_unknown',
        reason: 'no such delivery in the ledger',
        ids: {
          tenantId: s.delivery.tenantId,
          messageId: s.delivery.messageId,
          endpointId: s.delivery.endpointId,
          deliveryId: 'dlv_unknown',
        },
      },
    ]);
  });
});

describe('DeliveryService.runFirst: endpoint health', () => {
  test('410: recorded failed and undated, the endpoint disabled, endpoint.disabled published, the cache refreshed', async () => {
    const s = setup({ answer: { durationMs: 3, statusCode: 410 } });
    const invalidate = jest.spyOn(s.directory, 'invalidate');
    const report = attempted(only(await s.runFirst()));
    expect(report.attempt.outcome).toBe('gone');
    expect(report.delivery).toMatchObject({ status: 'failed', attemptCount: 1, lastStatusCode: 410 });
    expect(report.delivery.nextAttemptAt).toBeUndefined();
    expect(report.retryInSeconds).toBeUndefined();
    expect(s.deliveries.firstCalls).toEqual([{ delivery: report.delivery, attempt: report.attempt }]);
    expect(s.deliveries.settleCalls).toEqual([]);
    expect(report.endpointDisabled).toMatch(/410/);
    expect(s.endpoints.disableCalls).toEqual([{ tenantId: TENANT, id: EP.id, reason: report.endpointDisabled, at: T0.toISOString() }]);
    expect(s.endpoints.endpoints.get(EP.id)).toMatchObject({ disabled: true, disabledReason: report.endpointDisabled });
    expect(s.systemEvents.published).toEqual([
      {
        tenantId: TENANT,
        type: 'endpoint.disabled',
        payload: { endpointId: EP.id, url: EP.url, reason: report.endpointDisabled, disabledAt: T0.toISOString() },
        options: { exceptEndpointId: EP.id },
      },
    ]);
    expect(invalidate).toHaveBeenCalledWith(TENANT);
    expect(s.queue.calls).toEqual([]);

    // The next message's first attempt to it waits with the endpoint instead of being sent.
    const next = only(await s.runFirst(firstJobFor(LATER_MESSAGE, [EP.id])));
    expect(next).toMatchObject({ kind: 'closed', delivery: { status: 'pending', lastError: expect.stringContaining('410') } });
    expect(s.sender.requests).toHaveLength(1);
  });

  test('the first failure starts a run of failures and refreshes the cache; the next one only extends it', async () => {
    const s = setup({ answer: { durationMs: 3, statusCode: 500 } });
    const invalidate = jest.spyOn(s.directory, 'invalidate');
    await s.runFirst();
    expect(s.endpoints.endpoints.get(EP.id)).toMatchObject({ failingSince: T0.toISOString(), consecutiveFailures: 1 });
    expect(invalidate).toHaveBeenCalledTimes(1);
    s.clock.advance(1000);
    // A failing endpoint's first attempts come on the retry lane.
    attempted(only(await s.runFirst(firstJobFor(LATER_MESSAGE, [EP.id]), 'retry')));
    expect(s.endpoints.endpoints.get(EP.id)).toMatchObject({ failingSince: T0.toISOString(), consecutiveFailures: 2 });
    expect(invalidate).toHaveBeenCalledTimes(1);
  });

  test('failing for the whole window: the first attempt that crosses it disables the endpoint', async () => {
    const failingSince = at(-3600_000);
    const s = setup({
      endpoint: anEndpoint({ failingSince, consecutiveFailures: 40 }),
      answer: { durationMs: 3, statusCode: 500 },
      failureWindowSeconds: 3600,
    });
    const report = attempted(only(await s.runFirst(undefined, 'retry')));
    const reason = `every attempt failed from ${failingSince} to ${T0.toISOString()}`;
    expect(report.endpointDisabled).toBe(reason);
    expect(s.endpoints.endpoints.get(EP.id)).toMatchObject({ disabled: true, disabledReason: reason });
    expect(s.systemEvents.published).toEqual([
      {
        tenantId: TENANT,
        type: 'endpoint.disabled',
        payload: { endpointId: EP.id, url: EP.url, reason, disabledAt: T0.toISOString(), failingSince },
        options: { exceptEndpointId: EP.id },
      },
    ]);
    // The delivery itself follows its schedule.
    expect(report.delivery).toMatchObject({ status: 'failed', nextAttemptAt: at(5000) });
    expect(s.queue.calls).toEqual([{ tasks: [RETRY_JOB], delaySeconds: 5, lane: 'retry' }]);
  });
});

describe('DeliveryService.run: operational events', () => {
  const failing = { durationMs: 3, statusCode: 500 } as const;
  const typesOf = (s: ReturnType<typeof setup>) => s.systemEvents.published.map((event) => event.type);

  test('the first failure after a success announces message.attempt.failing once; later failures of the run do not', async () => {
    const s = setup({ answer: failing });
    attempted(await s.run());
    expect(s.systemEvents.published).toEqual([
      {
        tenantId: s.delivery.tenantId,
        type: 'message.attempt.failing',
        payload: {
          endpointId: s.delivery.endpointId,
          url: anEndpoint().url,
          deliveryId: s.delivery.id,
          messageId: s.delivery.messageId,
          eventType: 'lock.unlocked',
          lastStatusCode: 500,
          failingSince: at(0),
        },
      },
    ]);
    s.clock.advance(5000);
    attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(typesOf(s)).toEqual(['message.attempt.failing']);
  });

  test('the end of a run announces message.attempt.recovered; a new run within the hour is not announced again', async () => {
    const s = setup({ answer: failing });
    attempted(await s.run());
    s.clock.advance(60_000);
    s.sender.answer(() => ({ durationMs: 3, statusCode: 200 }));
    attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(typesOf(s)).toEqual(['message.attempt.failing', 'message.attempt.recovered']);
    expect(s.systemEvents.published[1]?.payload).toMatchObject({ failingSince: at(0), recoveredAt: at(60_000), failedAttempts: 1 });

    // A flapping endpoint: another run ten minutes later is counted but not announced…
    const again = aDelivery({ id: 'dlv_01JN000000000000000000AGN' });
    await s.deliveries.create(again);
    s.clock.advance(10 * 60_000);
    s.sender.answer(() => failing);
    attempted(await s.run(jobFor(again)));
    expect(s.storedEndpoint()?.failingSince).toBe(at(11 * 60_000));
    expect(typesOf(s)).toEqual(['message.attempt.failing', 'message.attempt.recovered']);
  });

  test('a delivery that uses up its retries announces message.attempt.exhausted', async () => {
    const s = setup({
      endpoint: anEndpoint({ retryPolicy: { delaysSeconds: [60] }, failingSince: at(-1000), consecutiveFailures: 1 }),
      delivery: aDelivery({ status: 'failed', attemptCount: 2, scheduledAttempts: 2 }),
      answer: failing,
    });
    const report = attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(report.delivery.status).toBe('dead');
    expect(s.systemEvents.published).toEqual([
      {
        tenantId: s.delivery.tenantId,
        type: 'message.attempt.exhausted',
        payload: expect.objectContaining({ deliveryId: s.delivery.id, attempts: 3, lastStatusCode: 500, deadAt: T0.toISOString() }),
      },
    ]);
  });

  test('the delivery of an operational event never causes one: no failing, recovered or exhausted about it', async () => {
    const s = setup({
      endpoint: anEndpoint({ retryPolicy: { delaysSeconds: [60] } }),
      delivery: aDelivery({ eventType: 'message.attempt.exhausted', status: 'failed', attemptCount: 2, scheduledAttempts: 2 }),
      answer: failing,
    });
    const report = attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(report.delivery.status).toBe('dead');
    expect(s.storedEndpoint()?.failingSince).toBe(at(0));
    expect(s.systemEvents.published).toEqual([]);
  });
});

describe('DeliveryService.runTask: announcements', () => {
  test('an announcement task is published under its key, reads nothing and attempts nothing', async () => {
    const s = setup();
    const task = {
      kind: 'announce',
      tenantId: TENANT,
      type: 'endpoint.deleted',
      payload: { endpointId: 'ep_GONE', deletedAt: T0.toISOString() },
      key: 'endpoint.deleted:ep_GONE',
    } as const;
    const context = await s.service.prepare([{ task, receiveCount: 2 }]);
    expect(await s.service.runTask(task, context, 'retry')).toEqual([]);
    expect(s.systemEvents.published).toEqual([
      { tenantId: TENANT, type: 'endpoint.deleted', payload: task.payload, options: { idempotencyKey: 'endpoint.deleted:ep_GONE' } },
    ]);
    expect(s.sender.requests).toEqual([]);
  });
});
