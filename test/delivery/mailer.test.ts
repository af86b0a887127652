// Admin e-mail on both engines: through a real SMTP server when configured, kept in the mailbox either way,
// and never lost when SMTP is missing or down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, makeEngine, type TestEngine } from '../support/engines.js';
import { Mailer, listMailbox } from '../../src/delivery/mailer.js';
import { closedPort, drivenClock, newAccount, smtpSink, type SmtpSink } from './helpers.js';

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
    mailer.close();
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
    mailer.close();
    expect(r.sent).toBe(false);
    expect(r.error).toMatch(/ECONNREFUSED|connect/i);
    expect(await listMailbox(db.engine, { accountId })).toMatchObject([{ subject: 'Down', sent_at: null }]);
  });
});
