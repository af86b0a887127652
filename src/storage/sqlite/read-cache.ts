// What the writer connection read of a table, kept for as long as the table cannot have changed: the
// fan-out of every event reads the account's matching hooks (delivery/handoff.ts), and they almost never
// change between two events. Executor.cached in the port.
//
// One generation number says whether a kept value is still good; it moves on whenever a kept table may have
// changed:
// - a write of it on this connection: a TEMP trigger on the table (this connection's alone, no schema change)
//   calls back into this process on every insert, update and delete, whatever code or cascade wrote it;
// - the end of a transaction that wrote it, committed or rolled back (a value read after the write saw the
//   transaction's own rows, which a rollback takes away);
// - another connection's commit, to any table (the CLI, another process): `PRAGMA data_version` changes,
//   read once per transaction, after BEGIN IMMEDIATE has shut other writers out until it ends.
import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';

/** Kept values at most: past that the cache starts again from empty. */
const MAX_ENTRIES = 10_000;

export class ReadCache {
  private generation = 0;
  /** a kept table was written in the transaction running now */
  private written = false;
  private dataVersion: unknown;
  private readonly dataVersionStmt: Statement;
  private readonly entries = new Map<string, { generation: number; value: unknown }>();

  constructor(
    db: Database.Database,
    private readonly tables: readonly string[],
  ) {
    db.function('hookline_table_written', { deterministic: false }, () => {
      this.generation++;
      this.written = true;
      return null;
    });
    for (const table of tables) {
      for (const op of ['insert', 'update', 'delete']) {
        db.exec(
          `CREATE TEMP TRIGGER IF NOT EXISTS hookline_${table}_${op} AFTER ${op.toUpperCase()} ON main.${table}
           BEGIN SELECT hookline_table_written(); END`,
        );
      }
    }
    this.dataVersionStmt = db.prepare('PRAGMA data_version').pluck();
  }

  /** A write transaction began (after BEGIN IMMEDIATE): another connection may have committed before it. */
  began(): void {
    const v = this.dataVersionStmt.get();
    if (v !== this.dataVersion) {
      this.dataVersion = v;
      this.generation++;
    }
  }

  /** The transaction ended, committed or rolled back. */
  ended(): void {
    if (this.written) {
      this.written = false;
      this.generation++;
    }
  }

  async get<T>(table: string, key: string, read: () => Promise<T>): Promise<T> {
    if (!this.tables.includes(table)) throw new Error(`no read cache for table ${table}`);
    const k = `${table}\u0000${key}`;
    const kept = this.entries.get(k);
    if (kept && kept.generation === this.generation) return kept.value as T;
    const generation = this.generation;
    const value = await read();
    // A write in between (the read ran in the same transaction) makes it no better than the next read's.
    if (generation === this.generation) {
      if (this.entries.size >= MAX_ENTRIES && !kept) this.entries.clear();
      this.entries.set(k, { generation, value });
    }
    return value;
  }
}
