// The hand-off: a delivery created by a write of this process goes straight to this process's delivery
// engine. The fan-out leases it to the engine in its own INSERT (counting the attempt, as a claim does) and
// the engine sends it once the transaction commits: no lanes read, no claim transaction, no second read of
// the event or the hook. The lease makes it as safe as a claimed delivery: if the process dies before the
// outcome is recorded, the lease runs out and any node claims it again, with the same webhook-id.
//
// The engine takes a delivery only when it has room for it (the same caps as claiming ahead) and none of
// the hook's older deliveries wait in the database (so a hook's deliveries still go out oldest first), and
// never for a rate-limited hook (its tokens are the claim's to count). What it does not take is written
// unleased, and claimed as before.
//
// SQLite only (Engine.handOffTo): every write runs on this process's one writer, and a statement costs no
// round trip, so the fan-out reads the matching hooks here. On PostgreSQL the change, its event and the
// fan-out travel in one round trip; the two hand-offs tried there cost the saturated closed loop 12–15 % of
// its rate (docs/webhooks.md), so PostgreSQL claims.
import type { Executor, TxHandoff } from '../storage/port.js';
import { hookColumns, hookOf, type ClaimedDelivery, type DetailRow, type HookColumn } from './claim.js';

/** The fan-out's hooks (as FAN_OUT picks them, through hooks_match), with what sending needs. */
export const MATCHING_HOOKS = `SELECT id, rate_limit, ${hookColumns('hooks')}
       FROM hooks
      WHERE account_id = ? AND event = ? AND active = 1 AND constrainttype IN ('all', ?)`;

const INSERT_DELIVERY = `INSERT INTO deliveries (account_id, hook_id, event_id, state, attempt_count, next_attempt_at, lease_until, lease_owner, created_at, updated_at)
     VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)`;

/**
 * The fan-out of one event (records/events.ts raise) where a delivery engine takes deliveries: one
 * delivery per matching hook, leased to the engine when it takes it. Answers how many were written
 * unleased, for the claim to find.
 */
export async function fanOutHandingOff(
  x: Executor,
  h: TxHandoff,
  e: {
    accountId: number;
    eventId: number;
    type: string;
    objectId: number;
    objectKind: string;
    content: string;
    now: number;
  },
): Promise<number> {
  const { accountId, eventId, now } = e;
  const hooks = await x.all<Pick<DetailRow, HookColumn> & { id: number; rate_limit: number }>(MATCHING_HOOKS, [
    now,
    accountId,
    e.type,
    e.objectKind,
  ]);
  let unleased = 0;
  for (const r of hooks) {
    const taken = !(Number(r.rate_limit) > 0) && h.take(r.id);
    await x.run(INSERT_DELIVERY, [
      accountId,
      r.id,
      eventId,
      taken ? 1 : 0,
      now,
      taken ? now + h.leaseMs : null,
      taken ? h.owner : null,
      now,
      now,
    ]);
    if (!taken) {
      unleased++;
      continue;
    }
    const d: ClaimedDelivery = {
      accountId,
      hookId: r.id,
      eventId,
      attempt: 1,
      hook: hookOf(r),
      event: { type: e.type, objectId: e.objectId, content: e.content, createdAt: now },
    };
    h.handed(d);
  }
  return unleased;
}
