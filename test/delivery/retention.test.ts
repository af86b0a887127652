// Retention on both engines: what is older than the cutoff goes, with its deliveries and attempts; an event
// whose delivery is still pending stays, whatever its age; newer things and other accounts stay; sent or
// kept e-mail goes, e-mail still to be sent stays; and a second run finds nothing more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, makeEngine, type TestEngine } from '../support/engines.js';
import { prune } from '../../src/delivery/retention.js';
import { insertAttempt } from '../../src/delivery/record.js';
import { insertHook, newAccount, raiseEvent } from './helpers.js';

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
