// Retention (HOOKLINE_RETENTION): events older than the cutoff are deleted with their deliveries and
// attempts, and so is admin e-mail that has nothing left to send — except that an event with a delivery
// still pending stays, whatever its age, until that delivery has ended. Runs in batches, one short write
// transaction each, account by account, walking events in id order (ids follow time closely; what is
// deleted is always checked against the cutoff itself, so an out-of-order id is only kept longer).
import type { Engine, Executor } from '../storage/port.js';

export interface PruneCounts {
  events: number;
  deliveries: number;
  attempts: number;
  mail: number;
}

const BATCH = 500;

/** Counts added up, field by field. */
export function addCounts(a: PruneCounts, b: Partial<PruneCounts>): PruneCounts {
  return {
    events: a.events + (b.events ?? 0),
    deliveries: a.deliveries + (b.deliveries ?? 0),
    attempts: a.attempts + (b.attempts ?? 0),
    mail: a.mail + (b.mail ?? 0),
  };
}

const ids = (x: Executor) => `SELECT id FROM (${x.dialect.jsonRows([['id', 'int']])}) AS k`;

/** One batch of one account, after event id `after`: answers what it deleted and where to go on. */
async function pruneBatch(
  x: Executor,
  accountId: number,
  cutoff: number,
  after: number,
): Promise<{ counts: PruneCounts; next: number | null }> {
  const counts: PruneCounts = { events: 0, deliveries: 0, attempts: 0, mail: 0 };
  const rows = await x.all<{ id: number; created_at: number }>(
    'SELECT id, created_at FROM events WHERE account_id = ? AND id > ? ORDER BY id LIMIT CAST(? AS INTEGER)',
    [accountId, after, BATCH],
  );
  const old = rows.filter((r) => Number(r.created_at) < cutoff).map((r) => Number(r.id));
  // A batch with nothing old in it: the rest of the account is newer (up to ids handed out of order).
  if (old.length === 0) return { counts, next: null };
  const list = JSON.stringify(old.map((id) => [id]));
  // What may not be deleted is checked by the deletes themselves, not read beforehand: on PostgreSQL (READ
  // COMMITTED) a recover or a replay that commits between a read and a delete would otherwise have a
  // delivery made pending meanwhile deleted with its event, and never sent.
  // - The old events are locked first (in the order replay locks them: no deadlock), so a replay that has
  //   not read them yet waits for this batch and then finds them gone, and one that has read them is waited
  //   for here and its deliveries are seen by the statements below.
  // - A delivery is deleted only if it is not pending, a condition on its own row: PostgreSQL checks it again
  //   on a row changed since the statement began (a recover committed meanwhile), and a recover that comes
  //   later waits for this batch and then finds it gone. Only events none of whose deliveries are pending
  //   lose their deliveries, so an event that stays keeps them all.
  // - An event is deleted only if none of its deliveries is left.
  await x.all(
    `SELECT id FROM events WHERE account_id = ? AND id IN (${ids(x)}) ORDER BY id DESC ${x.dialect.forUpdate}`,
    [accountId, list],
  );
  const deleted = await x.all<{ hook_id: number; event_id: number }>(
    `DELETE FROM deliveries
      WHERE account_id = ? AND event_id IN (${ids(x)}) AND state <> 'pending'
        AND NOT EXISTS (SELECT 1 FROM deliveries p
                         WHERE p.account_id = deliveries.account_id AND p.event_id = deliveries.event_id
                           AND p.state = 'pending')
      RETURNING hook_id, event_id`,
    [accountId, list],
  );
  counts.deliveries = deleted.length;
  const keys = JSON.stringify(deleted.map((d) => [Number(d.hook_id), Number(d.event_id)]));
  counts.attempts = (
    await x.run(
      `DELETE FROM attempts WHERE (account_id, hook_id, event_id) IN (
         SELECT CAST(? AS BIGINT), k.hook_id, k.event_id FROM (${x.dialect.jsonRows([
           ['hook_id', 'int'],
           ['event_id', 'int'],
         ])}) AS k)`,
      [accountId, keys],
    )
  ).changes;
  counts.events = (
    await x.run(
      `DELETE FROM events
        WHERE account_id = ? AND id IN (${ids(x)})
          AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.account_id = events.account_id AND d.event_id = events.id)`,
      [accountId, list],
    )
  ).changes;
  return { counts, next: rows.length < BATCH ? null : Number(rows[rows.length - 1].id) };
}

/**
 * Deletes what is older than `cutoff` (epoch ms), at most `maxBatches` write transactions in all (the
 * next run goes on where this one could not). Answers what it deleted.
 */
export async function prune(engine: Engine, cutoff: number, maxBatches = 200): Promise<PruneCounts> {
  let total: PruneCounts = { events: 0, deliveries: 0, attempts: 0, mail: 0 };
  const accounts = await engine.readOne<{ id: number }>('SELECT id FROM accounts ORDER BY id');
  let batches = 0;
  for (const { id } of accounts) {
    const accountId = Number(id);
    const mail = await engine.write(
      async (x) =>
        (
          await x.run('DELETE FROM mailbox WHERE account_id = ? AND created_at < ? AND next_send_at IS NULL', [
            accountId,
            cutoff,
          ])
        ).changes,
    );
    total = addCounts(total, { mail });
    let after = 0;
    while (batches < maxBatches) {
      batches++;
      const { counts, next } = await engine.write((x) => pruneBatch(x, accountId, cutoff, after));
      total = addCounts(total, counts);
      if (next === null) break;
      after = next;
    }
    if (batches >= maxBatches) break;
  }
  return total;
}
