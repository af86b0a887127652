// Group commit: the lever that makes many small writes cheap. Units that arrive while a transaction is
// running wait, then share the next transaction (one commit, one fsync). A failed shared transaction is
// rolled back and each of its units is retried alone, so one bad unit fails only itself — unless the
// database was unavailable (StorageUnavailable), which is no unit's fault: then the batch is run once more
// on a new connection if that may help, and otherwise each unit is told.
import { StorageUnavailable, type DeliveryHandoff, type Executor, type TxHandoff } from './port.js';

/**
 * A write connection's executor: `created` says its transaction called deliveriesDue(); `handoff` is set
 * while a delivery engine takes new deliveries (GroupCommitter.handOffTo).
 */
export interface TxExecutor extends Executor {
  created: boolean;
  handoff?: HandoffTx;
}

/** One connection's transactions' view of the hand-off: what the running one took, settled when it ends. */
export class HandoffTx implements TxHandoff {
  private taken: number[] = [];
  private items: unknown[] = [];
  constructor(readonly engine: DeliveryHandoff) {}

  get owner(): string {
    return this.engine.owner;
  }
  get leaseMs(): number {
    return this.engine.leaseMs;
  }
  take(hookId: number): boolean {
    if (!this.engine.take(hookId)) return false;
    this.taken.push(hookId);
    return true;
  }
  takesAll(): boolean {
    return this.engine.takesAll();
  }
  took(hookId: number): void {
    this.engine.took(hookId);
    this.taken.push(hookId);
  }
  handed(delivery: unknown): void {
    this.items.push(delivery);
  }
  /** The transaction committed: what it took goes to the delivery engine. */
  committed(): void {
    const items = this.items;
    this.taken = [];
    this.items = [];
    if (items.length > 0) this.engine.launch(items);
  }
  /** The transaction rolled back: what it took is given back (its rows are gone). */
  rolledBack(): void {
    for (const hookId of this.taken) this.engine.untake(hookId);
    this.taken = [];
    this.items = [];
  }
}

export interface TxConnection {
  executor: TxExecutor;
  /** `alone`: the transaction runs one unit (Executor.last may apply) */
  begin(alone: boolean): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /**
   * The unit's last statement ran as its own transaction (Executor.last), so it committed whatever the unit
   * did after it: a rollback takes nothing back.
   */
  committedAlone?(): boolean;
  /**
   * A connection that pipelines (PostgreSQL's writers): `listener` is told once the running unit has sent the
   * statement it said is its last (Executor.last), and the next unit of the transaction starts then, its
   * statements queued behind that one on the connection, instead of waiting for its answer. The database
   * still runs every statement in the order sent, so each unit sees the ones before it as if they had ended.
   */
  lastSent?(listener: (() => void) | null): void;
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
  /** the delivery engine that takes new deliveries (handOffTo) */
  private handoff: DeliveryHandoff | null = null;

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
        this.takeUpHandoff(conn);
        this.idle.push(conn);
        this.pump();
      });
    }
  }

  /**
   * See Engine.handOffTo. A connection running a transaction keeps its current hand-off until that is over:
   * what the transaction took belongs to the engine it took it for.
   */
  handOffTo(h: DeliveryHandoff): void {
    this.handoff = h;
    for (const conn of this.idle) this.takeUpHandoff(conn);
  }

  private takeUpHandoff(conn: TxConnection): void {
    if (this.handoff && conn.executor.handoff?.engine !== this.handoff) {
      conn.executor.handoff = new HandoffTx(this.handoff);
    }
  }

  /** See Engine.onDeliveries: told after each committed transaction that created deliveries. */
  onDeliveries(listener: () => void): void {
    this.listeners.push(listener);
  }

  private async begin(conn: TxConnection, alone: boolean): Promise<void> {
    conn.executor.created = false;
    await conn.begin(alone);
  }

  private async commit(conn: TxConnection): Promise<void> {
    await conn.commit();
    this.committed(conn);
  }

  private committed(conn: TxConnection): void {
    conn.executor.handoff?.committed();
    if (conn.executor.created) this.listeners.forEach((l) => l());
  }

  private async rollback(conn: TxConnection): Promise<void> {
    await conn.rollback().catch(() => undefined);
    // A unit that failed after its last statement committed on its own: what that statement did stands.
    if (conn.committedAlone?.()) this.committed(conn);
    else conn.executor.handoff?.rolledBack();
  }

  /** `retried`: this is the batch's second run (StorageUnavailable.retryable). */
  private async runBatch(conn: TxConnection, batch: Unit[], retried = false): Promise<void> {
    if (batch.length === 1) return this.runAlone(conn, batch[0], retried);
    let results: unknown[];
    try {
      await this.begin(conn, false);
      results = await this.runUnits(conn, batch);
      await this.commit(conn);
    } catch (error) {
      await this.rollback(conn);
      if (error instanceof StorageUnavailable) {
        // Not one unit's fault, so running each alone would only meet it again, once per unit (SQLite would
        // wait out a held lock each time). Once more, on a new connection, if that may help; else each unit
        // is told. One lost as the transaction committed may have committed: it is never run again.
        if (error.retryable && !retried) return this.runBatch(conn, batch, true);
        for (const unit of batch) unit.reject(error);
        return;
      }
      for (const unit of batch) await this.runAlone(conn, unit);
      return;
    }
    batch.forEach((unit, i) => unit.resolve(results[i]));
  }

  /**
   * The units of a shared transaction, each after the one before it has ended or, on a connection that
   * pipelines, has sent its last statement (TxConnection.lastSent). Answers their results in order, or
   * throws the first failure in batch order once every unit has settled: no unit is still running when the
   * transaction is rolled back and its units are run again alone.
   */
  private async runUnits(conn: TxConnection, batch: Unit[]): Promise<unknown[]> {
    if (!conn.lastSent) {
      const results: unknown[] = [];
      for (const unit of batch) results.push(await unit.fn(conn.executor));
      return results;
    }
    const running: Promise<unknown>[] = [];
    try {
      for (const unit of batch) {
        let sent!: () => void;
        const lastSent = new Promise<'sent'>((r) => (sent = () => r('sent')));
        conn.lastSent(sent);
        const run = unit.fn(conn.executor);
        running.push(run);
        const how = await Promise.race([
          run.then(
            () => 'ended',
            () => 'failed',
          ),
          lastSent,
        ]);
        if (how === 'failed') break;
      }
    } finally {
      conn.lastSent(null);
    }
    const settled = await Promise.allSettled(running);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
  }

  /** `retried`: this is the unit's second run (StorageUnavailable.retryable). */
  private async runAlone(conn: TxConnection, unit: Unit, retried = false): Promise<void> {
    try {
      await this.begin(conn, true);
      const result = await unit.fn(conn.executor);
      await this.commit(conn);
      unit.resolve(result);
    } catch (error) {
      await this.rollback(conn);
      if (!retried && error instanceof StorageUnavailable && error.retryable) return this.runAlone(conn, unit, true);
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
