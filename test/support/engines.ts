// Real databases for tests: a fresh SQLite file, and a fresh PostgreSQL schema (dropped afterwards).
// PostgreSQL comes from HOOKLINE_TEST_PG_URL or 127.0.0.1:5432 (trust auth, database test); when it is not
// reachable the PostgreSQL cases are skipped and test/support/global-setup.ts says so loudly.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { Engine } from '../../src/storage/port.js';
import { openSqlite } from '../../src/storage/sqlite/engine.js';
import { openPostgres } from '../../src/storage/postgres/engine.js';

export { PG_URL } from './pg-url.js';
import { PG_URL } from './pg-url.js';

/** Set by global-setup.ts after probing the server once. */
export const pgAvailable = inject('pgAvailable');

export interface TestEngine {
  engine: Engine;
  /** PostgreSQL schema or SQLite file of this engine */
  where: string;
  destroy(): Promise<void>;
}

export type EngineName = 'sqlite' | 'postgres';

export const ENGINES: EngineName[] = pgAvailable ? ['sqlite', 'postgres'] : ['sqlite'];

export async function makeEngine(name: EngineName, options: { writers?: number } = {}): Promise<TestEngine> {
  if (name === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-test-'));
    const file = path.join(dir, 'hookline.sqlite');
    const engine = openSqlite({ file });
    return {
      engine,
      where: file,
      async destroy() {
        await engine.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const engine = await openPostgres({ url: PG_URL, schema, writers: options.writers ?? 2, readPoolSize: 4 });
  return {
    engine,
    where: schema,
    async destroy() {
      await engine.close();
      await dropSchema(schema);
    },
  };
}

/** Drops a test's PostgreSQL schema and all in it (nothing when there is none). */
export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}
