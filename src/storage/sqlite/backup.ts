// Backing up and restoring the embedded SQLite database (`hookline backup`, `hookline restore`). Uploaded files
// live in the database too, so one file holds everything.
//
// - A backup is `VACUUM INTO` a new file: it reads one snapshot, so the copy is consistent while `serve` keeps
//   writing (WAL: it blocks no writer, and no writer makes it start over, as the page-by-page backup API does
//   under a steady stream of commits), and the copy is compact.
// - A restore puts a backup in place of the database of a data directory that no server is using. What was
//   there is moved aside, not deleted, with its write-ahead log copied into it first; no log is left next to
//   the restored file, where SQLite would replay it into the wrong database.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PRIVATE_DIR, PRIVATE_FILE } from './engine.js';

/** Throws unless `file` is a Hookline database that SQLite finds sound. */
function checkDatabase(file: string, what: string): void {
  if (!fs.existsSync(file)) throw new Error(`${what}: no such file ${file}`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new Error(`${what}: ${file} cannot be opened (${(e as Error).message})`);
  }
  let migrations: unknown;
  let check: unknown[] = [];
  try {
    migrations = db
      .prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
      .pluck()
      .get();
    if (migrations === 1) check = db.prepare('PRAGMA quick_check').pluck().all();
  } catch (e) {
    throw new Error(`${what}: ${file} is not a Hookline database (${(e as Error).message})`);
  } finally {
    db.close();
  }
  if (migrations !== 1) throw new Error(`${what}: ${file} is not a Hookline database`);
  if (check.length !== 1 || check[0] !== 'ok') throw new Error(`${what}: ${file} is damaged (${check.join('; ')})`);
}

/** A consistent copy of the database at `file` into the new file `to`; answers its size in bytes. */
export function backupSqlite(file: string, to: string): number {
  if (!fs.existsSync(file)) throw new Error(`no database at ${file}`);
  if (fs.existsSync(to)) throw new Error(`${to} exists already: back up into a new file`);
  fs.mkdirSync(path.dirname(path.resolve(to)), { recursive: true, mode: PRIVATE_DIR });
  // VACUUM INTO writes into an empty file: made first, readable by this user alone (it holds every secret).
  fs.closeSync(fs.openSync(to, 'wx', PRIVATE_FILE));
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    db.prepare('VACUUM INTO ?').run(to);
  } finally {
    db.close();
  }
  checkDatabase(to, 'the backup');
  return fs.statSync(to).size;
}

export interface Restored {
  /** where the database that was there went (null: there was none) */
  aside: string | null;
  /** the last id handed out, which new ids follow */
  lastId: number;
}

/**
 * Puts the backup `from` in place of the database at `file`, which no server may be using.
 *
 * New ids must not repeat the ones handed out after the backup was made: a notification's webhook-id is made
 * of its hook's and event's ids, and a receiver that remembers webhook-ids would take a new event for one it
 * has had. So ids go on after the larger of the backup's last id and the replaced database's, plus `idGap`
 * (for a restore where the newer database is lost: a gap larger than the ids it may have used).
 */
export function restoreSqlite(from: string, file: string, o: { idGap?: number; now?: number } = {}): Restored {
  checkDatabase(from, 'the backup');
  const gap = o.idGap ?? 0;
  if (!Number.isSafeInteger(gap) || gap < 0) throw new Error('the id gap must be a whole number, 0 or more');
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR });
  let aside: string | null = null;
  let replacedLast = 0;
  if (fs.existsSync(file)) {
    const db = new Database(file, { fileMustExist: true });
    try {
      // Leaving WAL copies the log into the file and removes it, and SQLite refuses it while any other
      // connection is open (a BEGIN EXCLUSIVE would not tell: in WAL mode readers do not block it).
      db.pragma('busy_timeout = 0');
      try {
        db.pragma('journal_mode = DELETE');
      } catch {
        throw new Error(`${file} is in use: stop hookline serve (and any other hookline command) first`);
      }
      replacedLast = Number(db.prepare('SELECT value FROM id_counter WHERE one = 1').pluck().get() ?? 0);
    } finally {
      db.close();
    }
    aside = `${file}.before-restore-${new Date(o.now ?? Date.now()).toISOString().replace(/[:.]/g, '-')}`;
    fs.renameSync(file, aside);
  }
  for (const leftover of [`${file}-wal`, `${file}-shm`]) fs.rmSync(leftover, { force: true });
  fs.copyFileSync(from, file, fs.constants.COPYFILE_EXCL);
  fs.chmodSync(file, PRIVATE_FILE); // not the backup file's mode: this user's alone, as a new database is
  const db = new Database(file, { fileMustExist: true });
  try {
    const last = db
      .prepare('UPDATE id_counter SET value = MAX(value, ?) + ? WHERE one = 1 RETURNING value')
      .pluck()
      .get(replacedLast, gap);
    return { aside, lastId: Number(last) };
  } finally {
    db.close();
  }
}
