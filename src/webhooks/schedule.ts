// The retry schedule: when a failed attempt is tried again. A delivery gets 1 + schedule.length attempts in
// total; each retry waits its scheduled delay ±20 % (jitter spreads a burst of failures so a recovering
// receiver is not hit by all of them at the same instant).

export const JITTER = 0.2;

/** The least wait after a receiver said "slow down" (429) or did not answer in time, as Svix does. */
export const SLOW_DOWN_MS = 60_000;

/**
 * Delay before the attempt after attempt number `attempt` (1-based: the first try is attempt 1), or null
 * when that was the last one.
 */
export function nextDelay(
  attempt: number,
  schedule: readonly number[],
  random: () => number = Math.random,
): number | null {
  if (attempt < 1 || attempt > schedule.length) return null;
  const base = schedule[attempt - 1];
  return Math.max(0, Math.round(base * (1 + (random() * 2 - 1) * JITTER)));
}

/**
 * Retry-After, as seconds or an HTTP date, in ms from now; null when absent or unreadable. A date in the
 * past means "now" (0).
 */
export function parseRetryAfter(header: string | string[] | undefined, now: number): number | null {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP date starts with the day name; anything else ("-5", "1.5") is unreadable, not a year.
  if (!/^[A-Za-z]/.test(value)) return null;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/**
 * A receiver's Retry-After is honoured inside [delay, 2 × delay] of the scheduled (jittered) delay:
 * - never sooner than scheduled: a receiver cannot pull retries forward and turn the schedule into a
 *   hammering loop (Retry-After: 0);
 * - at most twice as late: a receiver cannot park a delivery for days (Retry-After: 999999), and the
 *   total time until the admin hears of a failure stays within twice the configured schedule.
 */
export function applyRetryAfter(delay: number, retryAfterMs: number | null): number {
  if (retryAfterMs === null) return delay;
  return Math.min(2 * delay, Math.max(delay, retryAfterMs));
}

/**
 * After a 429 or a timeout the receiver is overloaded: the next try waits at least SLOW_DOWN_MS (Svix),
 * or the schedule's longest delay when the whole schedule is shorter than that (a deployment that
 * configured quick retries gets quick retries).
 */
export function slowDown(delay: number, schedule: readonly number[]): number {
  return Math.max(delay, Math.min(SLOW_DOWN_MS, Math.max(0, ...schedule)));
}
