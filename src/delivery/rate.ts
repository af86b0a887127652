// Rate limits per hook: a hook with a rate limit (`ratelimit`, notifications per second) is sent at most
// that many notifications a second, with bursts of at most one second's worth. The limit is applied when
// deliveries are claimed, not while they wait to be sent: a delivery is claimed only when a token is there for
// it, so nothing claimed waits on the limit under its lease.
//
// The bucket that decides is shared by every node, in the database (claim.ts SharedBuckets). These are each
// node's estimates of it: set from what the shared bucket held after a claim, refilled at the rate since. A
// hook whose estimate is empty is not claimed from at all (no write transaction), and since other nodes only
// ever take tokens, an estimate is never below the truth: it never holds a hook back that could be sent.

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimits {
  private readonly buckets = new Map<number, Bucket>();

  /** Whole notifications the hook may be sent now (Infinity without a limit). */
  available(hookId: number, rate: number, now: number): number {
    if (!(rate > 0)) return Infinity;
    return Math.floor(this.refill(hookId, rate, now).tokens);
  }

  /** The hook's bucket holds `tokens` now (what the shared bucket held after a claim). */
  set(hookId: number, rate: number, now: number, tokens: number): void {
    if (!(rate > 0)) return;
    const b = this.refill(hookId, rate, now);
    b.tokens = tokens;
  }

  private refill(hookId: number, rate: number, now: number): Bucket {
    let b = this.buckets.get(hookId);
    if (!b) {
      // A new bucket starts full: one second's worth (at least one).
      b = { tokens: Math.max(1, rate), at: now };
      if (this.buckets.size >= 100_000) this.buckets.clear();
      this.buckets.set(hookId, b);
    }
    const capacity = Math.max(1, rate);
    b.tokens = Math.min(capacity, b.tokens + (Math.max(0, now - b.at) * rate) / 1000);
    b.at = now;
    return b;
  }
}
