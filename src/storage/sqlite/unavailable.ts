// SQLite's errors that say the database cannot be used for now — a full disk, an I/O error, a file that has
// become read-only, another process holding the write lock past busy_timeout — rather than that a statement
// is wrong: StorageUnavailable, which the API answers 503 and the delivery engine waits out (port.ts). A
// failed SQLite transaction is undone whole, so its outcome is known: nothing of it was written.
import { StorageUnavailable } from '../port.js';

const UNAVAILABLE = /^SQLITE_(FULL|IOERR|READONLY|BUSY|CANTOPEN)/;

/** `e` as StorageUnavailable when it is one of those (by its SQLite code); otherwise `e` itself. */
export function sqliteUnavailable(e: unknown): unknown {
  const code = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  if (typeof code !== 'string' || !UNAVAILABLE.test(code)) return e;
  return new StorageUnavailable(`SQLite: ${(e as Error).message} (${code})`, false, { cause: e });
}

/** Runs `call` (one call into SQLite), throwing its failure as sqliteUnavailable says. */
export function orUnavailable<T>(call: () => T): T {
  try {
    return call();
  } catch (e) {
    throw sqliteUnavailable(e);
  }
}
