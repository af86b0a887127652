// Picks the engine from configuration: a postgres:// URL means PostgreSQL, otherwise embedded SQLite.
import path from 'node:path';
import type { Engine } from './port.js';
import { openSqlite } from './sqlite/engine.js';
import { openPostgres } from './postgres/engine.js';

/** The embedded SQLite database of a data directory. */
export const sqliteFile = (dataDir: string) => path.join(dataDir, 'hookline.sqlite');

/** `server`: a long-running server (SQLite checkpoints on a thread of its own), not a command that runs once. */
export async function openStorage(options: {
  databaseUrl: string;
  dataDir: string;
  server?: boolean;
}): Promise<Engine> {
  if (options.databaseUrl) return openPostgres({ url: options.databaseUrl });
  return openSqlite({ file: sqliteFile(options.dataDir), backgroundCheckpoints: options.server });
}
