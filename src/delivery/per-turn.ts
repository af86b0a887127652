// Collect and hand over once per turn of the event loop: everything added while the current turn runs is
// handed to `flush` together, in one call, when the turn is over (setImmediate). The delivery path's
// batching — outcomes into one transaction, jobs into one thread message, answers into one reply — is this.
// With `windowMs`, the batch is handed over that long after its first item instead, gathering what the
// following turns add too (the sender thread's answers: send-thread.ts).
export class PerTurn<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(
    private readonly flush: (items: T[]) => void,
    private readonly windowMs = 0,
  ) {}

  add(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      const items = this.items;
      this.items = [];
      this.flush(items);
    };
    if (this.windowMs > 0) setTimeout(run, this.windowMs);
    else setImmediate(run);
  }
}
