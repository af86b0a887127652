// What the SQLite writer keeps of the hooks table between transactions (src/storage/sqlite/read-cache.ts,
// Executor.cached): kept while the table cannot have changed, read again after a write of it on this
// connection, a rollback of one, or another connection's commit. Real SQLite files; reads are counted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/storage/sqlite/engine.js';
import type { Engine, Executor } from '../../src/storage/port.js';

let dir: string;
let file: string;
let engine: Engine;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-read-cache-'));
  file = path.join(dir, 'hookline.sqlite');
  engine = openSqlite({ file });
});
afterEach(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const HOOK = `INSERT INTO hooks (account_id, id, type, title, active, event, constrainttype, url, contenttype, secret, created_at, updated_at)
  VALUES (1, ?, 'web', 'h', 1, 'items.create', 'all', ?, 'json', '', 1, 1)`;

let reads = 0;
/** The URLs of account 1's hooks, through the cache, counting the reads that reached the table. */
async function urls(x: Executor): Promise<string[]> {
  expect(x.cached).toBeTypeOf('function');
  return x.cached!('hooks', 'urls of 1', async () => {
    reads++;
    return (await x.all<{ url: string }>('SELECT url FROM hooks WHERE account_id = 1 ORDER BY id')).map((r) => r.url);
  });
}
const readUrls = () => engine.write((x) => urls(x));

beforeEach(() => {
  reads = 0;
});

describe('the SQLite read cache (Executor.cached)', () => {
  it('answers from what it kept while the table stays as it was, across transactions and other tables’ writes', async () => {
    await engine.write((x) => x.run(HOOK, [1, 'http://a.example/']));
    expect(await readUrls()).toEqual(['http://a.example/']);
    expect(await readUrls()).toEqual(['http://a.example/']);
    await engine.write((x) =>
      x.run(
        `INSERT INTO events (account_id, id, type, object_id, object_kind, content, created_at) VALUES (1, 99, 'items.create', 1, 'contact', '{}', 0)`,
      ),
    );
    // Another connection's checkpoint moves data, not content.
    const other = new Database(file);
    other.pragma('wal_checkpoint(PASSIVE)');
    other.close();
    expect(await readUrls()).toEqual(['http://a.example/']);
    expect(reads).toBe(1);
    // Other keys are kept apart.
    expect(await engine.write((x) => x.cached!('hooks', 'another', async () => 'other'))).toBe('other');
    expect(await readUrls()).toEqual(['http://a.example/']);
    expect(reads).toBe(1);
  });

  it('reads again after an insert, an update and a delete of the table, in the same transaction too', async () => {
    await engine.write((x) => x.run(HOOK, [1, 'http://a.example/']));
    expect(await readUrls()).toEqual(['http://a.example/']);
    await engine.write((x) => x.run(HOOK, [2, 'http://b.example/']));
    expect(await readUrls()).toEqual(['http://a.example/', 'http://b.example/']);
    await engine.write((x) => x.run(`UPDATE hooks SET url = 'http://c.example/' WHERE id = 2`));
    expect(await readUrls()).toEqual(['http://a.example/', 'http://c.example/']);
    await engine.write((x) => x.run('DELETE FROM hooks WHERE id = 1'));
    expect(await readUrls()).toEqual(['http://c.example/']);
    const inOne = await engine.write(async (x) => {
      const before = await urls(x);
      await x.run(HOOK, [3, 'http://d.example/']);
      return [before, await urls(x)];
    });
    expect(inOne).toEqual([['http://c.example/'], ['http://c.example/', 'http://d.example/']]);
    expect(reads).toBe(5); // `before` came from what the last transaction read
    expect(await readUrls()).toEqual(['http://c.example/', 'http://d.example/']);
    expect(reads).toBe(6); // the transaction that wrote it ended: read once more, committed
  });

  it('forgets what a transaction read after its own write once it rolls back', async () => {
    await engine.write((x) => x.run(HOOK, [1, 'http://a.example/']));
    expect(await readUrls()).toEqual(['http://a.example/']);
    await expect(
      engine.write(async (x) => {
        await x.run(`UPDATE hooks SET url = 'http://never.example/' WHERE id = 1`);
        expect(await urls(x)).toEqual(['http://never.example/']);
        throw new Error('changed its mind');
      }),
    ).rejects.toThrow('changed its mind');
    expect(await readUrls()).toEqual(['http://a.example/']);
    expect(await readUrls()).toEqual(['http://a.example/']);
    expect(reads).toBe(3);
  });

  it('reads again after another connection’s commit (another process: the CLI)', async () => {
    await engine.write((x) => x.run(HOOK, [1, 'http://a.example/']));
    expect(await readUrls()).toEqual(['http://a.example/']);
    const other = new Database(file);
    other.pragma('busy_timeout = 5000');
    other.prepare(`UPDATE hooks SET url = 'http://elsewhere.example/' WHERE id = 1`).run();
    expect(await readUrls()).toEqual(['http://elsewhere.example/']);
    // Any commit of it, to any table: the cache cannot tell which.
    other
      .prepare(
        `INSERT INTO events (account_id, id, type, object_id, object_kind, content, created_at) VALUES (1, 98, 'items.create', 1, 'contact', '{}', 0)`,
      )
      .run();
    other.close();
    expect(await readUrls()).toEqual(['http://elsewhere.example/']);
    expect(await readUrls()).toEqual(['http://elsewhere.example/']);
    expect(reads).toBe(3);
  });

  it('is the writer’s alone: reads have none, and the table must be one it keeps', async () => {
    expect(await engine.read(async (x) => x.cached)).toBeUndefined();
    await expect(engine.write((x) => x.cached!('deliveries' as 'hooks', 'k', async () => 1))).rejects.toThrow(
      /no read cache for table deliveries/,
    );
  });
});
