// Recording an attempt and what it means for its delivery: the attempt row (append-only) and the delivery's
// new state are written in one transaction, so the log and the state never disagree.
import type { Executor } from '../storage/port.js';

export type Trigger = 'scheduled' | 'manual';

export interface AttemptRecord {
  accountId: number;
  hookId: number;
  eventId: number;
  trigger: Trigger;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
}

export async function insertAttempt(x: Executor, a: AttemptRecord): Promise<number> {
  const id = await x.nextId();
  await x.run(
    `INSERT INTO attempts (account_id, id, hook_id, event_id, trigger, started_at, duration_ms, status_code, error, response_body)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [a.accountId, id, a.hookId, a.eventId, a.trigger, a.startedAt, a.durationMs, a.statusCode, a.error, a.responseBody],
  );
  return id;
}

type Key = { accountId: number; hookId: number; eventId: number };
const KEY = 'account_id = ? AND hook_id = ? AND event_id = ?';
const key = (k: Key) => [k.accountId, k.hookId, k.eventId];

/** A 2xx: the delivery is done, whoever held the lease and whatever state it was in. */
export async function markSucceeded(x: Executor, k: Key, now: number): Promise<boolean> {
  const r = await x.run(
    `UPDATE deliveries SET state = 'succeeded', lease_until = NULL, lease_owner = NULL, updated_at = ?
      WHERE ${KEY} AND state <> 'succeeded'`,
    [now, ...key(k)],
  );
  return r.changes > 0;
}

/**
 * A failed scheduled attempt with retries left: due again at `nextAttemptAt`, lease released. Only while
 * `owner` still holds the lease: if it expired and another dispatcher took the delivery, that one decides.
 */
export async function scheduleRetry(
  x: Executor,
  k: Key,
  owner: string,
  nextAttemptAt: number,
  now: number,
): Promise<boolean> {
  const r = await x.run(
    `UPDATE deliveries SET next_attempt_at = ?, lease_until = NULL, lease_owner = NULL, updated_at = ?
      WHERE ${KEY} AND state = 'pending' AND lease_owner = ?`,
    [nextAttemptAt, now, ...key(k), owner],
  );
  return r.changes > 0;
}

/**
 * The last attempt failed: the delivery is failed. Answers true only for the one transaction that made the
 * change, so the admin gets exactly one e-mail.
 */
export async function markFailed(x: Executor, k: Key, owner: string, now: number): Promise<boolean> {
  const r = await x.run(
    `UPDATE deliveries SET state = 'failed', lease_until = NULL, lease_owner = NULL, updated_at = ?
      WHERE ${KEY} AND state = 'pending' AND lease_owner = ?`,
    [now, ...key(k), owner],
  );
  return r.changes > 0;
}

export interface AttemptRow {
  id: number;
  trigger: Trigger;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_body: string | null;
}

export async function attemptsOf(x: Executor, k: Key): Promise<AttemptRow[]> {
  return x.all<AttemptRow>(
    `SELECT id, trigger, started_at, duration_ms, status_code, error, response_body
       FROM attempts WHERE ${KEY} ORDER BY started_at, id`,
    key(k),
  );
}
