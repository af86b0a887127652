// The delivery path's batching helper: what is added during one turn of the event loop is handed over
// together once that turn is over; what is added while a batch is handled goes into the next one.
import { describe, expect, it } from 'vitest';
import { PerTurn } from '../../src/delivery/per-turn.js';

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('PerTurn', () => {
  it('hands over everything added in one turn in one call, after the turn, in order', async () => {
    const calls: number[][] = [];
    const b = new PerTurn<number>((items) => calls.push(items));
    b.add(1);
    b.add(2);
    await Promise.resolve(); // microtasks are still the same turn
    b.add(3);
    expect(calls).toEqual([]);
    await nextTurn();
    expect(calls).toEqual([[1, 2, 3]]);
  });

  it('what is added while a batch is handled waits for the next turn; nothing is handed over twice', async () => {
    const calls: number[][] = [];
    const b: PerTurn<number> = new PerTurn<number>((items) => {
      calls.push(items);
      if (items[0] === 1) b.add(9);
    });
    b.add(1);
    await nextTurn();
    expect(calls).toEqual([[1]]);
    await nextTurn();
    expect(calls).toEqual([[1], [9]]);
    await nextTurn();
    expect(calls).toEqual([[1], [9]]);
  });

  it('with a window, hands over what the following turns add too, once the window is over', async () => {
    const calls: number[][] = [];
    const b = new PerTurn<number>((items) => calls.push(items), 20);
    b.add(1);
    await nextTurn();
    b.add(2);
    await nextTurn();
    expect(calls).toEqual([]);
    await new Promise((r) => setTimeout(r, 40));
    expect(calls).toEqual([[1, 2]]);
    b.add(3);
    await new Promise((r) => setTimeout(r, 40));
    expect(calls).toEqual([[1, 2], [3]]);
  });

  it('now() hands over what waits at once; the window then starts again with the next item', async () => {
    const calls: number[][] = [];
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const b = new PerTurn<number>((items) => calls.push(items), 200);
    b.now(); // nothing waits: nothing handed over
    b.add(1);
    b.add(2);
    expect(b.size).toBe(2);
    await sleep(100);
    b.now();
    expect(calls).toEqual([[1, 2]]);
    expect(b.size).toBe(0);
    b.add(3);
    // Past the end of the first window (200 ms) but not of the one 3 started (300 ms): the first window's
    // timer is gone, and timers due earlier run first, so this check comes before the second window's end.
    await sleep(150);
    expect(calls).toEqual([[1, 2]]);
    await sleep(100);
    expect(calls).toEqual([[1, 2], [3]]);
  });

  it('now() before the end of the turn hands over once, not again when the turn ends', async () => {
    const calls: number[][] = [];
    const b = new PerTurn<number>((items) => calls.push(items));
    b.add(1);
    b.now();
    await nextTurn();
    await nextTurn();
    expect(calls).toEqual([[1]]);
  });
});
