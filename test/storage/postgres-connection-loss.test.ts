// PostgreSQL's connections lost under the engine (src/storage/postgres/connection.ts), on a real server:
// every connection goes through a TCP relay on loopback that the test can cut, make refuse, or make cut a
// connection just after it has passed a COMMIT on (so the transaction commits, and its answer never comes).
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { PG_URL, dropSchema, pgAvailable } from '../support/engines.js';
import { openPostgres } from '../../src/storage/postgres/engine.js';
import { RECONNECT_EVERY_MS, isConnectionError } from '../../src/storage/postgres/connection.js';
import { StorageUnavailable, type Engine } from '../../src/storage/port.js';

/** A TCP relay to PostgreSQL. */
async function relay() {
  const target = new URL(PG_URL);
  const open = new Set<net.Socket>();
  const state = { refuse: false, cutOnCommit: false, commitsCut: 0 };
  const server = net.createServer((client) => {
    if (state.refuse) return client.destroy();
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    open.add(client).add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      // A simple-protocol COMMIT ('Q' message): let it reach the server, then end the connection before
      // the answer can come back.
      if (state.cutOnCommit && chunk.includes('COMMIT\0')) {
        state.cutOnCommit = false;
        state.commitsCut++;
        upstream.prependOnceListener('data', () => {
          upstream.pause();
          cut();
        });
      }
    });
    upstream.on('data', (chunk: Buffer) => client.writable && client.write(chunk));
    for (const s of [client, upstream]) {
      s.on('error', cut);
      s.on('close', () => (open.delete(s), cut()));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = new URL(PG_URL);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    state,
    /** ends every connection through the relay, as a restart of PostgreSQL does */
    cutAll: () => open.forEach((s) => s.destroy()),
    close: () => new Promise<void>((r) => (open.forEach((s) => s.destroy()), server.close(() => r()))),
  };
}

describe.runIf(pgAvailable)('PostgreSQL connections lost under the engine', () => {
  let engine: Engine | null = null;
  let schema = '';
  let r: Awaited<ReturnType<typeof relay>> | null = null;
  afterEach(async () => {
    await engine?.close().catch(() => undefined);
    engine = null;
    await r?.close();
    r = null;
    if (schema) await dropSchema(schema);
  });

  const open = async () => {
    r = await relay();
    schema = `t_${randomBytes(6).toString('hex')}`;
    const e = await openPostgres({ url: r.url, schema, writers: 1, readPoolSize: 2 });
    engine = e;
    await e.write((x) => x.run('CREATE TABLE marks (n INTEGER NOT NULL)'));
    return e;
  };
  const mark = (e: Engine, n: number) => e.write((x) => x.run('INSERT INTO marks (n) VALUES (?)', [n]));
  const marks = async (e: Engine) =>
    (await e.read((x) => x.all<{ n: number }>('SELECT n FROM marks ORDER BY n'))).map((m) => m.n);
  const caught = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => e,
    );

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
    const w = await caught(mark(e, 2));
    expect(w).toBeInstanceOf(StorageUnavailable);
    expect((w as StorageUnavailable).outcomeUnknown).toBe(false);
    const rd = await caught(marks(e));
    expect(rd).toBeInstanceOf(StorageUnavailable);
    r!.state.refuse = false;
    // A writer tries a new connection at most once a RECONNECT_EVERY_MS.
    await new Promise((done) => setTimeout(done, RECONNECT_EVERY_MS + 100));
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
