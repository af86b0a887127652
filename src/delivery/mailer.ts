// Admin e-mail: sent over SMTP when HOOKLINE_SMTP_URL is set, and always kept in the `mailbox` table (with
// sent_at once sent), so `hookline mailbox` shows what was sent — or what would have been, without SMTP.
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Engine } from '../storage/port.js';
import type { Clock } from './clock.js';

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
}

export class Mailer {
  private readonly transport: Transporter | null;

  constructor(
    private readonly engine: Engine,
    private readonly options: { smtpUrl: string; from: string; clock: Clock; logger?: Logger },
  ) {
    this.transport = options.smtpUrl
      ? nodemailer.createTransport({
          url: options.smtpUrl,
          // Bounded waits: a dead mail server must not hold a delivery worker for minutes.
          connectionTimeout: 10_000,
          greetingTimeout: 10_000,
          socketTimeout: 30_000,
        })
      : null;
  }

  /**
   * Sends (when SMTP is configured) and stores the message. An SMTP failure is logged, not thrown: the
   * message stays in the mailbox with sent_at NULL.
   */
  async send(msg: MailMessage): Promise<{ id: number; sent: boolean; error?: string }> {
    let sentAt: number | null = null;
    let error: string | undefined;
    if (this.transport) {
      try {
        await this.transport.sendMail({ from: this.options.from, to: msg.to, subject: msg.subject, text: msg.text });
        sentAt = this.options.clock.now();
      } catch (e) {
        error = (e as Error).message;
        this.options.logger?.warn({ accountId: msg.accountId, err: error }, 'admin e-mail not sent');
      }
    }
    const id = await this.engine.write(async (x) => {
      const id = await x.nextId();
      await x.run(
        'INSERT INTO mailbox (account_id, id, to_addr, subject, body, created_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [msg.accountId, id, msg.to.join(', '), msg.subject, msg.text, this.options.clock.now(), sentAt],
      );
      return id;
    });
    return { id, sent: sentAt !== null, ...(error ? { error } : {}) };
  }

  close(): void {
    this.transport?.close();
  }
}

/** The mailbox, newest first (for `hookline mailbox`). */
export async function listMailbox(
  engine: Engine,
  options: { accountId?: number; limit?: number } = {},
): Promise<MailboxRow[]> {
  const limit = Math.max(1, Math.min(options.limit ?? 50, 1000));
  return engine.read((x) =>
    options.accountId === undefined
      ? x.all<MailboxRow>('SELECT * FROM mailbox ORDER BY created_at DESC, id DESC LIMIT ?', [limit])
      : x.all<MailboxRow>('SELECT * FROM mailbox WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT ?', [
          options.accountId,
          limit,
        ]),
  );
}
