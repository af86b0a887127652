// Real parts for delivery tests: HTTP receivers and an SMTP server on loopback, a driven clock, and rows for
// an account, its hooks and events written through the product's own functions or plain SQL.
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createAccount } from '../../src/accounts/accounts.js';
import { raise, type EventType } from '../../src/records/events.js';
import type { TreeObject } from '../../src/dialect/tree.js';
import type { Engine } from '../../src/storage/port.js';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** over HTTPS: the server name the client asked for (SNI) */
  servername?: string;
}

export interface Receiver {
  url: string;
  port: number;
  requests: Received[];
  /** resolves once `n` requests have arrived */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, n: number) => void;

/**
 * An HTTP receiver on 127.0.0.1 (or `host`: `::1`, its URL an IPv6 literal); `handler` answers (or not) each
 * request after its body is read. With `tls` (a certificate and its key, PEM), an HTTPS receiver, its URL
 * naming localhost (the name its certificate is for).
 */
export async function receiver(
  handler: Handler = (_q, res) => res.end('ok'),
  options: { tls?: { cert: string | Buffer; key: string | Buffer }; host?: string } = {},
): Promise<Receiver> {
  const { tls, host = '127.0.0.1' } = options;
  const requests: Received[] = [];
  const waiters: (() => void)[] = [];
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const servername = tls ? ((req.socket as TLSSocket).servername as string | false) || undefined : undefined;
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, servername });
      waiters.splice(0).forEach((w) => w());
      handler(req, res, body, requests.length);
    });
  };
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as AddressInfo).port;
  const literal = host.includes(':') ? `[${host}]` : host;
  return {
    url: tls ? `https://localhost:${port}/hook` : `http://${literal}:${port}/hook`,
    port,
    requests,
    async waitFor(n, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (requests.length < n) {
        if (Date.now() > until) throw new Error(`receiver got ${requests.length} requests, wanted ${n}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export interface Mail {
  from: string;
  to: string[];
  /** headers unfolded, quoted-printable body decoded */
  text: string;
}

export interface SmtpSink {
  url: string;
  mails: Mail[];
  close(): Promise<void>;
}

const qp = (s: string) =>
  Buffer.from(
    s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  ).toString('utf8');

/** Headers unfolded with their =?UTF-8?Q?…?= words decoded; a quoted-printable body decoded. */
function decodeMail(raw: string): string {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw
    .slice(0, split)
    .replace(/\r\n[ \t]+/g, ' ')
    .replace(/\?= =\?UTF-8\?Q\?/gi, '')
    .replace(/=\?UTF-8\?Q\?(.*?)\?=/gi, (_m, w: string) => qp(w.replace(/_/g, ' ')));
  const body = raw.slice(split + 4);
  return `${head}\r\n\r\n${/quoted-printable/i.test(head) ? qp(body) : body}`;
}

/** A real SMTP server on loopback (no TLS, no auth) keeping what it receives. */
export async function smtpSink(): Promise<SmtpSink> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          text: decodeMail(Buffer.concat(chunks).toString('latin1')),
        });
        callback();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export interface DrivenClock {
  now(): number;
  advance(ms: number): void;
}

export function drivenClock(start = 1_800_000_000_000): DrivenClock {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

let seq = 0;

export async function newAccount(engine: Engine): Promise<{ accountId: number; adminEmail: string }> {
  const adminEmail = `admin-${process.pid}-${Date.now()}-${++seq}@example.org`;
  const { accountId } = await createAccount(engine, { name: 'Acme', adminEmail });
  return { accountId, adminEmail };
}

export interface HookSpec {
  url: string;
  title?: string;
  event?: EventType;
  constrainttype?: string;
  contenttype?: 'xml' | 'json' | 'form';
  secret?: string;
  active?: number;
}

/** A hook row written directly (no URL check: tests point hooks at loopback). */
export async function insertHook(engine: Engine, accountId: number, h: HookSpec): Promise<number> {
  return engine.write(async (x) => {
    const id = await x.nextId();
    await x.run(
      `INSERT INTO hooks (account_id, id, type, title, active, event, constrainttype, url, contenttype, secret, created_at, updated_at)
       VALUES (?, ?, 'web', ?, ?, ?, ?, ?, ?, ?, 1, 1)`,
      [
        accountId,
        id,
        h.title ?? 'test hook',
        h.active ?? 1,
        h.event ?? 'items.create',
        h.constrainttype ?? 'all',
        h.url,
        h.contenttype ?? 'json',
        h.secret ?? '',
      ],
    );
    return id;
  });
}

/** An event with its deliveries, as a change would raise it. */
export async function raiseEvent(
  engine: Engine,
  accountId: number,
  e: { now: number; type?: EventType; objectId?: number; objectKind?: string; content?: TreeObject },
): Promise<number> {
  const r = await engine.write((x) =>
    raise(x, {
      accountId,
      type: e.type ?? 'items.create',
      objectId: e.objectId ?? 467069,
      objectKind: e.objectKind ?? 'contact',
      content: e.content ?? { item: { id: e.objectId ?? 467069, name: 'Aaron Baileys' } },
      now: e.now,
    }),
  );
  return r.id;
}

export interface DeliveryState {
  state: string;
  attempt_count: number;
  next_attempt_at: number;
  lease_until: number | null;
  lease_owner: string | null;
  expired_leases: number;
}

/** A hook's state as the delivery engine changes it: on or off, and since when it has been failing. */
export async function hookState(engine: Engine, accountId: number, hookId: number) {
  return engine.read((x) =>
    x.get<{ active: number; failing_since: number | null }>(
      'SELECT active, failing_since FROM hooks WHERE account_id = ? AND id = ?',
      [accountId, hookId],
    ),
  );
}

export async function deliveryOf(engine: Engine, accountId: number, hookId: number, eventId: number) {
  return engine.read((x) =>
    x.get<DeliveryState>(
      'SELECT state, attempt_count, next_attempt_at, lease_until, lease_owner, expired_leases FROM deliveries WHERE account_id = ? AND hook_id = ? AND event_id = ?',
      [accountId, hookId, eventId],
    ),
  );
}

export async function attemptRows(engine: Engine, accountId: number, hookId: number, eventId: number) {
  return engine.read((x) =>
    x.all<{
      trigger: string;
      started_at: number;
      status_code: number | null;
      error: string | null;
      response_body: string | null;
    }>(
      'SELECT trigger, started_at, status_code, error, response_body FROM attempts WHERE account_id = ? AND hook_id = ? AND event_id = ? ORDER BY started_at, id',
      [accountId, hookId, eventId],
    ),
  );
}
