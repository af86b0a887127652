// PostgreSQL's connections lost under the engine (src/storage/postgres/connection.ts), on a real server:
// every connection goes through a TCP relay on loopback that the test can cut, make refuse, or make cut a
// connection just after it has passed a COMMIT on (so the transaction commits, and its answer never comes).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { PG_URL, dropSchema, pgAvailable } from '../support/engines.js';
import { relay } from '../support/pg-relay.js';
import { freshDatabase } from '../support/fresh-database.js';
import { openPostgres } from '../../src/storage/postgres/engine.js';
import { RECONNECT_EVERY_MS, isConnectionError } from '../../src/storage/postgres/connection.js';
import { StorageUnavailable, type Engine } from '../../src/storage/port.js';

const caught = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

/** Past the time a writer waits before it tries a new connection (RECONNECT_EVERY_MS). */
const pastReconnectWait = () => new Promise((done) => setTimeout(done, RECONNECT_EVERY_MS + 100));

/** `err` says the database is unavailable, and that nothing of the change was written (outcome known). */
function expectUnavailableNothingWritten(err: unknown): void {
  expect(err).toBeInstanceOf(StorageUnavailable);
  expect((err as StorageUnavailable).outcomeUnknown).toBe(false);
}

/** What a test opened, closed after it in reverse order (engines before their relay, database last). */
const opened: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close().catch(() => undefined);
});

describe.runIf(pgAvailable)('PostgreSQL connections lost under the engine', () => {
  let r: Awaited<ReturnType<typeof relay>> | null = null;

  const open = async (answerTimeoutMs?: number) => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    opened.push(() => dropSchema(schema));
    const relayed = await relay();
    r = relayed;
    opened.push(() => relayed.close());
    const e = await openPostgres({ url: relayed.url, schema, writers: 1, readPoolSize: 2, answerTimeoutMs });
    opened.push(() => e.close());
    await e.write((x) => x.run('CREATE TABLE marks (n INTEGER NOT NULL)'));
    return e;
  };
  const mark = (e: Engine, n: number) => e.write((x) => x.run('INSERT INTO marks (n) VALUES (?)', [n]));
  const marks = async (e: Engine) =>
    (await e.read((x) => x.all<{ n: number }>('SELECT n FROM marks ORDER BY n'))).map((m) => m.n);

  it('replaces the writer’s connection and the readers’ once they are cut, without failing the next write or read', async () => {
    const e = await open();
    await mark(e, 1);
    r!.cutAll();
    // Neither the writer nor the pool knows yet that its connection is gone: the first statement finds out.
    await mark(e, 2);
    expect(await marks(e)).toEqual([1, 2]);
    r!.cutAll();
    expect(await marks(e)).toEqual([1, 2]);
    // A batch of units in one transaction (the group commit) gets through too.
    r!.cutAll();
    await Promise.all([mark(e, 3), mark(e, 4), mark(e, 5)]);
    expect(await marks(e)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a connection cut while a read holds it between statements: that read fails as unavailable, and the process carries on', async () => {
    const e = await open();
    await mark(e, 1);
    const err = await caught(
      e.read(async (x) => {
        await x.all('SELECT n FROM marks');
        // Unheard, the client's 'error' here would be an uncaught exception (the pool no longer listens to
        // a connection it has lent out).
        r!.cutAll();
        await new Promise((done) => setTimeout(done, 100));
        return x.all('SELECT n FROM marks');
      }),
    );
    expect(err).toBeInstanceOf(StorageUnavailable);
    expect(await marks(e)).toEqual([1]);
  });

  it('a connection lost as its transaction commits: each unit is told the outcome is unknown, and none is run again', async () => {
    const e = await open();
    r!.state.cutOnCommit = true;
    // Three units in the same turn share one transaction; it commits, and the answer is lost.
    const errors = await Promise.all([caught(mark(e, 1)), caught(mark(e, 2)), caught(mark(e, 3))]);
    expect(r!.state.commitsCut).toBe(1);
    for (const err of errors) {
      expect(err).toBeInstanceOf(StorageUnavailable);
      expect((err as StorageUnavailable).outcomeUnknown).toBe(true);
    }
    // It did commit, once: run again, each change would be there twice.
    expect(await marks(e)).toEqual([1, 2, 3]);
    // The writer carries on with a new connection.
    await mark(e, 4);
    expect(await marks(e)).toEqual([1, 2, 3, 4]);
  });

  it('while PostgreSQL refuses connections, writes and reads fail as unavailable (outcome known); then they work again', async () => {
    const e = await open();
    await mark(e, 1);
    r!.state.refuse = true;
    r!.cutAll();
    expectUnavailableNothingWritten(await caught(mark(e, 2)));
    const rd = await caught(marks(e));
    expect(rd).toBeInstanceOf(StorageUnavailable);
    r!.state.refuse = false;
    // A writer tries a new connection at most once a RECONNECT_EVERY_MS.
    await pastReconnectWait();
    await mark(e, 3);
    expect(await marks(e)).toEqual([1, 3]);
  });

  it('a database gone silent (a partition: no reset, no answer): writes and reads fail as unavailable after the answer timeout, their connections are ended, and a new one serves once it answers again', async () => {
    const e = await open(500);
    await mark(e, 1);
    expect(await marks(e)).toEqual([1]);
    r!.state.silent = true;
    // The write's BEGIN got no answer: nothing was committed, and the write says so.
    expectUnavailableNothingWritten(await caught(mark(e, 2)));
    const rd = await caught(marks(e));
    expect(rd).toBeInstanceOf(StorageUnavailable);
    // A read that goes silent between its statements.
    r!.state.silent = false;
    await pastReconnectWait();
    const between = await caught(
      e.read(async (x) => {
        await x.all('SELECT n FROM marks');
        r!.state.silent = true;
        return x.all('SELECT n FROM marks');
      }),
    );
    expect(between).toBeInstanceOf(StorageUnavailable);
    // The silent connections were ended by the engine, not left open waiting (the relay ends nothing).
    await expect.poll(() => r!.openNow(), { timeout: 5000 }).toBe(0);
    r!.state.silent = false;
    await pastReconnectWait();
    await mark(e, 3);
    expect(await marks(e)).toEqual([1, 3]);
  });

  it('a statement’s own error is not unavailability, and is not run again', async () => {
    const e = await open();
    let runs = 0;
    const err = await caught(
      e.write(async (x) => {
        runs++;
        await x.run('INSERT INTO no_such_table VALUES (1)');
      }),
    );
    expect(err).not.toBeInstanceOf(StorageUnavailable);
    expect(isConnectionError(err)).toBe(false);
    expect(runs).toBe(1);
    await mark(e, 1);
    expect(await marks(e)).toEqual([1]);
  });
});

// A failover that leaves Hookline's name for the primary pointing, for a while, at a server that takes no
// writes (a managed database's writer endpoint): its connections are refused every write (SQLSTATE 25006).
describe.runIf(pgAvailable)('PostgreSQL that takes no writes (a failover in progress)', () => {
  it('refuses writes as unavailable (nothing written, outcome known), without a new connection at every write, and writes again once the server does', async () => {
    const db = await freshDatabase('hookline_readonly');
    opened.push(() => db.drop());
    const name = new URL(db.url).pathname.slice(1);
    // Through the relay, which counts the connections made.
    const r = await relay();
    opened.push(() => r.close());
    const url = new URL(r.url);
    url.pathname = `/${name}`;
    const e = await openPostgres({ url: url.toString(), writers: 1, readPoolSize: 2 });
    opened.push(() => e.close());
    await e.write((x) => x.run('CREATE TABLE marks (n INTEGER NOT NULL)'));
    const mark = (n: number) => e.write((x) => x.run('INSERT INTO marks (n) VALUES (?)', [n]));
    await mark(1);
    // New sessions of the database are read-only from now on; the writer's is replaced by one.
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      const before = r.state.connections;
      const refused: unknown[] = [];
      for (let n = 2; n <= 6; n++) refused.push(await caught(mark(n)));
      for (const err of refused) {
        expectUnavailableNothingWritten(err);
        expect((err as Error).message).toMatch(/takes no writes/);
      }
      // Five writes in a row, and one new connection for them all (a writer tries once a second).
      expect(r.state.connections - before).toBe(1);
      await admin.query(`ALTER DATABASE ${name} RESET default_transaction_read_only`);
    } finally {
      await admin.end();
    }
    await pastReconnectWait();
    await mark(7);
    expect((await e.read((x) => x.all<{ n: number }>('SELECT n FROM marks ORDER BY n'))).map((m) => m.n)).toEqual([
      1, 7,
    ]);
  });
});
