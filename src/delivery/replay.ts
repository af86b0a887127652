// Replay (as Svix's "replay missing" and Standard Webhooks' replay of a time range): the events of a time
// window that a hook matches and was never sent — raised while it was paused or disabled, or before it was
// made — get a delivery to it now, pending and due at once, on the usual retry schedule (and one e-mail if
// one fails for good). An event that already has a delivery to the hook is left as it is (recover.ts sends
// the failed ones again), so replaying twice sends nothing twice. A paused hook's replayed deliveries wait
// until it is turned on.
//
// The account's events are walked newest first by id, a batch per short write transaction, until a batch
// holds nothing as recent as `since` (ids follow time closely; each event is checked against the window
// itself). Each batch reads the hook again: one deleted meanwhile gets nothing more.
import type { Engine, Executor } from '../storage/port.js';
import { windowEnd, type EventWindow } from './recover.js';

const BATCH = 500;

/** A delivery to the hook for each event of ids lo..hi in the window that it matches and has none yet. */
const INSERT_MISSING = `INSERT INTO deliveries (account_id, hook_id, event_id, state, attempt_count, next_attempt_at, created_at, updated_at)
     SELECT e.account_id, h.id, e.id, 'pending', 0, CAST(? AS BIGINT), e.created_at, CAST(? AS BIGINT)
       FROM events e
       JOIN hooks h ON h.account_id = e.account_id AND h.id = ?
      WHERE e.account_id = ? AND e.id >= ? AND e.id <= ?
        AND e.created_at >= ? AND e.created_at < ?
        AND e.type = h.event AND h.constrainttype IN ('all', e.object_kind)
   ON CONFLICT (account_id, hook_id, event_id) DO NOTHING`;

/** One batch, of the events with ids under `below`: what it replayed, and where to go on (null: done). */
async function replayBatch(
  x: Executor,
  accountId: number,
  hookId: number,
  window: { since: number; until: number },
  below: number,
  now: number,
): Promise<{ replayed: number; next: number | null }> {
  // Locked (PostgreSQL), newest first as retention locks them: retention deleting these events waits for this
  // batch and then sees its deliveries, or this batch waits for retention and then finds them gone; never a
  // delivery of an event deleted meanwhile (retention.ts).
  const rows = await x.all<{ id: number; created_at: number }>(
    `SELECT id, created_at FROM events WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT CAST(? AS INTEGER) ${x.dialect.forUpdate}`,
    [accountId, below, BATCH],
  );
  if (rows.length === 0) return { replayed: 0, next: null };
  const hi = Number(rows[0].id);
  const lo = Number(rows[rows.length - 1].id);
  const r = await x.run(INSERT_MISSING, [now, now, hookId, accountId, lo, hi, window.since, window.until]);
  if (r.changes > 0) x.deliveriesDue();
  // Done when the batch was the account's oldest, or nothing in it was as recent as the window's start.
  const recentEnough = rows.some((e) => Number(e.created_at) >= window.since);
  return { replayed: r.changes, next: rows.length < BATCH || !recentEnough ? null : lo };
}

/**
 * Gives the hook a delivery of every event raised in [since, until) that it matches and was never sent
 * (see above); answers how many.
 */
export async function replayMissing(
  engine: Engine,
  accountId: number,
  hookId: number,
  window: EventWindow,
  now: number,
): Promise<number> {
  const w = { since: window.since, until: windowEnd(window) };
  let total = 0;
  let below = Number.MAX_SAFE_INTEGER;
  for (;;) {
    const { replayed, next } = await engine.write((x) => replayBatch(x, accountId, hookId, w, below, now));
    total += replayed;
    if (next === null) return total;
    below = next;
  }
}
