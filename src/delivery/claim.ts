// The claim: a dispatcher takes due deliveries for itself with a lease, counting the attempt at claim time
// (graphile-worker style). An expired lease makes the delivery claimable again, by this node or another:
// every event reaches every hook at least once. Taking an expired lease does not count a new attempt: the
// one its holder was to make (and may have made, or not: a crash leaves no record) is made again under the
// same number. A node that dies holds deliveries claimed ahead that it never sent, and its crash must not
// use up their receivers' retries — up to a point: past EXPIRED_LEASES_FORGIVEN each expired lease counts
// (see RECLAIM_COUNTS).
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
  /** how many the lane may take now at most, beside its room (a rate-limited hook's tokens); default: no bound */
  allowance?: (lane: Lane) => number;
  /**
   * told, for each rate-limited hook this claim looked at, the whole notifications its shared bucket holds
   * after the claim (SharedBuckets): for the dispatcher's own estimate (rate.ts)
   */
  onTokens?: (hookId: number, tokens: number) => void;
}

export interface ClaimedDelivery {
  accountId: number;
  hookId: number;
  eventId: number;
  /** attempts so far, this one included (a claim of an expired lease repeats its holder's number) */
  attempt: number;
  /**
   * true when this claim took the delivery from another holder's lease that ran out and counted that lease
   * as an attempt (past EXPIRED_LEASES_FORGIVEN): the only way a claim can take one past its last attempt
   * that is not sent again (engine.ts). Absent otherwise.
   */
  leaseCounted?: boolean;
  /**
   * previousSecret: the secret before the last change while its overlap runs (claim time), else '';
   * retrySchedule: the hook's own, as written ('' follows the server's)
   */
  hook: {
    title: string;
    url: string;
    contenttype: string;
    secret: string;
    previousSecret: string;
    retrySchedule: string;
    active: number;
    /** the hook's own request headers as stored (webhooks/headers.ts), '' for none */
    headers: string;
  };
  event: { type: string; objectId: number; content: string; createdAt: number };
}

/**
 * What sending needs of the hook (table or alias `h`), its HookColumn: the previous secret only while its
 * overlap runs at `now` (the one placeholder), else '' — what notifications are also signed with after a
 * secret change (hooks.ts updateHook).
 */
export const hookColumns = (h: string) =>
  `${h}.title, ${h}.url, ${h}.contenttype, ${h}.secret, ${h}.active, ${h}.retry_schedule, ${h}.headers,
   CASE WHEN ${h}.previous_secret_until > CAST(? AS BIGINT) THEN ${h}.previous_secret ELSE '' END AS previous_secret`;

/**
 * Expired leases forgiven per delivery: taking over one of the first three repeats its holder's attempt
 * under the same number; from the fourth on each counts as an attempt, so a delivery whose sending stops
 * Hookline every time (a poison pill) still runs out of attempts, and is failed without being sent again
 * (engine.ts), instead of going round for ever.
 */
export const EXPIRED_LEASES_FORGIVEN = 3;

/**
 * The SET clauses of a claim's UPDATE for the attempt: one more, unless the delivery is taken from a lease
 * that ran out (it still has an owner: whoever records an outcome or gives a claim back clears it) and that
 * is forgiven (EXPIRED_LEASES_FORGIVEN) or the claimer's own (its engine still sends or records it, and does
 * not send it again: engine.ts); and one more expired lease when another's ran out. The SET expressions see
 * the row as it was before the UPDATE. Params: the claiming owner, twice.
 */
export const RECLAIM_COUNTS = `attempt_count = attempt_count + CASE WHEN lease_owner IS NULL THEN 1
             WHEN lease_owner = CAST(? AS TEXT) OR expired_leases < ${EXPIRED_LEASES_FORGIVEN} THEN 0 ELSE 1 END,
           expired_leases = expired_leases + CASE WHEN lease_owner IS NULL OR lease_owner = CAST(? AS TEXT) THEN 0 ELSE 1 END`;

/**
 * The hooks that have due, unleased deliveries, room for more requests here and, if rate-limited, a token:
 * [{hookId, room}], the hook whose oldest due delivery is oldest first, `limit` hooks at most. A read, so an idle dispatcher polling
 * every few tens of ms never takes the write transaction (SQLite's single writer is shared with the API).
 *
 * Why the shape:
 * - `pending_hooks` is a loose index scan: each step jumps to the next hook id in deliveries_pending_by_hook,
 *   so the cost follows the hooks that have pending deliveries, not the deliveries (a hook at its cap with a
 *   million pending rows costs one probe).
 * - `first_due` (for the order) and `ready` (due and unleased, counted up to perHook) walk that hook's
 *   pending rows in due order and stop early: each passes over at most the hook's requests in flight and
 *   perHook rows. A lane's room is what it may take: its free slots, or fewer when fewer are ready.
 * - `busy` is the dispatcher's in-flight count per hook as [[hookId, count]]; hook ids are unique on the server.
 * - The hook's `active` is a scalar subquery, not a join: a join let PostgreSQL plan a scan of every hook
 *   (its estimate of pending_hooks is a guess), which made each claim cost the number of hooks.
 * - A rate-limited hook whose shared bucket (SharedBuckets) holds no whole notification now is no lane: it
 *   could take nothing, and kept among the `limit` hooks with the oldest due work (a backlog held back by its
 *   limit is always the oldest), such hooks would take every lane and hold back hooks that could send. One
 *   probe of hook_rates by key per rate-limited hook with room; no bucket yet is a full one, and a bucket
 *   written at a time ahead of `now` (a clock stepped back) is a lane, so that a claim reads it and takes it
 *   as written now.
 * - MATERIALIZED: each subquery runs once per hook (inlined, the engines would run `ready` once per use), and
 *   only for hooks with room.
 */
export function lanesSql(dialect: Dialect): string {
  return `WITH RECURSIVE pending_hooks(hook_id) AS (
        SELECT (SELECT MIN(hook_id) FROM deliveries WHERE state = 'pending')
        UNION ALL
        SELECT (SELECT MIN(d.hook_id) FROM deliveries d WHERE d.state = 'pending' AND d.hook_id > p.hook_id)
          FROM pending_hooks p WHERE p.hook_id IS NOT NULL
      ), busy AS (${dialect.jsonRows([
        ['hook_id', 'int'],
        ['n', 'int'],
      ])}),
      rooms AS MATERIALIZED (
        SELECT p.hook_id, CAST(? AS BIGINT) - COALESCE(b.n, 0) AS room,
               (SELECT h.rate_limit FROM hooks h WHERE h.id = p.hook_id) AS rate
          FROM pending_hooks p
          LEFT JOIN busy b ON b.hook_id = p.hook_id
         WHERE (SELECT h.active FROM hooks h WHERE h.id = p.hook_id) = 1
      ),
      candidates AS MATERIALIZED (
        SELECT r.hook_id, r.room, r.rate,
               (SELECT d.next_attempt_at FROM deliveries d
                 WHERE d.state = 'pending' AND d.hook_id = r.hook_id AND (d.lease_until IS NULL OR d.lease_until < ?)
                 ORDER BY d.next_attempt_at, d.event_id LIMIT 1) AS first_due,
               (SELECT COUNT(*) FROM (
                  SELECT 1 FROM deliveries d
                   WHERE d.state = 'pending' AND d.hook_id = r.hook_id AND d.next_attempt_at <= ?
                     AND (d.lease_until IS NULL OR d.lease_until < ?)
                   ORDER BY d.next_attempt_at, d.event_id LIMIT CAST(? AS INTEGER)) AS x) AS ready
          FROM rooms r
         WHERE r.room > 0
           AND (COALESCE(r.rate, 0) <= 0
                OR COALESCE((SELECT CASE WHEN b.updated_at > CAST(? AS BIGINT) THEN 1
                                         WHEN b.tokens_milli + (CAST(? AS BIGINT) - b.updated_at) * r.rate >= 1000 THEN 1
                                         ELSE 0 END
                               FROM hook_rates b WHERE b.hook_id = r.hook_id), 1) = 1)
      )
      SELECT hook_id, CASE WHEN ready < room THEN ready ELSE room END AS room, rate,
             CASE WHEN ready < room THEN 0 ELSE 1 END AS more
        FROM candidates
       WHERE ready > 0
       ORDER BY first_due, hook_id
       LIMIT CAST(? AS INTEGER)`;
}

/**
 * Takes up to `room` due deliveries of each lane, then the `limit` oldest of those, and leases them: the
 * claim for engines where several nodes write at once (PostgreSQL; SQLite's is claimOneWriter).
 *
 * - Each lane is read through deliveries_pending_by_hook in due order and stops after `room` rows
 *   (LATERAL … LIMIT room): a lane costs what it takes, whatever its backlog.
 * - `FOR UPDATE SKIP LOCKED` lets several nodes claim at once without waiting for or taking each other's rows.
 * - The attempt is counted here, at claim time (RECLAIM_COUNTS: not again for an expired lease).
 * - What sending needs (hook and event) comes back from the same statement: one round trip per claim. The
 *   joins are LATERAL by primary key, so the planner cannot turn them into scans of hooks or events (its
 *   estimate of the UPDATE's rows is a guess).
 */
export function claimSql(dialect: Dialect): string {
  const lane = `SELECT y.account_id, y.hook_id, y.event_id, y.next_attempt_at, y.lease_owner, y.expired_leases, l.room
           FROM lanes l CROSS JOIN LATERAL (
             SELECT d.account_id, d.hook_id, d.event_id, d.next_attempt_at, d.lease_owner, d.expired_leases
               FROM deliveries d
              WHERE d.hook_id = l.hook_id AND d.state = 'pending' AND d.next_attempt_at <= ?
                AND (d.lease_until IS NULL OR d.lease_until < ?)
              ORDER BY d.next_attempt_at, d.event_id
              LIMIT LEAST(l.room, CAST(? AS BIGINT))
              FOR UPDATE SKIP LOCKED) y`;
  // A lane whose hook was paused since the lanes were read (or that the caller only remembered) takes nothing.
  return `WITH lanes AS (
        SELECT l.hook_id, l.room FROM (${dialect.jsonRows([
          ['hook_id', 'int'],
          ['room', 'int'],
        ])}) AS l
         WHERE (SELECT h.active FROM hooks h WHERE h.id = l.hook_id) = 1),
      due AS (${lane}),
      ranked AS (
        SELECT account_id, hook_id, event_id, next_attempt_at, lease_owner, expired_leases, room,
               ROW_NUMBER() OVER (PARTITION BY hook_id ORDER BY next_attempt_at, event_id) AS rn
          FROM due
      ), picked AS (
        SELECT account_id, hook_id, event_id, lease_owner, expired_leases FROM ranked WHERE rn <= room
         ORDER BY next_attempt_at, event_id LIMIT CAST(? AS INTEGER)
      ),
      claimed AS (
        UPDATE deliveries
           SET lease_until = ?, lease_owner = ?, ${RECLAIM_COUNTS}, updated_at = ?
         WHERE (account_id, hook_id, event_id) IN (SELECT account_id, hook_id, event_id FROM picked)
        RETURNING account_id, hook_id, event_id, attempt_count, lease_owner)
      SELECT c.account_id, c.hook_id, c.event_id, c.attempt_count,
             (p.lease_owner IS NOT NULL AND p.lease_owner <> c.lease_owner
               AND p.expired_leases >= ${EXPIRED_LEASES_FORGIVEN}) AS lease_counted,
             ${hookColumns('h')}, e.type, e.object_id, e.content, e.created_at
        FROM claimed c
        JOIN picked p ON p.account_id = c.account_id AND p.hook_id = c.hook_id AND p.event_id = c.event_id
        CROSS JOIN LATERAL (SELECT * FROM hooks h WHERE h.account_id = c.account_id AND h.id = c.hook_id) h
        CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.account_id = c.account_id AND e.id = c.event_id) e`;
}

export interface Lane {
  hookId: number;
  room: number;
  /** the hook's rate limit, notifications per second (0: none) */
  rate: number;
  /**
   * false when the read saw fewer deliveries due than the hook has room for: a claim that takes `room` has
   * taken all that was due. Otherwise (or unknown) more may be waiting.
   */
  more?: boolean;
}

/** See lanesSql. `limit` bounds the hooks (one delivery each at least). */
export async function dueLanes(
  /** a transaction's executor, or anything that runs one read statement (Engine.readOne) */
  x: Pick<Executor, 'dialect' | 'all'>,
  o: Pick<ClaimOptions, 'now' | 'perHook' | 'busy' | 'limit'>,
): Promise<Lane[]> {
  if (o.limit <= 0) return [];
  const busy = [...o.busy].filter(([, n]) => n > 0);
  const rows = await x.all<{ hook_id: number; room: number; rate: number | null; more: number }>(lanesSql(x.dialect), [
    JSON.stringify(busy),
    o.perHook,
    o.now,
    o.now,
    o.now,
    o.perHook,
    o.now,
    o.now,
    o.limit,
  ]);
  return rows.map((r) => ({
    hookId: Number(r.hook_id),
    room: Number(r.room),
    rate: Number(r.rate ?? 0),
    more: Number(r.more) === 1,
  }));
}

export interface DetailRow {
  account_id: number;
  hook_id: number;
  event_id: number;
  title: string;
  url: string;
  contenttype: string;
  secret: string;
  /** '' when there is none, or its overlap is over */
  previous_secret: string;
  retry_schedule: string;
  active: number;
  headers: string;
  type: string;
  object_id: number;
  content: string;
  created_at: number;
}

/**
 * The shared token buckets of rate-limited hooks (table hook_rates, in thousandths of a notification): every
 * node's claims take from the same bucket, so a hook's `ratelimit` holds however many nodes send it. Same rule
 * as each node's own estimate (rate.ts): full at first, refilled at the rate, a second's worth at most.
 *
 * A claim reads the buckets of its rate-limited lanes first, refilled to `now`, in hook id order; the upsert
 * also locks each row (PostgreSQL) until the claim commits, so two nodes claiming the same hook at once take
 * turns (always in the same order: no deadlock), and other hooks are not held back. A lane that turns up later
 * in the claim (PostgreSQL's later rounds) with a limit takes nothing this time. What the claim took is
 * written back before it commits.
 */
class SharedBuckets {
  private readonly held = new Map<number, { milli: number; taken: number }>();

  constructor(
    private readonly x: Executor,
    private readonly now: number,
  ) {}

  /** Reads (and locks) the buckets of the rate-limited lanes among these. */
  async prepare(lanes: readonly Lane[]): Promise<void> {
    const limited = lanes.filter((l) => l.rate > 0 && !this.held.has(l.hookId)).sort((a, b) => a.hookId - b.hookId);
    for (const l of limited) {
      const capacity = Math.max(1, l.rate) * 1000;
      const row = await this.x.get<{ tokens_milli: number; updated_at: number }>(
        `INSERT INTO hook_rates (hook_id, tokens_milli, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (hook_id) DO UPDATE SET hook_id = excluded.hook_id
         RETURNING tokens_milli, updated_at`,
        [l.hookId, capacity, this.now],
      );
      // A bucket whose time is ahead of `now` (the clock was stepped back, or this node's clock is behind the
      // last writer's) is taken as written now: nothing refilled, and from now on it refills at the rate. Kept
      // at its time instead, nothing would refill until the clock had passed it again: a clock stepped back an
      // hour stopped the hook for an hour. Between nodes whose clocks differ, the one ahead may count the
      // difference again after the one behind wrote (at most rate × the difference, and a second's worth).
      const at = Math.min(Number(row?.updated_at ?? this.now), this.now);
      const milli = Math.min(capacity, Number(row?.tokens_milli ?? capacity) + (this.now - at) * l.rate);
      this.held.set(l.hookId, { milli, taken: 0 });
    }
  }

  /** Whole notifications the lane's hook may still take in this claim (Infinity without a limit). */
  allows(l: Lane): number {
    if (!(l.rate > 0)) return Infinity;
    const b = this.held.get(l.hookId);
    return b ? Math.floor(b.milli / 1000) - b.taken : 0;
  }

  took(hookId: number, n: number): void {
    const b = this.held.get(hookId);
    if (b) b.taken += n;
  }

  /** Writes back what the claim took from each bucket it read, and tells `onTokens` what is left. */
  async settle(onTokens?: (hookId: number, tokens: number) => void): Promise<void> {
    for (const [hookId, b] of this.held) {
      const milli = b.milli - b.taken * 1000;
      await this.x.run('UPDATE hook_rates SET tokens_milli = ?, updated_at = ? WHERE hook_id = ?', [
        milli,
        this.now,
        hookId,
      ]);
      onTokens?.(hookId, milli / 1000);
    }
  }
}

/** Claims due deliveries and reads what sending them needs (hook and event). Run inside engine.write. */
export async function claimDue(x: Executor, o: ClaimOptions & { lanes?: Lane[] }): Promise<ClaimedDelivery[]> {
  if (o.limit <= 0) return [];
  const rows: (DetailRow & { attempt_count: number; lease_counted: boolean })[] = [];
  const busy = new Map(o.busy);
  const contended = new Set<number>();
  let lanes = o.lanes ?? (await dueLanes(x, o));
  const shared = new SharedBuckets(x, o.now);
  await shared.prepare(lanes);
  // Without SKIP LOCKED there is one writer (SQLite): nothing can take a row between reading and leasing it.
  if (!x.dialect.skipLocked) {
    const claimed = await claimOneWriter(x, o, lanes, shared);
    await shared.settle(o.onTokens);
    return claimed;
  }
  // A concurrent claimer may hold some of the rows a lane said were ready (SKIP LOCKED passes over them):
  // the lanes that came up short are left to it and the rest of the limit goes to the other lanes, for a
  // few rounds at most.
  for (let round = 0; round < 4; round++) {
    // The limit is shared out among the lanes, oldest first, so every row a lane locks is a row it takes
    // (rows locked but not taken would be skipped by concurrent claimers for nothing).
    const shares: [number, number][] = [];
    let left = o.limit - rows.length;
    for (const l of lanes) {
      if (left <= 0) break;
      // What the lane took in earlier rounds counts against its allowance.
      const taken = (busy.get(l.hookId) ?? 0) - (o.busy.get(l.hookId) ?? 0);
      if (contended.has(l.hookId)) continue;
      const take = Math.min(l.room, o.perHook, left, (o.allowance?.(l) ?? Infinity) - taken, shared.allows(l));
      if (take <= 0) continue;
      shares.push([l.hookId, take]);
      left -= take;
    }
    if (shares.length === 0) break;
    const got = await x.all<DetailRow & { attempt_count: number; lease_counted: boolean }>(claimSql(x.dialect), [
      JSON.stringify(shares),
      o.now,
      o.now,
      Math.max(...shares.map(([, take]) => take)), // no lane reads further than the largest share
      o.limit,
      o.now + o.leaseMs,
      o.owner,
      o.owner,
      o.owner,
      o.now,
      o.now,
    ]);
    rows.push(...got);
    const perLane = new Map<number, number>();
    for (const k of got) perLane.set(Number(k.hook_id), (perLane.get(Number(k.hook_id)) ?? 0) + 1);
    for (const [hookId, n] of perLane) {
      busy.set(hookId, (busy.get(hookId) ?? 0) + n);
      shared.took(hookId, n);
    }
    const short = shares.filter(([hookId, take]) => (perLane.get(hookId) ?? 0) < take);
    if (short.length === 0 || rows.length >= o.limit) break;
    for (const [hookId] of short) contended.add(hookId);
    lanes = await dueLanes(x, { ...o, busy, limit: o.limit - rows.length + contended.size });
  }
  await shared.settle(o.onTokens);
  // In event order: each hook's deliveries go out oldest first.
  rows.sort((a, b) => Number(a.event_id) - Number(b.event_id) || Number(a.hook_id) - Number(b.hook_id));
  return rows.map((r) => {
    const d = toClaimed(r, Number(r.attempt_count));
    if (r.lease_counted) d.leaseCounted = true;
    return d;
  });
}

/** The lane's due, unleased deliveries in due order, with their events: the first `take` of them. */
export const ONE_WRITER_LANE = `SELECT d.rowid AS rid, d.account_id, d.event_id, d.attempt_count,
            d.lease_owner IS NOT NULL AND (d.lease_owner = ? OR d.expired_leases < ${EXPIRED_LEASES_FORGIVEN}) AS forgiven,
            d.lease_owner IS NOT NULL AS leased,
            e.type, e.object_id, e.content, e.created_at
       FROM deliveries d CROSS JOIN events e ON e.account_id = d.account_id AND e.id = d.event_id
      WHERE d.hook_id = ? AND d.state = 'pending' AND d.next_attempt_at <= ?
        AND (d.lease_until IS NULL OR d.lease_until < ?)
      ORDER BY d.next_attempt_at, d.event_id
      LIMIT CAST(? AS INTEGER)`;

/**
 * The claim where there is one writer (SQLite: the claim runs in the write transaction, so nothing can
 * take a row between reading and leasing it). Each lane is read with its events in one index walk that
 * stops after its share, and every row read is leased by rowid in one UPDATE: no join from a key list, no
 * second read of the events. This is the drain's hot path; it costs a third of the general claim.
 */
async function claimOneWriter(
  x: Executor,
  o: ClaimOptions,
  lanes: readonly Lane[],
  shared: SharedBuckets,
): Promise<ClaimedDelivery[]> {
  const claimed: ClaimedDelivery[] = [];
  const rowids: number[] = [];
  let left = o.limit;
  for (const l of lanes) {
    if (left <= 0) break;
    const take = Math.min(l.room, o.perHook, left, o.allowance?.(l) ?? Infinity, shared.allows(l));
    if (take <= 0) continue;
    // A lane whose hook was paused since the lanes were read (or that the caller only remembered) takes nothing.
    const row = await x.get<Pick<DetailRow, HookColumn>>(`SELECT ${hookColumns('hooks')} FROM hooks WHERE id = ?`, [
      o.now,
      l.hookId,
    ]);
    if (!row || Number(row.active) !== 1) continue;
    const hook = hookOf(row);
    const rows = await x.all<
      Pick<DetailRow, 'account_id' | 'event_id' | EventColumn> & {
        rid: number;
        attempt_count: number;
        forgiven: number;
        leased: number;
      }
    >(ONE_WRITER_LANE, [o.owner, l.hookId, o.now, o.now, take]);
    // Built field by field, the lane's hook shared (read-only): spreading the driver's row objects into a
    // new one cost several µs per delivery, the claim's largest JavaScript cost.
    for (const r of rows) {
      rowids.push(r.rid);
      const d: ClaimedDelivery = {
        accountId: r.account_id,
        hookId: l.hookId,
        eventId: r.event_id,
        attempt: Number(r.attempt_count) + (r.forgiven ? 0 : 1), // as RECLAIM_COUNTS counts
        hook,
        event: { type: r.type, objectId: r.object_id, content: r.content, createdAt: r.created_at },
      };
      // Another holder's lease that ran out, counted as an attempt (not forgiven).
      if (r.leased && !r.forgiven) d.leaseCounted = true;
      claimed.push(d);
    }
    left -= rows.length;
    shared.took(l.hookId, rows.length);
  }
  if (rowids.length === 0) return [];
  await x.run(
    `UPDATE deliveries SET lease_until = ?, lease_owner = ?, ${RECLAIM_COUNTS}, updated_at = ?
      WHERE rowid IN (SELECT value FROM json_each(?))`,
    [o.now + o.leaseMs, o.owner, o.owner, o.owner, o.now, JSON.stringify(rowids)],
  );
  return claimed;
}

type EventColumn = 'type' | 'object_id' | 'content' | 'created_at';

/** A delivery with its hook and event, ready to send; `attempt` is its attempt count with this one. */
export function toClaimed(r: DetailRow, attempt: number): ClaimedDelivery {
  return {
    accountId: r.account_id,
    hookId: r.hook_id,
    eventId: r.event_id,
    attempt,
    hook: hookOf(r),
    event: { type: r.type, objectId: r.object_id, content: r.content, createdAt: r.created_at },
  };
}

export type HookColumn =
  'title' | 'url' | 'contenttype' | 'secret' | 'previous_secret' | 'retry_schedule' | 'active' | 'headers';

export function hookOf(r: Pick<DetailRow, HookColumn>): ClaimedDelivery['hook'] {
  const { title, url, contenttype, secret, active } = r;
  return {
    title,
    url,
    contenttype,
    secret,
    previousSecret: r.previous_secret ?? '',
    retrySchedule: r.retry_schedule,
    active,
    headers: r.headers ?? '',
  };
}

/** One delivery with its hook and event (as at `now`), or undefined when there is no such delivery. */
export async function readDelivery(
  x: Executor,
  k: { accountId: number; hookId: number; eventId: number },
  now: number,
): Promise<DetailRow | undefined> {
  return x.get<DetailRow>(
    `SELECT d.account_id, d.hook_id, d.event_id, ${hookColumns('h')}, e.type, e.object_id, e.content, e.created_at
       FROM deliveries d
       JOIN hooks h ON h.account_id = d.account_id AND h.id = d.hook_id
       JOIN events e ON e.account_id = d.account_id AND e.id = d.event_id
      WHERE d.account_id = ? AND d.hook_id = ? AND d.event_id = ?`,
    [now, k.accountId, k.hookId, k.eventId],
  );
}

/** A hook as sending needs it (as at `now`), with what it subscribes to; undefined when the account has no such hook. */
export async function readHook(
  x: Executor,
  k: { accountId: number; hookId: number },
  now: number,
): Promise<(ClaimedDelivery['hook'] & { event: string; constrainttype: string }) | undefined> {
  const row = await x.get<Pick<DetailRow, HookColumn> & { event: string; constrainttype: string }>(
    `SELECT ${hookColumns('hooks')}, event, constrainttype
       FROM hooks WHERE account_id = ? AND id = ?`,
    [now, k.accountId, k.hookId],
  );
  return row && { ...hookOf(row), event: row.event, constrainttype: row.constrainttype };
}

/**
 * Gives claims back without an attempt (a graceful stop): the lease is dropped and the attempt counted at
 * claim time is returned, since the receiver was never given a full try. Only leases still held by `owner`.
 * A claim of an expired lease counted nothing, but is given back the same way: the row then looks unclaimed
 * for that attempt, and the next claim counts it again.
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
