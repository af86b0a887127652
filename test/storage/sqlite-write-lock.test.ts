// Another process holding SQLite's write lock (a `hookline` command run beside the server, or any other
// program with the file open): the server's writes wait for it, for a while, without holding up the thread
// that serves everything else; past that wait a write is unavailable (503), and the next one works.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/storage/sqlite/engine.js';
import { StorageUnavailable, type Engine } from '../../src/storage/port.js';

const opened: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

function setUp(lockWaitMs?: number): { engine: Engine; other: Database.Database } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-lock-'));
  opened.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'hookline.sqlite');
  const engine = openSqlite({ file, lockWaitMs });
  opened.push(() => engine.close());
  // The other process's connection (in this thread: it can let go only if this thread is free to run it).
  const other = new Database(file);
  opened.push(() => other.close());
  return { engine, other };
}

const mark = (e: Engine, n: number) => e.write((x) => x.run('INSERT INTO marks (n) VALUES (?)', [n]));
const marks = async (e: Engine) =>
  (await e.readOne<{ n: number }>('SELECT n FROM marks ORDER BY n')).map((m) => Number(m.n));

describe('SQLite’s write lock held by another connection', () => {
  it('a write waits for it on the event loop: reads and timers go on meanwhile, and the write goes through once it is let go', async () => {
    const { engine, other } = setUp();
    await engine.write((x) => x.run('CREATE TABLE marks (n INTEGER NOT NULL)'));
    await mark(engine, 1);
    other.exec('BEGIN IMMEDIATE');
    other.exec('INSERT INTO marks (n) VALUES (2)');
    // Let go after 300 ms: only if this thread is not asleep in SQLite's busy handler meanwhile.
    setTimeout(() => other.exec('COMMIT'), 300);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const order: string[] = [];
    const written = mark(engine, 3).then(() => order.push('write'));
    // A read asked after the write began answers before it: the write's wait does not hold it up.
    const read = marks(engine).then((n) => (order.push('read'), n));
    expect(await read).toEqual([1]);
    await written;
    clearInterval(timer);
    expect(order).toEqual(['read', 'write']);
    expect(ticks).toBeGreaterThan(5);
    expect(await marks(engine)).toEqual([1, 2, 3]);
  });

  it('held past the wait, a write is unavailable (nothing written, outcome known); the next write works', async () => {
    const { engine, other } = setUp(200);
    await engine.write((x) => x.run('CREATE TABLE marks (n INTEGER NOT NULL)'));
    other.exec('BEGIN IMMEDIATE');
    const refused = await mark(engine, 1).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(StorageUnavailable);
    expect((refused as StorageUnavailable).outcomeUnknown).toBe(false);
    expect((refused as Error).message).toMatch(/SQLITE_BUSY/);
    other.exec('ROLLBACK');
    await mark(engine, 2);
    expect(await marks(engine)).toEqual([2]);
  });
});
