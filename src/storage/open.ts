// Picks the engine from configuration: a postgres:// URL means PostgreSQL, otherwise embedded SQLite.
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Engine } from './port.js';
import { openSqlite } from './sqlite/engine.js';
import { openPostgres } from './postgres/engine.js';
import { isConnectionError } from './postgres/connection.js';

/** The embedded SQLite database of a data directory. */
export const sqliteFile = (dataDir: string) => path.join(dataDir, 'hookline.sqlite');

/** PostgreSQL could not be reached at start, in the time given to it (HOOKLINE_DATABASE_WAIT). */
export class DatabaseUnreachable extends Error {}

/**
 * `server`: a long-running server (SQLite checkpoints on a thread of its own), not a command that runs once.
 * `databaseWaitMs`: how long to wait for a PostgreSQL that refuses connections (one starting beside Hookline,
 * as under docker compose or in a pod) before giving up; `onWaiting` hears of each failed try.
 */
export async function openStorage(options: {
  databaseUrl: string;
  dataDir: string;
  server?: boolean;
  databaseWaitMs?: number;
  /** PostgresOptions.answerTimeoutMs (HOOKLINE_DATABASE_TIMEOUT) */
  databaseTimeoutMs?: number;
  onWaiting?: (why: string, waitedMs: number) => void;
}): Promise<Engine> {
  if (!options.databaseUrl) {
    return openSqlite({ file: sqliteFile(options.dataDir), backgroundCheckpoints: options.server });
  }
  const started = performance.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await openPostgres({ url: options.databaseUrl, answerTimeoutMs: options.databaseTimeoutMs });
    } catch (e) {
      // Only a connection refused, cut or timed out is waited out; a wrong password or a database that does
      // not exist is not going to change.
      if (!isConnectionError(e)) throw e;
      const waited = performance.now() - started;
      const left = (options.databaseWaitMs ?? 0) - waited;
      if (left <= 0) {
        const where = describeTarget(options.databaseUrl);
        const after = waited >= 1000 ? ` (waited ${Math.round(waited / 1000)} s; HOOKLINE_DATABASE_WAIT)` : '';
        throw new DatabaseUnreachable(`PostgreSQL at ${where} cannot be reached: ${(e as Error).message}${after}`, {
          cause: e,
        });
      }
      options.onWaiting?.((e as Error).message, Math.round(waited));
      // 0.5 s, 1 s, 2 s, then every 3 s: quick for a database a moment from ready, gentle on one that is not.
      await delay(Math.min(left, Math.min(3000, 500 * 2 ** attempt)));
    }
  }
}

/** Host, port and database of a PostgreSQL URL, for messages: never its user or password. */
function describeTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname || ''}`;
  } catch {
    return 'the configured URL';
  }
}
