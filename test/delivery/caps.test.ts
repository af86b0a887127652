// The in-flight caps on their own: overall and per hook, hooks taking turns, giving back what waits, the
// time each start waited. Starts are promises the test settles, so every step is explicit.
import { describe, expect, it } from 'vitest';
import { InFlightCaps } from '../../src/delivery/caps.js';

/** A start the test finishes by hand; `started` lists the names in start order. */
function harness(caps: InFlightCaps) {
  const started: string[] = [];
  const finish = new Map<string, (v: string) => void>();
  const waited = new Map<string, number>();
  const run = (hookId: number, name: string) =>
    caps.run(
      hookId,
      (ms) => {
        started.push(name);
        waited.set(name, ms);
        return new Promise<string>((resolve) => finish.set(name, resolve));
      },
      () => `${name} given back`,
    );
  const done = async (name: string) => {
    finish.get(name)!(`${name} done`);
    // Let the finally() that frees the slot run.
    await new Promise((r) => setImmediate(r));
  };
  return { started, waited, run, done };
}

describe('in-flight caps', () => {
  it('starts at once while there is room; holds to the per-hook cap; keeps each hook in order', async () => {
    const caps = new InFlightCaps({ concurrency: 10, perHook: 2 });
    const h = harness(caps);
    const a1 = h.run(1, 'a1');
    h.run(1, 'a2');
    h.run(1, 'a3');
    h.run(1, 'a4');
    h.run(2, 'b1');
    expect(h.started).toEqual(['a1', 'a2', 'b1']);
    expect(caps.inFlight).toBe(3);
    expect(caps.queued).toBe(2);
    await h.done('a1');
    expect(await a1).toBe('a1 done');
    expect(h.started).toEqual(['a1', 'a2', 'b1', 'a3']);
    await h.done('a2');
    expect(h.started.at(-1)).toBe('a4');
    expect(caps.queued).toBe(0);
  });

  it('when the overall cap holds them back, hooks take turns: a big backlog does not starve a small one', async () => {
    const caps = new InFlightCaps({ concurrency: 1, perHook: 5 });
    const h = harness(caps);
    for (let i = 1; i <= 4; i++) h.run(1, `a${i}`);
    h.run(2, 'b1');
    h.run(2, 'b2');
    h.run(3, 'c1');
    for (const name of ['a1', 'a2', 'b1', 'c1', 'a3', 'b2']) await h.done(name);
    expect(h.started).toEqual(['a1', 'a2', 'b1', 'c1', 'a3', 'b2', 'a4']);
  });

  it('release() gives back what waits (never started) and leaves what runs alone', async () => {
    const caps = new InFlightCaps({ concurrency: 4, perHook: 1 });
    const h = harness(caps);
    const running = h.run(1, 'a1');
    const waiting = [h.run(1, 'a2'), h.run(1, 'a3')];
    caps.release();
    expect(await Promise.all(waiting)).toEqual(['a2 given back', 'a3 given back']);
    expect(caps.queued).toBe(0);
    expect(caps.inFlight).toBe(1);
    await h.done('a1');
    expect(await running).toBe('a1 done');
    expect(h.started).toEqual(['a1']);
    expect(caps.inFlight).toBe(0);
  });

  it('answers how long each start waited for its slot (0 when it had one at once)', async () => {
    const caps = new InFlightCaps({ concurrency: 1, perHook: 1 });
    const h = harness(caps);
    h.run(1, 'first');
    h.run(1, 'second');
    const t = performance.now();
    await new Promise((r) => setTimeout(r, 30));
    await h.done('first');
    expect(h.waited.get('first')).toBe(0);
    expect(h.waited.get('second')).toBeGreaterThanOrEqual(29);
    expect(h.waited.get('second')).toBeLessThanOrEqual(Math.ceil(performance.now() - t));
  });

  it('new caps apply at once: raising them starts what waits', async () => {
    const caps = new InFlightCaps({ concurrency: 1, perHook: 1 });
    const h = harness(caps);
    h.run(1, 'a1');
    h.run(1, 'a2');
    h.run(2, 'b1');
    expect(h.started).toEqual(['a1']);
    caps.set({ concurrency: 3, perHook: 2 });
    // b1 had a slot of its own first (only the overall cap held it), so it goes first.
    expect(h.started).toEqual(['a1', 'b1', 'a2']);
  });

  it('a start that fails rejects its own run and frees its slot', async () => {
    const caps = new InFlightCaps({ concurrency: 1, perHook: 1 });
    const bad = caps.run(
      1,
      () => Promise.reject(new Error('boom')),
      () => 'x',
    );
    const next = caps.run(
      1,
      async () => 'next ran',
      () => 'given back',
    );
    await expect(bad).rejects.toThrow('boom');
    expect(await next).toBe('next ran');
    expect(caps.inFlight).toBe(0);
  });
});
