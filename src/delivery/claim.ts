// The claim: a dispatcher takes due deliveries for itself with a lease, counting the attempt at claim time
// (graphile-worker style) so an attempt cut short by a crash still uses one up. An expired lease makes the
// delivery claimable again, by this node or another: every event reaches every hook at least once.
import type { Dialect, Executor } from '../storage/port.js';

export interface ClaimOptions {
  now: number;
  /** how long the claim holds, ms */
  leaseMs: number;
  /** who holds the lease (this dispatcher) */
  owner: string;
  /** deliveries to claim at most */
  limit: number;
  /** requests in flight per hook at most */
  perHook: number;
  /** requests this dispatcher already has in flight, per hook id */
  busy: ReadonlyMap<number, number>;
}

export interface ClaimedDelivery {
  accountId: number;
  hookId: number;
  eventId: number;
  /** attempts so far, this one included */
  attempt: number;
  hook: { title: string; url: string; contenttype: string; secret: string; active: number };
  event: { type: string; objectId: number; content: string; createdAt: number };
}

/**
 * Rows of integers from one JSON parameter (`[[1, 2], [3, 4]]`): lists of any length in a statement whose
 * text never changes, so each engine prepares it once. (PostgreSQL names only its first few hundred distinct
 * statements: lists spelled out as `?, ?, …` would use up those names.) The one engine difference, as data.
 */
const JSON_ROWS: Record<Dialect['name'], (columns: string[]) => string> = {
  sqlite: (cols) =>
    `SELECT ${cols.map((c, i) => `CAST(json_extract(value, '$[${i}]') AS INTEGER) AS ${c}`).join(', ')} FROM json_each(?)`,
  postgres: (cols) =>
    `SELECT ${cols.map((c, i) => `CAST(e ->> ${i} AS BIGINT) AS ${c}`).join(', ')} FROM jsonb_array_elements(CAST(? AS jsonb)) AS e`,
};

/**
 * Claims up to `limit` due deliveries of active hooks, at most `perHook - busy` per hook, so a hook whose
 * receiver hangs never takes the slots of the others: hooks already at their cap are not even read.
 *
 * Why the shape:
 * - `busy` is the dispatcher's in-flight count per hook as [[hookId, room left]]; hook ids are unique across
 *   the server, so hook_id alone names a hook.
 * - `due` is MATERIALIZED so its LIMIT and its row locks apply exactly once. It skips saturated hooks before
 *   the LIMIT: otherwise a hanging hook's backlog, due earliest, would fill every claim and starve the rest.
 * - On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several nodes claim at once without waiting for or taking
 *   each other's rows. SQLite has a single writer, so the plain UPDATE over the same subquery is safe there.
 * - ROW_NUMBER per hook caps how many deliveries of one hook a single claim takes.
 * - The attempt is counted here, at claim time: a crash mid-attempt still uses one up.
 */
export function claimSql(dialect: Dialect): string {
  return `WITH busy AS (${JSON_ROWS[dialect.name](['hook_id', 'room'])}),
      due AS MATERIALIZED (
        SELECT d.account_id, d.hook_id, d.event_id, d.next_attempt_at
          FROM deliveries d
         WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until < ?)
           AND d.hook_id NOT IN (SELECT hook_id FROM busy WHERE room <= 0)
           AND EXISTS (SELECT 1 FROM hooks h WHERE h.account_id = d.account_id AND h.id = d.hook_id AND h.active = 1)
         ORDER BY d.next_attempt_at, d.event_id
         LIMIT ?
         ${dialect.skipLocked ? 'FOR UPDATE OF d SKIP LOCKED' : ''}
      ), ranked AS (
        SELECT d.account_id, d.hook_id, d.event_id,
               ROW_NUMBER() OVER (PARTITION BY d.hook_id ORDER BY d.next_attempt_at, d.event_id) AS rn,
               COALESCE((SELECT b.room FROM busy b WHERE b.hook_id = d.hook_id), CAST(? AS BIGINT)) AS room
          FROM due d
      )
      UPDATE deliveries
         SET lease_until = ?, lease_owner = ?, attempt_count = attempt_count + 1, updated_at = ?
       WHERE (account_id, hook_id, event_id) IN (SELECT account_id, hook_id, event_id FROM ranked WHERE rn <= room)
      RETURNING account_id, hook_id, event_id, attempt_count`;
}

interface ClaimedKey {
  account_id: number;
  hook_id: number;
  event_id: number;
  attempt_count: number;
}

export interface DetailRow {
  account_id: number;
  hook_id: number;
  event_id: number;
  title: string;
  url: string;
  contenttype: string;
  secret: string;
  active: number;
  type: string;
  object_id: number;
  content: string;
  created_at: number;
}

/**
 * Whether anything is due: a read, so an idle dispatcher polling every few tens of ms does not take the write
 * transaction (SQLite's single writer is shared with the API) only to find nothing.
 */
export async function hasDue(x: Executor, now: number): Promise<boolean> {
  const row = await x.get(
    `SELECT 1 AS due FROM deliveries d
      WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until < ?)
        AND EXISTS (SELECT 1 FROM hooks h WHERE h.account_id = d.account_id AND h.id = d.hook_id AND h.active = 1)
      LIMIT 1`,
    [now, now],
  );
  return row !== undefined;
}

/** Claims due deliveries and reads what sending them needs (hook and event). Run inside engine.write. */
export async function claimDue(x: Executor, o: ClaimOptions): Promise<ClaimedDelivery[]> {
  if (o.limit <= 0) return [];
  const busy = [...o.busy].filter(([, n]) => n > 0).map(([hookId, n]) => [hookId, Math.max(0, o.perHook - n)]);
  const keys = await x.all<ClaimedKey>(claimSql(x.dialect), [
    JSON.stringify(busy),
    o.now,
    o.now,
    o.limit,
    o.perHook,
    o.now + o.leaseMs,
    o.owner,
    o.now,
  ]);
  if (keys.length === 0) return [];
  const details = await readDetails(x, keys);
  const attempts = new Map(keys.map((k) => [`${k.hook_id}:${k.event_id}`, Number(k.attempt_count)]));
  return details.map((r) => ({
    accountId: r.account_id,
    hookId: r.hook_id,
    eventId: r.event_id,
    attempt: attempts.get(`${r.hook_id}:${r.event_id}`) ?? 1,
    hook: { title: r.title, url: r.url, contenttype: r.contenttype, secret: r.secret, active: r.active },
    event: { type: r.type, objectId: r.object_id, content: r.content, createdAt: r.created_at },
  }));
}

/** Hook and event of the given deliveries. */
export async function readDetails(
  x: Executor,
  keys: readonly { account_id: number; hook_id: number; event_id: number }[],
): Promise<DetailRow[]> {
  return x.all<DetailRow>(
    `WITH k AS (${JSON_ROWS[x.dialect.name](['account_id', 'hook_id', 'event_id'])})
     SELECT d.account_id, d.hook_id, d.event_id, h.title, h.url, h.contenttype, h.secret, h.active,
            e.type, e.object_id, e.content, e.created_at
       FROM k
       JOIN deliveries d ON d.account_id = k.account_id AND d.hook_id = k.hook_id AND d.event_id = k.event_id
       JOIN hooks h ON h.account_id = d.account_id AND h.id = d.hook_id
       JOIN events e ON e.account_id = d.account_id AND e.id = d.event_id
      ORDER BY d.next_attempt_at, d.event_id`,
    [JSON.stringify(keys.map((k) => [k.account_id, k.hook_id, k.event_id]))],
  );
}

/**
 * Gives claims back without an attempt (a graceful stop): the lease is dropped and the attempt counted at
 * claim time is returned, since the receiver was never given a full try. Only leases still held by `owner`.
 */
export async function releaseClaims(
  x: Executor,
  owner: string,
  keys: readonly { accountId: number; hookId: number; eventId: number }[],
  now: number,
): Promise<number> {
  let released = 0;
  for (const k of keys) {
    const r = await x.run(
      `UPDATE deliveries
          SET lease_until = NULL, lease_owner = NULL, attempt_count = attempt_count - 1, updated_at = ?
        WHERE account_id = ? AND hook_id = ? AND event_id = ? AND state = 'pending' AND lease_owner = ?`,
      [now, k.accountId, k.hookId, k.eventId, owner],
    );
    released += r.changes;
  }
  return released;
}
