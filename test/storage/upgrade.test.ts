// A database made by the previous release opens under this one: the new migrations run once, and what was
// there before is still there (here: schema 6 → 7, a pending delivery whose expired leases start at 0).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PG_URL, pgAvailable } from '../support/engines.js';
import { openSqlite } from '../../src/storage/sqlite/engine.js';
import { openPostgres } from '../../src/storage/postgres/engine.js';
import { migrations as sqliteMigrations } from '../../src/storage/sqlite/migrations.js';
import { migrations as pgMigrations } from '../../src/storage/postgres/migrations.js';
import type { Engine } from '../../src/storage/port.js';

const BEFORE = 6;
const CREATE_MIGRATIONS = 'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at BIGINT)';
const A_DELIVERY = `INSERT INTO deliveries (account_id, hook_id, event_id, state, attempt_count, next_attempt_at, lease_until, lease_owner, created_at, updated_at)
  VALUES (1, 2, 3, 'pending', 2, 10, 20, 'old-node', 1, 1)`;

async function afterUpgrade(engine: Engine) {
  const delivery = await engine.read((x) =>
    x.get<{ attempt_count: number; lease_owner: string; expired_leases: number }>(
      'SELECT attempt_count, lease_owner, expired_leases FROM deliveries WHERE account_id = 1 AND hook_id = 2 AND event_id = 3',
    ),
  );
  const versions = await engine.read((x) =>
    x.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version'),
  );
  return { delivery, versions: versions.map((v) => Number(v.version)) };
}

const expected = (all: number) => ({
  delivery: { attempt_count: 2, lease_owner: 'old-node', expired_leases: 0 },
  versions: Array.from({ length: all }, (_, i) => i + 1),
});

describe('upgrading a database of the previous schema', () => {
  it('on sqlite', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-upgrade-'));
    const file = path.join(dir, 'hookline.sqlite');
    const old = new Database(file);
    old.exec(CREATE_MIGRATIONS);
    for (const m of sqliteMigrations.filter((m) => m.version <= BEFORE)) {
      for (const s of m.statements) old.exec(s);
      old.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(m.version, m.name);
    }
    old.exec(A_DELIVERY);
    old.close();
    const engine = openSqlite({ file });
    try {
      expect(await afterUpgrade(engine)).toMatchObject(expected(sqliteMigrations.length));
    } finally {
      await engine.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(pgAvailable)('on postgres', async () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA ${schema}`);
      await c.query(`SET search_path = ${schema}`);
      await c.query(CREATE_MIGRATIONS);
      for (const m of pgMigrations.filter((m) => m.version <= BEFORE)) {
        for (const s of m.statements) await c.query(s);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)', [
          m.version,
          m.name,
        ]);
      }
      await c.query(A_DELIVERY);
      const engine = await openPostgres({ url: PG_URL, schema, writers: 1, readPoolSize: 1 });
      try {
        expect(await afterUpgrade(engine)).toMatchObject(expected(pgMigrations.length));
      } finally {
        await engine.close();
      }
    } finally {
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    }
  });
});
