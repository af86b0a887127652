// The storage port: what Hookline needs from a database, implemented by sqlite/engine.ts and
// postgres/engine.ts. SQL text is shared (queries/*.ts, written with `?` placeholders); the few
// differences between the engines are declared as data in `Dialect`, never as `if` branches in queries.
// A limit or offset is bound as `LIMIT CAST(? AS INTEGER)`, never a bare `LIMIT ?`: SQLite lets a bare
// LIMIT parameter shape the plan, so it prepares the statement again on every run (5 µs for a simple
// query, 70 µs for the claim's lanes); test/storage/sql-text.test.ts holds every query to this.
//
// Terminology (the same words in code, docs and UI):
//   event    — one change to a record or activity, stored in the outbox (`events`) in the same
//              transaction as the change, with the full content after it
//   hook     — a subscription: account + event name + constrainttype + url + format + secret
//   delivery — one event × one hook; written in the same transaction as the event; holds the state
//   attempt  — one HTTP try of a delivery (append-only log)
//   claim    — a dispatcher taking due deliveries for itself, with a lease
//   lease    — how long a claim holds; an expired lease makes the delivery claimable again

export type Row = Record<string, unknown>;

/**
 * The database could not be reached, or the connection was lost under a statement: not the statement's fault,
 * and not for ever (PostgreSQL restarting, a failover, a terminated backend, a network cut; SQLite's disk
 * full). The API answers 503.
 * - `outcomeUnknown`: the connection was lost while a transaction committed, so it may have committed or
 *   not; it must not be run again as if it had not (group-commit.ts).
 * - `retryable`: a connection that turned out to be lost under it has been given up, and the next try gets a
 *   new one at once: worth one more try right away (a restarted database ends every connection, and the first
 *   to notice is the next transaction on each). Not for a database that refuses connections, nor for SQLite,
 *   whose one connection would meet the same full disk or held lock.
 */
export class StorageUnavailable extends Error {
  readonly code = 'HL_STORAGE_UNAVAILABLE';
  readonly retryable: boolean;
  constructor(
    message: string,
    readonly outcomeUnknown = false,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(message, options);
    this.retryable = !outcomeUnknown && (options?.retryable ?? false);
  }
}

/** Runs SQL. Inside `write` it is one transaction; inside `read`, a consistent read connection. */
export interface Executor {
  readonly dialect: Dialect;
  all<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  get<T = Row>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  run(sql: string, params?: readonly unknown[]): Promise<{ changes: number }>;
  /** A fresh id, unique across every kind of an account (in fact across the server). */
  nextId(): Promise<number>;
  /**
   * The write transaction running on this executor made deliveries due that were not before: it created
   * some (raise()), made failed ones pending again (recover), or turned a hook with pending ones back on.
   * Once it has committed, Engine.onDeliveries listeners are told. No effect in a read.
   */
  deliveriesDue(): void;
  /**
   * In a write transaction of an engine that hands new deliveries to a delivery engine of this process
   * (Engine.handOffTo): lets the fan-out lease a new delivery to it in its INSERT, to be sent once the
   * transaction commits, with no claim. Absent elsewhere (reads, no delivery engine).
   */
  readonly handoff?: TxHandoff;
  /**
   * What this write transaction's connection read of `table` before under the same `key`, if the table cannot
   * have changed since (no write of it on this connection, no rollback of one, no other connection's commit);
   * otherwise `read()`, kept for next time. The value is shared between transactions: never change it. Absent
   * where the engine cannot tell (PostgreSQL: other processes write it unannounced), and in reads.
   */
  cached?<T>(table: 'hooks', key: string, read: () => Promise<T>): Promise<T>;
  /**
   * The unit's next statement is its last. Where statements are round trips (PostgreSQL), a read or a write
   * unit that commits alone and has run nothing yet runs that statement as its own transaction (one round
   * trip instead of three: BEGIN, the statement, COMMIT). A statement after it is refused. Absent where it
   * would change nothing.
   */
  last?(): void;
}

/**
 * A unit of one statement, that says so (Executor.last): for a helper that takes an executor,
 * `engine.read(oneStatement((x) => findHook(x, …)))`. A read of plain SQL is Engine.readOne.
 */
export function oneStatement<T>(fn: (x: Executor) => Promise<T>): (x: Executor) => Promise<T> {
  return (x) => {
    x.last?.();
    return fn(x);
  };
}

/**
 * A delivery engine of this process that takes new deliveries straight from the transaction that creates
 * them (records/events.ts, delivery/handoff.ts). The storage tells it what each transaction took once it
 * ends: handed over after a commit, given back after a rollback.
 */
export interface DeliveryHandoff {
  /** the lease owner written into the delivery */
  readonly owner: string;
  /** how long that lease holds, ms */
  readonly leaseMs: number;
  /** Takes a new delivery of this hook now, or not (no room, or older ones of the hook wait): counted at once. */
  take(hookId: number): boolean;
  /**
   * For a fan-out that decides in its own statement (PostgreSQL): whether it takes every new delivery now
   * (but a rate-limited hook's). What the statement then leases is counted with took().
   */
  takesAll(): boolean;
  took(hookId: number): void;
  /** The transaction that took a delivery of this hook rolled back. */
  untake(hookId: number): void;
  /** The transaction that took these committed: send them (what handed() was given, in order). */
  launch(deliveries: readonly unknown[]): void;
}

/** A DeliveryHandoff as one transaction sees it: what it takes and hands over is kept until it ends. */
export interface TxHandoff extends Pick<DeliveryHandoff, 'owner' | 'leaseMs' | 'take' | 'takesAll' | 'took'> {
  /** a delivery this transaction took, ready to send once it commits */
  handed(delivery: unknown): void;
}

export interface Dialect {
  name: 'sqlite' | 'postgres';
  /** FOR UPDATE SKIP LOCKED exists (PostgreSQL); SQLite has a single writer, so a claim needs no row locks. */
  skipLocked: boolean;
  /** INSERT inside WITH (PostgreSQL): one round trip for statements that would otherwise be several. */
  writableCte: boolean;
  /**
   * Statements run inside this process (SQLite): a prepared statement per row of a list costs less than
   * one statement unpacking the list from JSON (jsonRows), which is what saves round trips on PostgreSQL.
   */
  inProcess: boolean;
  /**
   * Put before a statement that joins a list of keys to a table that grows from empty: PostgreSQL then plans
   * it on every call, with its parameters. Kept as a named statement, its generic plan, made while the table
   * was small, stayed a sequential scan of it until the next ANALYZE (seen with the success UPDATE: over
   * 1 ms each in a young database). '' on SQLite.
   */
  planEachTime: string;
  /** `SELECT … FOR UPDATE` locks rows read in a write transaction (PostgreSQL). */
  forUpdate: string;
  /** Case-insensitive LIKE. */
  ilike: string;
  /** SQL expression for the text value of key `key` of the JSON object in column `column`. */
  jsonText(column: string, key: string): string;
  /**
   * A SELECT of rows from one JSON parameter (`[[1, "a"], [2, null]]`), one column per entry: lists of any
   * length in a statement whose text never changes, so each engine prepares it once. (PostgreSQL names only
   * its first few hundred distinct statements: lists spelled out as `(?, ?), …` would use up those names.)
   */
  jsonRows(columns: readonly JsonColumn[]): string;
}

/** A column of `jsonRows`: its name and whether it holds 64-bit integers or text (both may be null). */
export type JsonColumn = readonly [name: string, type: 'int' | 'text'];

export interface Engine {
  readonly dialect: Dialect;
  /** Reads committed data. */
  read<T>(fn: (x: Executor) => Promise<T>): Promise<T>;
  /**
   * One read statement on its own (its own snapshot, no explicit transaction): one round trip on
   * PostgreSQL where read() takes three. For reads that are a single statement and run often.
   */
  readOne<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * Runs fn in a write transaction. Concurrent calls are group-committed: several units share one
   * transaction (one fsync). If a shared transaction fails, each of its units is run again alone, so a
   * unit that throws never takes another unit down with it. fn must not have side effects outside the
   * database: it may run twice.
   */
  write<T>(fn: (x: Executor) => Promise<T>): Promise<T>;
  /** Runs fn in its own transaction on its own connection (no group commit): for tests and tools. */
  solo<T>(fn: (x: Executor) => Promise<T>): Promise<T>;
  /**
   * `listener` is called after each write transaction that created deliveries has committed (never for one
   * that rolled back): the delivery engine's cue to look for work at once. Writes made through solo(), or by
   * another process, are found by the engine's poll instead.
   */
  onDeliveries(listener: () => void): void;
  /**
   * From now on, write transactions lease the new deliveries `h` takes to it and hand them over when they
   * commit (delivery/handoff.ts).
   */
  handOffTo?(h: DeliveryHandoff): void;
  /**
   * Moves the id counter forward past `count` more ids, none of which is ever handed out, and answers the
   * lowest id that may be handed out from now on (this process forgets the block of ids it holds). For a
   * database restored from a backup: a webhook-id is made of ids, and the ids handed out after the backup
   * must not come again (`hookline ids skip`). Blocks another running process holds stay its own.
   */
  skipIds(count: number): Promise<number>;
  close(): Promise<void>;
}
