// The delivery engine end to end on both engines: real receivers on loopback, a real SMTP server, a driven
// clock for the retry schedule (no sleeping), and the properties that matter — every failure kind counts,
// retries end in one e-mail, a hanging receiver starves nobody, an expired lease is re-claimed with the same
// webhook-id, stop() hands work back, and a manual redelivery is recorded as such.
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { ENGINES, PG_URL, makeEngine, type TestEngine } from '../support/engines.js';
import {
  DeliveryEngine,
  PAST_LAST_ATTEMPT,
  leaseMsFor,
  type DeliveryEngineOptions,
} from '../../src/delivery/engine.js';
import { EXPIRED_LEASES_FORGIVEN } from '../../src/delivery/claim.js';
import { Mailer, listMailbox } from '../../src/delivery/mailer.js';
import { TargetGuard } from '../../src/delivery/ssrf.js';
import { LocalTransport, ThreadTransport, type Transport } from '../../src/delivery/transport.js';
import { listDeliveries } from '../../src/delivery/history.js';
import { replayMissing } from '../../src/delivery/replay.js';
import { systemClock } from '../../src/delivery/clock.js';
import { solve360Signature, verifyStandard, webhookId } from '../../src/webhooks/signer.js';
import { createHook, updateHook } from '../../src/webhooks/hooks.js';
import { ApiError } from '../../src/errors.js';
import type { Engine } from '../../src/storage/port.js';
import { openSqlite } from '../../src/storage/sqlite/engine.js';
import { openPostgres } from '../../src/storage/postgres/engine.js';
import {
  attemptRows,
  closedPort,
  deliveryOf,
  drivenClock,
  hookState,
  insertHook,
  newAccount,
  raiseEvent,
  receiver,
  smtpSink,
  type Receiver,
  type SmtpSink,
} from './helpers.js';

const SCHEDULE = [5_000, 300_000, 1_800_000, 7_200_000];
const version = (await import('../../package.json', { with: { type: 'json' } })).default.version;

// Every case runs with attempts made on the main thread and on a sender thread (the default in serve).
const MODES = ENGINES.flatMap((e) => [[e, 'main thread'] as const, [e, 'sender thread'] as const]);

describe.each(MODES)('delivery engine on %s, sending on the %s', (name, mode) => {
  let smtp: SmtpSink;
  let db: TestEngine;
  let engine: Engine;
  const started: DeliveryEngine[] = [];
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    smtp = await smtpSink();
  });
  afterAll(async () => smtp.close());
  beforeEach(async () => {
    // A database per test: an engine claims every due delivery it can see, so tests must not share one.
    db = await makeEngine(name);
    engine = db.engine;
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((d) => d.stop({ graceMs: 0 })));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    await db.destroy();
  });

  function delivery(clock: { now(): number }, o: Partial<DeliveryEngineOptions> = {}): DeliveryEngine {
    const timeoutMs = o.timeoutMs ?? 2_000;
    const transport =
      mode === 'sender thread'
        ? new ThreadTransport({ threads: 1, allowedTargets: ['127.0.0.0/8'], timeoutMs })
        : undefined;
    const d = new DeliveryEngine({
      transport,
      engine,
      guard: new TargetGuard(['127.0.0.0/8']),
      mailer: new Mailer(engine, { smtpUrl: smtp.url, from: 'hookline@test.example', clock }),
      clock,
      timeoutMs: 2_000,
      retrySchedule: SCHEDULE,
      concurrency: 16,
      concurrencyPerHook: 4,
      random: () => 0.5, // no jitter: the schedule exactly
      ...o,
    });
    started.push(d);
    return d;
  }

  async function recv(...args: Parameters<typeof receiver>): Promise<Receiver> {
    const r = await receiver(...args);
    receivers.push(r);
    return r;
  }

  it('ready() resolves once sending can begin at once (its sender thread loaded), and never waits past its bound', async () => {
    const clock = drivenClock();
    const threads = new ThreadTransport({ threads: 1, allowedTargets: ['127.0.0.0/8'], timeoutMs: 2_000 });
    const d = delivery(clock, mode === 'sender thread' ? { transport: threads } : {});
    d.start();
    await d.ready();
    if (mode === 'sender thread') expect(threads.loaded).toBe(1);
    else await threads.close(); // not used
    // A transport that never gets ready is not waited for past the bound.
    const stuck: Transport = new LocalTransport(new TargetGuard(['127.0.0.0/8']), 2_000);
    stuck.ready = () => new Promise<void>(() => undefined);
    let done = false;
    const waiting = delivery(clock, { transport: stuck })
      .ready(30)
      .then(() => (done = true));
    expect(done).toBe(false);
    await waiting;
    expect(done).toBe(true);
  });

  it('a receiver answering 500 gets exactly 1 + 4 attempts on the schedule, then the admins get one e-mail', async () => {
    const clock = drivenClock();
    const r = await recv((_q, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    const { accountId, adminEmail } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url, title: 'Lead router', secret: 's3cret' });
    const eventId = await raiseEvent(engine, accountId, { now: clock.now(), type: 'items.create', objectId: 467069 });
    const d = delivery(clock);
    const mailsBefore = smtp.mails.length;

    const t0 = clock.now();
    const expectedStarts = [t0];
    expect(await d.runDue()).toBe(1);
    for (const wait of SCHEDULE) {
      clock.advance(wait - 1);
      expect(await d.runDue()).toBe(0); // not yet
      clock.advance(1);
      expectedStarts.push(clock.now());
      expect(await d.runDue()).toBe(1);
    }
    clock.advance(100 * 3_600_000);
    expect(await d.runDue()).toBe(0); // exhausted: no sixth attempt

    expect(r.requests).toHaveLength(5);
    expect(new Set(r.requests.map((q) => q.headers['webhook-id']))).toEqual(new Set([webhookId(hookId, eventId)]));
    const attempts = await attemptRows(engine, accountId, hookId, eventId);
    expect(attempts.map((a) => a.started_at)).toEqual(expectedStarts);
    expect(
      attempts.every((a) => a.status_code === 500 && a.trigger === 'scheduled' && a.response_body === 'boom'),
    ).toBe(true);
    expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({
      state: 'failed',
      attempt_count: 5,
      lease_until: null,
    });

    // Exactly one e-mail, through the real SMTP server, naming the hook, URL, event, object and attempts.
    expect(smtp.mails.length - mailsBefore).toBe(1);
    const mail = smtp.mails[smtp.mails.length - 1];
    expect(mail.to).toEqual([adminEmail]);
    expect(mail.text).toContain('Lead router');
    expect(mail.text).toContain(`hook ${hookId}`);
    expect(mail.text).toContain(r.url);
    expect(mail.text).toContain('items.create');
    expect(mail.text).toContain('467069');
    expect(mail.text.match(/status 500/g)).toHaveLength(5);
    for (const t of expectedStarts) expect(mail.text).toContain(new Date(t).toISOString());
    expect(mail.text).not.toContain('s3cret');
    const box = await listMailbox(engine, { accountId });
    expect(box).toHaveLength(1);
    expect(box[0].sent_at).toBe(expectedStarts[4]); // sent right after the last attempt
  });

  it("a hook's own retry schedule replaces the server's: 1 + its length attempts on its delays", async () => {
    const clock = drivenClock();
    const r = await recv((_q, res) => {
      res.statusCode = 500;
      res.end();
    });
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url });
    await engine.write((x) => x.run("UPDATE hooks SET retry_schedule = '1m, 2h' WHERE id = ?", [hookId]));
    const eventId = await raiseEvent(engine, accountId, { now: clock.now() });
    const d = delivery(clock);
    const t0 = clock.now();
    expect(await d.runDue()).toBe(1);
    clock.advance(60_000);
    expect(await d.runDue()).toBe(1);
    clock.advance(2 * 3_600_000);
    expect(await d.runDue()).toBe(1);
    clock.advance(100 * 3_600_000);
    expect(await d.runDue()).toBe(0);
    const attempts = await attemptRows(engine, accountId, hookId, eventId);
    expect(attempts.map((a) => a.started_at - t0)).toEqual([0, 60_000, 60_000 + 2 * 3_600_000]);
    expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({ state: 'failed', attempt_count: 3 });
  });

  it('a retry schedule shortened below a pending delivery’s attempts: its due attempt is made, and its outcome ends it', async () => {
    const clock = drivenClock();
    let fixedAnswers = 500;
    const fixedReceiver = await recv((_q, res) => {
      res.statusCode = fixedAnswers;
      res.end();
    });
    const brokenReceiver = await recv((_q, res) => {
      res.statusCode = 500;
      res.end();
    });
    const { accountId } = await newAccount(engine);
    const fixed = await insertHook(engine, accountId, { url: fixedReceiver.url, title: 'Fixed meanwhile' });
    const broken = await insertHook(engine, accountId, { url: brokenReceiver.url, title: 'Still broken' });
    const eventId = await raiseEvent(engine, accountId, { now: clock.now() });
    // Three failed attempts on the server's schedule: both pending, due again in 30 minutes.
    const before = delivery(clock);
    expect(await before.runDue()).toBe(2);
    clock.advance(SCHEDULE[0]);
    expect(await before.runDue()).toBe(2);
    clock.advance(SCHEDULE[1]);
    expect(await before.runDue()).toBe(2);
    await before.stop({ graceMs: 0 });
    for (const hookId of [fixed, broken]) {
      expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({
        state: 'pending',
        attempt_count: 3,
      });
    }
    // One hook gets its own, shorter schedule (as PUT retryschedule=1m would); the server restarts with a
    // shorter HOOKLINE_RETRY_SCHEDULE, which the other follows. Neither schedule has a retry after attempt 2.
    await engine.write((x) => x.run("UPDATE hooks SET retry_schedule = '1m' WHERE id = ?", [fixed]));
    fixedAnswers = 200;
    clock.advance(SCHEDULE[2]);
    const mailsBefore = smtp.mails.length;
    expect(await delivery(clock, { retrySchedule: [5_000] }).runDue()).toBe(2);
    // Both due attempts were made; the fixed receiver's 200 ends its delivery well, the other fails for good
    // with its own outcome (no retry left), and neither is said to have lost its lease.
    expect([fixedReceiver.requests.length, brokenReceiver.requests.length]).toEqual([4, 4]);
    expect(await deliveryOf(engine, accountId, fixed, eventId)).toMatchObject({ state: 'succeeded', attempt_count: 4 });
    expect(await deliveryOf(engine, accountId, broken, eventId)).toMatchObject({ state: 'failed', attempt_count: 4 });
    const last = async (hookId: number) => (await attemptRows(engine, accountId, hookId, eventId)).at(-1);
    expect(await last(fixed)).toMatchObject({ status_code: 200, error: null });
    expect(await last(broken)).toMatchObject({ status_code: 500 });
    expect((await last(broken))?.error).not.toBe(PAST_LAST_ATTEMPT);
    expect(smtp.mails.length - mailsBefore).toBe(1);
    const mail = smtp.mails[smtp.mails.length - 1];
    expect(mail.text).toContain('Still broken');
    expect(mail.text).not.toContain('its lease ran out too often');
  });

  /** Two hooks of a new account, on the driven clock: one limited to `rate` notifications a second, one not. */
  const limitedBesideFree = async (rate: number) => {
    const clock = drivenClock();
    const [limited, free] = [await recv(), await recv()];
    const { accountId } = await newAccount(engine);
    const slow = await insertHook(engine, accountId, { url: limited.url });
    await insertHook(engine, accountId, { url: free.url });
    await engine.write((x) => x.run('UPDATE hooks SET rate_limit = ? WHERE id = ?', [rate, slow]));
    return { clock, limited, free, accountId };
  };

  it('a rate-limited hook is sent at most its rate, in bursts of one second’s worth; other hooks are not held back', async () => {
    const { clock, limited, free, accountId } = await limitedBesideFree(2);
    for (let i = 0; i < 7; i++) await raiseEvent(engine, accountId, { now: clock.now(), objectId: i + 1 });
    const d = delivery(clock);
    const sent = async () => {
      await d.runDue();
      return [limited.requests.length, free.requests.length];
    };
    expect(await sent()).toEqual([2, 7]); // a full bucket: 2; the other hook all 7 at once
    expect(await sent()).toEqual([2, 7]); // no time has passed: no token
    clock.advance(499);
    expect(await sent()).toEqual([2, 7]);
    clock.advance(1);
    expect(await sent()).toEqual([3, 7]); // half a second: one token
    clock.advance(60_000);
    expect(await sent()).toEqual([5, 7]); // a minute idle still buys one second's worth
    clock.advance(1_000);
    expect(await sent()).toEqual([7, 7]);
    // In event order.
    expect(limited.requests.map((q) => JSON.parse(q.body.toString()).objectid)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('rate-limited hooks out of tokens take no claim slot: backlogs held back by their limits do not hold back another hook', async () => {
    const clock = drivenClock();
    const limited = await recv();
    const other = await recv();
    const { accountId } = await newAccount(engine);
    // Four hooks limited to 1 notification a second, each with a backlog of 30: the oldest due work there is.
    for (let i = 0; i < 4; i++) {
      const h = await insertHook(engine, accountId, { url: limited.url, event: 'items.create' });
      await engine.write((x) => x.run('UPDATE hooks SET rate_limit = 1 WHERE id = ?', [h]));
    }
    for (let i = 0; i < 30; i++) {
      await raiseEvent(engine, accountId, { now: clock.now(), type: 'items.create', objectId: i + 1 });
    }
    clock.advance(1);
    // A hook without a limit, with one delivery due a millisecond later.
    await insertHook(engine, accountId, { url: other.url, event: 'items.update' });
    await raiseEvent(engine, accountId, { now: clock.now(), type: 'items.update' });
    // Overall cap 2: a claim takes 4 (PREFETCH × 2) at most, so it reads 4 lanes at most.
    const d = delivery(clock, { concurrency: 2, concurrencyPerHook: 1 });
    expect(await d.runDue()).toBe(4); // a full bucket each: the four oldest lanes take one each
    clock.advance(100);
    expect(await d.runDue()).toBe(1); // their buckets are empty: the other hook's lane is read and claimed
    expect([limited.requests.length, other.requests.length]).toEqual([4, 1]);
    // And the limited hooks go on at their rate.
    clock.advance(900);
    expect(await d.runDue()).toBe(4);
    expect(limited.requests.length).toBe(8);
  });

  it('a clock stepped back does not stall a rate-limited hook: its bucket refills at its rate from the new time', async () => {
    const { clock, limited, free, accountId } = await limitedBesideFree(2);
    for (let i = 0; i < 2; i++) await raiseEvent(engine, accountId, { now: clock.now(), objectId: i + 1 });
    const d = delivery(clock);
    const sent = async () => {
      await d.runDue();
      return [limited.requests.length, free.requests.length];
    };
    expect(await sent()).toEqual([2, 2]); // the bucket is spent
    // NTP steps a clock that ran ahead back an hour.
    clock.advance(-3_600_000);
    await raiseEvent(engine, accountId, { now: clock.now(), objectId: 3 });
    await raiseEvent(engine, accountId, { now: clock.now(), objectId: 4 });
    expect(await sent()).toEqual([2, 4]); // nothing refilled: still spent, never less
    clock.advance(500);
    // The first claim to read the shared bucket since the step takes it as written now: still spent …
    expect(await sent()).toEqual([2, 4]);
    clock.advance(499);
    expect(await sent()).toEqual([2, 4]);
    clock.advance(1);
    expect(await sent()).toEqual([3, 4]); // … and it refills at the rate from then on, not an hour later
    for (let s = 0; s < 5; s++) {
      await raiseEvent(engine, accountId, { now: clock.now(), objectId: 5 + s });
      clock.advance(1_000);
      await sent();
    }
    // Five more seconds at 2/s: everything raised has gone out to both hooks, in event order.
    expect(await sent()).toEqual([9, 9]);
    expect(limited.requests.map((q) => JSON.parse(q.body.toString()).objectid)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a rate limit holds across nodes: two engines on one database send the hook at most its rate together', async () => {
    const clock = drivenClock();
    const limited = await recv();
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: limited.url });
    await engine.write((x) => x.run('UPDATE hooks SET rate_limit = 2 WHERE id = ?', [hookId]));
    for (let i = 0; i < 9; i++) await raiseEvent(engine, accountId, { now: clock.now(), objectId: i + 1 });
    const a = delivery(clock, { owner: 'node-a' });
    const b = delivery(clock, { owner: 'node-b' });
    const sent = async (first = a, second = b) => {
      await first.runDue();
      await second.runDue();
      return limited.requests.length;
    };
    // Each node alone would send a full bucket (2); together they send 2.
    expect(await sent()).toBe(2);
    expect(await sent(b, a)).toBe(2);
    clock.advance(500);
    expect(await sent(b, a)).toBe(3); // half a second: one token, for whichever node claims first
    clock.advance(1_000);
    expect(await sent()).toBe(5);
    clock.advance(60_000);
    expect(await sent(b, a)).toBe(7); // idle for a minute: still one second's worth
    expect(await sent()).toBe(7);
    // Both claiming at once (on PostgreSQL, two transactions: one waits for the other's lock on the bucket).
    const together = async () => {
      await Promise.all([a.runDue(), b.runDue()]);
      return limited.requests.length;
    };
    expect(await together()).toBe(7);
    clock.advance(500);
    expect(await together()).toBe(8);
    clock.advance(500);
    expect(await together()).toBe(9);
    expect(a.attempts + b.attempts).toBe(9);
    expect(a.attempts).toBeGreaterThan(0);
    expect(b.attempts).toBeGreaterThan(0);
    expect(limited.requests.map((q) => JSON.parse(q.body.toString()).objectid).sort((x, y) => x - y)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);
  });

  it('the failure e-mail is queued in the transaction that fails the delivery: a crash before sending loses nothing', async () => {
    const clock = drivenClock();
    const r = await recv((_q, res) => {
      res.statusCode = 503;
      res.end();
    });
    const { accountId, adminEmail } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url, title: 'No retries' });
    const eventId = await raiseEvent(engine, accountId, { now: clock.now() });
    const d = delivery(clock, { retrySchedule: [] });
    // tick + settle, and no mail round: as if the process died right after the commit.
    expect(await d.tick()).toBe(1);
    await d.settle();
    expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({ state: 'failed' });
    const [queued] = await listMailbox(engine, { accountId });
    expect(queued).toMatchObject({ to_addr: adminEmail, sent_at: null, next_send_at: clock.now() });
    expect(queued.body).toContain('status 503');
    // The next process's mail loop sends it.
    const before = smtp.mails.length;
    const next = new Mailer(engine, { smtpUrl: smtp.url, from: 'hookline@test.example', clock });
    expect(await next.flush()).toBe(1);
    await next.close();
    expect(smtp.mails.length - before).toBe(1);
    expect(smtp.mails[smtp.mails.length - 1].text).toContain(`hook ${hookId}`);
  });

  it('a hook whose deliveries all fail for HOOKLINE_DISABLE_AFTER is disabled, once, and its admins told; a success resets the streak', async () => {
    const clock = drivenClock();
    let up = false;
    const r = await recv((_q, res) => {
      res.statusCode = up ? 200 : 500;
      res.end();
    });
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url, title: 'Flaky' });
    const day = 86_400_000;
    const logged: { msg: string; hookId?: number }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    const d = delivery(clock, { retrySchedule: [], disableAfterMs: 5 * day, logger });
    const hook = () => hookState(engine, accountId, hookId);
    const fail = async () => {
      await raiseEvent(engine, accountId, { now: clock.now() });
      expect(await d.runDue()).toBe(1);
    };
    const t0 = clock.now();
    await fail();
    expect(await hook()).toEqual({ active: 1, failing_since: t0 });
    // A success ends the streak.
    clock.advance(4 * day);
    up = true;
    await fail();
    expect(await hook()).toEqual({ active: 1, failing_since: null });
    up = false;
    const t1 = clock.now();
    await fail();
    clock.advance(5 * day - 1);
    await fail();
    expect(await hook()).toEqual({ active: 1, failing_since: t1 });
    const mailsBefore = smtp.mails.length;
    clock.advance(1);
    await fail();
    expect(await hook()).toMatchObject({ active: 0 });
    // The failure e-mail and the one that says the hook is disabled.
    expect(smtp.mails.length - mailsBefore).toBe(2);
    const disabled = smtp.mails.find((m) => m.text.includes('disabled after failing for 5.0 days'));
    expect(disabled?.text).toContain(`hook ${hookId}`);
    expect(disabled?.text).toContain(r.url);
    // Logged once, after the commit that disabled it.
    expect(logged.filter((l) => l.msg === 'hook disabled')).toEqual([expect.objectContaining({ hookId })]);
    // Disabled: new events are not delivered to it.
    await raiseEvent(engine, accountId, { now: clock.now() });
    expect(await d.runDue()).toBe(0);
  });

  it('a receiver answering 410 Gone gets its hook disabled at once, once, with one e-mail; its deliveries wait and go out when the hook is on again', async () => {
    const clock = drivenClock();
    let gone = true;
    const r = await recv((_q, res) => {
      res.statusCode = gone ? 410 : 200;
      res.end(gone ? 'this endpoint was removed' : 'ok');
    });
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url, title: 'Old CRM sync' });
    const logged: { msg: string; hookId?: number }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    const d = delivery(clock, { logger });
    const active = async () => Number((await hookState(engine, accountId, hookId))?.active);
    // Two notifications in flight together both come back 410: the hook is disabled once, one e-mail.
    const events = [
      await raiseEvent(engine, accountId, { now: clock.now(), objectId: 1 }),
      await raiseEvent(engine, accountId, { now: clock.now(), objectId: 2 }),
    ];
    const mailsBefore = smtp.mails.length;
    expect(await d.runDue()).toBe(2);
    expect(r.requests).toHaveLength(2);
    expect(await active()).toBe(0);
    const mails = smtp.mails.slice(mailsBefore);
    expect(mails).toHaveLength(1);
    expect(mails[0].text).toContain(`(hook ${hookId}) disabled: its receiver answered 410 Gone`);
    expect(mails[0].text).toContain(r.url);
    expect(logged.filter((l) => l.msg === 'hook disabled: its receiver answered 410 Gone')).toEqual([
      expect.objectContaining({ hookId }),
    ]);
    // Each attempt is recorded with its answer; the deliveries wait, rescheduled as after any failure.
    for (const eventId of events) {
      expect(await attemptRows(engine, accountId, hookId, eventId)).toEqual([
        expect.objectContaining({ status_code: 410, response_body: 'this endpoint was removed' }),
      ]);
      expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({
        state: 'pending',
        attempt_count: 1,
        next_attempt_at: clock.now() + SCHEDULE[0],
      });
    }
    // Disabled: nothing is sent when the retries fall due, and new events are not delivered to it.
    await raiseEvent(engine, accountId, { now: clock.now(), objectId: 3 });
    clock.advance(SCHEDULE[0]);
    expect(await d.runDue()).toBe(0);
    expect(r.requests).toHaveLength(2);
    // Turned on again (the receiver is back): the waiting deliveries go out, and only those.
    gone = false;
    await engine.write((x) =>
      x.run('UPDATE hooks SET active = 1 WHERE account_id = ? AND id = ?', [accountId, hookId]),
    );
    expect(await d.runDue()).toBe(2);
    for (const eventId of events)
      expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({ state: 'succeeded' });
    expect(smtp.mails.length - mailsBefore).toBe(1);
  });

  it('replay: events raised while a hook was paused go out once replayed, each once, with its delivery’s webhook-id', async () => {
    const clock = drivenClock();
    const r = await recv();
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url });
    const d = delivery(clock);
    const setActive = (on: number) =>
      engine.write((x) =>
        x.run('UPDATE hooks SET active = ? WHERE account_id = ? AND id = ?', [on, accountId, hookId]),
      );
    await setActive(0);
    const since = clock.now();
    const events = [
      await raiseEvent(engine, accountId, { now: clock.now(), objectId: 11 }),
      await raiseEvent(engine, accountId, { now: clock.now() + 1, objectId: 12 }),
    ];
    await setActive(1);
    clock.advance(1000);
    // Not delivered later by themselves.
    expect(await d.runDue()).toBe(0);
    expect(await replayMissing(engine, accountId, hookId, { since }, clock.now())).toBe(2);
    expect(await d.runDue()).toBe(2);
    expect(r.requests.map((q) => JSON.parse(q.body.toString()).objectid).sort()).toEqual([11, 12]);
    expect(r.requests.map((q) => q.headers['webhook-id']).sort()).toEqual(
      events.map((e) => webhookId(hookId, e)).sort(),
    );
    for (const eventId of events)
      expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({ state: 'succeeded' });
    expect(await replayMissing(engine, accountId, hookId, { since }, clock.now())).toBe(0);
    expect(await d.runDue()).toBe(0);
    expect(r.requests).toHaveLength(2);
  });

  it('with HOOKLINE_DISABLE_ON_GONE off, 410 Gone is a failed attempt like any other', async () => {
    const clock = drivenClock();
    const r = await recv((_q, res) => {
      res.statusCode = 410;
      res.end();
    });
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url });
    const eventId = await raiseEvent(engine, accountId, { now: clock.now() });
    const d = delivery(clock, { disableOnGone: false, retrySchedule: [1_000] });
    const mailsBefore = smtp.mails.length;
    expect(await d.runDue()).toBe(1);
    clock.advance(1_000);
    expect(await d.runDue()).toBe(1);
    expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({ state: 'failed', attempt_count: 2 });
    expect(Number((await hookState(engine, accountId, hookId))?.active)).toBe(1);
    // Only the failure e-mail.
    const mails = smtp.mails.slice(mailsBefore);
    expect(mails.map((m) => m.text)).toEqual([expect.stringContaining('failed to deliver')]);
  });

  it('3xx, 4xx, timeouts, refused connections, resets mid-response and refused targets are failed attempts', async () => {
    const clock = drivenClock();
    const redirect = await recv((_q, res) => {
      res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' });
      res.end();
    });
    const notFound = await recv((_q, res) => {
      res.statusCode = 404;
      res.end('no such endpoint');
    });
    const hang = await recv(() => undefined);
    const slowBody = await recv((_q, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
    });
    const reset = await recv((_q, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial', () => res.socket?.destroy());
    });
    const created = await recv((_q, res) => {
      res.statusCode = 201;
      res.end();
    });
    const port = await closedPort();
    const { accountId } = await newAccount(engine);
    const hooks = {
      redirect: await insertHook(engine, accountId, { url: redirect.url }),
      notFound: await insertHook(engine, accountId, { url: notFound.url }),
      hang: await insertHook(engine, accountId, { url: hang.url }),
      slowBody: await insertHook(engine, accountId, { url: slowBody.url }),
      reset: await insertHook(engine, accountId, { url: reset.url }),
      refused: await insertHook(engine, accountId, { url: `http://127.0.0.1:${port}/hook` }),
      target: await insertHook(engine, accountId, { url: 'http://10.20.30.40/hook' }),
      dns: await insertHook(engine, accountId, { url: 'http://no-such-host.invalid/hook' }),
      created: await insertHook(engine, accountId, { url: created.url }),
    };
    const eventId = await raiseEvent(engine, accountId, { now: clock.now() });
    const d = delivery(clock, { timeoutMs: 400 });
    expect(await d.runDue()).toBe(9);

    const outcome = async (hookId: number) => ({
      delivery: await deliveryOf(engine, accountId, hookId, eventId),
      attempt: (await attemptRows(engine, accountId, hookId, eventId))[0],
    });
    // Retried on the schedule (5 s); a timeout waits at least a minute (the receiver is overloaded).
    const failed = async (hookId: number, status: number | null, error: RegExp, retryInMs = 5_000) => {
      const o = await outcome(hookId);
      expect(o.delivery).toMatchObject({
        state: 'pending',
        attempt_count: 1,
        next_attempt_at: clock.now() + retryInMs,
      });
      expect(o.attempt.status_code).toBe(status);
      expect(o.attempt.error).toMatch(error);
    };
    await failed(
      hooks.redirect,
      302,
      /HTTP 302: redirects are not followed \(Location: http:\/\/127\.0\.0\.1:1\/elsewhere\)/,
    );
    await failed(hooks.notFound, 404, /HTTP 404/);
    await failed(hooks.hang, null, /timeout/, 60_000);
    await failed(hooks.slowBody, 200, /timeout/, 60_000);
    await failed(hooks.reset, 200, /closed|reset|Content-Length|terminated/i);
    await failed(hooks.refused, null, /connection refused/);
    await failed(hooks.target, null, /refused target address 10\.20\.30\.40/);
    await failed(hooks.dns, null, /DNS|ENOTFOUND|EAI_AGAIN/);
    expect((await outcome(hooks.notFound)).attempt.response_body).toBe('no such endpoint');
    expect((await outcome(hooks.created)).delivery).toMatchObject({ state: 'succeeded', attempt_count: 1 });
    expect(redirect.requests).toHaveLength(1); // the redirect was not followed
  });

  it('signs the exact bytes sent and sends the documented headers', async () => {
    const clock = drivenClock(Date.now());
    const r = await recv();
    const { accountId } = await newAccount(engine);
    const signed = await insertHook(engine, accountId, { url: r.url, secret: 'ünïcødé-secret', contenttype: 'xml' });
    const unsigned = await insertHook(engine, accountId, { url: `${r.url}?unsigned`, contenttype: 'form' });
    const eventId = await raiseEvent(engine, accountId, {
      now: clock.now(),
      content: { item: { id: 12, fields: { lastname: 'Müller' } } },
    });
    await delivery(clock).runDue();
    expect(r.requests).toHaveLength(2);
    const s = r.requests.find((q) => !q.url.includes('unsigned'))!;
    const u = r.requests.find((q) => q.url.includes('unsigned'))!;

    expect(s.method).toBe('POST');
    expect(s.headers['content-type']).toMatch(/^application\/xml/);
    expect(s.headers['user-agent']).toBe(`Hookline/${version} (+webhooks)`);
    expect(s.headers['webhook-id']).toBe(webhookId(signed, eventId));
    expect(s.headers['webhook-timestamp']).toBe(String(Math.floor(clock.now() / 1000)));
    expect(s.headers['x-solve360-hmac-sha256']).toBe(solve360Signature('ünïcødé-secret', s.body));
    const std = {
      id: String(s.headers['webhook-id']),
      timestamp: String(s.headers['webhook-timestamp']),
      signature: String(s.headers['webhook-signature']),
    };
    expect(verifyStandard('ünïcødé-secret', std, s.body)).toBe(true);
    const wh = new Webhook(Buffer.from('ünïcødé-secret', 'utf8').toString('base64'));
    expect(() =>
      wh.verify(
        s.body.toString('utf8'),
        {
          'webhook-id': std.id,
          'webhook-timestamp': std.timestamp,
          'webhook-signature': std.signature,
        },
        { jsonParse: false },
      ),
    ).not.toThrow();
    expect(s.body.toString()).toContain('<notification><type>items.create</type><objectid>467069</objectid>');

    expect(u.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(u.headers['x-solve360-hmac-sha256']).toBeUndefined();
    expect(u.headers['webhook-signature']).toBeUndefined();
    expect(u.headers['webhook-id']).toBe(webhookId(unsigned, eventId));
    expect(u.body.toString()).toContain('content%5Bitem%5D%5Bfields%5D%5Blastname%5D=M%C3%BCller');
  });

  it('sends a hook’s own headers with every attempt (scheduled, manual, test), never over Hookline’s', async () => {
    const clock = drivenClock(Date.now());
    const r = await recv();
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url, secret: 'k' });
    // As saved through the API, plus two names the API refuses (written straight into the database): those
    // are not sent.
    const stored = [
      ['X-Api-Key', 'key-1'],
      ['Authorization', 'Bearer t0ken'],
      // named like members of every JavaScript object: headers like any other
      ['Constructor', 'c-1'],
      ['toString', 't-1'],
      ['Content-Type', 'text/plain'],
      ['webhook-id', 'forged'],
    ];
    await engine.write((x) => x.run('UPDATE hooks SET headers = ? WHERE id = ?', [JSON.stringify(stored), hookId]));
    const eventId = await raiseEvent(engine, accountId, { now: clock.now() });
    const d = delivery(clock);
    await d.runDue();
    await d.redeliver(accountId, hookId, eventId);
    expect((await d.test(accountId, hookId)).statuscode).toBe(200);
    expect(r.requests).toHaveLength(3);
    for (const q of r.requests) {
      expect(q.headers['x-api-key']).toBe('key-1');
      expect(q.headers.authorization).toBe('Bearer t0ken');
      expect(q.headers.constructor).toBe('c-1');
      expect(q.headers.tostring).toBe('t-1');
      expect(q.headers['content-type']).toMatch(/^application\/json/);
      expect(q.headers['webhook-id']).not.toBe('forged');
      expect(q.headers['x-solve360-hmac-sha256']).toBe(solve360Signature('k', q.body));
    }
    expect(r.requests[0].headers['webhook-id']).toBe(webhookId(hookId, eventId));
  });

  it('a changed secret: both sign webhook-signature for the overlap, then the new one alone', async () => {
    const clock = drivenClock(Date.now());
    const r = await recv();
    const { accountId } = await newAccount(engine);
    const guard = new TargetGuard(['127.0.0.0/8']);
    const hook = { event: 'items.create', url: r.url, contenttype: 'json', secret: 'old-secret' };
    const hookId = Number((await createHook(engine, accountId, hook, clock.now(), guard)).id);
    const hourMs = 3_600_000;
    await updateHook(engine, accountId, hookId, { secret: 'new-secret' }, clock.now(), guard, {
      secretOverlapMs: hourMs,
    });
    const d = delivery(clock);
    const signatures = (q: (typeof r.requests)[number]) => ({
      id: String(q.headers['webhook-id']),
      timestamp: String(q.headers['webhook-timestamp']),
      signature: String(q.headers['webhook-signature']),
    });

    const first = await raiseEvent(engine, accountId, { now: clock.now() });
    await d.runDue();
    const during = r.requests[0];
    // The Solve360 header has room for one value: the current secret's.
    expect(during.headers['x-solve360-hmac-sha256']).toBe(solve360Signature('new-secret', during.body));
    const std = signatures(during);
    expect(std.signature.split(' ')).toHaveLength(2);
    for (const secret of ['new-secret', 'old-secret']) {
      expect(verifyStandard(secret, std, during.body, { nowMs: clock.now() })).toBe(true);
      const wh = new Webhook(Buffer.from(secret, 'utf8').toString('base64'));
      const headers = { 'webhook-id': std.id, 'webhook-timestamp': std.timestamp, 'webhook-signature': std.signature };
      expect(() => wh.verify(during.body.toString('utf8'), headers, { jsonParse: false })).not.toThrow();
    }
    expect(verifyStandard('other-secret', std, during.body, { nowMs: clock.now() })).toBe(false);

    // A manual redelivery during the overlap is signed the same way.
    const manual = await d.redeliver(accountId, hookId, first);
    expect(manual).toMatchObject({ statuscode: 200 });
    expect(signatures(r.requests[1]).signature.split(' ')).toHaveLength(2);

    clock.advance(hourMs);
    await raiseEvent(engine, accountId, { now: clock.now(), objectId: 2 });
    await d.runDue();
    const after = r.requests[2];
    expect(after.headers['x-solve360-hmac-sha256']).toBe(solve360Signature('new-secret', after.body));
    expect(signatures(after).signature.split(' ')).toHaveLength(1);
    expect(verifyStandard('new-secret', signatures(after), after.body, { nowMs: clock.now() })).toBe(true);
    expect(verifyStandard('old-secret', signatures(after), after.body, { nowMs: clock.now() })).toBe(false);
  });

  it('a hanging receiver does not delay a healthy hook; stop() hands its claims back', async () => {
    const hang = await recv(() => undefined);
    const ok = await recv();
    const { accountId } = await newAccount(engine);
    const slowHook = await insertHook(engine, accountId, { url: hang.url });
    const fastHook = await insertHook(engine, accountId, { url: ok.url });
    const events: number[] = [];
    for (let i = 0; i < 6; i++) events.push(await raiseEvent(engine, accountId, { now: Date.now() - 1 }));
    const d = delivery(systemClock, { timeoutMs: 20_000, concurrency: 4, concurrencyPerHook: 2, pollMs: 20 });
    d.start();
    await ok.waitFor(6);
    await hang.waitFor(2);
    expect(hang.requests).toHaveLength(2); // its cap, and no more while those hang
    const fastStates = async () =>
      (await Promise.all(events.map((e) => deliveryOf(engine, accountId, fastHook, e)))).map((s) => s?.state);
    await expect.poll(fastStates).toEqual(Array(6).fill('succeeded'));
    expect(d.inFlight).toBe(2);
    expect(hang.requests).toHaveLength(2);

    await d.stop({ graceMs: 50 });
    for (const e of events) {
      expect(await deliveryOf(engine, accountId, slowHook, e)).toMatchObject({
        state: 'pending',
        attempt_count: 0,
        lease_until: null,
        lease_owner: null,
      });
      expect(await attemptRows(engine, accountId, slowHook, e)).toEqual([]);
    }
  });

  it('two nodes draining one backlog together send every delivery exactly once, and both take part', async () => {
    const receivers = [await recv(), await recv(), await recv()];
    const { accountId } = await newAccount(engine);
    const hooks = [];
    for (const r of receivers) hooks.push(await insertHook(engine, accountId, { url: r.url }));
    const events = 80;
    for (let i = 0; i < events; i++) await raiseEvent(engine, accountId, { now: Date.now() - 1, objectId: i + 1 });
    // The second node has its own connections to the same database, as another process would.
    const other =
      name === 'sqlite'
        ? openSqlite({ file: db.where })
        : await openPostgres({ url: PG_URL, schema: db.where, writers: 2 });
    try {
      const a = delivery(systemClock, { owner: 'node-a', concurrencyPerHook: 4, pollMs: 10 });
      const b = delivery(systemClock, { owner: 'node-b', concurrencyPerHook: 4, pollMs: 10, engine: other });
      a.start();
      b.start();
      for (const r of receivers) await r.waitFor(events, 20_000);
      await Promise.all([a.stop(), b.stop()]);
      for (const r of receivers) {
        const ids = r.requests.map((q) => String(q.headers['webhook-id']));
        expect(new Set(ids).size).toBe(events);
        expect(ids).toHaveLength(events); // none twice
      }
      const owners = await engine.read((x) =>
        x.all<{ n: number }>("SELECT COUNT(*) AS n FROM deliveries WHERE account_id = ? AND state = 'succeeded'", [
          accountId,
        ]),
      );
      expect(Number(owners[0].n)).toBe(events * hooks.length);
      // Both nodes sent some: each one's transport counted its own attempts.
      expect(a.attempts).toBeGreaterThan(0);
      expect(b.attempts).toBeGreaterThan(0);
      expect(a.attempts + b.attempts).toBe(events * hooks.length);
    } finally {
      await other.close();
    }
  });

  it('an expired lease is claimed again, and the receiver sees the same webhook-id', async () => {
    const clock = drivenClock();
    // The first request is never answered (the node "dies" mid-POST); later ones succeed.
    const r = await recv((_q, res, _b, n) => (n === 1 ? undefined : res.end('ok')));
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url, secret: 'k' });
    const eventId = await raiseEvent(engine, accountId, { now: clock.now() });
    const a = delivery(clock, { owner: 'node-a', leaseMs: 1_000, timeoutMs: 20_000 });
    const b = delivery(clock, { owner: 'node-b', leaseMs: 1_000 });
    expect(await a.tick()).toBe(1);
    await r.waitFor(1);
    expect(await b.runDue()).toBe(0); // still leased by node-a
    clock.advance(1_001);
    expect(await b.runDue()).toBe(1);
    expect(r.requests).toHaveLength(2);
    expect(r.requests[1].headers['webhook-id']).toBe(r.requests[0].headers['webhook-id']);
    expect(r.requests[1].headers['webhook-id']).toBe(webhookId(hookId, eventId));
    // node-b made node-a's first attempt again: one attempt counted, not two.
    expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({
      state: 'succeeded',
      attempt_count: 1,
    });
    await a.stop({ graceMs: 0 }); // node-a's late release must not undo node-b's success
    expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({
      state: 'succeeded',
      attempt_count: 1,
    });
  });

  it('at start, takes over at once what stopped processes of this host held, and leaves live holders alone', async () => {
    const clock = drivenClock();
    const r = await recv();
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url, secret: 'k' });
    const events: number[] = [];
    for (let i = 0; i < 5; i++) events.push(await raiseEvent(engine, accountId, { now: clock.now() }));
    // A pid no process has: one that has just exited.
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
    const host = os.hostname();
    const alive = delivery(clock); // an engine of this process: its owner is alive
    const owners = [
      `${host}:${deadPid}:aaaaaa`, // a crashed process of this host
      `${host}:${process.pid}:bbbbbb`, // an earlier run with this process's pid (a container's first process)
      `${host}:${process.ppid}:cccccc`, // a live process of this host
      `other-host.example:${deadPid}:dddddd`, // another host: its processes are not ours to judge
      alive.owner,
    ];
    for (const [i, owner] of owners.entries())
      await engine.write((x) =>
        x.run(
          'UPDATE deliveries SET lease_owner = ?, lease_until = ?, attempt_count = 1 WHERE account_id = ? AND hook_id = ? AND event_id = ?',
          [owner, clock.now() + 3_600_000, accountId, hookId, events[i]],
        ),
      );
    const d = delivery(clock);
    d.start();
    await r.waitFor(2);
    await d.settle();
    expect(r.requests.map((q) => q.headers['webhook-id']).sort()).toEqual(
      [webhookId(hookId, events[0]), webhookId(hookId, events[1])].sort(),
    );
    for (const e of events.slice(0, 2))
      // The crashed holder's attempt made again under its number: one attempt, one expired lease.
      expect(await deliveryOf(engine, accountId, hookId, e)).toMatchObject({
        state: 'succeeded',
        attempt_count: 1,
        expired_leases: 1,
      });
    for (const [i, e] of events.slice(2).entries())
      expect(await deliveryOf(engine, accountId, hookId, e)).toMatchObject({
        state: 'pending',
        lease_owner: owners[i + 2],
        expired_leases: 0,
      });
  });

  it('a delivery whose lease ran out too often is failed past its last attempt, not sent again, and its admins told', async () => {
    const clock = drivenClock();
    const r = await recv((_q, res) => res.end('ok'));
    const { accountId, adminEmail } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url, title: 'Poisoned' });
    const eventId = await raiseEvent(engine, accountId, { now: clock.now() });
    // As a delivery whose sending stopped its holders again and again leaves it: its last attempt made under
    // a lease that ran out, and the forgiven expired leases used up.
    await engine.write((x) =>
      x.run(
        `UPDATE deliveries SET attempt_count = ?, expired_leases = ?, lease_owner = 'dead', lease_until = ?
          WHERE account_id = ? AND hook_id = ? AND event_id = ?`,
        [SCHEDULE.length + 1, EXPIRED_LEASES_FORGIVEN, clock.now() - 1, accountId, hookId, eventId],
      ),
    );
    const mailsBefore = smtp.mails.length;
    expect(await delivery(clock).runDue()).toBe(1);
    expect(r.requests).toHaveLength(0);
    expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({
      state: 'failed',
      attempt_count: SCHEDULE.length + 2,
      lease_owner: null,
    });
    const attempts = await attemptRows(engine, accountId, hookId, eventId);
    expect(attempts.map((a) => [a.status_code, a.error])).toEqual([[null, PAST_LAST_ATTEMPT]]);
    expect(smtp.mails.length - mailsBefore).toBe(1);
    const mail = smtp.mails[smtp.mails.length - 1];
    expect(mail.to).toEqual([adminEmail]);
    expect(mail.text).toContain('Poisoned');
    expect(mail.text).toContain('its lease ran out too often');
  });

  it('its own lease running out while it still sends a delivery does not make it send that one twice', async () => {
    const clock = drivenClock();
    // The first request is answered only when the test says so.
    let answer: (() => void) | null = null;
    const r = await recv((_q, res) => void (answer = () => res.end('ok')));
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url });
    const eventId = await raiseEvent(engine, accountId, { now: clock.now() });
    const a = delivery(clock, { owner: 'node-a', leaseMs: 1_000, timeoutMs: 20_000 });
    expect(await a.tick()).toBe(1);
    await r.waitFor(1);
    clock.advance(1_001);
    // Claimed again (the lease had run out, and is renewed), but not sent again; its own lease running out
    // is not one lost (claim.ts EXPIRED_LEASES_FORGIVEN).
    expect(await a.tick()).toBe(0);
    expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({
      attempt_count: 1,
      lease_owner: 'node-a',
      lease_until: clock.now() + 1_000,
      expired_leases: 0,
    });
    await new Promise((res) => setTimeout(res, 100));
    expect(r.requests).toHaveLength(1);
    answer!();
    await a.settle();
    expect(await deliveryOf(engine, accountId, hookId, eventId)).toMatchObject({
      state: 'succeeded',
      attempt_count: 1,
    });
    await a.stop({ graceMs: 0 });
  });

  it('notify() sends new deliveries at once, without waiting for the poll', async () => {
    const r = await recv();
    const { accountId } = await newAccount(engine);
    await insertHook(engine, accountId, { url: r.url });
    // Not handed over by the write itself (handoff.test.ts): found because notify() wakes the claim.
    const d = delivery(systemClock, { pollMs: 60_000, handOff: false });
    d.start();
    await new Promise((res) => setTimeout(res, 100)); // the loop is asleep now
    await raiseEvent(engine, accountId, { now: Date.now() });
    const t = Date.now();
    d.notify();
    await r.waitFor(1, 3_000);
    expect(Date.now() - t).toBeLessThan(3_000);
  });

  it('honours Retry-After within [delay, 2 × delay]; after a 429 or a timeout waits at least a minute', async () => {
    const clock = drivenClock();
    const answer = (status: number, retryAfter?: string) =>
      recv((_q, res) => {
        res.writeHead(status, retryAfter ? { 'retry-after': retryAfter } : {});
        res.end();
      });
    const rx = {
      seven: await answer(503, '7'),
      hour: await answer(503, '3600'),
      tooMany: await answer(429),
      tooManyLater: await answer(429, '90'),
      plain: await answer(500),
      hang: await recv(() => undefined),
    };
    const { accountId } = await newAccount(engine);
    const hooks = Object.fromEntries(
      await Promise.all(
        Object.entries(rx).map(async ([k, r]) => [k, await insertHook(engine, accountId, { url: r.url })]),
      ),
    ) as Record<keyof typeof rx, number>;
    const eventId = await raiseEvent(engine, accountId, { now: clock.now() });
    await delivery(clock, { timeoutMs: 1_000 }).runDue(); // long enough for every answer on a busy machine
    const next = async (k: keyof typeof rx) =>
      Number((await deliveryOf(engine, accountId, hooks[k], eventId))?.next_attempt_at) - clock.now();
    expect(await next('seven')).toBe(7_000);
    expect(await next('hour')).toBe(10_000);
    expect(await next('plain')).toBe(5_000);
    expect(await next('tooMany')).toBe(60_000);
    expect(await next('tooManyLater')).toBe(90_000); // within [60 s, 120 s]
    expect(await next('hang')).toBe(60_000);
  });

  it('redeliver: a manual attempt, recorded as such, that can turn a failed delivery into a success', async () => {
    const clock = drivenClock();
    let healthy = false;
    const r = await recv((_q, res) => {
      res.statusCode = healthy ? 200 : 500;
      res.end(healthy ? 'thanks' : 'down');
    });
    const { accountId } = await newAccount(engine);
    const hookId = await insertHook(engine, accountId, { url: r.url });
    const first = await raiseEvent(engine, accountId, { now: clock.now() });
    const second = await raiseEvent(engine, accountId, { now: clock.now() });
    const d = delivery(clock, { retrySchedule: [] });
    await d.runDue();
    expect((await deliveryOf(engine, accountId, hookId, first))?.state).toBe('failed');

    healthy = true;
    clock.advance(60_000);
    const attempt = await d.redeliver(accountId, hookId, first);
    expect(attempt).toMatchObject({ trigger: 'manual', statuscode: 200, error: null, responsebody: 'thanks' });
    expect(await deliveryOf(engine, accountId, hookId, first)).toMatchObject({ state: 'succeeded', attempt_count: 1 });
    expect(r.requests.map((q) => q.headers['webhook-id'])).toEqual([
      webhookId(hookId, first),
      webhookId(hookId, second),
      webhookId(hookId, first),
    ]);

    const list = await listDeliveries(engine, accountId, hookId);
    expect([...list.keys()]).toEqual(['count', String(second), String(first)]); // newest first
    const entry = list.get(String(first)) as any;
    expect(entry).toMatchObject({
      state: 'succeeded',
      attemptcount: 1,
      webhookid: webhookId(hookId, first),
      nextattempt: null,
    });
    expect(entry.attempts.attempt.map((a: any) => [a.trigger, a.statuscode])).toEqual([
      ['scheduled', 500],
      ['manual', 200],
    ]);
    const failedOnly = await listDeliveries(engine, accountId, hookId, { state: 'failed' });
    expect([...failedOnly.keys()]).toEqual(['count', String(second)]);
    const page = await listDeliveries(engine, accountId, hookId, { limit: 1, before: second });
    expect([...page.keys()]).toEqual(['count', String(first)]);

    const other = await newAccount(engine);
    await expect(d.redeliver(other.accountId, hookId, first)).rejects.toBeInstanceOf(ApiError);
    await expect(listDeliveries(engine, other.accountId, hookId)).rejects.toBeInstanceOf(ApiError);
    await expect(listDeliveries(engine, accountId, hookId, { state: 'lost' })).rejects.toBeInstanceOf(ApiError);
  });
});

describe('the lease', () => {
  const ms = (deliveryLeaseMs: number, deliveryThreads: number) =>
    leaseMsFor({ deliveryLeaseMs, deliveryTimeoutMs: 10_000, deliveryThreads });

  it('outlasts the wait of a delivery claimed ahead: two rounds of the caps per sender thread, plus a minute', () => {
    expect(ms(0, 0)).toBe(80_000); // on the main thread: as with one thread
    expect(ms(0, 1)).toBe(80_000);
    // Each thread has its share of the overall cap; the busy hooks may all be on one of them.
    expect(ms(0, 4)).toBe(2 * 4 * 10_000 + 60_000);
  });

  it('a configured lease is raised to that wait, never lowered', () => {
    expect(ms(9_000, 1)).toBe(21_000);
    expect(ms(9_000, 3)).toBe(61_000);
    expect(ms(300_000, 3)).toBe(300_000);
  });
});
