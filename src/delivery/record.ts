// Recording attempts and what they mean for their deliveries: the attempt rows (append-only) and the
// deliveries' new states are written in one transaction, so the log and the state never disagree. Outcomes
// are recorded in batches: every attempt that finished in the same turn of the event loop shares one
// INSERT, every success one UPDATE (see Recorder).
import { setTimeout as delay } from 'node:timers/promises';
import { StorageUnavailable, type Engine, type Executor, type JsonColumn } from '../storage/port.js';
import { PerTurn } from './per-turn.js';

export type Trigger = 'scheduled' | 'manual';

/** How often outcomes kept while the database is away are tried again (Recorder). */
export const RECORD_RETRY_MS = 1000;

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

type Key = { accountId: number; hookId: number; eventId: number };
const KEY = 'account_id = ? AND hook_id = ? AND event_id = ?';
const key = (k: Key) => [k.accountId, k.hookId, k.eventId];

/** A delivery's key as jsonRows columns. */
const KEY_COLUMNS: readonly JsonColumn[] = [
  ['account_id', 'int'],
  ['hook_id', 'int'],
  ['event_id', 'int'],
];

const ATTEMPT_COLUMNS: readonly JsonColumn[] = [
  ['account_id', 'int'],
  ['id', 'int'],
  ['hook_id', 'int'],
  ['event_id', 'int'],
  ['trigger', 'text'],
  ['started_at', 'int'],
  ['duration_ms', 'int'],
  ['status_code', 'int'],
  ['error', 'text'],
  ['response_body', 'text'],
];

const ATTEMPT_NAMES = ATTEMPT_COLUMNS.map(([c]) => c).join(', ');
const INSERT_ATTEMPT = `INSERT INTO attempts (${ATTEMPT_NAMES}) VALUES (${ATTEMPT_COLUMNS.map(() => '?').join(', ')})`;

/**
 * Appends attempts (one statement for any number where statements are round trips; Dialect.inProcess); answers
 * their ids, in order.
 */
export async function insertAttempts(x: Executor, list: readonly AttemptRecord[]): Promise<number[]> {
  if (list.length === 0) return [];
  const { ids, rows } = await attemptRows(x, list);
  if (x.dialect.inProcess) for (const row of rows) await x.run(INSERT_ATTEMPT, row);
  else await x.run(insertAttemptsSql(x), [JSON.stringify(rows)]);
  return ids;
}

/** Each attempt with a fresh id, as ATTEMPT_COLUMNS. */
async function attemptRows(x: Executor, list: readonly AttemptRecord[]) {
  const ids: number[] = [];
  const rows: unknown[][] = [];
  for (const a of list) {
    const id = await x.nextId();
    ids.push(id);
    rows.push([
      a.accountId,
      id,
      a.hookId,
      a.eventId,
      a.trigger,
      a.startedAt,
      a.durationMs,
      a.statusCode,
      a.error,
      a.responseBody,
    ]);
  }
  return { ids, rows };
}

/** Appends the attempts given as one JSON parameter (ATTEMPT_COLUMNS rows). */
const insertAttemptsSql = (x: Executor) =>
  `INSERT INTO attempts (${ATTEMPT_NAMES}) SELECT ${ATTEMPT_NAMES} FROM (${x.dialect.jsonRows(ATTEMPT_COLUMNS)}) AS r`;

export async function insertAttempt(x: Executor, a: AttemptRecord): Promise<number> {
  const [id] = await insertAttempts(x, [a]);
  return id;
}

/**
 * A success ends its hook's failing streak; the hooks by id, as an array (PostgreSQL). Not a key list
 * unpacked from JSON: the planner guesses 100 rows for any such list, and at PostgreSQL's default
 * random_page_cost it planned a scan of every hook for each recorded batch (about 2 ms with 10,000 hooks).
 * An array's length it knows, so it probes the hooks' primary key whatever the cost settings.
 */
export const CLEAR_FAILING_MANY =
  'UPDATE hooks SET failing_since = NULL WHERE id = ANY(CAST(? AS BIGINT[])) AND failing_since IS NOT NULL';
/** CLEAR_FAILING_MANY for one hook (Dialect.inProcess: one statement per row costs little there). */
export const CLEAR_FAILING_ONE = 'UPDATE hooks SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL';

/**
 * 2xx answers: the deliveries are done, whoever held the lease and whatever state they were in, and their
 * hooks are no longer failing.
 */
export async function markSucceededMany(x: Executor, keys: readonly Key[], now: number): Promise<number> {
  if (keys.length === 0) return 0;
  if (x.dialect.inProcess) return markSucceededEach(x, keys, now);
  const r = await x.run(`${x.dialect.planEachTime}${markSucceededSql(x)}`, succeededParams(keys, now));
  await x.run(CLEAR_FAILING_MANY, [hookIds(keys)]);
  return r.changes;
}

/** Deliveries done, given as a time and one JSON parameter of keys (succeededParams). */
const markSucceededSql = (x: Executor) =>
  `UPDATE deliveries SET state = 'succeeded', lease_until = NULL, lease_owner = NULL, updated_at = ?
      WHERE (account_id, hook_id, event_id) IN (SELECT account_id, hook_id, event_id FROM (${x.dialect.jsonRows(KEY_COLUMNS)}) AS k)
        AND state <> 'succeeded'`;
const succeededParams = (keys: readonly Key[], now: number) => [now, JSON.stringify(keys.map(key))];
const hookIds = (keys: readonly Key[]) => [...new Set(keys.map((k) => k.hookId))];

/**
 * Outcomes that are all 2xx, where WITH clauses can write (PostgreSQL): the attempts, the deliveries done and
 * their hooks no longer failing in one statement — the unit's last (Executor.last), so a batch that commits
 * alone is one round trip instead of five.
 */
async function recordSuccesses(x: Executor, outcomes: readonly Outcome[], now: number): Promise<void> {
  const { rows } = await attemptRows(
    x,
    outcomes.map((o) => o.attempt),
  );
  const keys = outcomes.map((o) => o.delivery);
  x.last?.();
  await x.run(
    `${x.dialect.planEachTime}WITH a AS (${insertAttemptsSql(x)}), d AS (${markSucceededSql(x)}) ${CLEAR_FAILING_MANY}`,
    [JSON.stringify(rows), ...succeededParams(keys, now), hookIds(keys)],
  );
}

/** markSucceededMany one statement per delivery and hook (Dialect.inProcess). */
async function markSucceededEach(x: Executor, keys: readonly Key[], now: number): Promise<number> {
  let changes = 0;
  for (const k of keys) {
    const r = await x.run(
      `UPDATE deliveries SET state = 'succeeded', lease_until = NULL, lease_owner = NULL, updated_at = ?
        WHERE ${KEY} AND state <> 'succeeded'`,
      [now, ...key(k)],
    );
    changes += r.changes;
  }
  for (const hookId of new Set(keys.map((k) => k.hookId))) {
    await x.run(CLEAR_FAILING_ONE, [hookId]);
  }
  return changes;
}

/**
 * A delivery of the hook failed for good: the hook is failing since now, unless it already was. When that
 * streak is `disableAfterMs` old (and the setting is not 0), the hook is disabled; answers the streak's
 * start then, for the e-mail that says so (null: still enabled).
 */
export async function noteHookFailure(
  x: Executor,
  k: Key,
  now: number,
  disableAfterMs: number,
): Promise<number | null> {
  await x.run('UPDATE hooks SET failing_since = COALESCE(failing_since, ?) WHERE account_id = ? AND id = ?', [
    now,
    k.accountId,
    k.hookId,
  ]);
  if (disableAfterMs <= 0) return null;
  const row = await x.get<{ failing_since: number }>(
    `UPDATE hooks SET active = 0, updated_at = ?
      WHERE account_id = ? AND id = ? AND active = 1 AND failing_since <= ?
      RETURNING failing_since`,
    [now, k.accountId, k.hookId, now - disableAfterMs],
  );
  return row ? Number(row.failing_since) : null;
}

export async function markSucceeded(x: Executor, k: Key, now: number): Promise<boolean> {
  return (await markSucceededMany(x, [k], now)) > 0;
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

/**
 * A scheduled attempt and what it decides: done, due again at `retryAt`, or failed for good; `gone`: the
 * receiver answered 410 Gone and the hook is to be disabled (HOOKLINE_DISABLE_ON_GONE).
 */
export interface Outcome<K extends Key = Key> {
  delivery: K;
  attempt: AttemptRecord;
  next: { state: 'succeeded' } | { state: 'pending'; retryAt: number } | { state: 'failed' };
  gone?: boolean;
}

/** What a transaction did to a delivery that its admins hear of: failed it for good, disabled its hook for a 410. */
export interface Ended {
  failed: boolean;
  gone: boolean;
}

/**
 * The receiver answered 410 Gone: the hook is disabled. True only for the one transaction that disabled it,
 * so the admins get one e-mail however many notifications in flight come back 410.
 */
export async function disableGoneHook(x: Executor, k: Key, now: number): Promise<boolean> {
  const r = await x.run('UPDATE hooks SET active = 0, updated_at = ? WHERE account_id = ? AND id = ? AND active = 1', [
    now,
    k.accountId,
    k.hookId,
  ]);
  return r.changes > 0;
}

/**
 * Records scheduled attempts in one transaction. `onEnded` runs inside it for each delivery this
 * transaction failed for good or whose hook it disabled for a 410 Gone (to queue the admins' e-mail with it:
 * both or neither); answers those deliveries with what onEnded answered, for the caller to act on once the
 * transaction has committed.
 */
export async function recordOutcomes<K extends Key, R>(
  x: Executor,
  owner: string,
  now: number,
  outcomes: readonly Outcome<K>[],
  onEnded: (x: Executor, delivery: K, ended: Ended) => Promise<R>,
): Promise<Map<K, R>> {
  if (x.dialect.writableCte && outcomes.every((o) => o.next.state === 'succeeded' && o.gone !== true)) {
    await recordSuccesses(x, outcomes, now);
    return new Map();
  }
  await insertAttempts(
    x,
    outcomes.map((o) => o.attempt),
  );
  await markSucceededMany(
    x,
    outcomes.filter((o) => o.next.state === 'succeeded').map((o) => o.delivery),
    now,
  );
  const told = new Map<K, R>();
  for (const o of outcomes) {
    let failed = false;
    if (o.next.state === 'pending') await scheduleRetry(x, o.delivery, owner, o.next.retryAt, now);
    else if (o.next.state === 'failed') failed = await markFailed(x, o.delivery, owner, now);
    const gone = o.gone === true && (await disableGoneHook(x, o.delivery, now));
    if (failed || gone) told.set(o.delivery, await onEnded(x, o.delivery, { failed, gone }));
  }
  return told;
}

/**
 * Batches outcomes: those added in the same turn of the event loop are recorded in one engine.write (which
 * group-commits them with whatever else is writing). Each add() resolves once its outcome is committed:
 * with what onEnded answered when that transaction failed the delivery for good or disabled its hook, else
 * with undefined.
 */
interface Pending<K extends Key, R> {
  outcome: Outcome<K>;
  resolve: (failed: { value: R } | undefined) => void;
  reject: (e: unknown) => void;
}

export class Recorder<K extends Key, R> {
  private readonly batches = new PerTurn<Pending<K, R>>((batch) => void this.flush(batch));

  constructor(
    private readonly engine: Engine,
    private readonly owner: string,
    private readonly now: () => number,
    private readonly onEnded: (x: Executor, delivery: K, ended: Ended) => Promise<R>,
    /** ends the wait for a database that is away (the engine stopping) */
    private readonly stop?: AbortSignal,
  ) {}

  add(outcome: Outcome<K>): Promise<{ value: R } | undefined> {
    return new Promise((resolve, reject) => this.batches.add({ outcome, resolve, reject }));
  }

  /**
   * While the database is away (StorageUnavailable, nothing committed), the outcomes are kept and written
   * once it answers again, every RECORD_RETRY_MS until the engine stops: the receiver has its notification,
   * and a lease left to run out would send it again. A commit whose outcome is unknown is not written again
   * (its attempts would be logged twice); its lease runs out as before.
   */
  private async flush(batch: Pending<K, R>[]): Promise<void> {
    for (;;) {
      try {
        await this.record(batch);
        return;
      } catch (e) {
        if (e instanceof StorageUnavailable && !e.outcomeUnknown) {
          const waited = await delay(RECORD_RETRY_MS, undefined, { signal: this.stop }).then(
            () => true,
            () => false,
          );
          if (waited) continue;
          for (const b of batch) b.reject(e);
          return;
        }
        if (batch.length === 1) return batch[0].reject(e);
        // One outcome the database refuses must not take the others down: each alone, then.
        for (const b of batch) await this.record([b]).catch(b.reject);
        return;
      }
    }
  }

  private async record(batch: Pending<K, R>[]): Promise<void> {
    const told = await this.engine.write((x) =>
      recordOutcomes(
        x,
        this.owner,
        this.now(),
        batch.map((b) => b.outcome),
        this.onEnded,
      ),
    );
    for (const b of batch) {
      const d = b.outcome.delivery;
      b.resolve(told.has(d) ? { value: told.get(d) as R } : undefined);
    }
  }
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
