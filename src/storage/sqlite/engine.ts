// SQLite engine (better-sqlite3, WAL): one writer connection, group-committed; one reader connection that
// sees only committed data.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { Dialect, Engine, Executor } from '../port.js';
import { GroupCommitter, type HandoffTx, type TxConnection } from '../group-commit.js';
import { migrations } from './migrations.js';
import { LastStatement } from '../last-statement.js';
import { BackgroundCheckpointer } from './checkpointer.js';
import { ReadCache } from './read-cache.js';
import { orUnavailable, sqliteUnavailable } from './unavailable.js';

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  skipLocked: false,
  forUpdate: '',
  writableCte: false,
  inProcess: true,
  planEachTime: '',
  ilike: 'LIKE',
  jsonText: (column, key) => `json_extract(${column}, '$.${key}')`,
  // json_extract answers a JSON string as TEXT, a whole number as INTEGER and null as NULL.
  jsonRows: (cols) =>
    `SELECT ${cols.map(([c, t], i) => (t === 'int' ? `CAST(json_extract(value, '$[${i}]') AS INTEGER) AS ${c}` : `json_extract(value, '$[${i}]') AS ${c}`)).join(', ')} FROM json_each(?)`,
};

/** Ids handed out per update of id_counter: one write per hundred ids instead of one per id. */
const ID_BLOCK = 100;

class SqliteExecutor implements Executor {
  readonly dialect = sqliteDialect;
  private statements = new Map<string, Statement>();
  private nextFree = 0;
  private blockEnd = 0;
  /** deliveriesDue() was called in the current transaction (read by the group committer) */
  created = false;
  /** the writer's, while a delivery engine takes new deliveries (set by the group committer) */
  handoff?: HandoffTx;
  /** the writer's (Executor.cached) */
  readonly cached?: <T>(table: 'hooks', key: string, read: () => Promise<T>) => Promise<T>;
  constructor(
    private readonly db: Database.Database,
    /** a statement costs no round trip here: Executor.last only refuses one after the last */
    private readonly lastStatement?: LastStatement,
    readCache?: ReadCache,
  ) {
    if (readCache) this.cached = (table, key, read) => readCache.get(table, key, read);
  }

  last(): void {
    this.lastStatement?.mark();
  }

  deliveriesDue(): void {
    this.created = true;
  }

  /** The block was taken inside a transaction that rolled back: it is no longer ours. */
  forgetIds(): void {
    this.nextFree = this.blockEnd = 0;
  }

  private prepare(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    this.lastStatement?.statement();
    return orUnavailable(() => this.prepare(sql).all(...params) as T[]);
  }
  async get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    this.lastStatement?.statement();
    return orUnavailable(() => this.prepare(sql).get(...params) as T | undefined);
  }
  async run(sql: string, params: readonly unknown[] = []): Promise<{ changes: number }> {
    this.lastStatement?.statement();
    return orUnavailable(() => {
      const stmt = this.prepare(sql);
      if (stmt.reader) {
        stmt.all(...params);
        return { changes: 0 };
      }
      return { changes: stmt.run(...params).changes };
    });
  }
  async nextId(): Promise<number> {
    if (this.nextFree >= this.blockEnd) {
      // Runs inside the caller's write transaction, so other processes (the CLI) serialise on it too.
      const row = orUnavailable(
        () =>
          this.prepare(`UPDATE id_counter SET value = value + ${ID_BLOCK} WHERE one = 1 RETURNING value`).get() as {
            value: number;
          },
      );
      this.blockEnd = row.value + 1;
      this.nextFree = row.value - ID_BLOCK + 1;
    }
    return this.nextFree++;
  }
}

/** How long a write waits for another process's write lock (a `hookline` command's) before it is unavailable. */
export const WRITE_LOCK_WAIT_MS = 5000;
/**
 * The writer's busy_timeout once open: SQLite waits for a lock by sleeping in the calling thread, which is the
 * thread that serves the API. So a write waits for the lock in slices this long, and between slices on the
 * event loop (lockWriter): reads, answers from receivers and health checks go on meanwhile.
 */
const WRITER_BUSY_SLICE_MS = 10;

function open(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${WRITE_LOCK_WAIT_MS}`);
  return db;
}

/**
 * BEGIN IMMEDIATE on the writer: takes the write lock, waiting for another process that holds it (a
 * `hookline` command run beside the server) for up to WRITE_LOCK_WAIT_MS, a slice at a time, without holding
 * up the event loop between slices. A BEGIN refused as busy has done nothing, so it is simply tried again.
 */
async function lockWriter(writer: Database.Database, waitMs: number): Promise<void> {
  const started = performance.now();
  for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
    try {
      writer.exec('BEGIN IMMEDIATE');
      return;
    } catch (e) {
      const busy = (e as Error & { code?: unknown }).code === 'SQLITE_BUSY';
      if (!busy || performance.now() - started >= waitMs) throw sqliteUnavailable(e);
    }
    await delay(pause);
  }
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)');
  const done = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    db.transaction(() => {
      for (const s of m.statements) db.exec(s);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Date.now(),
      );
    }).immediate();
  }
}

export interface SqliteOptions {
  /** Path of the database file. */
  file: string;
  /**
   * Checkpoint the write-ahead log on a thread of its own (checkpointer.ts) instead of in the commits that
   * fill it (SQLite's default): what the server does, so its API never stalls for a checkpoint.
   */
  backgroundCheckpoints?: boolean;
  /** How long a write waits for another process's write lock (WRITE_LOCK_WAIT_MS). */
  lockWaitMs?: number;
}

/**
 * The mode of a database file Hookline creates (and of a backup): its owner's alone, since it holds every
 * record and every hook's secret. SQLite gives the write-ahead log and its index the database file's mode.
 * A data directory Hookline creates is its owner's alone too; an existing file or directory keeps its mode.
 */
export const PRIVATE_FILE = 0o600;
/** The mode of a directory Hookline creates for its data (see PRIVATE_FILE). */
export const PRIVATE_DIR = 0o700;

export function openSqlite(options: SqliteOptions): Engine {
  fs.mkdirSync(path.dirname(options.file), { recursive: true, mode: PRIVATE_DIR });
  if (!fs.existsSync(options.file)) fs.closeSync(fs.openSync(options.file, 'a', PRIVATE_FILE));
  const writer = open(options.file);
  migrate(writer);
  writer.pragma(`busy_timeout = ${WRITER_BUSY_SLICE_MS}`);
  const checkpointer = options.backgroundCheckpoints ? new BackgroundCheckpointer(options.file, writer) : null;
  const reader = open(options.file);
  const last = new LastStatement();
  const readCache = new ReadCache(writer, ['hooks']);
  const writeExec = new SqliteExecutor(writer, last, readCache);
  // Reads keep Executor.last's bookkeeping too, so a statement after a read's last is refused here as well.
  const readLast = new LastStatement();
  const readExec = new SqliteExecutor(reader, readLast);
  const conn: TxConnection = {
    executor: writeExec,
    begin: async (alone) => {
      last.begin(alone);
      await lockWriter(writer, options.lockWaitMs ?? WRITE_LOCK_WAIT_MS);
      readCache.began();
    },
    commit: async () => {
      // A full disk or an I/O error as the transaction commits is unavailability (rollback() undoes the rest).
      orUnavailable(() => writer.exec('COMMIT'));
      readCache.ended();
      checkpointer?.committed();
    },
    rollback: async () => {
      if (writer.inTransaction) writer.exec('ROLLBACK');
      readCache.ended();
      writeExec.forgetIds();
    },
  };
  const committer = new GroupCommitter([conn]);
  let reading = Promise.resolve() as Promise<unknown>;

  return {
    dialect: sqliteDialect,
    read<T>(fn: (x: Executor) => Promise<T>): Promise<T> {
      // One reader connection: reads run one after another, each inside its own snapshot.
      const run = reading.then(async () => {
        readLast.begin(true);
        reader.exec('BEGIN');
        try {
          return await fn(readExec);
        } finally {
          reader.exec('COMMIT');
        }
      });
      reading = run.catch(() => undefined);
      return run;
    },
    readOne<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      // A single statement is its own snapshot; queued behind the reads in progress on the one reader.
      const run = reading.then(() => {
        readLast.begin(true);
        return readExec.all<T>(sql, params);
      });
      reading = run.catch(() => undefined);
      return run;
    },
    write: (fn) => committer.submit(fn),
    solo: (fn) => committer.submit(fn),
    onDeliveries: (listener) => committer.onDeliveries(listener),
    handOffTo: (h) => committer.handOffTo(h),
    async skipIds(count) {
      const value = await committer.submit((x) =>
        x.get<{ value: number }>('UPDATE id_counter SET value = value + ? WHERE one = 1 RETURNING value', [count]),
      );
      writeExec.forgetIds();
      return Number(value!.value) + 1;
    },
    async close() {
      await committer.drain();
      await reading;
      await checkpointer?.close();
      writer.close();
      reader.close();
    },
  };
}
