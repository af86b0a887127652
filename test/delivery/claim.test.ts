// The claim query on both engines: due and unleased only, the attempt counted at claim time, leases that
// expire, per-hook caps, paused hooks, concurrent claimers, and transactions that commit out of id order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, makeEngine, pgAvailable, type TestEngine } from '../support/engines.js';
import { claimDue, dueLanes, releaseClaims, type ClaimOptions, type Lane } from '../../src/delivery/claim.js';
import { raise } from '../../src/records/events.js';
import { scheduleRetry } from '../../src/delivery/record.js';
import type { Engine } from '../../src/storage/port.js';
import { deliveryOf, insertHook, newAccount, raiseEvent } from './helpers.js';

const T = 1_800_000_000_000;

/** The engine's read probe: any hook with something due now, whatever is in flight. */
const hasDue = async (engine: Engine, now: number) =>
  (await engine.read((x) => dueLanes(x, { now, perHook: 1, busy: new Map(), limit: 1 }))).length > 0;

/** Claims, answering only the given account's deliveries (tests share one database). */
async function claim(engine: Engine, accountId: number, o: Partial<ClaimOptions & { lanes: Lane[] }> = {}) {
  const all = await engine.write((x) =>
    claimDue(x, { now: T, leaseMs: 30_000, owner: 'A', limit: 1000, perHook: 16, busy: new Map(), ...o }),
  );
  return all.filter((c) => c.accountId === accountId);
}

describe.each(ENGINES)('claim on %s', (name) => {
  let db: TestEngine;
  beforeAll(async () => {
    db = await makeEngine(name);
  });
  afterAll(async () => db.destroy());

  it('claims due deliveries once, with hook and event, counting the attempt; an expired lease frees them', async () => {
    const { accountId } = await newAccount(db.engine);
    const hookId = await insertHook(db.engine, accountId, { url: 'http://x.test/', secret: 'k', title: 'H' });
    const eventId = await raiseEvent(db.engine, accountId, { now: T, content: { item: { id: 1 } } });
    await raiseEvent(db.engine, accountId, { now: T + 10 }); // not due yet

    const [d, ...rest] = await claim(db.engine, accountId);
    expect(rest).toEqual([]);
    expect(d).toMatchObject({
      accountId,
      hookId,
      eventId,
      attempt: 1,
      hook: { url: 'http://x.test/', secret: 'k', title: 'H', contenttype: 'json', active: 1 },
      event: { type: 'items.create', objectId: 467069 },
    });
    expect(JSON.parse(d.event.content)).toEqual({ item: { id: 1 } });
    expect(await deliveryOf(db.engine, accountId, hookId, eventId)).toMatchObject({
      attempt_count: 1,
      lease_until: T + 30_000,
      lease_owner: 'A',
    });
    // Leased: nobody else gets it, until the lease has expired.
    expect(await claim(db.engine, accountId, { owner: 'B', now: T + 5 })).toEqual([]);
    expect(await claim(db.engine, accountId, { owner: 'B', now: T + 30_000 })).toHaveLength(1); // the other event, now due
    // Taken from the expired lease: the same attempt again (A may or may not have made it), not a second one.
    const again = await claim(db.engine, accountId, { owner: 'B', now: T + 30_001 });
    expect(again.map((c) => [c.eventId, c.attempt])).toEqual([[eventId, 1]]);
    expect(await deliveryOf(db.engine, accountId, hookId, eventId)).toMatchObject({
      attempt_count: 1,
      lease_owner: 'B',
    });
  });

  it('a node that dies again and again with a delivery claimed uses up none of its attempts; a give-back returns the claim', async () => {
    const { accountId } = await newAccount(db.engine);
    const hookId = await insertHook(db.engine, accountId, { url: 'http://x.test/' });
    const eventId = await raiseEvent(db.engine, accountId, { now: T });
    // Claimed, sent, failed and recorded: the second attempt is due.
    const [first] = await claim(db.engine, accountId, { owner: 'A', now: T });
    expect(first.attempt).toBe(1);
    await db.engine.write((x) => scheduleRetry(x, first, 'A', T + 1_000, T + 10));
    // Claimed by B, C, D in turn, each dying before an outcome: still the second attempt each time.
    let now = T + 1_000;
    for (const owner of ['B', 'C', 'D']) {
      const [d] = await claim(db.engine, accountId, { owner, now });
      expect([d.eventId, d.attempt]).toEqual([eventId, 2]);
      now += 30_001;
    }
    expect(await deliveryOf(db.engine, accountId, hookId, eventId)).toMatchObject({
      attempt_count: 2,
      lease_owner: 'D',
    });
    // E takes it over and stops gracefully: given back, it is again as before its second attempt.
    const [e] = await claim(db.engine, accountId, { owner: 'E', now });
    expect(e.attempt).toBe(2);
    expect(await db.engine.write((x) => releaseClaims(x, 'E', [e], now))).toBe(1);
    expect(await deliveryOf(db.engine, accountId, hookId, eventId)).toMatchObject({
      attempt_count: 1,
      lease_owner: null,
    });
    const [f] = await claim(db.engine, accountId, { owner: 'F', now });
    expect(f.attempt).toBe(2);
  });

  it('past three expired leases each further one counts as an attempt (a delivery whose sending stops every node ends)', async () => {
    const { accountId } = await newAccount(db.engine);
    const hookId = await insertHook(db.engine, accountId, { url: 'http://x.test/' });
    const eventId = await raiseEvent(db.engine, accountId, { now: T });
    let now = T;
    const attempts: [number, boolean][] = [];
    // A claims it; then A, B, C, … each die holding it, and the next takes the expired lease over.
    for (const owner of ['A', 'B', 'C', 'D', 'E', 'F']) {
      const [d] = await claim(db.engine, accountId, { owner, now });
      expect(d.eventId).toBe(eventId);
      attempts.push([d.attempt, d.leaseCounted === true]);
      now += 30_001;
    }
    // The first claim counts; the three takeovers after it are forgiven; the fourth and fifth count, and the
    // claim says so (only such a claim can take a delivery past its last attempt that is not sent: engine.ts).
    expect(attempts).toEqual([
      [1, false],
      [1, false],
      [1, false],
      [1, false],
      [2, true],
      [3, true],
    ]);
    expect(await deliveryOf(db.engine, accountId, hookId, eventId)).toMatchObject({
      attempt_count: 3,
      expired_leases: 5,
      lease_owner: 'F',
    });
  });

  it('a rate-limited hook whose bucket holds no whole notification is no lane: the limit goes to hooks that can send', async () => {
    const { accountId } = await newAccount(db.engine);
    const limited = await insertHook(db.engine, accountId, { url: 'http://limited.test/' });
    await db.engine.write((x) => x.run('UPDATE hooks SET rate_limit = 2 WHERE id = ?', [limited]));
    await raiseEvent(db.engine, accountId, { now: T - 100 }); // its work is the oldest
    const free = await insertHook(db.engine, accountId, { url: 'http://free.test/', event: 'items.update' });
    await raiseEvent(db.engine, accountId, { now: T - 50, type: 'items.update' });
    const first = async (now: number) =>
      (await db.engine.read((x) => dueLanes(x, { now, perHook: 4, busy: new Map(), limit: 1 })))[0]?.hookId;
    const bucket = (tokensMilli: number, at: number) =>
      db.engine.write((x) =>
        x.run(
          `INSERT INTO hook_rates (hook_id, tokens_milli, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (hook_id) DO UPDATE SET tokens_milli = excluded.tokens_milli, updated_at = excluded.updated_at`,
          [limited, tokensMilli, at],
        ),
      );
    expect(await first(T)).toBe(limited); // no bucket yet: a full one
    await bucket(0, T);
    expect(await first(T)).toBe(free); // spent: the one lane goes to the hook that can send
    expect(await first(T + 499)).toBe(free); // 998 thousandths refilled at 2/s
    expect(await first(T + 500)).toBe(limited); // a whole notification
    await bucket(0, T + 3_600_000);
    expect(await first(T)).toBe(limited); // written ahead of the clock: a claim reads it (and takes it as now)
  });

  it('a lane says whether more may wait than its room: a claim that takes a lane with fewer due took them all', async () => {
    const { accountId } = await newAccount(db.engine);
    const hookId = await insertHook(db.engine, accountId, { url: 'http://lanes.test/' });
    for (let i = 0; i < 3; i++) await raiseEvent(db.engine, accountId, { now: T - 10 + i });
    const lane = async (perHook: number, busy = 0) =>
      (
        await db.engine.read((x) => dueLanes(x, { now: T, perHook, busy: new Map([[hookId, busy]]), limit: 1000 }))
      ).find((l) => l.hookId === hookId);
    // Room for 5, 3 due: all of them, nothing more.
    expect(await lane(5)).toMatchObject({ room: 3, more: false });
    // Room for 3 or 2 (5 less 3 in flight): as many as it may take, and more may be waiting.
    expect(await lane(3)).toMatchObject({ room: 3, more: true });
    expect(await lane(5, 3)).toMatchObject({ room: 2, more: true });
  });

  it('caps each hook: never more than perHook minus what is already in flight', async () => {
    const { accountId } = await newAccount(db.engine);
    const slow = await insertHook(db.engine, accountId, { url: 'http://slow.test/' });
    const fast = await insertHook(db.engine, accountId, { url: 'http://fast.test/' });
    for (let i = 0; i < 5; i++) await raiseEvent(db.engine, accountId, { now: T - 1000 + i });
    const mine = (list: { hookId: number }[], hook: number) => list.filter((c) => c.hookId === hook).length;

    const first = await claim(db.engine, accountId, { perHook: 2, busy: new Map([[slow, 2]]), now: T + 100_000 });
    expect(mine(first, slow)).toBe(0);
    expect(mine(first, fast)).toBe(2);
    const second = await claim(db.engine, accountId, {
      perHook: 2,
      busy: new Map([
        [slow, 1],
        [fast, 2],
      ]),
      now: T + 100_000,
    });
    expect(mine(second, slow)).toBe(1);
    expect(mine(second, fast)).toBe(0);
    const third = await db.engine.write((x) =>
      claimDue(x, { now: T + 100_000, leaseMs: 30_000, owner: 'A', limit: 1, perHook: 2, busy: new Map() }),
    );
    expect(third).toHaveLength(1);
  });

  it('skips deliveries of paused (inactive) hooks and keeps them pending', async () => {
    const { accountId } = await newAccount(db.engine);
    const hookId = await insertHook(db.engine, accountId, { url: 'http://p.test/' });
    const eventId = await raiseEvent(db.engine, accountId, { now: T - 500_000 });
    await db.engine.write((x) =>
      x.run('UPDATE hooks SET active = 0 WHERE account_id = ? AND id = ?', [accountId, hookId]),
    );
    const claimed = await claim(db.engine, accountId, { now: T + 1_000_000 });
    expect(claimed.some((c) => c.eventId === eventId)).toBe(false);
    // Even when the caller names the hook's lane itself (a lane remembered from before the pause).
    const named = await claim(db.engine, accountId, { now: T + 1_000_000, lanes: [{ hookId, room: 5, rate: 0 }] });
    expect(named).toEqual([]);
    // The idle poll's read probe agrees: nothing claimable (everything else is leased until T + 1_030_000).
    expect(await hasDue(db.engine, T + 1_000_001)).toBe(false);
    await db.engine.write((x) =>
      x.run('UPDATE hooks SET active = 1 WHERE account_id = ? AND id = ?', [accountId, hookId]),
    );
    expect(await hasDue(db.engine, T + 1_000_001)).toBe(true);
    await db.engine.write((x) =>
      x.run('UPDATE hooks SET active = 0 WHERE account_id = ? AND id = ?', [accountId, hookId]),
    );
    expect((await deliveryOf(db.engine, accountId, hookId, eventId))?.state).toBe('pending');
  });

  it('a released claim gives its attempt back and is claimable at once', async () => {
    const { accountId } = await newAccount(db.engine);
    const hookId = await insertHook(db.engine, accountId, { url: 'http://r.test/' });
    const eventId = await raiseEvent(db.engine, accountId, { now: T + 2_000_000 });
    const [d] = await claim(db.engine, accountId, { now: T + 2_000_000, owner: 'R' });
    expect(d.eventId).toBe(eventId);
    expect(await db.engine.write((x) => releaseClaims(x, 'someone else', [d], T))).toBe(0);
    expect(await db.engine.write((x) => releaseClaims(x, 'R', [d], T))).toBe(1);
    expect(await deliveryOf(db.engine, accountId, hookId, eventId)).toMatchObject({
      attempt_count: 0,
      lease_until: null,
      lease_owner: null,
    });
    expect((await claim(db.engine, accountId, { now: T + 2_000_000 })).map((c) => c.eventId)).toEqual([eventId]);
  });
});

describe.runIf(pgAvailable)('claim on postgres: concurrency', () => {
  let db: TestEngine;
  beforeAll(async () => {
    db = await makeEngine('postgres', { writers: 2 });
  });
  afterAll(async () => db.destroy());

  it('concurrent claimers (SKIP LOCKED) split the work without taking a delivery twice', async () => {
    const { accountId } = await newAccount(db.engine);
    for (let i = 0; i < 4; i++) await insertHook(db.engine, accountId, { url: `http://h${i}.test/` });
    for (let i = 0; i < 25; i++) await raiseEvent(db.engine, accountId, { now: T });
    const claimers = Array.from({ length: 6 }, (_, i) =>
      db.engine.solo((x) =>
        claimDue(x, { now: T, leaseMs: 30_000, owner: `n${i}`, limit: 20, perHook: 100, busy: new Map() }),
      ),
    );
    const all = (await Promise.all(claimers)).flat();
    const keys = all.map((c) => `${c.hookId}:${c.eventId}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(100);
  });

  it('out-of-order commits: the later-started transaction commits first, both deliveries are claimed', async () => {
    const { accountId } = await newAccount(db.engine);
    const hookId = await insertHook(db.engine, accountId, { url: 'http://o.test/' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let raised!: () => void;
    const firstRaised = new Promise<void>((r) => (raised = r));
    let firstId = 0;
    const tx1 = db.engine.solo(async (x) => {
      firstId = (
        await raise(x, { accountId, type: 'items.create', objectId: 1, objectKind: 'contact', content: {}, now: T })
      ).id;
      raised();
      await gate;
    });
    await firstRaised;
    const secondId = (
      await db.engine.solo((x) =>
        raise(x, { accountId, type: 'items.create', objectId: 2, objectKind: 'contact', content: {}, now: T }),
      )
    ).id;
    expect(firstId).toBeLessThan(secondId);
    const now = T + 10_000_000;
    const first = (await claim(db.engine, accountId, { now })).filter((c) => c.hookId === hookId).map((c) => c.eventId);
    expect(first).toEqual([secondId]);
    release();
    await tx1;
    const second = (await claim(db.engine, accountId, { now }))
      .filter((c) => c.hookId === hookId)
      .map((c) => c.eventId);
    expect(second).toEqual([firstId]);
  });
});
