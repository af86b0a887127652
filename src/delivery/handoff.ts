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
// - SQLite: the fan-out reads the matching hooks and writes each delivery, leased when the engine takes it
//   (fanOutHandingOff): statements run in this process, so a row at a time costs little.
// - PostgreSQL: the change, its event and the fan-out stay one statement, one round trip. The engine says
//   beforehand whether it takes everything: only under light load (no hook's deliveries waiting, fewer than
//   a hook's cap in flight); then the statement leases each delivery as it writes it and answers them with
//   their hooks (fanOutLeasingSql), and what it leased is counted (handOverLeased). Under load, claims batch
//   deliveries whose outcomes are then recorded together, which PostgreSQL does for much less than a
//   transaction per outcome. (A lease UPDATE after the INSERT cost more than a claim.)
import type { Executor, TxHandoff } from '../storage/port.js';
import { hookColumns, hookOf, type ClaimedDelivery, type DetailRow, type HookColumn } from './claim.js';

/** A hook the fan-out matched, with what sending needs. */
export type MatchedHook = Pick<DetailRow, HookColumn> & { id: number; rate_limit: number };

/** The event a fan-out writes deliveries for; `content` as stored. */
export interface FannedEvent {
  accountId: number;
  eventId: number;
  type: string;
  objectId: number;
  content: string;
  now: number;
}

/**
 * Which hooks an event goes to, for every fan-out: the account's active hooks on its type whose constraint
 * fits its kind. Params: account id, event type, object kind. The hooks_match index answers it, so the cost
 * follows the hooks that match (test/delivery/dispatch.test.ts checks the plans).
 */
export const HOOKS_MATCHING = `account_id = ? AND event = ? AND active = 1 AND constrainttype IN ('all', ?)`;

/**
 * The fan-out's hooks (HOOKS_MATCHING), with what sending needs; the previous secret with its end, since
 * what is read is kept beyond this event (Executor.cached).
 */
export const MATCHING_HOOKS = `SELECT id, rate_limit, title, url, contenttype, secret, active, retry_schedule, headers,
            previous_secret, previous_secret_until
       FROM hooks
      WHERE ${HOOKS_MATCHING}`;

/** A matching hook as kept between events: sending's view of it, with and without its previous secret. */
interface KeptHook {
  id: number;
  rateLimit: number;
  /** without a previous secret */
  hook: ClaimedDelivery['hook'];
  /** with it, until `previousUntil` (the same object when there is none) */
  withPrevious: ClaimedDelivery['hook'];
  previousUntil: number;
}

async function readMatchingHooks(x: Executor, accountId: number, type: string, objectKind: string) {
  const rows = await x.all<MatchedHook & { previous_secret_until: number | null }>(MATCHING_HOOKS, [
    accountId,
    type,
    objectKind,
  ]);
  return rows.map((r): KeptHook => {
    const hook = hookOf({ ...r, previous_secret: '' });
    const previous = r.previous_secret ?? '';
    return {
      id: Number(r.id),
      rateLimit: Number(r.rate_limit),
      hook,
      withPrevious: previous === '' ? hook : { ...hook, previousSecret: previous },
      previousUntil: Number(r.previous_secret_until ?? 0),
    };
  });
}

/**
 * The hooks an event of this type and kind goes to: read once, then kept for as long as the account's hooks
 * stay as they were (Executor.cached), since nearly every event of a busy account asks the same.
 */
function matchingHooks(x: Executor, accountId: number, type: string, objectKind: string): Promise<KeptHook[]> {
  const read = () => readMatchingHooks(x, accountId, type, objectKind);
  return x.cached ? x.cached('hooks', `match ${accountId} ${type} ${objectKind}`, read) : read();
}

const INSERT_DELIVERY = `INSERT INTO deliveries (account_id, hook_id, event_id, state, attempt_count, next_attempt_at, lease_until, lease_owner, created_at, updated_at)
     VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)`;

/**
 * SQLite's fan-out of one event (records/events.ts raise) where a delivery engine takes deliveries: one
 * delivery per matching hook, leased to the engine when it takes it. Answers how many were written
 * unleased, for the claim to find.
 */
export async function fanOutHandingOff(
  x: Executor,
  h: TxHandoff,
  e: FannedEvent & { objectKind: string },
): Promise<number> {
  const { accountId, eventId, now } = e;
  const hooks = await matchingHooks(x, accountId, e.type, e.objectKind);
  let unleased = 0;
  for (const k of hooks) {
    const taken = !(k.rateLimit > 0) && h.take(k.id);
    await x.run(INSERT_DELIVERY, [
      accountId,
      k.id,
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
    h.handed(sendable(k.id, k.previousUntil > now ? k.withPrevious : k.hook, e));
  }
  return unleased;
}

/** A delivery the engine took, as a claim would have read it. */
function sendable(hookId: number, hook: ClaimedDelivery['hook'], e: FannedEvent): ClaimedDelivery {
  return {
    accountId: e.accountId,
    hookId,
    eventId: e.eventId,
    attempt: 1,
    hook,
    event: { type: e.type, objectId: e.objectId, content: e.content, createdAt: e.now },
  };
}

/**
 * PostgreSQL's fan-out that leases as it writes, after the statements `before` (the change and its event,
 * as WITH clauses), when the engine takes everything (DeliveryHandoff.takesAll): one delivery per matching
 * hook, leased to the engine unless the hook is rate-limited; answers each delivery's hook with whether it
 * was leased. Parameters, after those of `before`: event id, now, lease until, owner, now, now, account id,
 * event type, object kind, now (for hookColumns).
 */
export function fanOutLeasingSql(before: string): string {
  return `WITH ${before}d AS (
      INSERT INTO deliveries (account_id, hook_id, event_id, state, attempt_count, next_attempt_at, lease_until, lease_owner, created_at, updated_at)
      SELECT account_id, id, ?, 'pending', CASE WHEN t THEN 1 ELSE 0 END, ?,
             CASE WHEN t THEN CAST(? AS BIGINT) END, CASE WHEN t THEN CAST(? AS TEXT) END, ?, ?
        FROM (SELECT account_id, id, rate_limit = 0 AS t
                FROM hooks
               WHERE ${HOOKS_MATCHING}) AS m
      RETURNING hook_id, lease_owner)
    SELECT d.lease_owner IS NOT NULL AS leased, h.id, h.rate_limit, ${hookColumns('h')}
      FROM d JOIN hooks h ON h.id = d.hook_id`;
}

/** What fanOutLeasingSql answered: the leased deliveries counted and handed over. Answers how many were not. */
export function handOverLeased(
  h: TxHandoff,
  rows: readonly (MatchedHook & { leased: boolean })[],
  e: FannedEvent,
): number {
  let unleased = 0;
  for (const r of rows) {
    if (r.leased) {
      h.took(Number(r.id));
      h.handed(sendable(Number(r.id), hookOf(r), e));
    } else unleased++;
  }
  return unleased;
}
