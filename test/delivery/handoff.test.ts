// The hand-off (src/delivery/handoff.ts): a started engine takes new deliveries straight from the transaction
// that creates them — leased as they are written, sent once it commits, never claimed — within the same caps
// as claiming ahead; what it does not take is claimed as before. Real SQLite and PostgreSQL, real receivers
// on loopback, on the main thread and on a sender thread.
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENGINES, PG_URL, makeEngine, type TestEngine } from '../support/engines.js';
import { DeliveryEngine, type DeliveryEngineOptions } from '../../src/delivery/engine.js';
import { Mailer } from '../../src/delivery/mailer.js';
import { TargetGuard } from '../../src/delivery/ssrf.js';
import { ThreadTransport } from '../../src/delivery/transport.js';
import { systemClock } from '../../src/delivery/clock.js';
import type { DeliveryObserver } from '../../src/delivery/metrics.js';
import { raise } from '../../src/records/events.js';
import type { DeliveryHandoff, Engine, Executor } from '../../src/storage/port.js';
import {
  attemptRows,
  deliveryOf,
  insertHook,
  newAccount,
  raiseEvent,
  receiver,
  type Handler,
  type Receiver,
} from './helpers.js';

const MODES = ENGINES.flatMap((e) => [[e, 'main thread'] as const, [e, 'sender thread'] as const]);

describe.each(MODES)('hand-off on %s, sending on the %s', (name, mode) => {
  let db: TestEngine;
  let engine: Engine;
  const started: DeliveryEngine[] = [];
  const receivers: Receiver[] = [];

  beforeEach(async () => {
    db = await makeEngine(name);
    engine = db.engine;
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((d) => d.stop({ graceMs: 0 })));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    await db.destroy();
  });

  /** A started engine, and what it handed over and claimed. */
  function start(o: Partial<DeliveryEngineOptions> = {}) {
    const seen = { handed: 0, claimed: 0 };
    const observer: DeliveryObserver = {
      attempted: () => undefined,
      failed: () => undefined,
      claimed: (n) => void (seen.claimed += n),
      handedOver: (n) => void (seen.handed += n),
    };
    const d = new DeliveryEngine({
      transport:
        mode === 'sender thread'
          ? new ThreadTransport({ threads: 1, allowedTargets: ['127.0.0.0/8'], timeoutMs: 2_000 })
          : undefined,
      engine,
      guard: new TargetGuard(['127.0.0.0/8']),
      mailer: new Mailer(engine, { smtpUrl: '', from: 'hookline@test.example', clock: systemClock }),
      timeoutMs: 2_000,
      retrySchedule: [5_000],
      concurrency: 16,
      concurrencyPerHook: 4,
      clock: systemClock,
      pollMs: 20,
      observer,
      ...o,
    });
    started.push(d);
    d.start();
    return { d, seen };
  }

  async function recv(handler?: Handler): Promise<Receiver> {
    const r = await receiver(handler);
    receivers.push(r);
    return r;
  }

  /** A receiver, an account, and its hook on items.create to that receiver. */
  async function hooked(handler?: Handler) {
    const r = await recv(handler);
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url });
    return { r, accountId, hookId };
  }

  const objectIds = (r: Receiver) =>
    r.requests.map((q) => (JSON.parse(q.body.toString()) as { objectid: number }).objectid);

  it('a new delivery is leased to the engine as it is written and sent once the transaction commits, with no claim', async () => {
    let answer: (() => void) | undefined;
    const { r, accountId, hookId } = await hooked((_q, res) => (answer = () => res.end('ok')));
    const { d, seen } = start();
    const now = Date.now();
    const eventId = await raiseEvent(engine, accountId, { now, objectId: 41 });
    await r.waitFor(1);
    // In flight: leased to this engine since its INSERT, the attempt counted as a claim counts it.
    expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({
      state: 'pending',
      attempt_count: 1,
      lease_owner: d.owner,
    });
    const lease = Number((await deliveryOf(engine, accountId, hookId, eventId))?.lease_until);
    expect(lease).toBeGreaterThanOrEqual(now + 60_000);
    answer!();
    await d.settle();
    await expect.poll(() => deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({ state: 'succeeded' });
    expect(await attemptRows(engine, accountId, hookId, eventId)).toHaveLength(1);
    expect(r.requests[0].headers['webhook-id']).toBe(`dlv_${hookId}_${eventId}`);
    expect(seen).toEqual({ handed: 1, claimed: 0 });
  });

  it('a transaction that rolls back gives back what it took, and nothing of it is sent', async () => {
    const { r, accountId } = await hooked();
    // Had the five rolled-back ones stayed counted, the last would be refused: on SQLite the hook's room is
    // 2 × its cap of 1; PostgreSQL takes only while fewer than its cap of 4 are in flight or taken.
    const { d, seen } = start({ concurrencyPerHook: name === 'sqlite' ? 1 : 4 });
    for (let i = 0; i < 5; i++) {
      await expect(
        engine.write(async (x) => {
          await raise(x, raised(accountId, 100 + i));
          throw new Error('changed its mind');
        }),
      ).rejects.toThrow('changed its mind');
    }
    // One unit of a group commit fails: the batch rolls back, the other unit runs again alone and is taken
    // once, from its own transaction.
    const good = engine.write((x) => raise(x, raised(accountId, 7)));
    const bad = engine.write(async (x) => {
      await raise(x, raised(accountId, 8));
      throw new Error('bad unit');
    });
    await expect(bad).rejects.toThrow('bad unit');
    await good;
    await raiseEvent(engine, accountId, { now: Date.now(), objectId: 9 });
    await r.waitFor(2);
    await d.settle();
    await new Promise((res) => setTimeout(res, 100)); // nothing else comes
    expect(objectIds(r)).toEqual([7, 9]);
    expect(seen).toEqual({ handed: 2, claimed: 0 });
    expect(d.inFlight).toBe(0);
  });

  it('past the hook’s room the rest waits in the database and is claimed; every one arrives, in event order', async () => {
    // Slow answers: the hook is busy while the events are raised. SQLite takes up to the hook's room (2 × its
    // cap of 1); PostgreSQL only while nothing of a cap of 1 is in flight.
    const { r, accountId } = await hooked((_q, res) => void setTimeout(() => res.end('ok'), 150));
    const { d, seen } = start({ concurrencyPerHook: 1 });
    for (let i = 1; i <= 6; i++) await raiseEvent(engine, accountId, { now: Date.now(), objectId: i });
    await r.waitFor(6);
    expect(objectIds(r)).toEqual([1, 2, 3, 4, 5, 6]);
    const first = name === 'sqlite' ? { handed: 2, claimed: 4 } : { handed: 1, claimed: 5 };
    expect(seen).toEqual(first);
    // Once a claim has found nothing left waiting (and nothing is in flight), new deliveries are handed over again.
    await d.settle();
    await new Promise((res) => setTimeout(res, 100)); // a few polls
    await raiseEvent(engine, accountId, { now: Date.now(), objectId: 7 });
    await r.waitFor(7);
    expect(seen).toEqual({ ...first, handed: first.handed + 1 });
  });

  it('under load: SQLite takes within the room; PostgreSQL takes only while fewer than a hook’s cap are in flight', async () => {
    const { r, accountId } = await hooked((_q, res) => void setTimeout(() => res.end('ok'), 300));
    const { seen } = start({ concurrencyPerHook: 1 });
    await raiseEvent(engine, accountId, { now: Date.now(), objectId: 1 });
    await raiseEvent(engine, accountId, { now: Date.now(), objectId: 2 }); // the first is in flight
    await r.waitFor(2);
    expect(objectIds(r)).toEqual([1, 2]);
    // PostgreSQL leaves the second to a claim: under load, claimed batches are recorded together.
    expect(seen).toEqual(name === 'sqlite' ? { handed: 2, claimed: 0 } : { handed: 1, claimed: 1 });
  });

  it('a rate-limited hook’s deliveries are left to the claim (its tokens are counted there)', async () => {
    const { r, accountId, hookId } = await hooked();
    await engine.write((x) => x.run('UPDATE hooks SET rate_limit = 50 WHERE id = ?', [hookId]));
    const { seen } = start();
    await raiseEvent(engine, accountId, { now: Date.now(), objectId: 5 });
    await r.waitFor(1);
    expect(seen).toEqual({ handed: 0, claimed: 1 });
  });

  it('an engine that is stopping or not started takes nothing: the delivery is written unleased', async () => {
    const { r, accountId, hookId } = await hooked();
    const { d, seen } = start();
    await d.stop({ graceMs: 0 });
    const eventId = await raiseEvent(engine, accountId, { now: Date.now() });
    expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({
      state: 'pending',
      attempt_count: 0,
      lease_owner: null,
    });
    expect(seen.handed).toBe(0);
    expect(r.requests).toHaveLength(0);
    // A later engine claims it.
    const { seen: next } = start();
    await r.waitFor(1);
    expect(next).toEqual({ handed: 0, claimed: 1 });
  });

  it('each event goes to the hooks as they are when it is raised: changed here, rolled back, changed by another process, a previous secret run out', async () => {
    const [r1, r2] = [await recv(), await recv()];
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r1.url, secret: 'new-secret' });
    start();
    const setUrl = (x: Executor, url: string) => x.run('UPDATE hooks SET url = ? WHERE id = ?', [url, hookId]);
    await raiseEvent(engine, accountId, { now: Date.now(), objectId: 1 });
    await r1.waitFor(1);
    // A previous secret whose overlap runs out in a moment: the next event is signed with both, a later one not.
    const until = Date.now() + 300;
    await engine.write((x) =>
      x.run('UPDATE hooks SET previous_secret = ?, previous_secret_until = ? WHERE id = ?', [
        'old-secret',
        until,
        hookId,
      ]),
    );
    await raiseEvent(engine, accountId, { now: Date.now(), objectId: 2 });
    await r1.waitFor(2);
    await new Promise((res) => setTimeout(res, Math.max(0, until - Date.now() + 20)));
    await raiseEvent(engine, accountId, { now: Date.now(), objectId: 3 });
    await r1.waitFor(3);
    const signatures = r1.requests.map((q) => String(q.headers['webhook-signature']).split(' ').length);
    expect(signatures).toEqual([1, 2, 1]);
    // Changed here.
    await engine.write((x) => setUrl(x, r2.url));
    await raiseEvent(engine, accountId, { now: Date.now(), objectId: 4 });
    await r2.waitFor(1);
    // Changed, an event raised after it in the same transaction, then rolled back: the next event goes where
    // the hook committed says.
    await expect(
      engine.write(async (x) => {
        await setUrl(x, r1.url);
        await raise(x, raised(accountId, 5));
        throw new Error('changed its mind');
      }),
    ).rejects.toThrow('changed its mind');
    await raiseEvent(engine, accountId, { now: Date.now(), objectId: 6 });
    await r2.waitFor(2);
    // Changed by another connection (the CLI, another process): pointed back, then turned off.
    await elsewhere('UPDATE hooks SET url = ? WHERE id = ?', [r1.url, hookId]);
    await raiseEvent(engine, accountId, { now: Date.now(), objectId: 7 });
    await r1.waitFor(4);
    await elsewhere('UPDATE hooks SET active = 0 WHERE id = ?', [hookId]);
    const off = await raiseEvent(engine, accountId, { now: Date.now(), objectId: 8 });
    expect(await deliveryOf(engine, accountId, hookId, off)).toBeUndefined();
    await new Promise((res) => setTimeout(res, 100)); // nothing else comes
    expect(objectIds(r1)).toEqual([1, 2, 3, 7]);
    expect(objectIds(r2)).toEqual([4, 6]);
  });

  /** One statement through a connection of its own, as another process would write. */
  async function elsewhere(sql: string, params: unknown[]): Promise<void> {
    if (name === 'sqlite') {
      const other = new Database(db.where);
      try {
        other.pragma('busy_timeout = 5000');
        other.prepare(sql).run(...params);
      } finally {
        other.close();
      }
      return;
    }
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(`SET search_path TO ${db.where}`);
      let n = 0;
      await c.query(
        sql.replace(/\?/g, () => `$${++n}`),
        params,
      );
    } finally {
      await c.end();
    }
  }
});

/** What raiseEvent raises, for writes that do more (or fail) in the same transaction. */
function raised(accountId: number, objectId: number) {
  return {
    accountId,
    type: 'items.create' as const,
    objectId,
    objectKind: 'contact',
    content: { item: { id: objectId, name: 'Aaron Baileys' } },
    now: Date.now(),
  };
}

describe('hand-off registration (group committer, sqlite)', () => {
  it('a new engine takes over between transactions: what a running one took stays with the engine it took it for', async () => {
    const db = await makeEngine('sqlite');
    try {
      const got = { a: [] as unknown[], b: [] as unknown[] };
      const fake = (name: 'a' | 'b'): DeliveryHandoff => ({
        owner: name,
        leaseMs: 1_000,
        take: () => true,
        takesAll: () => true,
        took: () => undefined,
        untake: () => undefined,
        launch: (ds) => void got[name].push(...ds),
      });
      db.engine.handOffTo!(fake('a'));
      let release!: () => void;
      const open = new Promise<void>((r) => (release = r));
      const first = db.engine.write(async (x) => {
        expect(x.handoff?.owner).toBe('a');
        x.handoff!.take(1);
        x.handoff!.handed('first');
        await open; // the transaction is still running when b registers
      });
      await new Promise((r) => setTimeout(r, 20));
      db.engine.handOffTo!(fake('b'));
      release();
      await first;
      await db.engine.write(async (x) => {
        expect(x.handoff?.owner).toBe('b');
        x.handoff!.take(1);
        x.handoff!.handed('second');
      });
      expect(got).toEqual({ a: ['first'], b: ['second'] });
    } finally {
      await db.destroy();
    }
  });
});
