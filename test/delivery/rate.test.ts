// Rate limits per hook (token buckets): a second's worth at most, refilled with time, none without a limit.
import { describe, expect, it } from 'vitest';
import { RateLimits } from '../../src/delivery/rate.js';

describe('rate limits', () => {
  it('start full, refill at the rate, hold a second’s worth at most', () => {
    const r = new RateLimits();
    expect(r.available(1, 5, 0)).toBe(5);
    r.take(1, 5, 0, 5);
    expect(r.available(1, 5, 0)).toBe(0);
    expect(r.available(1, 5, 199)).toBe(0);
    expect(r.available(1, 5, 200)).toBe(1);
    expect(r.available(1, 5, 10_000)).toBe(5);
    expect(r.available(2, 5, 10_000)).toBe(5); // hooks have their own buckets
  });

  it('below one a second: one token at a time, every 1/rate seconds', () => {
    const r = new RateLimits();
    expect(r.available(1, 0.5, 0)).toBe(1);
    r.take(1, 0.5, 0, 1);
    expect(r.available(1, 0.5, 1_999)).toBe(0);
    expect(r.available(1, 0.5, 2_000)).toBe(1);
  });

  it('no limit: always available, nothing counted', () => {
    const r = new RateLimits();
    expect(r.available(1, 0, 0)).toBe(Infinity);
    r.take(1, 0, 0, 1_000);
    expect(r.available(1, 0, 0)).toBe(Infinity);
  });
});
