// A child process for crash tests: opens the given database, writes a change's row, says "inserted" on
// stdout, and then hangs inside the same transaction until it is killed with SIGKILL.
import { openSqlite } from '../../src/storage/sqlite/engine.js';
import { openPostgres } from '../../src/storage/postgres/engine.js';

const [kind, where, url, accountId, itemId] = process.argv.slice(2);
const engine = kind === 'sqlite' ? openSqlite({ file: where }) : await openPostgres({ url, schema: where, writers: 1 });
await engine.write(async (x) => {
  await x.run(
    `INSERT INTO items (account_id, id, kind, typeid, name, fields, ownership, assignedto, creator_id, modificator_id, created_at, updated_at, viewed_at, flagged, deleted_at)
     VALUES (?, ?, 'contact', 1, 'Half Written', '{}', 1, NULL, 1, 1, 1, 1, NULL, 0, NULL)`,
    [Number(accountId), Number(itemId)],
  );
  process.stdout.write('inserted\n');
  await new Promise(() => undefined); // the event would be written next; the process dies first
});
