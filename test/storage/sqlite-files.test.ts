// The SQLite files hold every record and every hook's secret: a data directory Hookline makes is its
// owner's alone (0700), and so are the database, its write-ahead log and index, a backup and a restored
// database (0600), whatever the umask lets other users read. A file that exists keeps the mode it has.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/storage/sqlite/engine.js';
import { backupSqlite, restoreSqlite } from '../../src/storage/sqlite/backup.js';

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('SQLite files are their owner’s alone', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-files-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('a new data directory, database, log, backup and restore', async () => {
    const previous = process.umask(0o022); // the usual umask, which leaves files readable by everyone
    try {
      const dataDir = path.join(tmp(), 'data', 'nested');
      const file = path.join(dataDir, 'hookline.sqlite');
      const engine = openSqlite({ file });
      await engine.write((x) => x.run('UPDATE id_counter SET value = value + 1 WHERE one = 1'));
      expect(mode(dataDir)).toBe(0o700);
      expect(mode(file)).toBe(0o600);
      expect(mode(`${file}-wal`)).toBe(0o600);
      expect(mode(`${file}-shm`)).toBe(0o600);
      await engine.close();
      const backup = path.join(tmp(), 'backups', 'hookline-backup.sqlite');
      backupSqlite(file, backup);
      expect(mode(backup)).toBe(0o600);
      expect(mode(path.dirname(backup))).toBe(0o700);
      fs.chmodSync(backup, 0o644); // a backup that went through a copy that lost its mode
      restoreSqlite(backup, file);
      expect(mode(file)).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('keeps the mode of a database that exists', async () => {
    const dir = tmp();
    const file = path.join(dir, 'hookline.sqlite');
    const first = openSqlite({ file });
    await first.close();
    fs.chmodSync(file, 0o640); // shared with a group on purpose
    const again = openSqlite({ file });
    await again.close();
    expect(mode(file)).toBe(0o640);
  });
});
