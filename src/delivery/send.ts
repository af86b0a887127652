// Sending one notification over HTTP (undici): one shared keep-alive Agent, connections only to addresses the
// SSRF guard allows, redirects never followed, one deadline over connect + headers + body. Any 2xx is
// success; everything else — 3xx, 4xx, 5xx, timeout, refused or reset connection, DNS or TLS error, refused
// target — is a failed attempt, described in one line for the attempt log and the admin e-mail.
import net from 'node:net';
import { Agent, request } from 'undici';
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

  async send(n: Notification, stop?: AbortSignal): Promise<SendResult> {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    const deadline = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort();
    }, this.timeoutMs);
    const onStop = () => deadline.abort();
    stop?.addEventListener('abort', onStop, { once: true });
    let statusCode: number | null = null;
    let kept: Buffer[] = [];
    try {
      const host = new URL(n.url).hostname.replace(/^\[|\]$/g, '');
      // Node resolves nothing for an IP literal, so the connect lookup never sees it: check it here.
      if (net.isIP(host)) this.guard.assertAllowed(host);
      if (stop?.aborted) throw new Error('stopped');
      const res = await request(n.url, {
        dispatcher: this.agent,
        method: 'POST',
        headers: n.headers,
        body: n.body,
        signal: deadline.signal,
      });
      statusCode = res.statusCode;
      // Read to the end (an answer cut off mid-body is a failure), keeping the first 20 KB.
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (size < RESPONSE_KEEP) kept.push(chunk.subarray(0, RESPONSE_KEEP - size));
        size += chunk.length;
      }
      const body = text(kept);
      const ok = statusCode >= 200 && statusCode < 300;
      const retryAfter = header(res.headers['retry-after']);
      return {
        ok,
        statusCode,
        error: ok ? null : httpError(statusCode, header(res.headers.location)),
        responseBody: body,
        durationMs: ms(),
        retryAfter,
        aborted: false,
      };
    } catch (e) {
      const aborted = !timedOut && (stop?.aborted ?? false);
      const error = timedOut
        ? `timeout: no complete answer within ${this.timeoutMs} ms`
        : aborted
          ? 'stopped before the answer'
          : describe(e);
      const body = kept.length > 0 ? text(kept) : null;
      return { ok: false, statusCode, error, responseBody: body, durationMs: ms(), retryAfter: null, aborted };
    } finally {
      clearTimeout(timer);
      stop?.removeEventListener('abort', onStop);
      kept = [];
    }
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
