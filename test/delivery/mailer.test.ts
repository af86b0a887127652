// Admin e-mail on both engines: through a real SMTP server when configured, kept in the mailbox either way,
// and never lost when SMTP is missing or down: the mailbox is an outbox, retried until the last try.
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, makeEngine, type TestEngine } from '../support/engines.js';
import { MAIL_RETRY_SCHEDULE, Mailer, listMailbox, mailState } from '../../src/delivery/mailer.js';
import { closedPort, drivenClock, newAccount, smtpSink, type SmtpSink } from './helpers.js';
import { StorageUnavailable, type Engine } from '../../src/storage/port.js';
import type { Logger } from 'pino';

describe.each(ENGINES)('mailer on %s', (name) => {
  let db: TestEngine;
  let smtp: SmtpSink;
  beforeAll(async () => {
    db = await makeEngine(name);
    smtp = await smtpSink();
  });
  afterAll(async () => {
    await smtp.close();
    await db.destroy();
  });

  it('sends over SMTP and keeps a copy with sent_at', async () => {
    const clock = drivenClock();
    const { accountId } = await newAccount(db.engine);
    const mailer = new Mailer(db.engine, { smtpUrl: smtp.url, from: 'hookline@test.example', clock });
    const r = await mailer.send({ accountId, to: ['a@example.org', 'b@example.org'], subject: 'Hi', text: 'Body ü' });
    await mailer.close();
    expect(r.sent).toBe(true);
    const mail = smtp.mails[smtp.mails.length - 1];
    expect(mail.to).toEqual(['a@example.org', 'b@example.org']);
    expect(mail.from).toBe('hookline@test.example');
    expect(mail.text).toContain('Subject: Hi');
    expect(mail.text).toContain('Body ü');
    const [row] = await listMailbox(db.engine, { accountId });
    expect(row).toMatchObject({ id: r.id, to_addr: 'a@example.org, b@example.org', subject: 'Hi', body: 'Body ü' });
    expect(row.sent_at).toBe(clock.now());
  });

  it('without SMTP the message is kept in the mailbox, unsent', async () => {
    const { accountId } = await newAccount(db.engine);
    const mailer = new Mailer(db.engine, { smtpUrl: '', from: 'x@test', clock: drivenClock() });
    const r = await mailer.send({ accountId, to: ['a@example.org'], subject: 'Kept', text: 'here' });
    expect(r.sent).toBe(false);
    expect(await listMailbox(db.engine, { accountId })).toMatchObject([{ subject: 'Kept', sent_at: null }]);
    expect((await listMailbox(db.engine)).some((m) => m.id === r.id)).toBe(true);
  });

  it('an SMTP server that is down: logged, kept unsent, not thrown', async () => {
    const { accountId } = await newAccount(db.engine);
    const port = await closedPort();
    const mailer = new Mailer(db.engine, { smtpUrl: `smtp://127.0.0.1:${port}`, from: 'x@test', clock: drivenClock() });
    const r = await mailer.send({ accountId, to: ['a@example.org'], subject: 'Down', text: 'x' });
    await mailer.close();
    expect(r.sent).toBe(false);
    expect(r.error).toMatch(/ECONNREFUSED|connect/i);
    expect(await listMailbox(db.engine, { accountId })).toMatchObject([{ subject: 'Down', sent_at: null }]);
  });
});

describe.each(ENGINES)('mail outbox on %s', (name) => {
  let db: TestEngine;
  let smtp: SmtpSink;
  beforeAll(async () => {
    smtp = await smtpSink();
  });
  afterAll(async () => smtp.close());

  it('a message queued in a transaction is sent by whichever mailer flushes next, once', async () => {
    db = await makeEngine(name);
    try {
      const clock = drivenClock();
      const { accountId } = await newAccount(db.engine);
      const before = smtp.mails.length;
      // Queued with the change that caused it; the process "dies" before sending (nobody flushes).
      const queuing = new Mailer(db.engine, { smtpUrl: smtp.url, from: 'x@test', clock });
      const id = await db.engine.write((x) =>
        queuing.enqueue(x, { accountId, to: ['a@example.org'], subject: 'Queued', text: 'q' }),
      );
      expect(smtp.mails.length).toBe(before);
      const [row] = await listMailbox(db.engine, { accountId });
      expect(row).toMatchObject({ id, sent_at: null, next_send_at: clock.now(), send_attempts: 0 });
      expect(mailState(row)).toBe('waiting to be sent');
      // The next process's mailer sends it; a second flush sends nothing more.
      const next = new Mailer(db.engine, { smtpUrl: smtp.url, from: 'x@test', clock });
      expect(await next.flush()).toBe(1);
      expect(await next.flush()).toBe(0);
      await next.close();
      await queuing.close();
      expect(smtp.mails.length - before).toBe(1);
      expect(smtp.mails[smtp.mails.length - 1].text).toContain('Subject: Queued');
      expect((await listMailbox(db.engine, { accountId }))[0]).toMatchObject({
        sent_at: clock.now(),
        next_send_at: null,
      });
    } finally {
      await db.destroy();
    }
  });

  it('at start, sends at once what a stopped process of this host was sending; live and foreign holders keep theirs', async () => {
    db = await makeEngine(name);
    const clock = drivenClock();
    const alive = new Mailer(db.engine, { smtpUrl: smtp.url, from: 'x@test', clock });
    const mailer = new Mailer(db.engine, { smtpUrl: smtp.url, from: 'x@test', clock, pollMs: 60_000 });
    try {
      const { accountId } = await newAccount(db.engine);
      // A pid no process has: one that has just exited.
      const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
      const host = os.hostname();
      const owners = [
        `${host}:${deadPid}:aaaaaa`, // a crashed process of this host
        `${host}:${process.ppid}:cccccc`, // a live process of this host
        `other-host.example:${deadPid}:dddddd`, // another host: not ours to judge
        alive.owner, // a mail loop of this process
      ];
      const ids: number[] = [];
      for (const [i, owner] of owners.entries()) {
        const id = await db.engine.write((x) =>
          alive.enqueue(x, { accountId, to: ['a@example.org'], subject: `Held ${i}`, text: 'x' }),
        );
        ids.push(id);
        // As a claim leaves it while its holder sends it: leased, one try counted.
        await db.engine.write((x) =>
          x.run(
            'UPDATE mailbox SET next_send_at = ?, send_attempts = 1, lease_owner = ? WHERE account_id = ? AND id = ?',
            [clock.now() + 120_000, owner, accountId, id],
          ),
        );
      }
      const before = smtp.mails.length;
      mailer.start();
      for (let i = 0; i < 200 && smtp.mails.length === before; i++) await new Promise((r) => setTimeout(r, 25));
      await mailer.flush();
      expect(smtp.mails.slice(before).map((m) => /Subject: (.*)/.exec(m.text)?.[1])).toEqual(['Held 0']);
      const rows = new Map((await listMailbox(db.engine, { accountId })).map((m) => [m.id, m]));
      // Sent under its next try, its lease let go.
      expect(rows.get(ids[0])).toMatchObject({
        sent_at: clock.now(),
        next_send_at: null,
        send_attempts: 2,
        lease_owner: null,
      });
      for (const [i, id] of ids.slice(1).entries())
        expect(rows.get(id)).toMatchObject({
          sent_at: null,
          next_send_at: clock.now() + 120_000,
          send_attempts: 1,
          lease_owner: owners[i + 1],
        });
      // Nothing more to take over.
      expect(await mailer.takeOverFromDead()).toBe(0);
    } finally {
      await mailer.close();
      await alive.close();
      await db.destroy();
    }
  });

  it('SMTP down: retried on the schedule, sent when it is back; given up (and kept) after the last try', async () => {
    db = await makeEngine(name);
    try {
      const clock = drivenClock();
      const { accountId } = await newAccount(db.engine);
      const port = await closedPort();
      const down = new Mailer(db.engine, { smtpUrl: `smtp://127.0.0.1:${port}`, from: 'x@test', clock });
      const up = new Mailer(db.engine, { smtpUrl: smtp.url, from: 'x@test', clock });
      const t0 = clock.now();
      const late = await down.send({ accountId, to: ['a@example.org'], subject: 'Late', text: 'l' });
      expect(late.sent).toBe(false);
      let [row] = await listMailbox(db.engine, { accountId });
      expect(row).toMatchObject({ send_attempts: 1, next_send_at: t0 + MAIL_RETRY_SCHEDULE[0] });
      expect(mailState(row)).toMatch(/^not sent yet \(try 1 failed: .*ECONNREFUSED/);
      // Not before its time, even with SMTP back.
      clock.advance(MAIL_RETRY_SCHEDULE[0] - 1);
      const before = smtp.mails.length;
      expect(await up.flush()).toBe(0);
      clock.advance(1);
      expect(await up.flush()).toBe(1);
      expect(smtp.mails.length - before).toBe(1);
      [row] = await listMailbox(db.engine, { accountId });
      expect(row).toMatchObject({ subject: 'Late', sent_at: clock.now(), send_attempts: 2, last_error: null });

      // A server that stays down: one try and then one per entry of the schedule, then given up.
      const lost = await down.send({ accountId, to: ['a@example.org'], subject: 'Never', text: 'n' });
      for (const wait of MAIL_RETRY_SCHEDULE) {
        clock.advance(wait);
        expect(await down.flush()).toBe(0);
      }
      clock.advance(365 * 86_400_000);
      expect(await down.flush()).toBe(0);
      row = (await listMailbox(db.engine, { accountId })).find((m) => m.id === lost.id)!;
      expect(row).toMatchObject({ sent_at: null, next_send_at: null, send_attempts: MAIL_RETRY_SCHEDULE.length + 1 });
      expect(mailState(row)).toMatch(/^not sent: gave up after 6 tries/);
      await down.close();
      await up.close();
    } finally {
      await db.destroy();
    }
  });
});

describe('mail loop while the database is away', () => {
  it('logs the failure once, not at every tick, and again after the database came back and went again', async () => {
    const db = await makeEngine('sqlite');
    const smtp = await smtpSink();
    // The real engine, whose reads and writes fail as unavailable while `away` (as a database that is down).
    let away = true;
    const down = () => Promise.reject(new StorageUnavailable('PostgreSQL cannot be reached (test)'));
    const engine: Engine = {
      ...db.engine,
      read: (fn) => (away ? down() : db.engine.read(fn)),
      readOne: (sql, params) => (away ? down() : db.engine.readOne(sql, params)),
      write: (fn) => (away ? down() : db.engine.write(fn)),
    };
    const logged: string[] = [];
    const logger = { error: (_o: object, msg: string) => void logged.push(msg) } as unknown as Logger;
    const sendFailures = () => logged.filter((m) => m === 'sending admin e-mail failed').length;
    const mailer = new Mailer(engine, { smtpUrl: smtp.url, from: 'x@test', clock: drivenClock(), logger, pollMs: 20 });
    try {
      mailer.start();
      await new Promise((r) => setTimeout(r, 300));
      // About fifteen ticks, one line (beside the start's one attempt to take over stopped processes' mail).
      expect(sendFailures()).toBe(1);
      // Back for a while (ticks get through), then away again: said again, once.
      away = false;
      await new Promise((r) => setTimeout(r, 300));
      away = true;
      await new Promise((r) => setTimeout(r, 300));
      expect(sendFailures()).toBe(2);
    } finally {
      away = false;
      await mailer.close();
      await smtp.close();
      await db.destroy();
    }
  });
});
