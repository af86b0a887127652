// The API quota (dialect §1's 429): how many requests an account may make per window, each batch part
// counting as one. A token bucket per account, in this server process: it holds the quota's requests and
// refills at the quota's rate, so a client that keeps under the rate is never refused and a burst of up to
// the whole quota passes at once. Off unless HOOKLINE_API_QUOTA sets it.

export interface QuotaRule {
  /** requests per window */
  requests: number;
  windowMs: number;
}

export interface Taken {
  ok: boolean;
  /** whole requests left in the bucket after this one */
  remaining: number;
  /** when refused: seconds until a request would pass */
  retryAfterS: number;
}

export class ApiQuota {
  private readonly buckets = new Map<number, { tokens: number; at: number }>();

  constructor(readonly rule: QuotaRule) {}

  take(accountId: number, now: number): Taken {
    const { requests, windowMs } = this.rule;
    let b = this.buckets.get(accountId);
    if (b === undefined) {
      b = { tokens: requests, at: now };
      this.buckets.set(accountId, b);
    }
    // A clock set back refills nothing and takes nothing: the bucket's time moves to now.
    b.tokens = Math.min(requests, b.tokens + (Math.max(0, now - b.at) * requests) / windowMs);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true, remaining: Math.floor(b.tokens), retryAfterS: 0 };
    }
    return {
      ok: false,
      remaining: 0,
      retryAfterS: Math.max(1, Math.ceil(((1 - b.tokens) * windowMs) / requests / 1000)),
    };
  }
}
