// Executor.last's bookkeeping for one writer connection: which statement is its unit's last, and refusing
// a statement after it. Only a transaction that runs one unit counts (a shared one runs several units,
// each of which may say it is done).

export class LastStatement {
  private alone = false;
  private next = false;
  private ran = false;
  /** the statement just begun is the one its unit said is its last, alone or in a shared transaction */
  lastOfUnit = false;

  /** A transaction begins; `alone`: it runs one unit. */
  begin(alone: boolean): void {
    this.alone = alone;
    this.next = this.ran = false;
  }

  /**
   * The next unit of a shared transaction starts: a mark left by one that said its next statement was its
   * last and then ran none is not taken for the new unit's.
   */
  nextUnit(): void {
    this.next = false;
  }

  /** Executor.last: the unit's next statement is its last. */
  mark(): void {
    this.next = true;
  }

  /** Before each statement: true when it is the last one of a unit that commits alone. */
  statement(): boolean {
    if (this.ran) throw new Error('a statement after the one its unit said was its last (Executor.last)');
    this.lastOfUnit = this.next;
    this.ran = this.next && this.alone;
    this.next = false;
    return this.ran;
  }
}
