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
  const pending = await x.all<{ event_id: number }>(
    `SELECT DISTINCT event_id FROM deliveries WHERE account_id = ? AND state = 'pending' AND event_id IN (${ids(x)})`,
    [accountId, list],
  );
  const keep = new Set(pending.map((p) => Number(p.event_id)));
  const gone = JSON.stringify(old.filter((id) => !keep.has(id)).map((id) => [id]));
  counts.attempts = (
    await x.run(
      `DELETE FROM attempts WHERE (account_id, hook_id, event_id) IN (
         SELECT account_id, hook_id, event_id FROM deliveries WHERE account_id = ? AND event_id IN (${ids(x)}))`,
      [accountId, gone],
    )
  ).changes;
  counts.deliveries = (
    await x.run(`DELETE FROM deliveries WHERE account_id = ? AND event_id IN (${ids(x)})`, [accountId, gone])
  ).changes;
  counts.events = (
    await x.run(`DELETE FROM events WHERE account_id = ? AND id IN (${ids(x)})`, [accountId, gone])
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
