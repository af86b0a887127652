// PostgreSQL engine (pg): a pool for reads, a few dedicated writer connections that group-commit.
import pg from 'pg';
import { StorageUnavailable, type Dialect, type Engine, type Executor } from '../port.js';
import { GroupCommitter, type HandoffTx, type TxConnection } from '../group-commit.js';
import { migrations } from './migrations.js';
import { LastStatement } from '../last-statement.js';
import { WriterConnection, asUnavailable, isConnectionError, isReadOnlyServer } from './connection.js';

/** See Dialect.planEachTime: an unnamed statement is parsed and planned, with its parameters, on every call. */
const PLAN_EACH_TIME = '/* planned each time */ ';

export const postgresDialect: Dialect = {
  name: 'postgres',
  skipLocked: true,
  forUpdate: 'FOR UPDATE',
  writableCte: true,
  inProcess: false,
  planEachTime: PLAN_EACH_TIME,
  ilike: 'ILIKE',
  jsonText: (column, key) => `(${column}::jsonb ->> '${key}')`,
  jsonRows: (cols) =>
    `SELECT ${cols.map(([c, t], i) => (t === 'int' ? `CAST(e ->> ${i} AS BIGINT) AS ${c}` : `(e ->> ${i}) AS ${c}`)).join(', ')} FROM jsonb_array_elements(CAST(? AS jsonb)) AS e`,
};

/** Ids handed out per nextval of the id_blocks sequence (hi/lo): no round trip for most ids. */
const ID_BLOCK = 100;

// BIGINT columns come back as numbers: every id and time here fits in 2^53.
const types = {
  getTypeParser: (oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'),
};

const converted = new Map<string, { name: string; text: string }>();
/**
 * Shared SQL uses `?` placeholders; PostgreSQL wants $1, $2, … Each distinct statement also gets a name, so
 * every connection parses and plans it once (a named prepared statement) instead of on every call.
 */
function toPg(sql: string): { name: string; text: string } {
  let out = converted.get(sql);
  if (out === undefined) {
    let n = 0;
    // Statements built with variable IN (…) lists could be many: only the first few hundred get a name. A
    // statement marked to be planned each time (Dialect.planEachTime) never gets one.
    const name = converted.size < MAX_NAMED && !sql.startsWith(PLAN_EACH_TIME) ? `hl${converted.size}` : '';
    out = { name, text: sql.replace(/\?/g, () => `$${++n}`) };
    converted.set(sql, out);
  }
  return out;
}

const MAX_NAMED = 400;

function query(sql: string, params: readonly unknown[]): pg.QueryConfig {
  const q = toPg(sql);
  return q.name
    ? { name: q.name, text: q.text, values: params as unknown[] }
    : { text: q.text, values: params as unknown[] };
}

class IdBlocks {
  private next = 0;
  private end = 0;
  private pending: Promise<void> | null = null;
  constructor(private readonly pool: pg.Pool) {}

  async nextId(): Promise<number> {
    while (this.next >= this.end) {
      // nextval is not transactional: a block is never handed out twice, even if a transaction rolls back.
      // Asked again on a lost pooled connection (onceMore): a block lost with its answer is only skipped.
      this.pending ??= onceMore(() => this.pool.query<{ block: number }>("SELECT nextval('id_blocks') AS block"))
        .catch((e: unknown) => {
          throw asUnavailable(e);
        })
        .then((r) => {
          this.next = r.rows[0].block * ID_BLOCK;
          this.end = this.next + ID_BLOCK;
        })
        .finally(() => (this.pending = null));
      await this.pending;
    }
    return this.next++;
  }

  /** See Engine.skipIds: whole blocks, so a node's next block starts past them. */
  async skip(count: number): Promise<number> {
    const blocks = Math.ceil(count / ID_BLOCK);
    const r = await this.pool.query<{ block: number }>(
      "SELECT setval('id_blocks', nextval('id_blocks') + CAST($1 AS BIGINT)) AS block",
      [blocks],
    );
    this.next = this.end = 0;
    return (r.rows[0].block + 1) * ID_BLOCK;
  }
}

/**
 * A writer connection's transaction, begun lazily: BEGIN goes out just before the first statement (a unit
 * that runs none costs no round trip), and a unit that commits alone and whose first statement is its last
 * (Executor.last) runs that statement as its own transaction: one round trip instead of three. Each
 * transaction takes the writer's connection as it begins, a new one if the last was lost (connection.ts).
 */
class WriterTx {
  private begun = false;
  private client: pg.Client | null = null;
  readonly last = new LastStatement();
  /** the unit's last statement ran as its own transaction */
  ranAlone = false;
  /** told once the running unit has sent its last statement (TxConnection.lastSent) */
  lastSent: (() => void) | null = null;
  /** the connection's socket holds what is written until the end of this turn of the event loop */
  private corked = false;
  constructor(private readonly conn: WriterConnection) {}

  async begin(alone: boolean): Promise<void> {
    this.begun = this.ranAlone = false;
    this.last.begin(alone);
    this.client = null;
    this.client = await this.conn.get();
  }
  /**
   * Runs one statement of the transaction. The connection pipelines: BEGIN goes out with the first statement,
   * without waiting for its answer, and what is sent in one turn of the event loop — BEGIN, and the
   * statements of units that start as the one before sends its last (GroupCommitter's runUnits) — leaves in
   * one write. (Each write to PostgreSQL wakes its process; in the profiles, writes were a quarter of the main
   * thread's time, one per statement.)
   */
  async run(q: pg.QueryConfig): Promise<pg.QueryResult> {
    const alone = this.last.statement() && !this.begun;
    const lastOfUnit = this.last.lastOfUnit;
    this.cork();
    let begin: Promise<unknown> | null = null;
    if (!alone && !this.begun) {
      // BEGIN can fail only with its connection, which fails the statement behind it too.
      begin = this.send('BEGIN', false);
      this.begun = true;
    }
    // A statement that commits as it runs (alone) and loses its connection may have committed.
    const sending = this.send(q, alone);
    if (lastOfUnit) {
      const told = this.lastSent;
      this.lastSent = null;
      told?.();
    }
    const r = begin ? (await Promise.all([begin, sending]))[1] : await sending;
    // Committed by PostgreSQL as it answered (a statement that failed committed nothing).
    if (alone) this.ranAlone = true;
    return r;
  }

  /** Holds the socket's writes until the end of this turn of the event loop (see run). */
  private cork(): void {
    if (this.corked || !this.client) return;
    const socket = this.client.connection.stream;
    socket.cork();
    this.corked = true;
    setImmediate(() => {
      this.corked = false;
      socket.uncork();
    });
  }
  async commit(): Promise<void> {
    if (!this.begun) return;
    const r = await this.send('COMMIT', true);
    // PostgreSQL answers the COMMIT of a transaction that a failed statement aborted with ROLLBACK, not an
    // error: a unit that caught its statement's failure would otherwise be told it was saved.
    if (r.command === 'ROLLBACK') throw new Error('the transaction was rolled back: a statement in it failed');
  }
  async rollback(): Promise<void> {
    // On a lost connection there is nothing to roll back: PostgreSQL ended the transaction with it.
    if (this.begun && this.client && this.conn.current(this.client)) await this.client.query('ROLLBACK');
  }

  /**
   * One round trip on this transaction's connection. A connection failure gives the connection up and is
   * thrown as StorageUnavailable; `mayHaveCommitted` if what was sent commits as it runs (COMMIT, or a
   * statement alone) and the connection was still good when it went out.
   */
  private async send(q: pg.QueryConfig | string, mayHaveCommitted: boolean): Promise<pg.QueryResult> {
    const client = this.client;
    if (!client) throw new Error('no transaction begun');
    const wasGood = this.conn.current(client);
    try {
      return await client.query(q);
    } catch (e) {
      // A lost connection, or one to a server that takes no writes (nothing was written; another connection
      // may reach the primary): given up. A lost one's next try opens a new connection (retryable), unless
      // it may have committed; asUnavailable tells the read-only server's apart.
      if (!isConnectionError(e) && !isReadOnlyServer(e)) throw e;
      this.conn.lost(client, e);
      throw asUnavailable(e, mayHaveCommitted && wasGood, true);
    }
  }
}

/**
 * A read's first round trip, run once more if its pooled connection turned out to be lost (a restarted
 * database ends every idle connection; the pool learns of each only as it is used): the pool has dropped that
 * one, and a read has nothing to undo.
 */
async function onceMore<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    const lost = e instanceof StorageUnavailable ? !e.outcomeUnknown : isConnectionError(e);
    if (!lost) throw e;
    return run();
  }
}

/** BEGIN of a read: one snapshot for all of its statements. */
const BEGIN_READ = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';

/**
 * A read's snapshot, begun lazily like a writer's transaction: a read that runs no statement costs no round
 * trip, and one whose first statement is its last (Executor.last) runs it on any pooled connection as its own
 * snapshot, one round trip instead of three. Otherwise a connection is taken and BEGIN goes out before the
 * first statement.
 */
class ReadTx {
  readonly last = new LastStatement();
  private client: Promise<pg.PoolClient> | null = null;
  /** the connection failed under a statement (or did not answer it): no ROLLBACK is sent on it */
  private lost: Error | null = null;
  constructor(private readonly pool: pg.Pool) {
    this.last.begin(true);
  }

  async run(q: pg.QueryConfig): Promise<pg.QueryResult> {
    if (this.last.statement() && this.client === null) return onceMore(() => this.pool.query(q));
    // Statements started side by side share the one connection (and its snapshot), which runs them in turn.
    this.client ??= this.open();
    try {
      return await (await this.client).query(q);
    } catch (e) {
      if (isConnectionError(e)) this.lost ??= e as Error;
      throw e;
    }
  }

  private open(): Promise<pg.PoolClient> {
    return onceMore(async () => {
      const client = await this.pool.connect();
      try {
        await client.query(BEGIN_READ);
      } catch (e) {
        client.release(e as Error);
        throw e;
      }
      return client;
    });
  }

  /** Ends the snapshot, if one was begun, and gives its connection back. */
  async end(ok: boolean): Promise<void> {
    if (this.client === null) return;
    let client: pg.PoolClient;
    try {
      client = await this.client;
    } catch {
      return; // BEGIN failed: its connection went back already
    }
    // Given back with its failure, the pool ends it (at once, even with a statement unanswered on it).
    if (this.lost) return client.release(this.lost);
    try {
      await client.query(ok ? 'COMMIT' : 'ROLLBACK');
      client.release();
    } catch (e) {
      client.release(e as Error);
      // A read-only snapshot has nothing to commit: what it read stands even if its connection is lost now.
      if (ok && !isConnectionError(e)) throw e;
    }
  }
}

class PgExecutor implements Executor {
  readonly dialect = postgresDialect;
  /** deliveriesDue() was called in the current transaction (read by the group committer) */
  created = false;
  /** a writer's, while a delivery engine takes new deliveries (set by the group committer) */
  handoff?: HandoffTx;
  constructor(
    private readonly client: pg.Pool | pg.PoolClient | pg.Client,
    private readonly ids: IdBlocks,
    /** a writer's transactions or a read's snapshot (none for solo(), which begins its own) */
    private readonly tx?: WriterTx | ReadTx,
  ) {}
  private exec(sql: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    const q = query(sql, params);
    // A read's lost or refused connection is unavailability, not a fault (a writer's says so itself).
    return (this.tx ? this.tx.run(q) : this.client.query(q)).catch((e: unknown) => {
      throw asUnavailable(e);
    });
  }
  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return (await this.exec(sql, params)).rows as T[];
  }
  async get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.exec(sql, params)).rows[0] as T | undefined;
  }
  async run(sql: string, params: readonly unknown[] = []): Promise<{ changes: number }> {
    return { changes: (await this.exec(sql, params)).rowCount ?? 0 };
  }
  last(): void {
    this.tx?.last.mark();
  }
  nextId(): Promise<number> {
    return this.ids.nextId();
  }
  deliveriesDue(): void {
    this.created = true;
  }
}

export interface PostgresOptions {
  url: string;
  /** Schema to use (created if missing); tests get one each. */
  schema?: string;
  /** Writer connections, each running its own group commits. */
  writers?: number;
  readPoolSize?: number;
  /**
   * How long to wait for one answer (a statement's, or a new connection's) before the connection is taken
   * for lost and ended (HOOKLINE_DATABASE_TIMEOUT; default 30 s; 0 = for ever). A database gone without a
   * word — a network partition, a failover that moves its address — sends no reset: without this bound a
   * statement would wait for TCP to give up, some fifteen minutes, holding its writer and every write
   * queued behind it.
   */
  answerTimeoutMs?: number;
}

/** See PostgresOptions.answerTimeoutMs. */
const ANSWER_TIMEOUT_MS = 30_000;

async function migrate(client: pg.Client | pg.PoolClient): Promise<void> {
  // An advisory lock keeps two nodes starting together from migrating twice.
  await client.query('SELECT pg_advisory_lock(836001)');
  try {
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at BIGINT)',
    );
    const done = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        for (const s of m.statements) await client.query(s);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          Date.now(),
        ]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw e;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(836001)');
  }
}

/**
 * The connection settings: Hookline's, then the user's own — the database URL's `options` parameter, or
 * else PGOPTIONS — which win where both set the same one. (node-postgres takes the URL's `options` over the
 * `options` it is given, and that over PGOPTIONS: either way one side's settings would be dropped without a
 * word, Hookline's schema among them.)
 */
export function withOwnSettings(url: string, ours: string): { connectionString: string; options: string } {
  let theirs = process.env.PGOPTIONS ?? '';
  let connectionString = url;
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    // not a URL (a bare socket path, say): it carries no options of its own
  }
  const given = parsed?.searchParams.get('options') ?? null;
  if (parsed && given !== null) {
    theirs = given;
    parsed.searchParams.delete('options');
    connectionString = parsed.toString();
  }
  return { connectionString, options: [ours, theirs.trim()].filter(Boolean).join(' ') };
}

export async function openPostgres(options: PostgresOptions): Promise<Engine> {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  // random_page_cost 1.1 (PostgreSQL's own advice for SSDs; Hookline's hot rows — pending deliveries, recent
  // events — are in memory anyway): with the default 4, a statement that updates or joins a few dozen rows
  // by key from a JSON list was planned as a scan of the whole deliveries table until it was large.
  const settings = ['-c random_page_cost=1.1', ...(schema ? [`-c search_path=${schema}`] : [])];
  const timeout = options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS;
  const connOptions: pg.PoolConfig = {
    types,
    ...withOwnSettings(options.url, settings.join(' ')),
    // TCP keep-alive from 30 s of silence (the system's default is two hours) finds an idle connection cut
    // without a word; the timeouts bound the wait for an answer on a busy one (ended: connection.ts).
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
    ...(timeout > 0 ? { query_timeout: timeout, connectionTimeoutMillis: timeout } : {}),
  };
  if (schema) {
    const admin = new pg.Client({ connectionString: options.url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({ ...connOptions, max: options.readPoolSize ?? 10 });
  pool.on('error', () => undefined); // an idle client's error is reported on its next use
  // A connection lost while a read holds it between statements (or as it is given back) emits 'error' on a
  // client the pool no longer listens to: unheard, that would end the process. It is heard here, and the
  // read's next statement fails (as unavailable) instead.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const ids = new IdBlocks(pool);
  const writers: WriterConnection[] = [];
  const conns: TxConnection[] = [];
  try {
    const first = await pool.connect();
    try {
      await migrate(first);
    } finally {
      first.release();
    }
    for (let i = 0; i < (options.writers ?? 4); i++) {
      // Writers pipeline (WriterTx.run): statements go out without waiting for the answers before them.
      const writer = new WriterConnection({ ...connOptions, pipeline: true });
      await writer.open();
      writers.push(writer);
      const tx = new WriterTx(writer);
      conns.push({
        executor: new PgExecutor(pool, ids, tx),
        begin: (alone) => tx.begin(alone),
        commit: () => tx.commit(),
        rollback: () => tx.rollback(),
        committedAlone: () => tx.ranAlone,
        lastSent: (listener) => {
          tx.lastSent = listener;
          tx.last.nextUnit();
        },
      });
    }
  } catch (e) {
    // Nothing opened so far is left behind (a start that waits for PostgreSQL tries again: storage/open.ts).
    await Promise.all(writers.map((w) => w.close().catch(() => undefined)));
    await pool.end().catch(() => undefined);
    throw e;
  }
  const committer = new GroupCommitter(conns);

  return {
    dialect: postgresDialect,
    async read(fn) {
      // REPEATABLE READ gives a multi-statement read one snapshot; a read of one statement that says so
      // (Executor.last) needs none (ReadTx).
      const tx = new ReadTx(pool);
      let result;
      try {
        result = await fn(new PgExecutor(pool, ids, tx));
      } catch (e) {
        await tx.end(false);
        throw e;
      }
      await tx.end(true);
      return result;
    },
    async readOne<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      // Its own snapshot, like a read's first round trip: asked once more on a lost pooled connection.
      return onceMore(() => new PgExecutor(pool, ids).all<T>(sql, params));
    },
    write: (fn) => committer.submit(fn),
    onDeliveries: (listener) => committer.onDeliveries(listener),
    handOffTo: (h) => committer.handOffTo(h),
    skipIds: (count) => ids.skip(count),
    async solo(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(new PgExecutor(client, ids));
        await client.query('COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
    async close() {
      await committer.drain();
      await Promise.all(writers.map((w) => w.close()));
      await pool.end();
    },
  };
}
