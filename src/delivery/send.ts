// Sending one notification over HTTP (undici): one shared keep-alive Agent, connections only to addresses the
// SSRF guard allows, redirects never followed, one deadline over connect + headers + body. Any 2xx is
// success; everything else — 3xx, 4xx, 5xx, timeout, refused or reset connection, DNS or TLS error, refused
// target — is a failed attempt, described in one line for the attempt log and the admin e-mail.
import net from 'node:net';
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
  /** cut-short functions of the requests in flight, for the stop signals listened to */
  private readonly cutters = new Set<(why: 'stop') => void>();
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
    stop.addEventListener('abort', () => this.cutters.forEach((cut) => cut('stop')), { once: true });
  }

  /**
   * One POST through undici's dispatch (no response stream, no AbortSignal per request: this is the
   * delivery's hot path). One deadline covers connect, headers and body.
   */
  send(n: Notification, stop?: AbortSignal): Promise<SendResult> {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    return new Promise<SendResult>((resolve) => {
      let controller: Dispatcher.DispatchController | null = null;
      let cut: 'timeout' | 'stop' | null = null;
      let statusCode: number | null = null;
      let retryAfter: string | null = null;
      let location: string | null = null;
      const kept: Buffer[] = [];
      let size = 0;
      let settled = false;
      // One object literal of one shape for every answer (no spread: this runs once per request).
      const finish = (ok: boolean, error: string | null, aborted: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.cutters.delete(cutShort);
        resolve({
          ok,
          statusCode,
          error,
          responseBody: kept.length > 0 || statusCode !== null ? text(kept) : null,
          durationMs: ms(),
          retryAfter,
          aborted,
          waitedMs: 0,
        });
      };
      const cutShort = (why: 'timeout' | 'stop') => {
        cut ??= why;
        controller?.abort(new Error(why === 'timeout' ? 'deadline' : 'stopped'));
        // Not dispatched yet (waiting for a connection): the connect timeout bounds that wait; answer now.
        if (!controller) fail(null);
      };
      const fail = (e: unknown) => {
        const aborted = cut === 'stop';
        const error =
          cut === 'timeout'
            ? `timeout: no complete answer within ${this.timeoutMs} ms`
            : aborted
              ? 'stopped before the answer'
              : describe(e);
        retryAfter = null;
        finish(false, error, aborted);
      };
      const timer = setTimeout(() => cutShort('timeout'), this.timeoutMs);
      try {
        const target = this.target(n.url);
        if (stop?.aborted) return cutShort('stop');
        if (stop) {
          this.listen(stop);
          this.cutters.add(cutShort);
        }
        this.agent.dispatch(
          { origin: target.origin, path: target.path, method: 'POST', headers: n.headers, body: n.body },
          {
            onRequestStart: (c) => {
              controller = c;
              if (cut) c.abort(new Error(cut));
            },
            onResponseStart: (_c, status, headers) => {
              statusCode = status;
              retryAfter = header(headers['retry-after']);
              location = header(headers.location);
            },
            // Read to the end (an answer cut off mid-body is a failure), keeping the first 20 KB.
            onResponseData: (_c, chunk) => {
              if (size < RESPONSE_KEEP) kept.push(chunk.subarray(0, RESPONSE_KEEP - size));
              size += chunk.length;
            },
            onResponseEnd: () => {
              const status = statusCode ?? 0;
              const ok = status >= 200 && status < 300;
              finish(ok, ok ? null : httpError(status, location), false);
            },
            onResponseError: (_c, e) => fail(e),
          },
        );
      } catch (e) {
        fail(e);
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
};

/** One line for the attempt log: what failed, with the system's own code and message. */
export function describe(e: unknown): string {
  // Happy Eyeballs (several addresses) reports an AggregateError: its first cause says it best.
  const err = (e instanceof AggregateError && e.errors.length > 0 ? e.errors[0] : e) as NodeJS.ErrnoException & {
    cause?: unknown;
  };
  if (!(err instanceof Error)) return String(e);
  if (err.code === 'HL_REFUSED_TARGET') return err.message;
  const cause = err.cause instanceof Error ? `: ${describe(err.cause)}` : '';
  const what = err.code ? (KNOWN[err.code] ?? err.code) : err.name;
  return `${what} (${err.message})${cause}`;
}
