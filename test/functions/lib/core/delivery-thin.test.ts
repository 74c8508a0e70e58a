/**
 * DeliveryService with thin endpoints (README "Thin deliveries"): a 2xx only says "received", so
 * the delivery stays open and is notified again on the schedule until the receiver acknowledges it.
 * The general behaviour of DeliveryService is in delivery.test.ts.
 */
import type { DeliveryReport } from '../../../../functions/lib/core/delivery.ts';
import { USER_AGENT } from '../../../../functions/lib/core/delivery-request.ts';
import { deliveryIdFor, ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import { InboxService } from '../../../../functions/lib/core/inbox.ts';
import type { Delivery, Endpoint, TenantPrincipal } from '../../../../functions/lib/core/model.ts';
import type { HttpResult } from '../../../../functions/lib/core/ports.ts';
import { presetDelaysSeconds } from '../../../../functions/lib/core/retry-schedule.ts';
import { aDelivery, anEndpoint, deliveryHarness, expectedSignature, firstJobFor, jobFor, SECRET, T0, TENANT } from './fakes.ts';

const at = (offsetMs: number, from: Date = T0) => new Date(from.getTime() + offsetMs).toISOString();

const THIN = anEndpoint({ mode: 'thin', retryPolicy: { preset: 'daily' } });

interface Setup {
  readonly delivery?: Delivery;
  readonly endpoint?: Endpoint;
  readonly answer?: HttpResult;
}

/** The shared DeliveryService harness with a thin endpoint, plus the receiver's inbox. */
function setup(options: Setup = {}) {
  const endpoint = options.endpoint ?? THIN;
  const harness = deliveryHarness({ ...options, endpoint, answer: options.answer ?? { durationMs: 15, statusCode: 202 } });
  const { deliveries, messages, endpoints, clock, message } = harness;
  if (!message) throw new Error('the thin harness always stores a message');
  const inbox = new InboxService({ deliveries, messages, endpoints, clock, ids: ulidIdGenerator(() => clock.now().getTime()) });
  return { ...harness, endpoint, message, inbox };
}

function attempted(report: DeliveryReport) {
  if (report.kind !== 'attempted') throw new Error(`expected an attempt, got ${JSON.stringify(report)}`);
  return report;
}

const RECEIVER: TenantPrincipal = { kind: 'tenant', tenantId: TENANT, keyId: 'key_01JN000000000000000RECEIVER', scopes: ['receiver'] };
const FIRST_DAILY_DELAY = presetDelaysSeconds.daily[0] ?? Number.NaN;

describe('DeliveryService.run: thin endpoints', () => {
  test('the daily schedule starts at one minute (the fixture relies on it)', () => {
    expect(FIRST_DAILY_DELAY).toBe(60);
  });

  test('a 2xx keeps the delivery pending, dated by the schedule, with a retry-lane job', async () => {
    const s = setup();
    const report = attempted(await s.run());
    expect(report.attempt).toMatchObject({ attempt: 1, statusCode: 202, outcome: 'succeeded', trigger: 'scheduled' });
    expect(report.delivery).toMatchObject({
      status: 'pending',
      attemptCount: 1,
      scheduledAttempts: 1,
      lastStatusCode: 202,
      nextAttemptAt: at(FIRST_DAILY_DELAY * 1000),
    });
    expect(report.retryInSeconds).toBe(FIRST_DAILY_DELAY);
    expect(s.stored()).toEqual(report.delivery);
    expect(s.queue.calls).toEqual([{ tasks: [jobFor(s.delivery)], delaySeconds: FIRST_DAILY_DELAY, lane: 'retry' }]);
    // A 2xx is not a failure of the endpoint.
    expect(s.endpoints.failureCalls).toEqual([]);
  });

  test('the notifications follow the schedule: the second one is due after the second delay', async () => {
    const s = setup();
    attempted(await s.run());
    s.clock.advance(FIRST_DAILY_DELAY * 1000);
    const second = attempted(await s.run());
    const secondDelay = presetDelaysSeconds.daily[1] ?? Number.NaN;
    expect(second.attempt.attempt).toBe(2);
    expect(second.delivery).toMatchObject({
      status: 'pending',
      scheduledAttempts: 2,
      nextAttemptAt: at((FIRST_DAILY_DELAY + secondDelay) * 1000),
    });
    expect(s.queue.calls.map((c) => [c.delaySeconds, c.lane])).toEqual([
      [FIRST_DAILY_DELAY, 'retry'],
      [secondDelay, 'retry'],
    ]);
  });

  test('a custom schedule is used as given', async () => {
    const s = setup({ endpoint: anEndpoint({ mode: 'thin', retryPolicy: { delaysSeconds: [7, 11] } }) });
    const report = attempted(await s.run());
    expect(report.delivery.nextAttemptAt).toBe(at(7000));
    expect(s.queue.calls).toEqual([{ tasks: [jobFor(s.delivery)], delaySeconds: 7, lane: 'retry' }]);
  });

  test('when the schedule is exhausted a 2xx makes the delivery dead and parks it', async () => {
    const endpoint = anEndpoint({ mode: 'thin', retryPolicy: { delaysSeconds: [7, 11] } });
    // Two notifications made on the schedule; this is the third and last.
    const s = setup({ endpoint, delivery: aDelivery({ attemptCount: 2, scheduledAttempts: 2 }) });
    const report = attempted(await s.run());
    expect(report.attempt).toMatchObject({ attempt: 3, outcome: 'succeeded', statusCode: 202 });
    expect(report.delivery).toMatchObject({ status: 'dead', attemptCount: 3, scheduledAttempts: 3 });
    expect(report.delivery.nextAttemptAt).toBeUndefined();
    expect(report.retryInSeconds).toBeUndefined();
    expect(s.stored()).toEqual(report.delivery);
    expect(s.queue.calls).toEqual([]);
  });

  test('the whole daily schedule: every 2xx keeps it open until the last one, which makes it dead', async () => {
    const s = setup();
    const notifications = presetDelaysSeconds.daily.length + 1;
    const reports: DeliveryReport[] = [];
    for (let i = 0; i < notifications; i++) {
      const report = attempted(await s.run());
      reports.push(report);
      if (report.retryInSeconds !== undefined) s.clock.advance(report.retryInSeconds * 1000);
    }
    const statuses = reports.map((r) => (r.kind === 'attempted' ? r.delivery.status : r.kind));
    expect(statuses).toEqual([...Array<string>(notifications - 1).fill('pending'), 'dead']);
    expect(s.sender.requests).toHaveLength(notifications);
    // About 24 hours of notifications in all.
    expect(s.clock.now().getTime() - T0.getTime()).toBe(presetDelaysSeconds.daily.reduce((a, b) => a + b, 0) * 1000);
    // Nothing more is sent for it.
    expect(await s.run()).toMatchObject({ kind: 'skipped', reason: 'delivery is already dead' });
  });

  test.each([
    [500, { durationMs: 30, statusCode: 500 }],
    [404, { durationMs: 30, statusCode: 404 }],
    ['a timeout', { durationMs: 10_000, error: { code: 'timeout', message: 'no complete response within 10000 ms' } }],
  ] as const)('a non-2xx (%s) makes the delivery failed, retried on the schedule', async (_case, answer) => {
    const s = setup({ answer });
    const report = attempted(await s.run());
    expect(report.attempt.outcome).toBe('failed');
    expect(report.delivery).toMatchObject({ status: 'failed', scheduledAttempts: 1, nextAttemptAt: at(FIRST_DAILY_DELAY * 1000) });
    expect(s.queue.calls).toEqual([{ tasks: [jobFor(s.delivery)], delaySeconds: FIRST_DAILY_DELAY, lane: 'retry' }]);
    expect(s.endpoints.failureCalls).toEqual([{ tenantId: TENANT, id: THIN.id, at: T0.toISOString() }]);
  });

  test('a 2xx after a failure makes a failed delivery pending again and ends the endpoint’s run of failures', async () => {
    const endpoint = { ...THIN, failingSince: at(-60_000), consecutiveFailures: 1 };
    const s = setup({ endpoint, delivery: aDelivery({ status: 'failed', attemptCount: 1, lastStatusCode: 500, lastError: 'boom' }) });
    // A failing endpoint is served from the retry lane.
    const report = attempted(await s.run(jobFor(s.delivery), 'retry'));
    expect(report.delivery.status).toBe('pending');
    expect(report.delivery.lastError).toBeUndefined();
    expect(s.endpoints.successCalls).toEqual([{ tenantId: TENANT, id: THIN.id }]);
    expect(s.endpoints.endpoints.get(THIN.id)?.failingSince).toBeUndefined();
  });

  test('the notification: empty body, x-message-id, no content-type, signed over the empty body, default user-agent', async () => {
    const s = setup();
    await s.run();
    const [request] = s.sender.requests;
    if (!request) throw new Error('nothing was sent');
    expect(request.url).toBe(THIN.url);
    expect(request.body).toBe('');
    expect(request.headers['x-message-id']).toBe(s.delivery.id);
    expect(request.headers).not.toHaveProperty('content-type');
    expect(request.headers['user-agent']).toBe(USER_AGENT);
    expect(request.headers['webhook-id']).toBe(s.message.id);
    const seconds = Number(request.headers['webhook-timestamp']);
    expect(request.headers['webhook-signature']).toBe(`v1,${expectedSignature(SECRET, s.message.id, seconds, '')}`);
    // The payload never travels in a thin notification.
    expect(JSON.stringify(request)).not.toContain('L-1');
  });

  test('the notification carries the endpoint’s userAgent when it has one', async () => {
    const s = setup({ endpoint: { ...THIN, userAgent: 'Acme-Notifier/2.1' } });
    await s.run();
    expect(s.sender.requests[0]?.headers['user-agent']).toBe('Acme-Notifier/2.1');
    expect(s.sender.requests[0]?.body).toBe('');
  });

  test('an acknowledged delivery is not notified again: its scheduled job is skipped', async () => {
    const s = setup();
    attempted(await s.run());
    const [nextJob] = s.queue.jobs;
    if (!nextJob) throw new Error('no next notification was scheduled');
    expect((await s.inbox.acknowledge(RECEIVER, s.delivery.id)).alreadyAcknowledged).toBe(false);
    s.clock.advance(FIRST_DAILY_DELAY * 1000);
    expect(await s.run(nextJob)).toEqual({ kind: 'skipped', deliveryId: s.delivery.id, reason: 'delivery is already acknowledged' });
    expect(s.sender.requests).toHaveLength(1);
    expect(s.stored()?.status).toBe('acknowledged');
  });

  test('a dead thin delivery can still be acknowledged, and is not notified again', async () => {
    const endpoint = anEndpoint({ mode: 'thin', retryPolicy: { delaysSeconds: [7] } });
    const s = setup({ endpoint, delivery: aDelivery({ attemptCount: 1, scheduledAttempts: 1 }) });
    expect(attempted(await s.run()).delivery.status).toBe('dead');
    expect((await s.inbox.acknowledge(RECEIVER, s.delivery.id)).alreadyAcknowledged).toBe(false);
    expect(s.stored()?.status).toBe('acknowledged');
    expect(await s.run()).toMatchObject({ kind: 'skipped', reason: 'delivery is already acknowledged' });
  });

  test('a manual notification before the next one is due leaves the schedule as it was', async () => {
    const s = setup();
    attempted(await s.run());
    s.clock.advance(10_000);
    const manual = attempted(await s.run(jobFor(s.delivery, 'manual')));
    expect(manual.attempt).toMatchObject({ attempt: 2, trigger: 'manual', outcome: 'succeeded' });
    expect(manual.delivery).toMatchObject({ status: 'pending', scheduledAttempts: 1, nextAttemptAt: at(FIRST_DAILY_DELAY * 1000) });
    expect(s.queue.calls).toHaveLength(1);
  });
});

describe('DeliveryService.runFirst: thin endpoints', () => {
  /** The delivery id dispatch's first attempt derives for the harness's message and THIN. */
  const firstIdOf = (s: ReturnType<typeof setup>) => deliveryIdFor(s.message.id, THIN.id);

  test('a 2xx to the first notification keeps the delivery pending: recorded before the POST, with the next notification queued', async () => {
    const s = setup();
    const [report, ...rest] = await s.runFirst();
    expect(rest).toEqual([]);
    if (!report) throw new Error('no report');
    const id = firstIdOf(s);
    expect(report.ids).toEqual({ tenantId: s.message.tenantId, messageId: s.message.id, endpointId: THIN.id, deliveryId: id });
    const notified = attempted(report);
    expect(notified.attempt).toMatchObject({ deliveryId: id, attempt: 1, statusCode: 202, outcome: 'succeeded', trigger: 'scheduled' });
    expect(notified.delivery).toEqual({
      id,
      tenantId: TENANT,
      messageId: s.message.id,
      endpointId: THIN.id,
      eventType: s.message.type,
      status: 'pending',
      attemptCount: 1,
      scheduledAttempts: 1,
      lastAttemptAt: T0.toISOString(),
      lastStatusCode: 202,
      nextAttemptAt: at(FIRST_DAILY_DELAY * 1000),
      createdAt: s.message.createdAt,
      updatedAt: T0.toISOString(),
    });
    expect(notified.retryInSeconds).toBe(FIRST_DAILY_DELAY);
    // The pending delivery was created before the notification, then the attempt recorded on it
    // conditionally; never the unconditional write of a success.
    const created = {
      id,
      tenantId: TENANT,
      messageId: s.message.id,
      endpointId: THIN.id,
      eventType: s.message.type,
      status: 'pending',
      attemptCount: 0,
      scheduledAttempts: 0,
      nextAttemptAt: T0.toISOString(),
      createdAt: s.message.createdAt,
      updatedAt: T0.toISOString(),
    };
    expect(s.deliveries.createCalls).toEqual([created]);
    expect(s.deliveries.recordCalls).toEqual([{ delivery: notified.delivery, previous: created, attempt: notified.attempt }]);
    expect(s.deliveries.firstCalls).toEqual([]);
    expect(s.deliveries.settleCalls).toEqual([]);
    expect(s.deliveries.deliveries.get(id)).toEqual(notified.delivery);
    const next = { deliveryId: id, tenantId: TENANT, messageId: s.message.id, endpointId: THIN.id };
    expect(s.queue.calls).toEqual([{ tasks: [next], delaySeconds: FIRST_DAILY_DELAY, lane: 'retry' }]);
    expect(s.endpoints.failureCalls).toEqual([]);
  });

  test('the first notification is thin though the job carries the payload: empty body, x-message-id is the delivery id', async () => {
    const s = setup();
    const job = firstJobFor(s.message, [THIN.id]);
    expect(job.payloadJson).toBe(s.message.payloadJson);
    await s.runFirst(job);
    const [request] = s.sender.requests;
    if (!request) throw new Error('nothing was sent');
    expect(request.body).toBe('');
    expect(request.headers['x-message-id']).toBe(firstIdOf(s));
    expect(request.headers['x-sluice-delivery-id']).toBe(firstIdOf(s));
    expect(request.headers).not.toHaveProperty('content-type');
    const seconds = Number(request.headers['webhook-timestamp']);
    expect(request.headers['webhook-signature']).toBe(`v1,${expectedSignature(SECRET, s.message.id, seconds, '')}`);
    expect(JSON.stringify(request)).not.toContain('L-1');
  });

  test('the delivery is in the ledger when the notification goes out: a receiver that fetches at once finds it', async () => {
    const s = setup();
    const seenBySender: (string | undefined)[] = [];
    s.sender.answer((request) => {
      // What GET /v1/inbox/{id} would read at this moment.
      seenBySender.push(s.deliveries.deliveries.get(request.headers['x-message-id'] ?? '')?.status);
      return { durationMs: 5, statusCode: 202 };
    });
    await s.runFirst();
    expect(seenBySender).toEqual(['pending']);
  });

  test('a copy of the job that notified too is skipped before it notifies: the first record stands, one next notification', async () => {
    const s = setup();
    const job = firstJobFor(s.message, [THIN.id]);
    await s.runFirst(job);
    // SQS hands the same job to another worker that does not know (receiveCount 1: nothing read).
    const [copy] = await s.runFirst(job);
    expect(copy).toMatchObject({ kind: 'skipped', reason: 'already in the ledger' });
    expect(s.sender.requests).toHaveLength(1);
    expect(s.deliveries.attempts.get(firstIdOf(s))).toHaveLength(1);
    expect(s.queue.calls).toHaveLength(1);
  });

  test('acknowledged after the first notification: the next one is skipped', async () => {
    const s = setup();
    await s.runFirst();
    const [nextJob] = s.queue.jobs;
    if (!nextJob) throw new Error('no next notification was scheduled');
    expect((await s.inbox.acknowledge(RECEIVER, firstIdOf(s))).alreadyAcknowledged).toBe(false);
    s.clock.advance(FIRST_DAILY_DELAY * 1000);
    expect(await s.run(nextJob, 'retry')).toEqual({
      kind: 'skipped',
      deliveryId: firstIdOf(s),
      reason: 'delivery is already acknowledged',
    });
    expect(s.sender.requests).toHaveLength(1);
  });

  test('a non-2xx to the first notification makes it failed, retried on the schedule', async () => {
    const s = setup({ answer: { durationMs: 30, statusCode: 500 } });
    const [report] = await s.runFirst();
    if (!report) throw new Error('no report');
    expect(attempted(report).delivery).toMatchObject({
      status: 'failed',
      scheduledAttempts: 1,
      nextAttemptAt: at(FIRST_DAILY_DELAY * 1000),
    });
    expect(s.deliveries.createCalls).toHaveLength(1);
    expect(s.deliveries.recordCalls).toHaveLength(1);
    expect(s.queue.calls.map((c) => [c.delaySeconds, c.lane])).toEqual([[FIRST_DAILY_DELAY, 'retry']]);
    expect(s.endpoints.failureCalls).toEqual([{ tenantId: TENANT, id: THIN.id, at: T0.toISOString() }]);
  });
});
