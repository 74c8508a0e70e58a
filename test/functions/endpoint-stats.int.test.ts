/**
 * Integration (real local stack, real receivers): `GET /v1/endpoints/{id}/stats`. What receivers
 * were sent and how they answered adds up to what the stats say, per status and per bucket, with
 * the latency of the first attempts; the tenant check and the window rules hold over HTTP.
 */
import { receiverPool } from '../support/receiver.ts';
import { call, createEndpoint, createKey, createTenant, eventually, postMessage, putEventType, type TestTenant } from '../support/stack.ts';

interface Counts {
  deliveries: number;
  succeeded: number;
  failed: number;
  dead: number;
  pending: number;
  acknowledged: number;
}

interface Stats {
  endpointId: string;
  after: string;
  before: string;
  bucketSeconds: number;
  totals: Counts;
  buckets: (Counts & { start: string })[];
  truncated: boolean;
  countedFrom?: string;
  latency: { sampled: number; p50Ms?: number; p95Ms?: number; maxMs?: number };
}

const statuses = ['succeeded', 'failed', 'dead', 'pending', 'acknowledged'] as const;
/** How long the receivers take to accept: a floor for the latency of successful first attempts. */
const OK_DELAY_MS = 40;

function sumOf(buckets: readonly Counts[]): Counts {
  const sum: Counts = { deliveries: 0, succeeded: 0, failed: 0, dead: 0, pending: 0, acknowledged: 0 };
  for (const bucket of buckets) {
    sum.deliveries += bucket.deliveries;
    for (const status of statuses) sum[status] += bucket[status];
  }
  return sum;
}

describe('GET /v1/endpoints/{id}/stats', () => {
  const receivers = receiverPool();
  let tenant: TestTenant;

  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'order.placed');
  });
  afterAll(() => receivers.closeAll());

  /** Accepts `{"ok":true}` events after a short while, refuses the others at once. */
  const startReceiver = () =>
    receivers.start((request, _index, res) => {
      const { data } = JSON.parse(request.body) as { data: { ok: boolean } };
      if (!data.ok) {
        res.writeHead(500);
        res.end('no');
        return;
      }
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          res.writeHead(200);
          res.end('ok');
          resolve();
        }, OK_DELAY_MS),
      );
    });

  test('what was sent adds up: succeeded, failed with a retry scheduled, dead; per hour and per day; with first-attempt latency', async () => {
    // Two endpoints, the same messages: one gives up after a second try, the other retries in an hour.
    const dying = await createEndpoint(tenant, { url: (await startReceiver()).url, retryPolicy: { delaysSeconds: [1] } });
    const retrying = await createEndpoint(tenant, { url: (await startReceiver()).url, retryPolicy: { delaysSeconds: [3600] } });
    const sentAt = Date.now();
    for (const ok of [true, false, true, true, false, true, false, true]) await postMessage(tenant, 'order.placed', { ok });

    const statsOf = async (endpointId: string, query = '') => {
      const response = await call<Stats>('GET', `/v1/endpoints/${endpointId}/stats${query}`, { key: tenant.key });
      expect(response.status).toBe(200);
      return response.body;
    };
    const settled = (endpointId: string, expected: Partial<Counts>) =>
      eventually(
        async () => {
          const stats = await statsOf(endpointId);
          return Object.entries(expected).every(([status, n]) => stats.totals[status as keyof Counts] === n) ? stats : undefined;
        },
        `the stats of ${endpointId} to reach ${JSON.stringify(expected)}`,
        30_000,
        250,
      );

    const dead = await settled(dying.id, { deliveries: 8, succeeded: 5, dead: 3, failed: 0, pending: 0, acknowledged: 0 });
    const failing = await settled(retrying.id, { deliveries: 8, succeeded: 5, failed: 3, dead: 0, pending: 0, acknowledged: 0 });

    for (const stats of [dead, failing]) {
      // The default window: the last 24 h, in hours, every hour present; the buckets add up to the totals.
      expect(stats.bucketSeconds).toBe(3600);
      expect(Date.parse(stats.before) - Date.parse(stats.after)).toBe(86_400_000);
      expect(Date.parse(stats.before)).toBeGreaterThanOrEqual(sentAt);
      expect(stats.buckets.length).toBeGreaterThanOrEqual(24);
      expect(stats.buckets.length).toBeLessThanOrEqual(25);
      expect(sumOf(stats.buckets)).toEqual(stats.totals);
      expect(stats.truncated).toBe(false);
      expect(stats).not.toHaveProperty('countedFrom');
      // Every delivery's first attempt is in the sample; five of eight waited OK_DELAY_MS, so the median did too.
      expect(stats.latency.sampled).toBe(8);
      const { p50Ms = -1, p95Ms = -1, maxMs = -1 } = stats.latency;
      expect(p50Ms).toBeGreaterThanOrEqual(OK_DELAY_MS);
      expect(p95Ms).toBeGreaterThanOrEqual(p50Ms);
      expect(maxMs).toBeGreaterThanOrEqual(p95Ms);
    }
    expect(dead.endpointId).toBe(dying.id);

    // By day, and over a window that ends before anything was sent.
    const daily = await statsOf(dying.id, '?bucket=day');
    expect(daily.bucketSeconds).toBe(86_400);
    expect(daily.buckets.every((b) => b.start.endsWith('T00:00:00.000Z'))).toBe(true);
    expect(daily.totals).toEqual(dead.totals);
    const before = new Date(sentAt - 60_000).toISOString();
    const earlier = await statsOf(dying.id, `?before=${encodeURIComponent(before)}`);
    expect(earlier.totals.deliveries).toBe(0);
    expect(earlier.latency).toEqual({ sampled: 0 });
    expect(earlier.before).toBe(before);
  });

  test("another tenant's endpoint is a 404; a key without admin is a 403; a window over 7 days or an unknown bucket is a 400", async () => {
    const endpoint = await createEndpoint(tenant, { url: (await startReceiver()).url });
    const other = await createTenant();
    const notFound = await call<{ error: { code: string } }>('GET', `/v1/endpoints/${endpoint.id}/stats`, { key: other.key });
    expect(notFound.status).toBe(404);
    expect(notFound.body.error.code).toBe('not_found');
    const ingestKey = await createKey(tenant, ['ingest']);
    expect((await call('GET', `/v1/endpoints/${endpoint.id}/stats`, { key: ingestKey })).status).toBe(403);
    for (const query of [
      '?after=2026-01-01T00:00:00Z&before=2026-01-08T00:00:01Z',
      '?after=2026-01-02T00:00:00Z&before=2026-01-01T00:00:00Z',
      '?bucket=week',
      '?since=2026-01-01T00:00:00Z',
    ]) {
      const refused = await call<{ error: { code: string } }>('GET', `/v1/endpoints/${endpoint.id}/stats${query}`, { key: tenant.key });
      expect({ query, status: refused.status, code: refused.body.error.code }).toEqual({ query, status: 400, code: 'validation_failed' });
    }
    const week = await call<Stats>('GET', `/v1/endpoints/${endpoint.id}/stats?after=2026-01-01T00:00:00Z&before=2026-01-08T00:00:00Z`, {
      key: tenant.key,
    });
    expect(week.status).toBe(200);
    expect(week.body.buckets).toHaveLength(168);
  });
});
