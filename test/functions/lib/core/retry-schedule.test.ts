import type { RetryPolicy, RetryPreset } from '../../../../functions/lib/core/model.ts';
import {
  delaysOf,
  JITTER,
  maxAttempts,
  nextRetryDelaySeconds,
  parseRetryAfter,
  presetDelaysSeconds,
} from '../../../../functions/lib/core/retry-schedule.ts';

const MIN = 60;
const H = 3600;
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
const preset = (name: RetryPreset): RetryPolicy => ({ preset: name });
const mid = () => 0.5;

describe('retry presets (contract §5)', () => {
  test('exponential: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; 8 attempts, ≈ 27.6 h in all', () => {
    expect(presetDelaysSeconds.exponential).toEqual([5, 5 * MIN, 30 * MIN, 2 * H, 5 * H, 10 * H, 10 * H]);
    expect(maxAttempts(preset('exponential'))).toBe(8);
    expect(sum(presetDelaysSeconds.exponential) / H).toBeCloseTo(27.6, 1);
  });

  test('linear: 1, 2, 3, 4 min; 5 attempts, 10 min in all', () => {
    expect(presetDelaysSeconds.linear).toEqual([MIN, 2 * MIN, 3 * MIN, 4 * MIN]);
    expect(maxAttempts(preset('linear'))).toBe(5);
    expect(sum(presetDelaysSeconds.linear)).toBe(10 * MIN);
  });

  test('daily: 1, 2, 4, 8, 16, 32 min, 1, 2, 4, 8, 8 h; 12 attempts, ≈ 24 h in all', () => {
    expect(presetDelaysSeconds.daily).toEqual([MIN, 2 * MIN, 4 * MIN, 8 * MIN, 16 * MIN, 32 * MIN, H, 2 * H, 4 * H, 8 * H, 8 * H]);
    expect(maxAttempts(preset('daily'))).toBe(12);
    expect(sum(presetDelaysSeconds.daily) / H).toBeCloseTo(24, 0);
  });

  test('a custom delaysSeconds list is used as is', () => {
    const policy: RetryPolicy = { delaysSeconds: [1, 7, 42] };
    expect(delaysOf(policy)).toEqual([1, 7, 42]);
    expect(maxAttempts(policy)).toBe(4);
    expect(nextRetryDelaySeconds(policy, 2, mid)).toBe(7);
    expect(nextRetryDelaySeconds(policy, 4, mid)).toBeUndefined();
  });
});

describe('nextRetryDelaySeconds', () => {
  test.each(['exponential', 'linear', 'daily'] as const)('%s: with no jitter (random 0.5) each retry waits the preset delay', (name) => {
    const delays = presetDelaysSeconds[name];
    delays.forEach((delay, i) => {
      expect(nextRetryDelaySeconds(preset(name), i + 1, mid)).toBeCloseTo(delay, 9);
    });
  });

  test.each(['exponential', 'linear', 'daily'] as const)('%s: jitter stays within ±10 % (random 0 and 1 are the bounds)', (name) => {
    expect(JITTER).toBe(0.1);
    presetDelaysSeconds[name].forEach((delay, i) => {
      expect(nextRetryDelaySeconds(preset(name), i + 1, () => 0)).toBeCloseTo(delay * 0.9, 9);
      expect(nextRetryDelaySeconds(preset(name), i + 1, () => 1)).toBeCloseTo(delay * 1.1, 9);
      for (let r = 0; r <= 1; r += 0.125) {
        const value = nextRetryDelaySeconds(preset(name), i + 1, () => r) ?? Number.NaN;
        expect(value).toBeGreaterThanOrEqual(delay * 0.9 - 1e-9);
        expect(value).toBeLessThanOrEqual(delay * 1.1 + 1e-9);
      }
    });
  });

  test('after the last attempt there is no retry', () => {
    expect(nextRetryDelaySeconds(preset('exponential'), 8, mid)).toBeUndefined();
    expect(nextRetryDelaySeconds(preset('linear'), 5, mid)).toBeUndefined();
    expect(nextRetryDelaySeconds(preset('daily'), 12, mid)).toBeUndefined();
    expect(nextRetryDelaySeconds(preset('linear'), 9, mid)).toBeUndefined();
  });

  test('the attempt before the last still gets a retry', () => {
    expect(nextRetryDelaySeconds(preset('exponential'), 7, mid)).toBe(10 * H);
    expect(nextRetryDelaySeconds(preset('linear'), 4, mid)).toBe(4 * MIN);
  });

  test('Retry-After longer than the jittered delay is honoured as a floor', () => {
    // Second retry of exponential: 300 s scheduled, so at most 330 s with jitter.
    expect(nextRetryDelaySeconds(preset('exponential'), 2, () => 1, 500)).toBe(500);
  });

  test('Retry-After shorter than the jittered delay does not shorten it', () => {
    expect(nextRetryDelaySeconds(preset('exponential'), 2, () => 0, 10)).toBeCloseTo(270, 9);
    expect(nextRetryDelaySeconds(preset('exponential'), 2, mid, 0)).toBe(300);
  });

  test('Retry-After is capped at twice the scheduled delay', () => {
    expect(nextRetryDelaySeconds(preset('exponential'), 1, mid, 3600)).toBe(10);
    expect(nextRetryDelaySeconds(preset('exponential'), 2, mid, 86_400)).toBe(600);
    expect(nextRetryDelaySeconds(preset('linear'), 1, () => 1, 10_000)).toBe(120);
  });

  test('Retry-After cannot revive a delivery that used its last attempt', () => {
    expect(nextRetryDelaySeconds(preset('linear'), 5, mid, 30)).toBeUndefined();
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2025-03-01T12:00:00.000Z');

  test('delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('  30 ', now)).toBe(30);
    expect(parseRetryAfter('0', now)).toBe(0);
  });

  test('an HTTP date is seconds from now', () => {
    expect(parseRetryAfter('Sat, 01 Mar 2025 12:02:00 GMT', now)).toBe(120);
    expect(parseRetryAfter('Sat, 01 Mar 2025 12:00:01 GMT', now)).toBe(1);
  });

  test('an HTTP date in the past means no wait', () => {
    expect(parseRetryAfter('Fri, 28 Feb 2025 12:00:00 GMT', now)).toBe(0);
  });

  test('absent, empty and junk values are ignored', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('in a minute', now)).toBeUndefined();
  });
});
