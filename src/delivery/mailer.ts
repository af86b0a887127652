// Admin e-mail through an outbox: a message is first written to the `mailbox` table — in the transaction
// that decided to send it (a delivery failing for good), so a crash can lose neither — and then sent over
// SMTP (HOOKLINE_SMTP_URL) by the mail loop, at least once, retried on MAIL_RETRY_SCHEDULE. Without SMTP
// the message is only kept, and `hookline mailbox` shows it. A message being sent is leased to its mail
// loop (MAIL_LEASE_MS, its owner named as a delivery engine's: owners.ts); a mail loop starting after a
// crash sends at once what a stopped process of its host was sending, instead of when that lease runs out.
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { StorageUnavailable, type Engine, type Executor } from '../storage/port.js';
import type { Clock } from './clock.js';
import { newOwner, takeOverFromDead } from './owners.js';
import { OutageReport } from './outage.js';

export interface MailMessage {
  accountId: number;
  to: string[];
  subject: string;
  text: string;
}

export interface MailboxRow {
  account_id: number;
  id: number;
  to_addr: string;
  subject: string;
  body: string;
  created_at: number;
  sent_at: number | null;
  /** when the mail loop sends (or tries again); null: nothing to send */
  next_send_at: number | null;
  send_attempts: number;
  last_error: string | null;
  /** the mail loop sending it now (owners.ts); null: nobody is */
  lease_owner: string | null;
}

/** Delays before each new try of an unsent e-mail (after the first); then it is given up (and kept). */
export const MAIL_RETRY_SCHEDULE = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 6 * 3_600_000];
/** How long a message being sent is held by the node sending it (longer than any SMTP timeout). */
const MAIL_LEASE_MS = 2 * 60_000;
/** Messages sent per round of the mail loop at most. */
const MAIL_BATCH = 20;

/** How a mailbox row stands, in words (for `hookline mailbox`). */
export function mailState(m: MailboxRow): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  if (m.sent_at !== null) return `sent ${iso(m.sent_at)}`;
  if (m.next_send_at !== null)
    return m.send_attempts === 0
      ? 'waiting to be sent'
      : `not sent yet (try ${m.send_attempts} failed: ${m.last_error ?? '?'}; next try ${iso(m.next_send_at)})`;
  if (m.send_attempts > 0) return `not sent: gave up after ${m.send_attempts} tries (${m.last_error ?? '?'})`;
  return 'not sent (kept locally: no SMTP server configured)';
}

export class Mailer {
  private readonly transport: Transporter | null;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<number> | null = null;
  private again = false;
  /** whose lease a message being sent here carries (owners.ts) */
  readonly owner = newOwner();

  constructor(
    private readonly engine: Engine,
    private readonly options: { smtpUrl: string; from: string; clock: Clock; logger?: Logger; pollMs?: number },
  ) {
    this.transport = options.smtpUrl
      ? nodemailer.createTransport({
          url: options.smtpUrl,
          // Bounded waits: a dead mail server must not hold the mail loop for minutes.
          connectionTimeout: 10_000,
          greetingTimeout: 10_000,
          socketTimeout: 30_000,
        })
      : null;
  }

  /**
   * Queues a message inside the caller's transaction: it is sent after that transaction commits (by the
   * mail loop, or flush()). Answers its id.
   */
  async enqueue(x: Executor, msg: MailMessage): Promise<number> {
    const id = await x.nextId();
    const now = this.options.clock.now();
    await x.run(
      `INSERT INTO mailbox (account_id, id, to_addr, subject, body, created_at, sent_at, next_send_at, send_attempts)
       VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 0)`,
      [msg.accountId, id, msg.to.join(', '), msg.subject, msg.text, now, this.transport ? now : null],
    );
    return id;
  }

  /** Queues and sends at once (SMTP errors are recorded on the message, not thrown). */
  async send(msg: MailMessage): Promise<{ id: number; sent: boolean; error?: string }> {
    const id = await this.engine.write((x) => this.enqueue(x, msg));
    await this.flush();
    const [row] = await this.engine.readOne<MailboxRow>('SELECT * FROM mailbox WHERE account_id = ? AND id = ?', [
      msg.accountId,
      id,
    ]);
    return { id, sent: row?.sent_at != null, ...(row?.last_error ? { error: row.last_error } : {}) };
  }

  /**
   * Starts the mail loop: sends what is due now and every pollMs (default 5 s), and at wake(). First, what
   * stopped processes of this host were sending is due again at once (takeOverFromDead).
   */
  start(): void {
    if (!this.transport || this.timer) return;
    // A database that is away fails every tick: that is said once, until a tick gets through again.
    const outage = new OutageReport();
    const tick = () => {
      void this.flush()
        .then(() => void outage.succeeded())
        .catch((e: Error) => {
          // Any other failure means the database answered: an outage after it is said again.
          if (!(e instanceof StorageUnavailable)) outage.succeeded();
          else if (!outage.failed()) return;
          this.options.logger?.error({ err: e.message }, 'sending admin e-mail failed');
        })
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.options.pollMs ?? 5_000);
        });
    };
    this.timer = setTimeout(() => void this.takeOverFromDead().finally(tick), 0);
  }

  /**
   * The messages a stopped process of this host was sending (a crash, a kill -9) are due now rather than
   * when their leases run out; each is sent again under the same Message-ID, its next try counted. Answers
   * how many. Never throws: the leases run out anyway.
   */
  async takeOverFromDead(): Promise<number> {
    const now = this.options.clock.now();
    return takeOverFromDead({
      holders: async () =>
        (
          await this.engine.readOne<{ owner: string }>(
            `SELECT DISTINCT lease_owner AS owner FROM mailbox
              WHERE next_send_at IS NOT NULL AND next_send_at > ? AND lease_owner IS NOT NULL`,
            [now],
          )
        ).map((r) => r.owner),
      expire: async (owner) =>
        (
          await this.engine.write((x) =>
            x.run(
              `UPDATE mailbox SET next_send_at = ?, lease_owner = NULL
                WHERE next_send_at IS NOT NULL AND next_send_at > ? AND lease_owner = ?`,
              [now, now, owner],
            ),
          )
        ).changes,
      what: 'e-mails',
      logger: this.options.logger,
    });
  }

  /** Something was queued: send it now rather than at the next poll. */
  wake(): void {
    if (this.transport && this.timer) void this.flush().catch(() => undefined);
  }

  /**
   * Sends every message that is due, now. Answers how many were sent. Concurrent calls share one round
   * (and a call during a round runs another after it, so nothing queued meanwhile waits for the poll).
   */
  async flush(): Promise<number> {
    if (!this.transport) return 0;
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      let sent = 0;
      do {
        this.again = false;
        for (;;) {
          const n = await this.round();
          sent += n.sent;
          if (n.claimed < MAIL_BATCH) break;
        }
      } while (this.again);
      return sent;
    })().finally(() => (this.flushing = null));
    return this.flushing;
  }

  /** Claims due messages (a lease: next_send_at moves past the send), sends each, records the outcome. */
  private async round(): Promise<{ claimed: number; sent: number }> {
    const now = this.options.clock.now();
    // A read first: an idle mail loop never takes the write transaction (SQLite's one writer).
    const [any] = await this.engine.readOne(
      'SELECT 1 AS due FROM mailbox WHERE next_send_at IS NOT NULL AND next_send_at <= ? LIMIT 1',
      [now],
    );
    if (!any) return { claimed: 0, sent: 0 };
    const due = await this.engine.write(async (x) => {
      const rows = await x.all<MailboxRow>(
        `SELECT * FROM mailbox WHERE next_send_at IS NOT NULL AND next_send_at <= ?
          ORDER BY next_send_at, id LIMIT ${MAIL_BATCH} ${x.dialect.skipLocked ? 'FOR UPDATE SKIP LOCKED' : ''}`,
        [now],
      );
      for (const m of rows)
        await x.run(
          'UPDATE mailbox SET next_send_at = ?, send_attempts = send_attempts + 1, lease_owner = ? WHERE account_id = ? AND id = ?',
          [now + MAIL_LEASE_MS, this.owner, m.account_id, m.id],
        );
      return rows;
    });
    let sent = 0;
    for (const m of due) {
      const error = await this.smtp(m);
      const at = this.options.clock.now();
      const tries = m.send_attempts + 1;
      const retry = MAIL_RETRY_SCHEDULE[tries - 1];
      await this.engine.write((x) =>
        error === null
          ? x.run(
              'UPDATE mailbox SET sent_at = ?, next_send_at = NULL, last_error = NULL, lease_owner = NULL WHERE account_id = ? AND id = ?',
              [at, m.account_id, m.id],
            )
          : x.run(
              'UPDATE mailbox SET next_send_at = ?, last_error = ?, lease_owner = NULL WHERE account_id = ? AND id = ?',
              [retry === undefined ? null : at + retry, error, m.account_id, m.id],
            ),
      );
      if (error === null) sent++;
      else
        this.options.logger?.warn(
          { accountId: m.account_id, mailId: m.id, tries, err: error },
          retry === undefined ? 'admin e-mail not sent; given up (kept in the mailbox)' : 'admin e-mail not sent yet',
        );
    }
    return { claimed: due.length, sent };
  }

  private async smtp(m: MailboxRow): Promise<string | null> {
    try {
      await this.transport!.sendMail({
        from: this.options.from,
        to: m.to_addr.split(', '),
        subject: m.subject,
        text: m.body,
        // The same Message-ID on every try: a receiving server (or person) can tell a repeat.
        messageId: `<mailbox-${m.account_id}-${m.id}@hookline>`,
      });
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  }

  /** Stops the mail loop, lets a round in progress finish, closes the SMTP connections. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flushing?.catch(() => undefined);
    this.transport?.close();
  }
}

/** The mailbox, newest first (for `hookline mailbox`). */
export async function listMailbox(
  engine: Engine,
  options: { accountId?: number; limit?: number } = {},
): Promise<MailboxRow[]> {
  const limit = Math.max(1, Math.min(options.limit ?? 50, 1000));
  return options.accountId === undefined
    ? engine.readOne<MailboxRow>('SELECT * FROM mailbox ORDER BY created_at DESC, id DESC LIMIT CAST(? AS INTEGER)', [
        limit,
      ])
    : engine.readOne<MailboxRow>(
        'SELECT * FROM mailbox WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT CAST(? AS INTEGER)',
        [options.accountId, limit],
      );
}
