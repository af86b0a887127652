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
}

/** A failed attempt that got no answer at all (nothing was sent, or what happened to it is unknown). */
export function failedAttempt(error: string): SendResult {
  return { ok: false, statusCode: null, error, responseBody: null, durationMs: 0, retryAfter: null, aborted: false };
}

export class Sender {
  private readonly agent: Agent;

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
      const finish = (r: Omit<SendResult, 'durationMs' | 'responseBody'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stop?.removeEventListener('abort', onStop);
        resolve({ ...r, durationMs: ms(), responseBody: kept.length > 0 || statusCode !== null ? text(kept) : null });
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
        finish({ ok: false, statusCode, error, retryAfter: null, aborted });
      };
      const timer = setTimeout(() => cutShort('timeout'), this.timeoutMs);
      const onStop = () => cutShort('stop');
      try {
        const url = new URL(n.url);
        const host = url.hostname.replace(/^\[|\]$/g, '');
        // Node resolves nothing for an IP literal, so the connect lookup never sees it: check it here.
        if (net.isIP(host)) this.guard.assertAllowed(host);
        if (stop?.aborted) return cutShort('stop');
        stop?.addEventListener('abort', onStop, { once: true });
        this.agent.dispatch(
          { origin: url.origin, path: url.pathname + url.search, method: 'POST', headers: n.headers, body: n.body },
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
              finish({
                ok,
                statusCode,
                error: ok ? null : httpError(status, location),
                retryAfter,
                aborted: false,
              });
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
