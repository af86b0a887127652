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
});
