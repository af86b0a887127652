// within(): the promise's value when it settles in time, the late value otherwise, a rejection as it is.
import { describe, expect, it } from 'vitest';
import { within } from '../src/within.js';

const after = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

describe('within', () => {
  it('answers what the promise settles with in time, and what late() answers otherwise', async () => {
    expect(await within(after(5, 'done'), 1000, () => 'late')).toBe('done');
    expect(await within(after(1000, 'done'), 20, () => 'late')).toBe('late');
    expect(await within(after(1000, 'done'), 20, () => 'late', { unref: true })).toBe('late');
  });

  it('passes a rejection on', async () => {
    await expect(within(Promise.reject(new Error('no')), 1000, () => 'late')).rejects.toThrow('no');
  });
});
