import {
  countByBucket,
  EndpointStatsService,
  LATENCY_SAMPLE_SIZE,
  latencyOf,
  MAX_COUNTED_DELIVERIES,
  percentile,
  statsWindow,
} from '../../../../functions/lib/core/endpoint-stats.ts';
import { NotFoundError, ValidationError } from '../../../../functions/lib/core/errors.ts';
import { ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import type { Attempt, DeliveryStatus } from '../../../../functions/lib/core/model.ts';
import type { DeliveryStatusEntry } from '../../../../functions/lib/core/ports.ts';
import { aDelivery, anEndpoint, FakeClock, InMemoryDeliveryStore, InMemoryEndpointStore, TENANT } from './fakes.ts';

const HOUR = 3_600_000;
const ids = ulidIdGenerator();
/** A delivery id whose message was created at `at` (the id carries that time). */
const deliveryAt = (at: Date | string) => `dlv_${ids.next('message', new Date(at)).slice(4)}ABCDEFGHJKMN`;
const entry = (at: string, status: DeliveryStatus): DeliveryStatusEntry => ({ id: deliveryAt(at), status });
const at = (iso: string) => new Date(iso);

describe('statsWindow: the window a stats call covers', () => {
  const now = at('2025-03-01T12:34:56.000Z');

  test('by default the last 24 hours; `before` alone ends it there, `after` alone runs to now', () => {
    expect(statsWindow({}, now)).toEqual({ after: at('2025-02-28T12:34:56.000Z'), before: now });
    expect(statsWindow({ before: at('2025-02-20T00:00:00Z') }, now)).toEqual({
      after: at('2025-02-19T00:00:00Z'),
      before: at('2025-02-20T00:00:00Z'),
    });
    expect(statsWindow({ after: at('2025-02-25T00:00:00Z') }, now)).toEqual({ after: at('2025-02-25T00:00:00Z'), before: now });
  });

  test('at most 7 days; an empty, inverted or wider window is a 400', () => {
    expect(statsWindow({ after: at('2025-02-22T12:34:56.000Z') }, now).after).toEqual(at('2025-02-22T12:34:56.000Z'));
    for (const window of [
      { after: at('2025-02-22T12:34:55.999Z') },
      { after: now, before: now },
      { after: at('2025-03-02T00:00:00Z'), before: at('2025-03-01T00:00:00Z') },
      { after: at('2025-03-02T00:00:00Z') },
    ]) {
      expect(() => statsWindow(window, now)).toThrow(ValidationError);
    }
  });
});

describe('countByBucket: counts per status per bucket from the ids alone', () => {
  test('an hour bucket holds [start, start + 1 h): the last millisecond of an hour and the first of the next part ways', () => {
    const window = { after: at('2025-03-01T12:00:00Z'), before: at('2025-03-01T15:00:00Z') };
    const { totals, buckets } = countByBucket(
      [
        entry('2025-03-01T12:00:00.000Z', 'succeeded'),
        entry('2025-03-01T12:59:59.999Z', 'failed'),
        entry('2025-03-01T13:00:00.000Z', 'dead'),
        entry('2025-03-01T14:59:59.999Z', 'acknowledged'),
        entry('2025-03-01T14:30:00.000Z', 'pending'),
        entry('2025-03-01T14:30:00.000Z', 'succeeded'),
      ],
      window,
      3_600,
    );
    expect(buckets).toEqual([
      { start: '2025-03-01T12:00:00.000Z', deliveries: 2, succeeded: 1, failed: 1, dead: 0, pending: 0, acknowledged: 0 },
      { start: '2025-03-01T13:00:00.000Z', deliveries: 1, succeeded: 0, failed: 0, dead: 1, pending: 0, acknowledged: 0 },
      { start: '2025-03-01T14:00:00.000Z', deliveries: 3, succeeded: 1, failed: 0, dead: 0, pending: 1, acknowledged: 1 },
    ]);
    expect(totals).toEqual({ deliveries: 6, succeeded: 2, failed: 1, dead: 1, pending: 1, acknowledged: 1 });
  });

  test('a window off the hour: buckets still start on the hour, the first and last cut by the window; `before` is exclusive', () => {
    const window = { after: at('2025-03-01T12:30:00Z'), before: at('2025-03-01T14:15:00Z') };
    const { totals, buckets } = countByBucket(
      [
        entry('2025-03-01T12:29:59.999Z', 'succeeded'), // before the window
        entry('2025-03-01T12:30:00.000Z', 'succeeded'),
        entry('2025-03-01T14:14:59.999Z', 'failed'),
        entry('2025-03-01T14:15:00.000Z', 'failed'), // at `before`: outside
      ],
      window,
      3_600,
    );
    expect(buckets.map((b) => [b.start, b.deliveries])).toEqual([
      ['2025-03-01T12:00:00.000Z', 1],
      ['2025-03-01T13:00:00.000Z', 0],
      ['2025-03-01T14:00:00.000Z', 1],
    ]);
    expect(totals.deliveries).toBe(2);
  });

  test('an empty window: every bucket present, all zeros, so a chart needs no gap filling', () => {
    const aligned = countByBucket([], { after: at('2025-03-01T00:00:00Z'), before: at('2025-03-02T00:00:00Z') }, 3_600);
    expect(aligned.buckets).toHaveLength(24);
    expect(aligned.buckets.every((b) => b.deliveries === 0 && b.succeeded === 0 && b.dead === 0)).toBe(true);
    expect(aligned.totals).toEqual({ deliveries: 0, succeeded: 0, failed: 0, dead: 0, pending: 0, acknowledged: 0 });
    // A misaligned 24 h touches 25 hours; 7 days is at most 169 buckets.
    expect(countByBucket([], { after: at('2025-03-01T00:00:01Z'), before: at('2025-03-02T00:00:01Z') }, 3_600).buckets).toHaveLength(25);
    expect(countByBucket([], { after: at('2025-03-01T00:30:00Z'), before: at('2025-03-08T00:30:00Z') }, 3_600).buckets).toHaveLength(169);
  });

  test('day buckets start at UTC midnight', () => {
    const { buckets } = countByBucket(
      [entry('2025-03-01T23:59:59.999Z', 'succeeded'), entry('2025-03-02T00:00:00.000Z', 'succeeded')],
      { after: at('2025-03-01T06:00:00Z'), before: at('2025-03-03T06:00:00Z') },
      86_400,
    );
    expect(buckets.map((b) => [b.start, b.deliveries])).toEqual([
      ['2025-03-01T00:00:00.000Z', 1],
      ['2025-03-02T00:00:00.000Z', 1],
      ['2025-03-03T00:00:00.000Z', 0],
    ]);
  });
});

describe('percentiles of the latency sample', () => {
  test('nearest rank: always one of the sampled values', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(hundred, 0.5), percentile(hundred, 0.95), percentile(hundred, 1)]).toEqual([50, 95, 100]);
    expect([percentile([7], 0.5), percentile([7], 0.95)]).toEqual([7, 7]);
    expect([percentile([10, 20], 0.5), percentile([10, 20], 0.95)]).toEqual([10, 20]);
    expect(percentile([], 0.5)).toBeUndefined();
  });

  test('latencyOf sorts, and says how many were sampled; with none, no percentile is made up', () => {
    expect(latencyOf([300, 5, 40, 12, 9000, 25, 18, 33, 41, 60])).toEqual({ sampled: 10, p50Ms: 33, p95Ms: 9000, maxMs: 9000 });
    expect(latencyOf([])).toEqual({ sampled: 0 });
  });
});

describe('EndpointStatsService.stats', () => {
  const endpoint = anEndpoint();
  const now = at('2025-03-01T12:30:00.000Z');

  function setup(deliveries: ReturnType<typeof aDelivery>[] = []) {
    const store = new InMemoryDeliveryStore(deliveries);
    const service = new EndpointStatsService({
      deliveries: store,
      endpoints: new InMemoryEndpointStore([endpoint]),
      clock: new FakeClock(now),
    });
    return { store, service };
  }

  function firstAttempt(deliveryId: string, durationMs: number): Attempt {
    return {
      deliveryId,
      attempt: 1,
      trigger: 'scheduled',
      startedAt: now.toISOString(),
      durationMs,
      statusCode: 200,
      outcome: 'succeeded',
    };
  }

  test('counts per status per hour over the last 24 h, thin acknowledgements included, with the latency of first attempts', async () => {
    const made = [
      aDelivery({ id: deliveryAt('2025-03-01T11:10:00Z'), status: 'succeeded' }),
      aDelivery({ id: deliveryAt('2025-03-01T11:20:00Z'), status: 'acknowledged' }),
      aDelivery({ id: deliveryAt('2025-03-01T12:05:00Z'), status: 'failed' }),
      aDelivery({ id: deliveryAt('2025-03-01T12:06:00Z'), status: 'pending' }), // paused: no attempt yet
      aDelivery({ id: deliveryAt('2025-02-28T12:00:00Z'), status: 'dead' }), // before the window
      aDelivery({ id: deliveryAt('2025-03-01T12:00:00Z'), status: 'dead', endpointId: 'ep_OTHER' }),
    ];
    const s = setup(made);
    for (const [delivery, ms] of [
      [made[0], 120],
      [made[1], 30],
      [made[2], 10_000],
    ] as const) {
      if (delivery) s.store.attempts.set(delivery.id, [firstAttempt(delivery.id, ms)]);
    }
    const stats = await s.service.stats(TENANT, endpoint.id, { bucket: 'hour' });
    expect(stats).toMatchObject({
      endpointId: endpoint.id,
      after: '2025-02-28T12:30:00.000Z',
      before: '2025-03-01T12:30:00.000Z',
      bucketSeconds: 3_600,
      totals: { deliveries: 4, succeeded: 1, failed: 1, dead: 0, pending: 1, acknowledged: 1 },
      truncated: false,
      latency: { sampled: 3, p50Ms: 120, p95Ms: 10_000, maxMs: 10_000 },
    });
    expect(stats).not.toHaveProperty('countedFrom');
    expect(stats.buckets).toHaveLength(25);
    expect(stats.buckets.at(-2)).toEqual({
      start: '2025-03-01T11:00:00.000Z',
      deliveries: 2,
      succeeded: 1,
      failed: 0,
      dead: 0,
      pending: 0,
      acknowledged: 1,
    });
    expect(stats.buckets.at(-1)).toMatchObject({ start: '2025-03-01T12:00:00.000Z', deliveries: 2, failed: 1, pending: 1 });
  });

  test('an empty window answers zeros and an empty sample, and reads no delivery item', async () => {
    const s = setup();
    const durations = jest.spyOn(s.store, 'firstAttemptDurations');
    const stats = await s.service.stats(TENANT, endpoint.id, { bucket: 'day', after: at('2025-02-27T00:00:00Z') });
    expect(stats.bucketSeconds).toBe(86_400);
    expect(stats.buckets.map((b) => b.start)).toEqual(['2025-02-27T00:00:00.000Z', '2025-02-28T00:00:00.000Z', '2025-03-01T00:00:00.000Z']);
    expect(stats.totals.deliveries).toBe(0);
    expect(stats.latency).toEqual({ sampled: 0 });
    expect(stats.truncated).toBe(false);
    expect(durations).not.toHaveBeenCalled();
  });

  test(`a busy endpoint: the newest ${MAX_COUNTED_DELIVERIES} are counted, the answer says truncated and from when; latency samples the newest ${LATENCY_SAMPLE_SIZE}`, async () => {
    const start = at('2025-03-01T00:00:00Z').getTime();
    // One delivery a second for 10 001 seconds: the oldest one is left out.
    const made = Array.from({ length: MAX_COUNTED_DELIVERIES + 1 }, (_, i) =>
      aDelivery({ id: deliveryAt(new Date(start + i * 1000)), status: 'succeeded' }),
    );
    const s = setup(made);
    const statuses = jest.spyOn(s.store, 'statusesByEndpoint');
    const durations = jest.spyOn(s.store, 'firstAttemptDurations');
    const stats = await s.service.stats(TENANT, endpoint.id, { bucket: 'hour', after: at('2025-03-01T00:00:00Z') });
    expect(statuses).toHaveBeenCalledWith(endpoint.id, expect.anything(), MAX_COUNTED_DELIVERIES + 1);
    expect(stats.truncated).toBe(true);
    expect(stats.totals.deliveries).toBe(MAX_COUNTED_DELIVERIES);
    expect(stats.countedFrom).toBe(new Date(start + 1000).toISOString());
    expect(stats.buckets[0]?.deliveries).toBe(HOUR / 1000 - 1);
    const sampled = durations.mock.calls[0]?.[0] ?? [];
    expect(sampled).toHaveLength(LATENCY_SAMPLE_SIZE);
    expect(sampled).toEqual(
      made
        .slice(-LATENCY_SAMPLE_SIZE)
        .map((d) => d.id)
        .reverse(),
    );
    // Exactly the cap is not truncated.
    const exact = setup(made.slice(1));
    expect((await exact.service.stats(TENANT, endpoint.id, { bucket: 'hour', after: at('2025-03-01T00:00:00Z') })).truncated).toBe(false);
  });

  test("another tenant's endpoint, or none, is a 404, and nothing is read; a bad window is a 400 before anything is", async () => {
    const s = setup([aDelivery({ id: deliveryAt('2025-03-01T12:00:00Z'), status: 'succeeded' })]);
    const statuses = jest.spyOn(s.store, 'statusesByEndpoint');
    await expect(s.service.stats('ten_01JN00000000000000000OTHER', endpoint.id, { bucket: 'hour' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.service.stats(TENANT, 'ep_01JN0000000000000000000NONE', { bucket: 'hour' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.service.stats(TENANT, endpoint.id, { bucket: 'hour', after: at('2025-01-01T00:00:00Z') })).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(statuses).not.toHaveBeenCalled();
  });
});
