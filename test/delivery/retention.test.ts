// Retention on both engines: what is older than the cutoff goes, with its deliveries and attempts; an event
// whose delivery is still pending stays, whatever its age; newer things and other accounts stay; sent or
// kept e-mail goes, e-mail still to be sent stays; and a second run finds nothing more.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ENGINES, makeEngine, pgAvailable, type TestEngine } from '../support/engines.js';
import { prune } from '../../src/delivery/retention.js';
import { insertAttempt } from '../../src/delivery/record.js';
import { recoverFailed } from '../../src/delivery/recover.js';
import { replayMissing } from '../../src/delivery/replay.js';
import type { Engine, Executor } from '../../src/storage/port.js';
import { deliveryOf, insertHook, newAccount, raiseEvent } from './helpers.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-28T12:00:00Z');

describe.each(ENGINES)('retention on %s', (name) => {
  let db: TestEngine;
  beforeAll(async () => {
    db = await makeEngine(name);
  });
  afterAll(async () => db.destroy());

  const count = (sql: string, params: unknown[]) =>
    db.engine.read(async (x) => Number((await x.get<{ n: number }>(sql, params))!.n));

  it('deletes old events with their deliveries and attempts, keeps pending ones, newer ones and what is unsent', async () => {
    const { accountId } = await newAccount(db.engine);
    const other = await newAccount(db.engine);
    const hook = await insertHook(db.engine, accountId, { url: 'http://127.0.0.1:9/' });
    const paused = await insertHook(db.engine, accountId, { url: 'http://127.0.0.1:9/p', event: 'items.update' });
    // 600 old events (more than one batch) delivered to `hook`, each with an attempt.
    const oldEvents: number[] = [];
    for (let i = 0; i < 600; i++) oldEvents.push(await raiseEvent(db.engine, accountId, { now: NOW - 40 * DAY + i }));
    await db.engine.write(async (x) => {
      await x.run("UPDATE deliveries SET state = 'succeeded' WHERE account_id = ? AND hook_id = ?", [accountId, hook]);
      for (const eventId of oldEvents) {
        await insertAttempt(x, {
          accountId,
          hookId: hook,
          eventId,
          trigger: 'scheduled',
          startedAt: NOW - 40 * DAY,
          durationMs: 3,
          statusCode: 200,
          error: null,
          responseBody: 'ok',
        });
      }
    });
    // An old event whose delivery is still pending (its hook is paused): it stays.
    const stuck = await raiseEvent(db.engine, accountId, { now: NOW - 50 * DAY, type: 'items.update' });
    await db.engine.write((x) => x.run('UPDATE hooks SET active = 0 WHERE id = ?', [paused]));
    // Newer events, and the other account's old ones (its own retention applies the same way).
    const recent = await raiseEvent(db.engine, accountId, { now: NOW - 5 * DAY });
    await raiseEvent(db.engine, other.accountId, { now: NOW - 40 * DAY });
    // E-mail: an old sent one goes; an old one still waiting to be sent stays.
    await db.engine.write(async (x) => {
      for (const [id, next] of [
        [await x.nextId(), null],
        [await x.nextId(), NOW],
      ]) {
        await x.run(
          `INSERT INTO mailbox (account_id, id, to_addr, subject, body, created_at, sent_at, next_send_at, send_attempts)
           VALUES (?, ?, 'a@example.org', 's', 'b', ?, NULL, ?, 0)`,
          [accountId, id, NOW - 40 * DAY, next],
        );
      }
    });

    const c = await prune(db.engine, NOW - 30 * DAY);
    expect(c).toMatchObject({ events: 601, deliveries: 600, attempts: 600, mail: 1 });
    const left = await db.engine.read((x) =>
      x.all<{ id: number }>('SELECT id FROM events WHERE account_id = ? ORDER BY id', [accountId]),
    );
    expect(left.map((e) => Number(e.id))).toEqual([stuck, recent].sort((a, b) => a - b));
    expect(
      await count('SELECT COUNT(*) AS n FROM deliveries WHERE account_id = ? AND event_id = ?', [accountId, stuck]),
    ).toBe(1);
    expect(await count('SELECT COUNT(*) AS n FROM attempts WHERE account_id = ?', [accountId])).toBe(0);
    expect(await count('SELECT COUNT(*) AS n FROM mailbox WHERE account_id = ?', [accountId])).toBe(1);
    expect(await count('SELECT COUNT(*) AS n FROM events WHERE account_id = ?', [other.accountId])).toBe(0);
    // Nothing more to do.
    expect(await prune(db.engine, NOW - 30 * DAY)).toEqual({ events: 0, deliveries: 0, attempts: 0, mail: 0 });
  });
});

// PostgreSQL runs each statement of a batch on its own snapshot (READ COMMITTED): a recover or a replay that
// commits while a batch runs must not have its pending delivery deleted with the event. The batch is held
// just before its first DELETE (the product's statements, run through an engine whose executor waits there).
describe.runIf(pgAvailable)('retention racing recover and replay on postgres', () => {
  let db: TestEngine;
  beforeAll(async () => {
    db = await makeEngine('postgres');
  });
  afterAll(async () => db.destroy());

  /** prune() through an engine whose write transactions stop before their first DELETE until `go()`. */
  function heldPrune(cutoff: number) {
    const engine = db.engine;
    let reached!: () => void;
    const atDelete = new Promise<void>((r) => (reached = r));
    let go!: () => void;
    const released = new Promise<void>((r) => (go = r));
    let held = false;
    const hold = async (sql: string) => {
      if (held || !sql.trimStart().startsWith('DELETE FROM') || sql.includes('mailbox')) return;
      held = true;
      reached();
      await released;
    };
    const holding = (x: Executor): Executor =>
      new Proxy(x, {
        get(t, p) {
          if (p === 'all' || p === 'run') {
            return async (sql: string, params?: readonly unknown[]) => {
              await hold(sql);
              return p === 'all' ? t.all(sql, params) : t.run(sql, params);
            };
          }
          const v = Reflect.get(t, p) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      });
    const wrapped: Engine = Object.assign(Object.create(engine) as Engine, {
      write: <T>(fn: (x: Executor) => Promise<T>) => engine.write((x) => fn(holding(x))),
    });
    return { pruning: prune(wrapped, cutoff), atDelete, go };
  }

  /** Deliveries of the account whose event is gone: work that can never be sent. */
  const orphans = (accountId: number) =>
    db.engine.read(async (x) =>
      Number(
        (await x.get<{ n: number }>(
          `SELECT COUNT(*) AS n FROM deliveries d
            WHERE d.account_id = ? AND NOT EXISTS (SELECT 1 FROM events e WHERE e.account_id = d.account_id AND e.id = d.event_id)`,
          [accountId],
        ))!.n,
      ),
    );

  it('a delivery recovered while a batch runs stays pending with its event', async () => {
    const { accountId } = await newAccount(db.engine);
    const hookId = await insertHook(db.engine, accountId, { url: 'http://127.0.0.1:9/' });
    const eventId = await raiseEvent(db.engine, accountId, { now: NOW - 31 * DAY });
    await db.engine.write((x) => x.run("UPDATE deliveries SET state = 'failed' WHERE hook_id = ?", [hookId]));
    const { pruning, atDelete, go } = heldPrune(NOW - 30 * DAY);
    await atDelete;
    // The admin recovers the hook's failed deliveries meanwhile: it commits before the batch deletes.
    expect(await recoverFailed(db.engine, accountId, hookId, { since: NOW - 60 * DAY }, NOW)).toBe(1);
    go();
    await pruning;
    expect(await deliveryOf(db.engine, accountId, hookId, eventId)).toMatchObject({ state: 'pending' });
    expect(await orphans(accountId)).toBe(0);
  });

  it('a replay racing a batch either gets its delivery with the event kept, or finds the event gone', async () => {
    const { accountId } = await newAccount(db.engine);
    const eventId = await raiseEvent(db.engine, accountId, { now: NOW - 31 * DAY });
    // A hook made after the event: the event was never sent to it, so a replay gives it a delivery.
    const hookId = await insertHook(db.engine, accountId, { url: 'http://127.0.0.1:9/' });
    const { pruning, atDelete, go } = heldPrune(NOW - 30 * DAY);
    await atDelete;
    const replaying = replayMissing(db.engine, accountId, hookId, { since: NOW - 60 * DAY }, NOW);
    // The replay either committed or waits for the batch's lock on the event (seen in pg_stat_activity).
    let done = false;
    void replaying.then(() => (done = true));
    await vi.waitFor(
      async () => {
        const waiting = await db.engine.readOne<{ n: number }>(
          `SELECT COUNT(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT id, created_at FROM events%'`,
        );
        expect(done || Number(waiting[0].n) > 0).toBe(true);
      },
      { timeout: 5_000, interval: 10 },
    );
    go();
    const [replayed] = await Promise.all([replaying, pruning]);
    const delivery = await deliveryOf(db.engine, accountId, hookId, eventId);
    if (replayed === 1) expect(delivery).toMatchObject({ state: 'pending' });
    else expect(delivery).toBeUndefined();
    expect(await orphans(accountId)).toBe(0);
  });
});
