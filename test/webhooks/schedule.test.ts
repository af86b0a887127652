// The retry schedule: 1 + schedule.length attempts, ±20 % jitter, Retry-After clamped to [delay, 2 × delay].
import { describe, expect, it } from 'vitest';
import { applyRetryAfter, nextDelay, parseRetryAfter, slowDown } from '../../src/webhooks/schedule.js';

const schedule = [5_000, 300_000, 1_800_000, 7_200_000];

describe('schedule', () => {
  it('follows the schedule without jitter when random is 0.5', () => {
    expect([1, 2, 3, 4].map((n) => nextDelay(n, schedule, () => 0.5))).toEqual(schedule);
  });

  it('gives up after 1 + schedule.length attempts', () => {
    expect(nextDelay(5, schedule)).toBeNull();
    expect(nextDelay(6, schedule)).toBeNull();
    expect(nextDelay(1, [])).toBeNull();
    expect(nextDelay(0, schedule)).toBeNull();
  });

  it('jitter stays within ±20 %', () => {
    expect(nextDelay(1, schedule, () => 0)).toBe(4_000);
    expect(nextDelay(1, schedule, () => 0.999999)).toBe(6_000);
    for (let i = 0; i < 1000; i++) {
      const d = nextDelay(2, schedule)!;
      expect(d).toBeGreaterThanOrEqual(240_000);
      expect(d).toBeLessThanOrEqual(360_000);
    }
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-11-28T09:45:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sat, 28 Nov 2026 09:50:00 GMT', now)).toBe(300_000);
    expect(parseRetryAfter('Sat, 28 Nov 2026 09:40:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(['60', '1'], now)).toBe(60_000);
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
  });

  it('honours Retry-After only within [delay, 2 × delay]', () => {
    expect(applyRetryAfter(5_000, null)).toBe(5_000);
    expect(applyRetryAfter(5_000, 0)).toBe(5_000);
    expect(applyRetryAfter(5_000, 8_000)).toBe(8_000);
    expect(applyRetryAfter(5_000, 999_999_000)).toBe(10_000);
  });

  it('after a 429 or a timeout waits at least a minute, or the longest delay of a shorter schedule', () => {
    expect(slowDown(5_000, schedule)).toBe(60_000);
    expect(slowDown(300_000, schedule)).toBe(300_000);
    expect(slowDown(1_000, [1_000, 2_000])).toBe(2_000);
    expect(slowDown(0, [])).toBe(0);
  });
});
