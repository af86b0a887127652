// Recover (as Svix calls it): after an outage, send again every failed delivery of a hook whose event was
// raised in a time window. They become pending again with a fresh retry schedule (1 + retries, and one
// e-mail if they fail for good again); the delivery engine sends them like any other. A paused hook's
// recovered deliveries wait until it is turned on.
import type { Engine } from '../storage/port.js';

/** The events raised from `since` up to (not including) `until`, ms; no `until`: no end. For recover and replay. */
export interface EventWindow {
  since: number;
  until?: number;
}

/** Where a window ends, as SQL compares it (`created_at < end`). */
export const windowEnd = (w: EventWindow): number => w.until ?? Number.MAX_SAFE_INTEGER;

/** What is wrong with a window given by a user (the API, the CLI), or null. */
export const windowProblem = (w: EventWindow): string | null =>
  w.until !== undefined && w.until <= w.since ? 'until must be after since' : null;

export async function recoverFailed(
  engine: Engine,
  accountId: number,
  hookId: number,
  window: EventWindow,
  now: number,
): Promise<number> {
  return engine.write(async (x) => {
    const r = await x.run(
      `UPDATE deliveries
          SET state = 'pending', attempt_count = 0, expired_leases = 0, next_attempt_at = ?, lease_until = NULL, lease_owner = NULL,
              updated_at = ?
        WHERE account_id = ? AND hook_id = ? AND state = 'failed' AND created_at >= ? AND created_at < ?`,
      [now, now, accountId, hookId, window.since, windowEnd(window)],
    );
    if (r.changes > 0) x.deliveriesDue();
    return r.changes;
  });
}
