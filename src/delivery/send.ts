// Sending one notification over HTTP (undici): one shared keep-alive Agent, connections only to addresses the
// SSRF guard allows, redirects never followed, one deadline over connect + headers + body. Any 2xx is
// success; everything else — 3xx, 4xx, 5xx, timeout, refused or reset connection, DNS or TLS error, refused
// target — is a failed attempt, described in one line for the attempt log and the admin e-mail.
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import type { TargetGuard } from './ssrf.js';
import type { Notification } from './notification.js';

/** Response bytes kept in the attempt log. */
export const RESPONSE_KEEP = 20 * 1024;

export interface SendResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  durationMs: number;
  /** the Retry-After header as sent, if any */
  retryAfter: string | null;
  /** cut short by stop(), not by the receiver: not an attempt */
  aborted: boolean;
  /** how long it waited for a slot under the in-flight caps before the request started (caps.ts) */
  waitedMs: number;
}

/**
 * The receiver asked to slow down (429) or did not answer in time (every timeout is described starting
 * with "timeout"): its next try waits longer (schedule.ts slowDown).
 */
export function overloaded(r: Pick<SendResult, 'statusCode' | 'error'>): boolean {
  return r.statusCode === 429 || (r.error?.startsWith('timeout') ?? false);
}

/** A failed attempt that got no answer at all (nothing was sent, or what happened to it is unknown). */
export function failedAttempt(error: string): SendResult {
  return {
    ok: false,
    statusCode: null,
    error,
    responseBody: null,
    durationMs: 0,
    retryAfter: null,
    aborted: false,
    waitedMs: 0,
  };
}

/** Where a hook URL sends to, parsed once: the origin and path undici wants. */
interface Target {
  origin: string;
  path: string;
}

/** Hook URLs remembered parsed (and, for IP literals, checked); cleared when it grows past this. */
const TARGETS_KEPT = 10_000;

export class Sender {
  private readonly agent: Agent;
  private readonly targets = new Map<string, Target>();
  /** the requests in flight that a stop signal listened to cuts short */
  private readonly stoppable = new AttemptList();
  private readonly stops = new WeakSet<AbortSignal>();

  constructor(
    private readonly guard: TargetGuard,
    private readonly timeoutMs: number,
  ) {
    this.agent = new Agent({
      keepAliveTimeout: 10_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      // Every connection resolves through the guard: the address connected to is the address checked.
      // undici 7 follows no redirects unless the redirect interceptor is added, and it is not.
      connect: { lookup: guard.lookup, timeout: timeoutMs },
    });
  }

  /**
   * The URL parsed, and an IP literal checked against the guard (Node resolves nothing for an IP literal, so
   * the connect lookup never sees it). Only allowed targets are remembered: the guard's answer for an
   * address never changes, and a refused one is checked (and refused) again on every attempt.
   */
  private target(href: string): Target {
    let t = this.targets.get(href);
    if (t) return t;
    const url = new URL(href);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host)) this.guard.assertAllowed(host);
    t = { origin: url.origin, path: url.pathname + url.search };
    if (this.targets.size >= TARGETS_KEPT) this.targets.clear();
    this.targets.set(href, t);
    return t;
  }

  /** One listener per stop signal (not one per request): it cuts short every request in flight. */
  private listen(stop: AbortSignal): void {
    if (this.stops.has(stop)) return;
    this.stops.add(stop);
    stop.addEventListener('abort', () => this.stoppable.cutAll(), { once: true });
  }

  /**
   * One POST through undici's dispatch (no response stream, no AbortSignal per request: this is the
   * delivery's hot path). One deadline covers connect, headers and body.
   */
  send(n: Notification, stop?: AbortSignal): Promise<SendResult> {
    return new Promise<SendResult>((resolve) => {
      const attempt = new Attempt(this.timeoutMs, stop ? this.stoppable : null, resolve);
      try {
        const target = this.target(n.url);
        if (stop?.aborted) return attempt.cut('stop');
        if (stop) {
          this.listen(stop);
          this.stoppable.add(attempt);
        }
        attempt.post(this.agent, target, n);
      } catch (e) {
        attempt.fail(e);
      }
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  async destroy(): Promise<void> {
    await this.agent.destroy();
  }
}

/**
 * The stoppable requests in flight, linked through the attempts themselves. Not a Set: a Set that every
 * request enters and leaves keeps its finished requests reachable from the tables it leaves behind when it
 * grows and shrinks (old-generation garbage until the next full collection), and with them everything
 * each request held, so the young generation's collections copied and promoted megabytes of finished
 * requests: the sender thread's collections took a tenth of its time (undici's bare client: a hundredth).
 * Unlinking clears both links, so a finished request is referenced from nowhere.
 */
class AttemptList {
  private first: Attempt | null = null;

  add(a: Attempt): void {
    a.next = this.first;
    if (this.first) this.first.prev = a;
    this.first = a;
  }

  /** Unlinks `a` (nothing if it is not in the list). */
  remove(a: Attempt): void {
    if (a.prev) a.prev.next = a.next;
    else if (this.first === a) this.first = a.next;
    else return;
    if (a.next) a.next.prev = a.prev;
    a.prev = a.next = null;
  }

  /** Cuts short every request in the list (each leaves it as it finishes). */
  cutAll(): void {
    const all: Attempt[] = [];
    for (let a = this.first; a; a = a.next) all.push(a);
    for (const a of all) a.cut('stop');
  }
}

/** The deadline's callback: a plain function given the attempt (no closure per request). */
function onDeadline(a: Attempt): void {
  a.cut('timeout');
}

function postAgain(a: Attempt): void {
  a.again();
}

/**
 * One attempt's request, as undici's dispatch handler: what is kept of the answer, its deadline, and the
 * one SendResult it resolves with. One object per request (not a closure per callback): this is the
 * delivery's hot path.
 */
class Attempt implements Dispatcher.DispatchHandler {
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  private controller: Dispatcher.DispatchController | null = null;
  private cutBy: 'timeout' | 'stop' | null = null;
  private statusCode: number | null = null;
  private retryAfter: string | null = null;
  private location: string | null = null;
  private readonly kept: Buffer[] = [];
  private size = 0;
  private settled = false;
  /** what post() sent, kept to send it again once (staleConnection) */
  private agent: Agent | null = null;
  private target: Target | null = null;
  private notification: Notification | null = null;
  private resent = false;
  /** neighbours in the sender's AttemptList while this attempt is in it */
  prev: Attempt | null = null;
  next: Attempt | null = null;

  constructor(
    private readonly timeoutMs: number,
    /** the sender's list of stoppable requests, when this one is in it */
    private readonly stoppable: AttemptList | null,
    private readonly resolve: (r: SendResult) => void,
  ) {
    this.timer = setTimeout(onDeadline, timeoutMs, this);
  }

  /** Sends the request (the dispatch handler is this attempt). */
  post(agent: Agent, target: Target, n: Notification): void {
    this.agent = agent;
    this.target = target;
    this.notification = n;
    agent.dispatch(
      { origin: target.origin, path: target.path, method: 'POST', headers: n.headers, body: n.body },
      this,
    );
  }

  cut(why: 'timeout' | 'stop'): void {
    this.cutBy ??= why;
    this.controller?.abort(new Error(why === 'timeout' ? 'deadline' : 'stopped'));
    // Not dispatched yet (waiting for a connection): the connect timeout bounds that wait; answer now.
    if (!this.controller) this.fail(null);
  }

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.controller = c;
    if (this.cutBy) c.abort(new Error(this.cutBy));
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    this.statusCode = status;
    this.retryAfter = header(headers['retry-after']);
    this.location = header(headers.location);
  }

  /** Read to the end (an answer cut off mid-body is a failure), keeping the first 20 KB. */
  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.size < RESPONSE_KEEP) this.kept.push(chunk.subarray(0, RESPONSE_KEEP - this.size));
    this.size += chunk.length;
  }

  onResponseEnd(): void {
    const status = this.statusCode ?? 0;
    const ok = status >= 200 && status < 300;
    this.finish(ok, ok ? null : httpError(status, this.location), false);
  }

  onResponseError(_c: Dispatcher.DispatchController, e: Error): void {
    this.fail(e);
  }

  fail(e: unknown): void {
    if (!this.resent && this.agent && !this.cutBy && this.statusCode === null && staleConnection(e)) {
      // Within the same deadline and slot: to the receiver it is one more request with the same webhook-id.
      // After the closes already read (setImmediate), so that other idle connections the receiver closed at
      // the same moment are not taken for it.
      this.resent = true;
      this.controller = null;
      setImmediate(postAgain, this);
      return;
    }
    const aborted = this.cutBy === 'stop';
    const error =
      this.cutBy === 'timeout'
        ? `timeout: no complete answer within ${this.timeoutMs} ms`
        : aborted
          ? 'stopped before the answer'
          : describe(e);
    this.retryAfter = null;
    this.finish(false, error, aborted);
  }

  /** The second post (staleConnection), unless the attempt ended meanwhile (cut by its deadline or a stop). */
  again(): void {
    if (this.settled) return;
    try {
      this.post(this.agent!, this.target!, this.notification!);
    } catch (e) {
      this.fail(e);
    }
  }

  /** One object literal of one shape for every answer (no spread). */
  private finish(ok: boolean, error: string | null, aborted: boolean): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.stoppable?.remove(this);
    const { statusCode, kept } = this;
    this.resolve({
      ok,
      statusCode,
      error,
      responseBody: kept.length > 0 || statusCode !== null ? text(kept) : null,
      durationMs: Math.round(performance.now() - this.started),
      retryAfter: this.retryAfter,
      aborted,
      waitedMs: 0,
    });
  }
}

/**
 * A kept-alive connection that had answered before, closed by the receiver with no byte of this request's
 * answer: most likely the receiver's idle timeout closed it as the request went out (servers that give no
 * `Keep-Alive: timeout` hint: uvicorn closes after 5 s, gunicorn after 2 s, while undici keeps a connection
 * for 10 s here). undici checks a connection before reusing it, but a close still on its way over the
 * network is not seen. Such a request is sent once more at once (on a new connection, unless another idle
 * one is there), as browsers and Go's HTTP client do for requests that may be repeated, which a delivery
 * may (it carries its webhook-id, the same on every request). A fresh connection closed without an answer
 * is a failed attempt as before.
 */
function staleConnection(e: unknown): boolean {
  const err = e as { code?: unknown; socket?: { bytesRead?: unknown } } | null;
  // undici's SocketError ("other side closed") carries the socket's counters: bytes read before this request
  // are earlier answers (over TLS, bytesRead counts the decrypted bytes: the handshake is not in it).
  return err?.code === 'UND_ERR_SOCKET' && typeof err.socket?.bytesRead === 'number' && err.socket.bytesRead > 0;
}

/**
 * The kept bytes as text for the attempt log: invalid UTF-8 becomes U+FFFD, and so does NUL, which
 * PostgreSQL's text type cannot hold (a receiver's binary answer must not make the attempt unrecordable).
 */
function text(chunks: Buffer[]): string {
  return Buffer.concat(chunks).toString('utf8').replaceAll('\0', '\uFFFD');
}

function header(v: string | string[] | undefined): string | null {
  return (Array.isArray(v) ? v[0] : v) ?? null;
}

function httpError(status: number, location: string | null): string {
  if (status >= 300 && status < 400)
    return `HTTP ${status}: redirects are not followed${location ? ` (Location: ${location})` : ''}`;
  return `HTTP ${status}`;
}

const KNOWN: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'DNS: host not found',
  EAI_AGAIN: 'DNS: temporary failure',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed by the receiver',
  UND_ERR_CONNECT_TIMEOUT: 'timeout while connecting',
  UND_ERR_HEADERS_TIMEOUT: 'timeout waiting for the answer',
  UND_ERR_BODY_TIMEOUT: 'timeout reading the answer',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'answer shorter than its Content-Length',
  HL_REFUSED_TARGET: 'refused',
  // TLS: the receiver's certificate, checked against the system's CAs and NODE_EXTRA_CA_CERTS'.
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS: certificate not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS: certificate not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS: certificate not trusted',
  UNABLE_TO_GET_ISSUER_CERT: 'TLS: certificate not trusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS: certificate not trusted',
  CERT_UNTRUSTED: 'TLS: certificate not trusted',
  CERT_SIGNATURE_FAILURE: 'TLS: certificate not trusted',
  CERT_REVOKED: 'TLS: certificate revoked',
  CERT_HAS_EXPIRED: 'TLS: certificate expired',
  CERT_NOT_YET_VALID: 'TLS: certificate not yet valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS: certificate not for this host',
  EPROTO: 'TLS: handshake failed',
};
/** OpenSSL's own codes for a handshake that failed (a receiver that does not speak TLS, no common protocol). */
const SSL_ERROR = /^ERR_SSL_/;

/** One line for the attempt log: what failed, with the system's own code and message. */
export function describe(e: unknown): string {
  // Happy Eyeballs (several addresses) reports an AggregateError: its first cause says it best.
  const err = (e instanceof AggregateError && e.errors.length > 0 ? e.errors[0] : e) as NodeJS.ErrnoException & {
    cause?: unknown;
  };
  if (!(err instanceof Error)) return String(e);
  if (err.code === 'HL_REFUSED_TARGET') return err.message;
  const cause = err.cause instanceof Error ? `: ${describe(err.cause)}` : '';
  // OpenSSL's message spans lines of its internals; its reason ("wrong version number") says it.
  const reason = (err as { reason?: unknown }).reason;
  if (err.code && SSL_ERROR.test(err.code) && typeof reason === 'string') return `TLS: handshake failed (${reason})`;
  const what = err.code ? (KNOWN[err.code] ?? err.code) : err.name;
  return `${what} (${err.message})${cause}`;
}
