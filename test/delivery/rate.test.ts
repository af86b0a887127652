// Each node's estimate of a hook's rate limit bucket (the shared bucket in the database decides: see the
// engine tests): a second's worth at most, refilled with time, set from what a claim left, none without a limit.
import { describe, expect, it } from 'vitest';
import { RateLimits } from '../../src/delivery/rate.js';

describe('rate limits', () => {
  it('start full, refill at the rate, hold a second’s worth at most', () => {
    const r = new RateLimits();
    expect(r.available(1, 5, 0)).toBe(5);
    r.set(1, 5, 0, 0);
    expect(r.available(1, 5, 0)).toBe(0);
    expect(r.available(1, 5, 199)).toBe(0);
    expect(r.available(1, 5, 200)).toBe(1);
    expect(r.available(1, 5, 10_000)).toBe(5);
    expect(r.available(2, 5, 10_000)).toBe(5); // hooks have their own buckets
    r.set(1, 5, 10_000, 2.5); // what the shared bucket held after a claim, fractions included
    expect(r.available(1, 5, 10_000)).toBe(2);
    expect(r.available(1, 5, 10_100)).toBe(3);
  });

  it('below one a second: one token at a time, every 1/rate seconds', () => {
    const r = new RateLimits();
    expect(r.available(1, 0.5, 0)).toBe(1);
    r.set(1, 0.5, 0, 0);
    expect(r.available(1, 0.5, 1_999)).toBe(0);
    expect(r.available(1, 0.5, 2_000)).toBe(1);
  });

  it('no limit: always available, nothing counted', () => {
    const r = new RateLimits();
    expect(r.available(1, 0, 0)).toBe(Infinity);
    r.set(1, 0, 0, -1_000);
    expect(r.available(1, 0, 0)).toBe(Infinity);
  });
});
