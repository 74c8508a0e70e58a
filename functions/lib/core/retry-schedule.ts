import type { RetryPolicy, RetryPreset } from './model.ts';

const MINUTE = 60;
const HOUR = 3600;

/** Delay before each retry, after the first attempt (contract §5). */
export const presetDelaysSeconds: Readonly<Record<RetryPreset, readonly number[]>> = {
  exponential: [5, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR],
  linear: [1 * MINUTE, 2 * MINUTE, 3 * MINUTE, 4 * MINUTE],
  daily: [1, 2, 4, 8, 16, 32].map((m) => m * MINUTE).concat([1, 2, 4, 8, 8].map((h) => h * HOUR)),
};

export const JITTER = 0.1;
export const MIN_CUSTOM_DELAY_SECONDS = 1;
export const MAX_CUSTOM_DELAY_SECONDS = 12 * HOUR;
export const MAX_CUSTOM_DELAYS = 20;

export function delaysOf(policy: RetryPolicy): readonly number[] {
  return 'preset' in policy ? presetDelaysSeconds[policy.preset] : policy.delaysSeconds;
}

/** Attempts a delivery gets in all: the first plus one per delay. */
export function maxAttempts(policy: RetryPolicy): number {
  return delaysOf(policy).length + 1;
}

/**
 * Seconds to wait after attempt `attemptsMade` failed, or undefined when it was the last.
 * Jitter spreads retries of an outage's backlog (±10 %). A receiver's `Retry-After` is honoured
 * as a floor, but capped at twice the scheduled delay so one header cannot park a delivery.
 */
export function nextRetryDelaySeconds(
  policy: RetryPolicy,
  attemptsMade: number,
  random: () => number,
  retryAfterSeconds?: number,
): number | undefined {
  const scheduled = delaysOf(policy)[attemptsMade - 1];
  if (scheduled === undefined) return undefined;
  const jittered = scheduled * (1 - JITTER + 2 * JITTER * random());
  const floor = retryAfterSeconds === undefined ? 0 : Math.min(retryAfterSeconds, 2 * scheduled);
  return Math.max(jittered, floor);
}

/** Parses `Retry-After` (delta-seconds or HTTP date) into seconds from `now`. */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - now.getTime()) / 1000);
}
