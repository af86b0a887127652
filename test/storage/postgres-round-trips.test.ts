// PostgreSQL's round trips: BEGIN goes out only before a unit's first statement, and a read, or a write unit
// that commits alone, whose first statement is its last (Executor.last) runs it as its own transaction.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL, dropSchema, makeEngine, pgAvailable, type TestEngine } from '../support/engines.js';
import { createAccount } from '../../src/accounts/accounts.js';
import { raise } from '../../src/records/events.js';
import { oneStatement, type Engine, type Executor } from '../../src/storage/port.js';
import { buildApp } from '../../src/http/app.js';
import { openPostgres } from '../../src/storage/postgres/engine.js';
import { relay } from '../support/pg-relay.js';

describe.runIf(pgAvailable)('round trips on postgres', () => {
  let db: TestEngine;
  let accountId: number;
  beforeAll(async () => {
    db = await makeEngine('postgres');
    accountId = (await createAccount(db.engine, { name: 'R', adminEmail: `rt-${Date.now()}@example.org` })).accountId;
  });
  afterAll(async () => db.destroy());

  /**
   * An engine of its own with one writer (so that units queued in one turn share one transaction), in a
   * schema of its own, through `url` (a relay's) or straight to PostgreSQL; closed and dropped after `fn`.
   */
  async function oneWriter<T>(fn: (e: Engine) => Promise<T>, url = PG_URL): Promise<T> {
    const schema = `t_rt_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    const e = await openPostgres({ url, schema, writers: 1, readPoolSize: 1 });
    try {
      return await fn(e);
    } finally {
      await e.close();
      await dropSchema(schema);
    }
  }

  // SAVEPOINT works only inside a transaction block (BEGIN … COMMIT): on its own, PostgreSQL refuses it.
  const savepoint = (x: Executor) => x.run('SAVEPOINT s');
  const OWN = /transaction blocks/;

  it('a unit alone whose only statement is its last runs it as its own transaction; others begin one', async () => {
    await expect(
      db.engine.write(async (x) => {
        x.last?.();
        await savepoint(x);
      }),
    ).rejects.toThrow(OWN);
    await db.engine.write((x) => savepoint(x));
    // A statement before the last one: the unit is one transaction, begun before its first statement.
    await db.engine.write(async (x) => {
      await x.get('SELECT 1');
      x.last?.();
      await savepoint(x);
    });
    // Units sharing a transaction never run on their own, whatever they say.
    const shared = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        db.engine.write(async (x) => {
          x.last?.();
          await savepoint(x);
        }),
      ),
    );
    // (The first may have gone alone before the rest queued behind it.)
    expect(shared.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(9);
  });

  it('a read whose only statement is its last runs it on its own, outside a transaction block; other reads share one snapshot', async () => {
    await expect(db.engine.read(oneStatement(savepoint))).rejects.toThrow(OWN);
    await db.engine.read((x) => savepoint(x));
    // A read of several statements sees one snapshot: a write committed between them is not seen.
    const count = (x: Executor) => x.get<{ n: number }>('SELECT COUNT(*) AS n FROM accounts');
    let wrote = false;
    const [first, second] = await db.engine.read(async (x) => {
      const a = await count(x);
      await createAccount(db.engine, { name: 'S', adminEmail: `snap-${Date.now()}@example.org` });
      wrote = true;
      x.last?.();
      return [a, await count(x)];
    });
    expect(wrote).toBe(true);
    expect(second).toEqual(first);
    expect(Number((await db.engine.read(oneStatement(count)))?.n)).toBe(Number(first?.n) + 1);
  });

  it('the hand-off hears of a unit alone as its last statement went: launched if it committed, given back if it failed', async () => {
    const calls: string[] = [];
    db.engine.handOffTo!({
      owner: 'test',
      leaseMs: 1_000,
      take: () => true,
      takesAll: () => false,
      took: () => undefined,
      untake: (hookId) => void calls.push(`untake ${hookId}`),
      launch: (items) => void calls.push(`launch ${items.join(',')}`),
    });
    const unit = (sql: string, item: string, after?: () => void) =>
      db.engine.write(async (x) => {
        x.handoff!.take(7);
        x.handoff!.handed(item);
        x.last?.();
        await x.get(sql);
        after?.();
      });
    await unit('SELECT 1', 'a');
    await expect(unit('SELECT 1/0', 'b')).rejects.toThrow(/division by zero/);
    // Failing after its last statement committed on its own: what that statement did stands.
    await expect(
      unit('SELECT 1', 'c', () => {
        throw new Error('after the last');
      }),
    ).rejects.toThrow('after the last');
    expect(calls).toEqual(['launch a', 'untake 7', 'launch c']);
  });

  it("an event raised alone as the unit's last statement: its deliveries written, listeners told, even if the unit fails after it", async () => {
    await db.engine.write(async (x) =>
      x.run(
        `INSERT INTO hooks (account_id, id, type, title, active, event, constrainttype, url, contenttype, secret, created_at, updated_at)
         VALUES (?, ?, 'web', 't', 1, 'items.create', 'all', 'http://127.0.0.1:9/', 'json', '', 1, 1)`,
        [accountId, await x.nextId()],
      ),
    );
    let told = 0;
    db.engine.onDeliveries(() => told++);
    const raiseLast = (x: Executor, objectId: number) =>
      raise(x, { accountId, type: 'items.create', objectId, objectKind: 'contact', content: {}, now: 1 }, undefined, {
        last: true,
      });
    const deliveries = async (objectId: number) =>
      Number(
        (
          await db.engine.read((x) =>
            x.get<{ n: number }>(
              'SELECT COUNT(*) AS n FROM deliveries d JOIN events e ON e.account_id = d.account_id AND e.id = d.event_id WHERE e.account_id = ? AND e.object_id = ?',
              [accountId, objectId],
            ),
          )
        )?.n,
      );
    await db.engine.write((x) => raiseLast(x, 501));
    expect(await deliveries(501)).toBe(1);
    expect(told).toBe(1);
    // A unit that fails after its last statement ran on its own (a bug, but not a lost write): what that
    // statement committed stands, and the listeners hear of its deliveries.
    await expect(
      db.engine.write(async (x) => {
        await raiseLast(x, 502);
        throw new Error('after the last');
      }),
    ).rejects.toThrow('after the last');
    expect(await deliveries(502)).toBe(1);
    expect(told).toBe(2);
  });

  it("an activity's insert travels with its event and deliveries: one statement, as a contact's does", async () => {
    const statements: string[] = [];
    // The engine as the app sees it, noting every statement its writes run.
    const noting = (x: Executor): Executor =>
      new Proxy(x, {
        get(target, prop) {
          const v: unknown = Reflect.get(target, prop, target);
          if (prop === 'run' || prop === 'all' || prop === 'get')
            return (sql: string, params?: unknown[]) => {
              statements.push(sql);
              return (v as (sql: string, params?: unknown[]) => unknown).call(target, sql, params);
            };
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    const engine: Engine = { ...db.engine, write: (fn) => db.engine.write((x) => fn(noting(x))) };
    const email = `act-${Date.now()}@example.org`;
    const { token } = await createAccount(db.engine, { name: 'Act', adminEmail: email });
    const app = await buildApp({ engine, bodyLimit: 1 << 20 });
    try {
      const post = (url: string, body: unknown) =>
        app.inject({
          method: 'POST',
          url,
          headers: {
            authorization: `Basic ${Buffer.from(`${email}:${token}`).toString('base64')}`,
            accept: 'application/json',
            'content-type': 'application/json',
          },
          payload: JSON.stringify(body),
        });
      const contact = await post('/contacts/', { firstname: 'Ada' });
      expect(contact.statusCode).toBe(200);
      statements.length = 0;
      const note = await post('/contacts/note/', { parent: JSON.parse(contact.body).item.id, data: { details: 'x' } });
      expect(note.statusCode).toBe(200);
      const inserts = statements.filter((q) => q.includes('INSERT INTO activities'));
      expect(inserts).toHaveLength(1);
      expect(inserts[0]).toContain('INSERT INTO events');
      expect(inserts[0]).toContain('INSERT INTO deliveries');
    } finally {
      await app.close();
    }
  });
  it('a unit that says its next statement is its last and runs none does not hand that mark to the next unit of the transaction', async () => {
    await oneWriter(async (e) => {
      await e.write((x) => x.run('CREATE TABLE tallies (one INTEGER PRIMARY KEY, n INTEGER NOT NULL)'));
      await e.write((x) => x.run('INSERT INTO tallies (one, n) VALUES (1, 0)'));
      // Read, then write what was read plus one: two statements, which must not interleave with another unit's
      // (had the second unit's first statement been taken for its last, the third would start behind it and
      // read the same value).
      const bump = (x: Executor) =>
        x
          .get<{ n: number }>('SELECT n FROM tallies WHERE one = 1')
          .then((r) => x.run('UPDATE tallies SET n = ? WHERE one = 1', [Number(r!.n) + 1]));
      await Promise.all([
        e.write(async (x) => {
          x.last?.();
        }),
        e.write(bump),
        e.write(bump),
      ]);
      expect(await e.readOne<{ n: number }>('SELECT n FROM tallies')).toEqual([{ n: 2 }]);
    });
  });

  it('a unit that catches its own statement’s failure (which aborts the shared transaction) does not take its neighbours’ writes with it', async () => {
    await oneWriter(async (e) => {
      await e.write((x) => x.run('CREATE TABLE marks (n INTEGER NOT NULL CHECK (n > 0))'));
      const [swallowed, neighbour] = await Promise.allSettled([
        e.write(async (x) => {
          await x.run('INSERT INTO marks (n) VALUES (?)', [1]);
          // Refused by the CHECK; PostgreSQL aborts the whole transaction, whatever the unit does next.
          await x.run('INSERT INTO marks (n) VALUES (?)', [-1]).catch(() => undefined);
        }),
        e.write((x) => x.run('INSERT INTO marks (n) VALUES (?)', [2])),
      ]);
      // The neighbour's write stands; the unit that swallowed the failure is told its transaction was undone.
      expect(neighbour.status).toBe('fulfilled');
      expect(swallowed.status).toBe('rejected');
      expect((swallowed as PromiseRejectedResult).reason.message).toMatch(/rolled back/);
      expect(await e.readOne<{ n: number }>('SELECT n FROM marks ORDER BY n')).toEqual([{ n: 2 }]);
    });
  });

  it('a unit of a pipelined transaction that fails after its last statement is told so, and its neighbours commit once', async () => {
    await oneWriter(async (e) => {
      await e.write((x) => x.run('CREATE TABLE marks (n INTEGER NOT NULL)'));
      const mark = (n: number, after?: () => void) =>
        e.write(async (x) => {
          x.last?.();
          await x.run('INSERT INTO marks (n) VALUES (?)', [n]);
          after?.();
          return n;
        });
      const outcomes = await Promise.allSettled([
        mark(1),
        mark(2, () => {
          throw new Error('after its last statement');
        }),
        mark(3),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason.message).toBe('after its last statement');
      // Committed once each: the shared transaction was undone and each unit run alone, and the failing unit's
      // statement, its last, committed on its own before it threw (committedAlone).
      expect(await e.readOne<{ n: number }>('SELECT n FROM marks ORDER BY n')).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    });
  });

  it('a shared transaction of units that end on their last statement leaves in two writes: BEGIN with every statement, then COMMIT', async () => {
    const r = await relay();
    try {
      await oneWriter(async (e) => {
        await e.write((x) => x.run('CREATE TABLE marks (n INTEGER NOT NULL)'));
        const before = r.state.fromClient;
        // Ten units queued in one turn: one transaction on the one writer.
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            e.write(async (x) => {
              x.last?.();
              await x.run('INSERT INTO marks (n) VALUES (?)', [i]);
            }),
          ),
        );
        // One statement after another, waiting for each answer, would be twelve writes.
        expect(r.state.fromClient - before).toBeLessThanOrEqual(2);
        expect(await e.readOne<{ n: number }>('SELECT COUNT(*) AS n FROM marks')).toEqual([{ n: 10 }]);
      }, r.url);
    } finally {
      await r.close();
    }
  });
});
