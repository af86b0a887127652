// The in-flight caps: at most `concurrency` requests in flight overall and `perHook` per hook. They live
// where requests are made (the transport, on the sender thread), so that when an answer comes in the next
// delivery of that hook starts there and then, without a round trip through the thread that claims and
// records. Deliveries wait here, per hook and oldest first, for a slot; when the overall cap is what holds
// them back, hooks take turns, so one hook's backlog never starves the others. A hook whose receiver hangs
// holds its own `perHook` slots and nothing more.

import { countDown, countUp } from './counts.js';

export interface Caps {
  /** requests in flight at most, overall */
  concurrency: number;
  /** requests in flight at most, per hook */
  perHook: number;
}

interface Waiter {
  hookId: number;
  /** starts the request (`waitedMs`: how long it waited for its slot); settles when it has finished */
  start: (waitedMs: number) => Promise<void>;
  /** answers without starting it (given back: not an attempt) */
  release: () => void;
  queuedAt: number;
}

export class InFlightCaps {
  private caps: Caps;
  private running = 0;
  private readonly perHook = new Map<number, number>();
  /** deliveries waiting for a slot, per hook, oldest first */
  private readonly waiting = new Map<number, Waiter[]>();
  /** hooks with deliveries waiting and a free slot of their own, in turn order (waiting for the overall cap) */
  private readonly ready = new Set<number>();

  constructor(caps: Caps = { concurrency: Infinity, perHook: Infinity }) {
    this.caps = caps;
  }

  /** New caps (in effect from the next start; requests in flight are not cut). */
  set(caps: Caps): void {
    this.caps = caps;
    for (const hookId of this.waiting.keys()) if (this.hasRoom(hookId)) this.ready.add(hookId);
    this.pump();
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.running;
  }

  /** Deliveries waiting for a slot now. */
  get queued(): number {
    let n = 0;
    for (const list of this.waiting.values()) n += list.length;
    return n;
  }

  /**
   * Runs `start` when the caps allow (at once if they do): what it answers, once it has finished. Given back
   * by release() before it started: what `released` answers.
   */
  run<T>(hookId: number, start: (waitedMs: number) => Promise<T>, released: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Waiter = {
        hookId,
        start: (waitedMs) => start(waitedMs).then(resolve, reject),
        release: () => resolve(released()),
        queuedAt: 0,
      };
      if (!this.waiting.has(hookId) && this.hasRoom(hookId) && this.running < this.caps.concurrency)
        return this.begin(w, 0);
      w.queuedAt = performance.now();
      const list = this.waiting.get(hookId);
      if (list) list.push(w);
      else this.waiting.set(hookId, [w]);
      if (this.hasRoom(hookId)) this.ready.add(hookId);
    });
  }

  /** Gives back every delivery still waiting for a slot (stopping): none of them is started. */
  release(): void {
    const all = [...this.waiting.values()].flat();
    this.waiting.clear();
    this.ready.clear();
    for (const w of all) w.release();
  }

  private hasRoom(hookId: number): boolean {
    return (this.perHook.get(hookId) ?? 0) < this.caps.perHook;
  }

  private begin(w: Waiter, waitedMs: number): void {
    this.running++;
    countUp(this.perHook, w.hookId);
    void w.start(waitedMs).finally(() => this.done(w.hookId));
  }

  private done(hookId: number): void {
    this.running--;
    countDown(this.perHook, hookId);
    if (this.waiting.has(hookId)) this.ready.add(hookId);
    this.pump();
  }

  /** Starts waiting deliveries while the caps allow, one per ready hook in turn. */
  private pump(): void {
    while (this.running < this.caps.concurrency && this.ready.size > 0) {
      const hookId = this.ready.values().next().value as number;
      this.ready.delete(hookId);
      const list = this.waiting.get(hookId)!;
      const w = list.shift()!;
      if (list.length === 0) this.waiting.delete(hookId);
      this.begin(w, Math.round(performance.now() - w.queuedAt));
      // Still more of this hook, and room: to the back of the turn order.
      if (list.length > 0 && this.hasRoom(hookId)) this.ready.add(hookId);
    }
  }
}
