// Saying once that the database is away, not at every try: the delivery engine's claim loop polls every
// 75 ms and the mail loop every 5 s, and each try fails the same way while the database cannot be reached.
// An outage is reported at its first failure, at most once every `everyMs` (a database that comes and goes:
// its readers come back before its writers), and its end only if it was reported.

export class OutageReport {
  private outage: { since: number; reported: boolean } | null = null;
  private reportedAt = -Infinity;

  constructor(
    private readonly everyMs = 0,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A try failed because the database is away: whether to say so now. */
  failed(): boolean {
    const now = this.now();
    this.outage ??= { since: now, reported: false };
    if (this.outage.reported || now - this.reportedAt < this.everyMs) return false;
    this.outage.reported = true;
    this.reportedAt = now;
    return true;
  }

  /** A try got through: how long the outage it ends lasted (ms) when that outage was reported, else null. */
  succeeded(): number | null {
    const reported = this.outage?.reported ? this.now() - this.outage.since : null;
    this.outage = null;
    return reported;
  }
}
