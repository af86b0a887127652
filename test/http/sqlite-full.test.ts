// SQLite when its disk is full (simulated for real with PRAGMA max_page_count on the writer's connection:
// SQLite answers SQLITE_FULL, "database or disk is full", exactly as on a full disk): the API answers 503 with
// Retry-After, not 500, and the refused change leaves nothing behind; once there is room, it works again.
import { afterEach, describe, expect, it } from 'vitest';
import { call, makeApp, type TestApp } from '../support/app.js';
import { StorageUnavailable } from '../../src/storage/port.js';
import { sqliteUnavailable } from '../../src/storage/sqlite/unavailable.js';

describe('SQLite with a full disk', () => {
  let t: TestApp | null = null;
  afterEach(async () => {
    await t?.close();
    t = null;
  });

  it('answers 503 while it cannot write, changes nothing, and works again once there is room', async () => {
    t = await makeApp('sqlite');
    const app = t;
    // The writer's connection may not grow the file past its size now.
    await app.db.engine.write((x) => x.run('PRAGMA max_page_count = 1'));
    let refused: Awaited<ReturnType<typeof call>> | null = null;
    let created = 0;
    for (let i = 0; i < 5000 && refused === null; i++) {
      const r = await call(app, app.adminA, 'POST', '/contacts/', { body: { firstname: `F${i}`, lastname: 'Full' } });
      if (r.status === 200) created++;
      else refused = r;
    }
    expect(refused).not.toBeNull();
    expect(refused!.status).toBe(503);
    expect(refused!.headers['retry-after']).toBe('1');
    expect(refused!.body).toEqual({
      status: 'failed',
      errors: { server: 'The database is unavailable; try again shortly' },
    });
    // Nothing of the refused create stayed: as many contacts as were answered 200.
    const list = await call(app, app.adminA, 'GET', '/contacts/?limit=5000');
    expect(list.status).toBe(200);
    expect(Number(list.body.count)).toBe(created);
    // Room again: writes go through.
    await app.db.engine.write((x) => x.run('PRAGMA max_page_count = 1073741823'));
    const after = await call(app, app.adminA, 'POST', '/contacts/', { body: { firstname: 'Room', lastname: 'Again' } });
    expect(after.status).toBe(200);
  });

  it('tells SQLite’s unavailability from a statement’s fault by its code', () => {
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    const ioerr = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    for (const e of [full, ioerr, busy]) {
      const u = sqliteUnavailable(e);
      expect(u).toBeInstanceOf(StorageUnavailable);
      expect((u as StorageUnavailable).outcomeUnknown).toBe(false);
    }
    const constraint = Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(sqliteUnavailable(constraint)).toBe(constraint);
  });
});
