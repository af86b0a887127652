// The storage conformance suite: the same cases against every engine, on real databases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, PG_URL, makeEngine, type TestEngine } from '../support/engines.js';
import { createAccount } from '../../src/accounts/accounts.js';
import { raise } from '../../src/records/events.js';
import { oneStatement, type Executor } from '../../src/storage/port.js';
import { openSqlite } from '../../src/storage/sqlite/engine.js';
import { openPostgres } from '../../src/storage/postgres/engine.js';

describe.each(ENGINES)('storage conformance on %s', (name) => {
  let db: TestEngine;
  let accountId: number;
  beforeAll(async () => {
    db = await makeEngine(name);
    accountId = (await createAccount(db.engine, { name: 'C', adminEmail: `c-${name}-${Date.now()}@example.org` }))
      .accountId;
  });
  afterAll(async () => db.destroy());

  const insertCategory = (x: Executor, id: number, label: string) =>
    x.run('INSERT INTO categories (account_id, id, kind, name, created_at) VALUES (?, ?, ?, ?, ?)', [
      accountId,
      id,
      'contact',
      label,
      1,
    ]);

  it('hands out ids that are unique under concurrent writers', async () => {
    const ids = await Promise.all(Array.from({ length: 300 }, () => db.engine.write((x) => x.nextId())));
    expect(new Set(ids).size).toBe(300);
    expect(ids.every((id) => Number.isSafeInteger(id) && id > 0)).toBe(true);
  });

  it('skipIds: no id below the floor it answers is handed out afterwards, by this engine or a new one', async () => {
    const before = await db.engine.write((x) => x.nextId());
    const floor = await db.engine.skipIds(1_000);
    expect(floor).toBeGreaterThan(before + 1_000);
    const after = await Promise.all(Array.from({ length: 150 }, () => db.engine.write((x) => x.nextId())));
    expect(Math.min(...after)).toBeGreaterThanOrEqual(floor);
    // Another process opening the database (the server after `hookline ids skip`) starts past it too.
    const other =
      name === 'sqlite'
        ? openSqlite({ file: db.where })
        : await openPostgres({ url: PG_URL, schema: db.where, writers: 1, readPoolSize: 1 });
    try {
      expect(await other.write((x) => x.nextId())).toBeGreaterThan(Math.max(...after));
    } finally {
      await other.close();
    }
  });

  it('commits what a write did and reads it back through read()', async () => {
    const id = await db.engine.write(async (x) => {
      const id = await x.nextId();
      await insertCategory(x, id, `committed-${id}`);
      return id;
    });
    const row = await db.engine.read((x) =>
      x.get<{ name: string }>('SELECT name FROM categories WHERE account_id = ? AND id = ?', [accountId, id]),
    );
    expect(row?.name).toBe(`committed-${id}`);
  });

  it('readOne runs one read statement: committed rows, its parameters, never what a write has not committed', async () => {
    const id = await db.engine.write(async (x) => {
      const id = await x.nextId();
      await insertCategory(x, id, `read-one-${id}`);
      return id;
    });
    const sql = 'SELECT name FROM categories WHERE account_id = ? AND id = ? ORDER BY id LIMIT CAST(? AS INTEGER)';
    expect(await db.engine.readOne<{ name: string }>(sql, [accountId, id, 5])).toEqual([{ name: `read-one-${id}` }]);
    // A write in progress (inside its transaction, before the commit) is not seen.
    let seenInside: unknown[] = ['not run'];
    await db.engine.write(async (x) => {
      const other = await x.nextId();
      await insertCategory(x, other, `uncommitted-${other}`);
      seenInside = await db.engine.readOne(sql, [accountId, other, 5]);
    });
    expect(seenInside).toEqual([]);
    // Queued behind a read() in progress, it still answers.
    const [a, b] = await Promise.all([
      db.engine.read((x) => x.all(sql, [accountId, id, 5])),
      db.engine.readOne(sql, [accountId, id, 5]),
    ]);
    expect(b).toEqual(a);
  });

  it('tells onDeliveries listeners after a write that created deliveries commits, and only then', async () => {
    // An account of its own: no other test's hooks match its events.
    const email = `told-${name}-${Date.now()}@example.org`;
    const acc = (await createAccount(db.engine, { name: 'T', adminEmail: email })).accountId;
    let told = 0;
    db.engine.onDeliveries(() => told++);
    const raiseIn = (x: Executor) =>
      raise(x, { accountId: acc, type: 'items.create', objectId: 1, objectKind: 'contact', content: {}, now: 1 });
    // No hook yet: the event has no delivery, nobody is told.
    await db.engine.write(raiseIn);
    expect(told).toBe(0);
    await db.engine.write(async (x) =>
      x.run(
        `INSERT INTO hooks (account_id, id, type, title, active, event, constrainttype, url, contenttype, secret, created_at, updated_at)
         VALUES (?, ?, 'web', 't', 1, 'items.create', 'all', 'http://127.0.0.1:9/', 'json', '', 1, 1)`,
        [acc, await x.nextId()],
      ),
    );
    // Told once the transaction has committed, not while it runs.
    await db.engine.write(async (x) => {
      await raiseIn(x);
      expect(told).toBe(0);
    });
    expect(told).toBe(1);
    // A write that rolls back tells nobody.
    await expect(
      db.engine.write(async (x) => {
        await raiseIn(x);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(told).toBe(1);
  });

  it('rolls back everything a failing write did', async () => {
    let id = 0;
    await expect(
      db.engine.write(async (x) => {
        id = await x.nextId();
        await insertCategory(x, id, `rolled-back-${id}`);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const row = await db.engine.read((x) =>
      x.get('SELECT id FROM categories WHERE account_id = ? AND id = ?', [accountId, id]),
    );
    expect(row).toBeUndefined();
  });

  it('Executor.last: the last statement of a unit commits with it, a failing one writes nothing, a statement after it is refused', async () => {
    const countNamed = async (prefix: string) =>
      Number(
        (
          await db.engine.read((x) =>
            x.get<{ n: number }>('SELECT COUNT(*) AS n FROM categories WHERE account_id = ? AND name LIKE ?', [
              accountId,
              `${prefix}%`,
            ]),
          )
        )?.n,
      );
    const id = await db.engine.write(async (x) => {
      const id = await x.nextId();
      x.last?.();
      await insertCategory(x, id, `last-${id}`);
      return id;
    });
    expect(await countNamed(`last-${id}`)).toBe(1);
    // The same name again: the statement fails, and so does the unit, with nothing written.
    await expect(
      db.engine.write(async (x) => {
        x.last?.();
        await insertCategory(x, await x.nextId(), `last-${id}`);
      }),
    ).rejects.toThrow();
    expect(await countNamed(`last-${id}`)).toBe(1);
    // A unit that says so and then runs another statement is a bug: refused, the unit fails.
    await expect(
      db.engine.write(async (x) => {
        const a = await x.nextId();
        x.last?.();
        await insertCategory(x, a, `after-last-${a}`);
        await insertCategory(x, await x.nextId(), `after-last-${a}-second`);
      }),
    ).rejects.toThrow(/said was its last/);
    expect((await countNamed('after-last-')) <= 1).toBe(true);
    // Several units sharing a transaction may each say so: each runs on, all commit together.
    const ids = await Promise.all(
      Array.from({ length: 20 }, () =>
        db.engine.write(async (x) => {
          const a = await x.nextId();
          await insertCategory(x, a, `shared-${a}`);
          x.last?.();
          await insertCategory(x, await x.nextId(), `shared-${a}-b`);
          return a;
        }),
      ),
    );
    for (const a of ids) expect(await countNamed(`shared-${a}`)).toBe(2);
  });

  it('Executor.last in a read: a read of one statement answers it, a failing one fails alone, a statement after it is refused', async () => {
    const id = await db.engine.write(async (x) => {
      const id = await x.nextId();
      await insertCategory(x, id, `read-last-${id}`);
      return id;
    });
    const byId = (x: Executor) =>
      x.get<{ name: string }>('SELECT name FROM categories WHERE account_id = ? AND id = ?', [accountId, id]);
    expect(await db.engine.read(oneStatement(byId))).toEqual({ name: `read-last-${id}` });
    await expect(db.engine.read(oneStatement((x) => x.get('SELECT * FROM no_such_table')))).rejects.toThrow();
    await expect(
      db.engine.read(async (x) => {
        x.last?.();
        await byId(x);
        await byId(x);
      }),
    ).rejects.toThrow(/said was its last/);
    // A read that runs no statement, and one whose statements start side by side, answer as before.
    expect(await db.engine.read(async () => 7)).toBe(7);
    const [a, b] = await db.engine.read((x) => Promise.all([byId(x), byId(x)]));
    expect(a).toEqual(b);
    // Failed reads give their connections back: more of them than a pool holds, then a read still answers.
    for (let i = 0; i < 25; i++) {
      await expect(
        db.engine.read(async (x) => {
          await byId(x);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      await expect(db.engine.read((x) => x.get('SELECT * FROM no_such_table'))).rejects.toThrow();
    }
    expect(await db.engine.read(byId)).toEqual({ name: `read-last-${id}` });
    // And so does a unit that said its next statement was its last and then ran none.
    expect(await db.engine.read(oneStatement(async () => 'none'))).toBe('none');
    expect(
      await db.engine.readOne('SELECT name FROM categories WHERE account_id = ? AND id = ?', [accountId, id]),
    ).toEqual([{ name: `read-last-${id}` }]);
  });

  it('group commit: a failing unit fails alone, its neighbours in the same batch commit', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        db.engine.write(async (x) => {
          const id = await x.nextId();
          await insertCategory(x, id, `batch-${i}-${id}`);
          if (i % 7 === 3) {
            // A constraint violation, as a real unit would hit: duplicate name in the same kind.
            await insertCategory(x, await x.nextId(), `batch-${i}-${id}`);
          }
          return id;
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<number>[];
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed.length).toBe(results.filter((_, i) => i % 7 === 3).length);
    const ids = ok.map((r) => r.value);
    const found = await db.engine.read((x) =>
      x.all<{ id: number }>(
        `SELECT id FROM categories WHERE account_id = ? AND id IN (${ids.map(() => '?').join(',')})`,
        [accountId, ...ids],
      ),
    );
    expect(found.length).toBe(ids.length);
    const stray = await db.engine.read((x) =>
      x.get<{ n: number }>("SELECT COUNT(*) AS n FROM categories WHERE account_id = ? AND name LIKE 'batch-%'", [
        accountId,
      ]),
    );
    expect(Number(stray?.n)).toBe(ids.length);
  });

  it('group commit: units that end on the statement they said is their last each see the units before them (on PostgreSQL their statements are pipelined); a failing one fails alone', async () => {
    await db.engine.write((x) =>
      x.run('CREATE TABLE counters (one INTEGER PRIMARY KEY, n INTEGER NOT NULL CHECK (n < 1000000))'),
    );
    await db.engine.write((x) => x.run('INSERT INTO counters (one, n) VALUES (1, 0)'));
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        db.engine.write(async (x) => {
          x.last?.();
          // The unit's only statement reads what the units before it in the transaction wrote.
          const row = await x.get<{ n: number }>('UPDATE counters SET n = n + ? WHERE one = 1 RETURNING n', [
            i === 11 ? 1_000_000 : 1,
          ]);
          return Number(row!.n);
        }),
      ),
    );
    expect(results[11].status).toBe('rejected');
    const seen = results
      .filter((r) => r.status === 'fulfilled')
      .map((r) => (r as PromiseFulfilledResult<number>).value);
    // As if run one after another: each saw every increment before its own, none was lost or counted twice.
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 29 }, (_, k) => k + 1));
    expect(await db.engine.readOne<{ n: number }>('SELECT n FROM counters')).toEqual([{ n: 29 }]);
  });

  it('migrations are idempotent: opening the same database again changes nothing', async () => {
    const before = await db.engine.read((x) =>
      x.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version'),
    );
    if (name === 'sqlite') {
      const again = openSqlite({ file: db.where });
      const after = await again.read((x) =>
        x.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version'),
      );
      await again.close();
      expect(after).toEqual(before);
    }
    expect(before.length).toBeGreaterThan(0);
  });

  it('every table of account data leads its primary key with account_id', async () => {
    const tables = [
      'users',
      'user_groups',
      'group_members',
      'items',
      'categories',
      'item_categories',
      'related_items',
      'activities',
      'field_defs',
      'templates',
      'events',
      'hooks',
      'deliveries',
      'attempts',
      'mailbox',
    ];
    for (const table of tables) {
      const cols =
        name === 'sqlite'
          ? (await db.engine.read((x) => x.all<{ name: string; pk: number }>(`PRAGMA table_info(${table})`)))
              .filter((c) => c.pk > 0)
              .sort((a, b) => a.pk - b.pk)
              .map((c) => c.name)
          : (
              await db.engine.read((x) =>
                x.all<{ column_name: string }>(
                  `SELECT a.attname AS column_name FROM pg_index i
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                    WHERE i.indrelid = ?::regclass AND i.indisprimary
                    ORDER BY array_position(i.indkey, a.attnum)`,
                  [`${db.where}.${table}`],
                ),
              )
            ).map((c) => c.column_name);
      expect(cols[0], table).toBe('account_id');
    }
  });

  it('raise() writes the event and one delivery per matching active hook, nothing for others', async () => {
    const hook = async (id: number, event: string, constraint: string, active: number) =>
      db.engine.write((x) =>
        x.run(
          `INSERT INTO hooks (account_id, id, type, title, active, event, constrainttype, url, contenttype, secret, created_at, updated_at)
           VALUES (?, ?, 'web', 't', ?, ?, ?, 'http://127.0.0.1:9/', 'json', '', 1, 1)`,
          [accountId, id, active, event, constraint],
        ),
      );
    const ids = await db.engine.write(async (x) => [
      await x.nextId(),
      await x.nextId(),
      await x.nextId(),
      await x.nextId(),
      await x.nextId(),
    ]);
    await hook(ids[0], 'items.create', 'all', 1);
    await hook(ids[1], 'items.create', 'contact', 1);
    await hook(ids[2], 'items.create', 'company', 1); // other kind
    await hook(ids[3], 'items.create', 'all', 0); // inactive
    await hook(ids[4], 'items.update', 'all', 1); // other event
    const event = await db.engine.write((x) =>
      raise(x, {
        accountId,
        type: 'items.create',
        objectId: 42,
        objectKind: 'contact',
        content: { item: { id: 42 } },
        now: 1000,
      }),
    );
    const rows = await db.engine.read((x) =>
      x.all<{ hook_id: number; state: string }>(
        'SELECT hook_id, state FROM deliveries WHERE account_id = ? AND event_id = ? ORDER BY hook_id',
        [accountId, event.id],
      ),
    );
    expect(rows).toEqual([
      { hook_id: ids[0], state: 'pending' },
      { hook_id: ids[1], state: 'pending' },
    ]);
    const stored = await db.engine.read((x) =>
      x.get<{ type: string; content: string }>('SELECT type, content FROM events WHERE account_id = ? AND id = ?', [
        accountId,
        event.id,
      ]),
    );
    expect(stored?.type).toBe('items.create');
    expect(JSON.parse(stored!.content)).toEqual({ item: { id: 42 } });
  });
});
