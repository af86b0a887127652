// The server the batch benchmark measures: Hookline with the /batch route, on a fresh SQLite file or a fresh
// PostgreSQL schema, in its own process. Prints `listening <url> <authorization>`; cleans up on SIGTERM.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PG_URL } from '../../test/support/pg-url.js';
import type { Engine } from '../../src/storage/port.js';
import { openSqlite } from '../../src/storage/sqlite/engine.js';
import { openPostgres } from '../../src/storage/postgres/engine.js';
import { createAccount } from '../../src/accounts/accounts.js';
import { buildApp } from '../../src/http/app.js';
import { batchRoutes } from '../../src/http/routes/batch.js';

const engineName = process.argv[2] === 'postgres' ? 'postgres' : 'sqlite';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-bench-batch-'));
const schema = `bench_batch_${process.pid}`;
const engine: Engine =
  engineName === 'postgres'
    ? await openPostgres({ url: PG_URL, schema })
    : openSqlite({ file: path.join(dir, 'hookline.sqlite') });
const email = `batch-bench-${process.pid}@bench.example`;
const { token } = await createAccount(engine, { name: 'Batch bench', adminEmail: email });
// The same body limit as a default server: 1 MiB, plenty for 100 small parts.
const app = await buildApp({ engine, bodyLimit: 1024 * 1024, plugins: [batchRoutes] });
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`listening ${address} Basic ${Buffer.from(`${email}:${token}`).toString('base64')}\n`);

process.on('SIGTERM', async () => {
  await app.close();
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
  if (engineName === 'postgres') {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  }
  process.exit(0);
});
