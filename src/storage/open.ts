// Picks the engine from configuration: a postgres:// URL means PostgreSQL, otherwise embedded SQLite.
import path from 'node:path';
import type { Engine } from './port.js';
import { openSqlite } from './sqlite/engine.js';
import { openPostgres } from './postgres/engine.js';

export async function openStorage(options: { databaseUrl: string; dataDir: string }): Promise<Engine> {
  if (options.databaseUrl) return openPostgres({ url: options.databaseUrl });
  return openSqlite({ file: path.join(options.dataDir, 'hookline.sqlite') });
}
