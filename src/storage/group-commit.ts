// Group commit: the lever that makes many small writes cheap. Units that arrive while a transaction is
// running wait, then share the next transaction (one commit, one fsync). A failed shared transaction is
// rolled back and each of its units is retried alone, so one bad unit fails only itself.
import type { Executor } from './port.js';

/** A write connection's executor: `created` says its transaction called deliveriesDue(). */
export interface TxExecutor extends Executor {
  created: boolean;
}

export interface TxConnection {
  executor: TxExecutor;
  begin(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

interface Unit {
  fn: (x: Executor) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class GroupCommitter {
  private queue: Unit[] = [];
  private scheduled = false;
  private idle: TxConnection[];
  private readonly total: number;
  private closed = false;
  private readonly listeners: (() => void)[] = [];

  constructor(
    connections: TxConnection[],
    private readonly maxBatch = 128,
  ) {
    this.idle = [...connections];
    this.total = connections.length;
  }

  submit<T>(fn: (x: Executor) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      // Wait for the rest of this turn of the event loop: every request that arrived in the same I/O
      // phase joins the batch. (With a synchronous driver such as better-sqlite3, pumping at once would
      // run each unit alone, since nothing else gets a turn until it commits.)
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.idle.length > 0) {
      const conn = this.idle.pop()!;
      // Share the queue among the idle connections, so their transactions run side by side.
      const share = Math.min(this.maxBatch, Math.ceil(this.queue.length / (this.idle.length + 1)));
      const batch = this.queue.splice(0, share);
      void this.runBatch(conn, batch).finally(() => {
        this.idle.push(conn);
        this.pump();
      });
    }
  }

  /** See Engine.onDeliveries: told after each committed transaction that created deliveries. */
  onDeliveries(listener: () => void): void {
    this.listeners.push(listener);
  }

  private async begin(conn: TxConnection): Promise<void> {
    conn.executor.created = false;
    await conn.begin();
  }

  private async commit(conn: TxConnection): Promise<void> {
    await conn.commit();
    if (conn.executor.created) this.listeners.forEach((l) => l());
  }

  private async runBatch(conn: TxConnection, batch: Unit[]): Promise<void> {
    if (batch.length === 1) return this.runAlone(conn, batch[0]);
    const results: unknown[] = [];
    try {
      await this.begin(conn);
      for (const unit of batch) results.push(await unit.fn(conn.executor));
      await this.commit(conn);
    } catch {
      await conn.rollback().catch(() => undefined);
      for (const unit of batch) await this.runAlone(conn, unit);
      return;
    }
    batch.forEach((unit, i) => unit.resolve(results[i]));
  }

  private async runAlone(conn: TxConnection, unit: Unit): Promise<void> {
    try {
      await this.begin(conn);
      const result = await unit.fn(conn.executor);
      await this.commit(conn);
      unit.resolve(result);
    } catch (error) {
      await conn.rollback().catch(() => undefined);
      unit.reject(error);
    }
  }

  /** Waits for queued and running work, then refuses new work. */
  async drain(): Promise<void> {
    this.closed = true;
    while (this.queue.length > 0 || this.busy()) await new Promise((r) => setTimeout(r, 5));
  }

  private busy(): boolean {
    return this.idle.length < this.total;
  }
}
