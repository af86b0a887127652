// Collect and hand over once per turn of the event loop: everything added while the current turn runs is
// handed to `flush` together, in one call, when the turn is over (setImmediate). The delivery path's
// batching — outcomes into one transaction, jobs into one thread message, answers into one reply — is this.
// With `windowMs`, the batch is handed over that long after its first item instead, gathering what the
// following turns add too (the sender thread's answers: send-thread.ts); now() hands it over before that.
export class PerTurn<T> {
  private items: T[] = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;

  constructor(
    private readonly flush: (items: T[]) => void,
    private readonly windowMs = 0,
  ) {}

  /** Items waiting to be handed over. */
  get size(): number {
    return this.items.length;
  }

  add(item: T): void {
    this.items.push(item);
    if (this.timer !== null) return;
    this.timer = this.windowMs > 0 ? setTimeout(this.run, this.windowMs) : setImmediate(this.run);
  }

  /** Hands over what waits at once, not at the end of the turn or window (nothing if nothing waits). */
  now(): void {
    if (this.timer === null) return;
    if (this.windowMs > 0) clearTimeout(this.timer as NodeJS.Timeout);
    else clearImmediate(this.timer as NodeJS.Immediate);
    this.run();
  }

  private readonly run = (): void => {
    this.timer = null;
    const items = this.items;
    this.items = [];
    this.flush(items);
  };
}
