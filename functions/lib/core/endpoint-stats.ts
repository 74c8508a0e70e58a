import type { Clock } from './clock.ts';
import { type CreatedWindow, checkCreatedWindow } from './created-window.ts';
import { NotFoundError, ValidationError } from './errors.ts';
import { timeOfId } from './ids.ts';
import type { DeliveryStatus } from './model.ts';
import type { DeliveryStatusEntry, DeliveryStore, EndpointStore } from './ports.ts';

/** The bucket sizes a chart may ask for, in seconds; buckets start on UTC multiples of their size. */
export const statsBuckets = { hour: 3_600, day: 86_400 } as const;
export type StatsBucket = keyof typeof statsBuckets;

const HOUR_MS = 3_600_000;
/** The window when the caller names none: the last 24 hours. */
export const DEFAULT_STATS_WINDOW_MS = 24 * HOUR_MS;
/** The widest window: 168 hourly buckets, and a bound on what one call may be asked to read. */
export const MAX_STATS_WINDOW_MS = 7 * 24 * HOUR_MS;
/**
 * Deliveries counted per call, newest first. Counting reads index entries only (~140 bytes: keys,
 * id, status), about 30 per 4 KB at 0.5 read unit, so the cap bounds a call to ~170 read units
 * however busy the endpoint; beyond it the answer says `truncated`.
 */
export const MAX_COUNTED_DELIVERIES = 10_000;
/** Newest deliveries whose first attempt is read for latency: one BatchGetItem, 0.5 read unit per item under 4 KB. */
export const LATENCY_SAMPLE_SIZE = 100;

export type StatusCounts = { readonly deliveries: number } & Readonly<Record<DeliveryStatus, number>>;

export interface BucketCounts extends StatusCounts {
  /** ISO 8601 start of the bucket; the first and last may be cut by the window. */
  readonly start: string;
}

export interface LatencySummary {
  /** First attempts in the sample that had a duration; the percentiles are absent when none. */
  readonly sampled: number;
  readonly p50Ms?: number;
  readonly p95Ms?: number;
  readonly maxMs?: number;
}

export interface EndpointStats {
  readonly endpointId: string;
  readonly after: string;
  readonly before: string;
  readonly bucketSeconds: number;
  readonly totals: StatusCounts;
  readonly buckets: readonly BucketCounts[];
  /** More deliveries were in the window than one call counts: only the newest were. */
  readonly truncated: boolean;
  /** When truncated: the creation time of the oldest delivery counted; older ones were not read. */
  readonly countedFrom?: string;
  readonly latency: LatencySummary;
}

export interface StatsRequest extends CreatedWindow {
  readonly bucket: StatsBucket;
}

/** A closed window: both ends known. */
export interface StatsWindow {
  readonly after: Date;
  readonly before: Date;
}

/**
 * The window a stats call covers: `before` defaults to now and `after` to 24 h before `before`.
 * Empty, inverted or wider than 7 days is the caller's mistake (400), not an empty chart.
 */
export function statsWindow(window: CreatedWindow, now: Date): StatsWindow {
  const before = window.before ?? now;
  const after = window.after ?? new Date(before.getTime() - DEFAULT_STATS_WINDOW_MS);
  checkCreatedWindow({ after, before });
  if (before.getTime() - after.getTime() > MAX_STATS_WINDOW_MS) {
    throw new ValidationError('the stats window is at most 7 days: narrow `after` and `before`', [
      { path: 'query.after', message: `must be at most 7 days before ${before.toISOString()}` },
    ]);
  }
  return { after, before };
}

function zeroCounts(): Record<keyof StatusCounts, number> {
  return { deliveries: 0, pending: 0, succeeded: 0, failed: 0, dead: 0, acknowledged: 0 };
}

/**
 * Counts per status per bucket, from the deliveries' ids (an id carries its message's creation
 * time). Every bucket of the window is present, empty ones as zeros, so a chart needs no gap
 * filling. Entries outside the window are ignored.
 */
export function countByBucket(
  entries: readonly DeliveryStatusEntry[],
  window: StatsWindow,
  bucketSeconds: number,
): { totals: StatusCounts; buckets: BucketCounts[] } {
  const size = bucketSeconds * 1000;
  const first = Math.floor(window.after.getTime() / size) * size;
  const end = window.before.getTime();
  const counts: Record<keyof StatusCounts, number>[] = [];
  for (let start = first; start < end; start += size) counts.push(zeroCounts());
  const totals = zeroCounts();
  for (const entry of entries) {
    const at = timeOfId(entry.id).getTime();
    if (at < window.after.getTime() || at >= end) continue;
    const bucket = counts[Math.floor((at - first) / size)];
    if (!bucket) continue;
    bucket[entry.status] += 1;
    bucket.deliveries += 1;
    totals[entry.status] += 1;
    totals.deliveries += 1;
  }
  return { totals, buckets: counts.map((bucket, i) => ({ start: new Date(first + i * size).toISOString(), ...bucket })) };
}

/** The nearest-rank percentile (0 < p ≤ 1) of values sorted ascending: always one of the values. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1];
}

export function latencyOf(durations: readonly number[]): LatencySummary {
  const sorted = [...durations].sort((a, b) => a - b);
  const [p50Ms, p95Ms, maxMs] = [percentile(sorted, 0.5), percentile(sorted, 0.95), sorted.at(-1)];
  return {
    sampled: sorted.length,
    ...(p50Ms !== undefined && { p50Ms }),
    ...(p95Ms !== undefined && { p95Ms }),
    ...(maxMs !== undefined && { maxMs }),
  };
}

/**
 * An endpoint's deliveries over a window of creation time, per status and bucket, with the
 * latency of a sample of first attempts: what a portal charts, read from the ledger rather than
 * from per-endpoint metrics. Counting reads the endpoint's history index only; latency reads the
 * newest deliveries' first attempts, since index entries carry no duration and a write per
 * delivery to keep one is what this avoids.
 */
export class EndpointStatsService {
  constructor(
    private readonly deps: {
      readonly deliveries: DeliveryStore;
      readonly endpoints: EndpointStore;
      readonly clock: Clock;
    },
  ) {}

  async stats(tenantId: string, endpointId: string, request: StatsRequest): Promise<EndpointStats> {
    const window = statsWindow(request, this.deps.clock.now());
    if (!(await this.deps.endpoints.get(tenantId, endpointId))) throw new NotFoundError('endpoint', endpointId);
    // One more than counted: its presence is what says the window held more.
    const read = await this.deps.deliveries.statusesByEndpoint(endpointId, window, MAX_COUNTED_DELIVERIES + 1);
    const truncated = read.length > MAX_COUNTED_DELIVERIES;
    const entries = truncated ? read.slice(0, MAX_COUNTED_DELIVERIES) : read;
    const sample = entries.slice(0, LATENCY_SAMPLE_SIZE).map((entry) => entry.id);
    const durations = sample.length > 0 ? await this.deps.deliveries.firstAttemptDurations(sample) : new Map<string, number>();
    const bucketSeconds = statsBuckets[request.bucket];
    const oldest = entries.at(-1);
    return {
      endpointId,
      after: window.after.toISOString(),
      before: window.before.toISOString(),
      bucketSeconds,
      ...countByBucket(entries, window, bucketSeconds),
      truncated,
      ...(truncated && oldest && { countedFrom: timeOfId(oldest.id).toISOString() }),
      latency: latencyOf([...durations.values()]),
    };
  }
}
