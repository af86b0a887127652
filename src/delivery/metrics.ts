// Prometheus metrics of the delivery engine (prom-client), served at GET /metrics to a scraper that
// presents HOOKLINE_METRICS_TOKEN. Server-wide figures: no account, hook or URL appears in a label.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the engine reports as it works (see DeliveryEngineOptions.observer). */
export interface DeliveryObserver {
  /** a scheduled attempt finished (not one a stop cut short) */
  attempted(ok: boolean, durationMs: number): void;
  /** a delivery failed for good (its last retry failed) */
  failed(): void;
  /** a claim took `n` deliveries in `ms` */
  claimed(n: number, ms: number): void;
  /** `n` new deliveries came straight from the transaction that created them, with no claim (handoff.ts) */
  handedOver?(n: number): void;
}

export class DeliveryMetrics implements DeliveryObserver {
  readonly registry = new Registry();
  private readonly attempts: Counter<'outcome'>;
  /** the two outcomes' series, looked up once (labels are hashed on every call otherwise: the hot path) */
  private readonly succeeded: Counter.Internal;
  private readonly unsuccessful: Counter.Internal;
  private readonly failures: Counter;
  private readonly duration: Histogram;
  private readonly claims: Counter;
  private readonly claimedDeliveries: Counter;
  private readonly claimDuration: Histogram;
  private readonly handedDeliveries: Counter;

  /** `inFlight` answers the engine's requests in flight at scrape time. */
  constructor(inFlight: () => number) {
    collectDefaultMetrics({ register: this.registry, prefix: 'hookline_' });
    const registers = [this.registry];
    this.attempts = new Counter({
      name: 'hookline_delivery_attempts_total',
      help: 'Scheduled delivery attempts, by outcome (success: a 2xx answer)',
      labelNames: ['outcome'],
      registers,
    });
    this.failures = new Counter({
      name: 'hookline_deliveries_failed_total',
      help: 'Deliveries that failed for good (their last retry failed)',
      registers,
    });
    this.duration = new Histogram({
      name: 'hookline_delivery_attempt_duration_seconds',
      help: 'Time from sending a notification to the end of its answer (or the failure)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.claims = new Counter({ name: 'hookline_claims_total', help: 'Claims that took deliveries', registers });
    this.claimedDeliveries = new Counter({
      name: 'hookline_claimed_deliveries_total',
      help: 'Deliveries claimed (each attempt is claimed once)',
      registers,
    });
    this.handedDeliveries = new Counter({
      name: 'hookline_handed_over_deliveries_total',
      help: 'New deliveries taken straight from the transaction that created them, with no claim',
      registers,
    });
    this.claimDuration = new Histogram({
      name: 'hookline_claim_duration_seconds',
      help: 'Time a claim takes in the database',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    new Gauge({
      name: 'hookline_delivery_requests_in_flight',
      help: 'Notifications being sent now',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    // The outcomes start at 0, so a scraper sees both series from the first scrape.
    this.succeeded = this.attempts.labels({ outcome: 'success' });
    this.unsuccessful = this.attempts.labels({ outcome: 'failure' });
    this.succeeded.inc(0);
    this.unsuccessful.inc(0);
  }

  attempted(ok: boolean, durationMs: number): void {
    (ok ? this.succeeded : this.unsuccessful).inc();
    this.duration.observe(durationMs / 1000);
  }

  failed(): void {
    this.failures.inc();
  }

  claimed(n: number, ms: number): void {
    if (n === 0) return;
    this.claims.inc();
    this.claimedDeliveries.inc(n);
    this.claimDuration.observe(ms / 1000);
  }

  handedOver(n: number): void {
    this.handedDeliveries.inc(n);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
