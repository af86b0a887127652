// The delivery engine: claims due deliveries (claim.ts) ahead of the in-flight caps and hands them to the
// transport (transport.ts: built, signed and sent on a sender thread or here, as the caps, overall and per
// hook, allow: caps.ts); records every attempt in batches (record.ts), schedules retries, and queues the
// admins' e-mail when a delivery finally fails. It wakes on notify() (after a write that made deliveries
// due, for low latency) and otherwise polls; the database holds all of its state, so any number of nodes
// can run one, and a node that dies leaves only leases that expire.
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { StorageUnavailable, type DeliveryHandoff, type Engine, type Executor } from '../storage/port.js';
import type { Config } from '../config.js';
import type { TreeObject } from '../dialect/tree.js';
import { Errors } from '../errors.js';
import { parseSchedule } from '../config.js';
import { applyRetryAfter, nextDelay, parseRetryAfter, slowDown } from '../webhooks/schedule.js';
import { webhookId } from '../webhooks/signer.js';
import { systemClock, type Clock } from './clock.js';
import {
  claimDue,
  dueLanes,
  readDelivery,
  releaseClaims,
  toClaimed,
  type ClaimedDelivery,
  type Lane,
} from './claim.js';
import {
  attemptsOf,
  insertAttempt,
  markSucceeded,
  noteHookFailure,
  Recorder,
  type Ended,
  type Trigger,
} from './record.js';
import { failedAttempt, overloaded, type SendResult } from './send.js';
import { LocalTransport, ThreadTransport, type Transport } from './transport.js';
import { DeliveryMetrics, type DeliveryObserver } from './metrics.js';
import { TargetGuard } from './ssrf.js';
import { countDown, countUp } from './counts.js';
import { Mailer } from './mailer.js';
import { disabledMail, failureMail, goneMail } from './failure-mail.js';
import { attemptTree } from './history.js';
import { sendTest } from './test-send.js';
import { RateLimits } from './rate.js';
import { expireLeases, leaseHolders, newOwner, takeOverFromDead } from './owners.js';
import { within } from '../within.js';
import { OutageReport } from './outage.js';

export interface DeliveryEngineOptions {
  engine: Engine;
  guard: TargetGuard;
  mailer: Mailer;
  clock?: Clock;
  timeoutMs: number;
  /** delays before each retry, ms (1 + length attempts in all) */
  retrySchedule: readonly number[];
  concurrency: number;
  concurrencyPerHook: number;
  logger?: Logger;
  /** how long a claim holds; default: leaseMsFor() with one sender thread (buildDelivery passes the config's) */
  leaseMs?: number;
  /** idle poll interval, ms */
  pollMs?: number;
  /** lease owner name; default host:pid:random */
  owner?: string;
  /** jitter source (tests pass a constant) */
  random?: () => number;
  /** disable a hook whose deliveries have all failed for good for this long (0 or absent: never) */
  disableAfterMs?: number;
  /** disable a hook whose receiver answers a scheduled attempt with 410 Gone (absent: true) */
  disableOnGone?: boolean;
  /** how attempts are made; default: on this thread, through `guard` */
  transport?: Transport;
  /** told of attempts, final failures and claims (metrics) */
  observer?: DeliveryObserver;
  /** take new deliveries straight from this process's writes where the storage can (handoff.ts); default true */
  handOff?: boolean;
}

/** What failing a delivery for good (or disabling its hook for a 410) did, for the log once committed. */
interface FailedNote {
  /** the start of the failing streak, when this failure disabled the hook; else null */
  disabledSince: number | null;
  /** whether the admins' e-mail was queued (false: the account has no admin) */
  told: boolean;
}

const sendingKey = (d: { hookId: number; eventId: number }) => `${d.hookId}:${d.eventId}`;

/** The attempt recorded for a delivery claimed past its last attempt (send()). */
export const PAST_LAST_ATTEMPT =
  'not sent: its lease ran out too often before an outcome was recorded (Hookline stopped while sending it, or could not record)';

/** Deliveries claimed per round at most: a big backlog is taken in slices, interleaved with completions. */
const CLAIM_BATCH = 200;
/**
 * Claimed ahead, per hook and overall, as a multiple of the in-flight caps: while one claim runs (a few ms
 * on PostgreSQL), the requests that finish are replaced from what is already claimed, so the pipeline to
 * each receiver never runs dry waiting for the database. The lease covers the wait: a delivery waits at
 * most for the requests ahead of it, each bounded by the timeout.
 */
export const PREFETCH = 2;
/** The delivery engine reports the database unavailable at most this often (a database that comes and goes). */
const UNAVAILABLE_LOG_MS = 30_000;

export class DeliveryEngine {
  readonly owner: string;
  private readonly engine: Engine;
  private readonly clock: Clock;
  private readonly transport: Transport;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  /**
   * every launched delivery until its outcome is recorded, by delivery (sendingKey): a claim can take one of
   * this engine's own whose lease ran out while it was still waiting, in flight or being recorded, and that
   * one is not sent a second time. Keys only: a Map whose entries come and go thousands of times a second
   * and whose values hold each delivery's graph (its event, its promise chain) keeps finished ones reachable
   * from the tables it leaves behind, and the young generation's collections copy them (see send.ts
   * AttemptList); settle() waits on `idle` instead of on each delivery's promise.
   */
  private readonly inflight = new Set<string>();
  /** settle()'s waiters, called when the last launched delivery is recorded */
  private readonly idle: (() => void)[] = [];
  /** handed to the transport and not answered yet (in flight, or waiting there for a slot), overall */
  private heldCount = 0;
  /** taken by a transaction's fan-out that has not ended yet (handoff.ts): counted in heldCount and held */
  private reserved = 0;
  /** … and per hook */
  private readonly held = new Map<number, number>();
  /**
   * Hooks whose last claim took all it could: more of theirs is likely due, so a refill claims from them
   * directly, without first reading which hooks have work. Every hook is looked at again on notify() (a
   * write), and at least every pollMs.
   */
  private readonly backlog = new Set<number>();
  private rescan = true;
  private lastScan = -Infinity;
  /** the last claim was cut short by the overall cap: refill when half of the room ahead is used */
  private full = false;
  private readonly stopSignal = new AbortController();
  private attemptCount = 0;
  private running = false;
  private stopping = false;
  private loopDone: Promise<void> = Promise.resolve();
  private ticking: Promise<number> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private stopped: Promise<void> | null = null;
  private readonly recorder: Recorder<ClaimedDelivery, FailedNote & Ended>;
  /** see handoffPort() */
  private readonly handoff: DeliveryHandoff;
  /**
   * this node's estimate of each rate-limited hook's tokens (what its shared bucket held after the last claim
   * that read it, refilled since), and each rate-limited hook's rate as its lane last showed it
   */
  private readonly rates = new RateLimits();
  private readonly laneRates = new Map<number, number>();
  /** hooks' own retry schedules, parsed */
  private readonly schedules = new Map<string, readonly number[]>();
  /** The lanes read is one statement, run often: no transaction around it (one round trip on PostgreSQL). */
  private readonly lanesReader: Pick<Executor, 'dialect' | 'all'>;

  constructor(private readonly o: DeliveryEngineOptions) {
    this.engine = o.engine;
    this.clock = o.clock ?? systemClock;
    this.transport = o.transport ?? new LocalTransport(o.guard, o.timeoutMs);
    this.transport.limit({ concurrency: o.concurrency, perHook: o.concurrencyPerHook });
    this.leaseMs = o.leaseMs ?? leaseMsFor({ deliveryLeaseMs: 0, deliveryTimeoutMs: o.timeoutMs, deliveryThreads: 1 });
    this.pollMs = o.pollMs ?? 75;
    this.owner = o.owner ?? newOwner();
    this.handoff = this.handoffPort();
    // Every request in flight listens for the stop: hundreds of listeners are expected, not a leak.
    setMaxListeners(0, this.stopSignal.signal);
    this.lanesReader = {
      dialect: o.engine.dialect,
      all: <T>(sql: string, params?: readonly unknown[]) => o.engine.readOne<T>(sql, params),
    };
    this.recorder = new Recorder(
      this.engine,
      this.owner,
      () => this.clock.now(),
      (x, d, ended) => this.onEnded(x, d, ended),
      this.stopSignal.signal,
    );
  }

  /** Scheduled attempts this engine has made (answered or failed; not those a stop cut short). */
  get attempts(): number {
    return this.attemptCount;
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.transport.inFlight;
  }

  /**
   * Resolves once sending can begin at once (the transport's threads have loaded), or after `boundMs`
   * whatever they do: what the server waits for before it says it is serving.
   */
  async ready(boundMs = 10_000): Promise<void> {
    await within(this.transport.ready?.() ?? Promise.resolve(), boundMs, () => undefined, { unref: true });
  }

  start(): void {
    if (this.running || this.stopping) return;
    this.running = true;
    this.transport.start?.();
    // New deliveries of this process's writes come straight here where the storage can (handoff.ts).
    if (this.o.handOff !== false) this.engine.handOffTo?.(this.handoff);
    this.loopDone = this.takeOverFromDead().then(() => this.loop());
  }

  /**
   * Ends the leases of this host's processes that are gone (a crash, a kill -9), so what they held goes out
   * now instead of when their leases run out (owners.ts). Never fails the start: the leases run out anyway.
   */
  private async takeOverFromDead(): Promise<void> {
    const now = this.clock.now();
    await takeOverFromDead({
      holders: () => leaseHolders(this.lanesReader, now),
      expire: (owner) => this.engine.write((x) => expireLeases(x, owner, now)),
      what: 'deliveries',
      logger: this.o.logger,
    });
  }

  /**
   * What the storage's fan-out asks before leasing a new delivery to this engine (handoff.ts): taken while
   * running, with room under the same caps as claiming ahead, and none of the hook's older deliveries
   * waiting in the database (a hook refused is in the backlog until a claim has taken what waits).
   */
  private handoffPort(): DeliveryHandoff {
    return {
      owner: this.owner,
      leaseMs: this.leaseMs,
      take: (hookId) => {
        if (!this.running || this.backlog.has(hookId)) return false;
        if (
          this.inflight.size + this.reserved >= PREFETCH * this.o.concurrency ||
          (this.held.get(hookId) ?? 0) >= PREFETCH * this.o.concurrencyPerHook
        ) {
          this.backlog.add(hookId);
          return false;
        }
        this.handoff.took(hookId);
        return true;
      },
      // For a statement that decides itself (PostgreSQL): everything, but only under light load — running,
      // no hook's deliveries waiting, fewer than a hook's cap in flight. Under load, claims take deliveries in
      // batches whose outcomes come back, and are recorded, together, which PostgreSQL does for much less than
      // a transaction per outcome (taking under load too cost the saturated loop 15 % of its rate).
      takesAll: () =>
        this.running && this.backlog.size === 0 && this.inflight.size + this.reserved < this.o.concurrencyPerHook,
      took: (hookId) => {
        this.reserved++;
        this.hold(hookId);
      },
      untake: (hookId) => {
        this.reserved--;
        this.heldCount--;
        countDown(this.held, hookId);
      },
      launch: (handed) => {
        const ds = handed as ClaimedDelivery[];
        this.reserved -= ds.length;
        if (this.stopping) {
          // Committed as the engine stops: given back at once, like what waits for a slot.
          for (const d of ds) this.answered(d.hookId);
          void this.engine
            .write((x) => releaseClaims(x, this.owner, ds, this.clock.now()))
            .catch((e: Error) => this.o.logger?.error({ err: e.message }, 'releasing deliveries failed'));
          return;
        }
        this.o.observer?.handedOver?.(ds.length);
        for (const d of ds) this.send(d);
      },
    };
  }

  /** New deliveries may be due (for any hook): claim now instead of at the next poll. */
  notify(): void {
    this.rescan = true;
    this.wake();
  }

  private wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** One claim round over every hook: claims what fits in the free slots and starts sending it. */
  tick(): Promise<number> {
    this.rescan = true;
    return this.round();
  }

  private round(): Promise<number> {
    this.ticking ??= this.claimAndStart().finally(() => (this.ticking = null));
    return this.ticking;
  }

  /** Waits until every claimed delivery is sent and recorded (or released, when stopping). */
  async settle(): Promise<void> {
    while (this.inflight.size > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** tick(), settle() and the e-mail that queued: for tests and tools that drive the clock. */
  async runDue(): Promise<number> {
    const n = await this.tick();
    await this.settle();
    await this.o.mailer.flush();
    return n;
  }

  /**
   * Stops claiming, lets requests in flight finish for up to graceMs, then aborts the rest and releases
   * their leases (not counted as attempts), so another node or the next start sends them.
   */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    this.stopped ??= this.shutdown(options.graceMs ?? 10_000);
    return this.stopped;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    this.running = false;
    this.wakeUp?.();
    await this.loopDone;
    await this.ticking?.catch(() => undefined);
    // What waits for a slot is given back at once (record() releases each claim); requests in flight get
    // the grace period.
    this.transport.release();
    const all = this.settle();
    const late = await within(
      all.then(() => false),
      graceMs,
      () => true,
    );
    if (late) {
      this.stopSignal.abort();
      await all;
    }
    await this.transport.close();
  }

  /**
   * A manual attempt now (trigger 'manual'), whatever the delivery's state. It leaves the retry count alone;
   * a 2xx marks the delivery succeeded. Answers the attempt.
   */
  async redeliver(accountId: number, hookId: number, eventId: number): Promise<TreeObject> {
    const row = await this.engine.read((x) => readDelivery(x, { accountId, hookId, eventId }, this.clock.now()));
    if (!row) throw Errors.notFound('delivery', `No delivery of event ${eventId} to hook ${hookId}`);
    const d = toClaimed(row, 0);
    const startedAt = this.clock.now();
    const result = await this.attempt(d, startedAt);
    const now = this.clock.now();
    const id = await this.engine.write(async (x) => {
      const id = await insertAttempt(x, this.attemptRecord(d, 'manual', startedAt, result));
      if (result.ok) await markSucceeded(x, d, now);
      return id;
    });
    this.log(d, 'manual', result);
    return attemptTree({
      id,
      trigger: 'manual',
      started_at: startedAt,
      duration_ms: result.durationMs,
      status_code: result.statusCode,
      error: result.error,
      response_body: result.responseBody,
    });
  }

  /** A test notification now (test-send.ts): nothing recorded, no retry. Answers what happened. */
  test(accountId: number, hookId: number, eventId?: number): Promise<TreeObject> {
    const using = { engine: this.engine, transport: this.transport, clock: this.clock, logger: this.o.logger };
    return sendTest(using, { accountId, hookId, eventId });
  }

  private async loop(): Promise<void> {
    // While the database cannot be reached, every poll's claim fails: said once (OutageReport), not at every poll.
    const outage = new OutageReport(UNAVAILABLE_LOG_MS);
    while (this.running) {
      let started = 0;
      try {
        started = await this.round();
        const lasted = outage.succeeded();
        if (lasted !== null) this.o.logger?.warn({ forMs: Math.round(lasted) }, 'database available again');
      } catch (e) {
        // The next round reads the database again (a round may otherwise use what it knows and read nothing).
        this.rescan = true;
        if (!(e instanceof StorageUnavailable)) {
          this.o.logger?.error({ err: (e as Error).message }, 'claiming deliveries failed');
        } else if (outage.failed()) {
          this.o.logger?.warn({ err: e.message }, 'database unavailable: deliveries wait until it answers');
        }
      }
      if (!this.running) break;
      // Something was due: more may be, so go again at once while there is room to claim.
      if (started > 0 && this.heldCount < PREFETCH * this.o.concurrency) continue;
      await this.sleep(this.pollMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private async claimAndStart(): Promise<number> {
    // Outcomes waiting to be recorded count too: a database that records slowly slows the claims down.
    const free = PREFETCH * this.o.concurrency - this.inflight.size - this.reserved;
    if (free <= 0) this.full = true;
    if (free <= 0 || this.stopping) return 0;
    const busy = new Map(this.held);
    const now = this.clock.now();
    const options = {
      now,
      leaseMs: this.leaseMs,
      owner: this.owner,
      limit: Math.min(free, CLAIM_BATCH),
      perHook: PREFETCH * this.o.concurrencyPerHook,
      busy,
      // A rate-limited hook takes no more than its tokens (rate.ts). Every lane passes here, those PostgreSQL's
      // claim reads again included, so the backlog's lanes and the tokens taken below use its latest rate.
      allowance: (l: Lane) => {
        if (l.rate > 0) this.laneRates.set(l.hookId, l.rate);
        else this.laneRates.delete(l.hookId);
        return this.rates.available(l.hookId, l.rate, now);
      },
      // What each shared bucket (every node's claims take from it) held after this claim: noted here, and this
      // node's estimate once the claim has committed, so a hook that other nodes have used up costs no write
      // here until it refills.
      onTokens: (hookId: number, tokens: number) => void left.set(hookId, tokens),
    };
    const left = new Map<number, number>();
    let lanes: Lane[];
    if (!this.rescan && performance.now() - this.lastScan < this.pollMs) {
      // Nothing new is known to be due (no write said so, the last full look is recent): refill from the
      // hooks known to have a backlog, or wait for a write or the poll.
      if (this.backlog.size === 0) return 0;
      lanes = [...this.backlog].map((hookId) => ({
        hookId,
        room: options.perHook - (busy.get(hookId) ?? 0),
        rate: this.laneRates.get(hookId) ?? 0,
      }));
      lanes = lanes.filter((l) => l.room > 0);
    } else {
      // Which hooks have work and room: a read, so an idle or saturated dispatcher never takes the writer.
      this.rescan = false;
      this.lastScan = performance.now();
      lanes = await dueLanes(this.lanesReader, options);
      // A backlog hook with room that the read did not name has nothing due left: its new deliveries may be
      // handed over again (handoff.ts).
      const named = new Set(lanes.map((l) => l.hookId));
      for (const hookId of this.backlog) {
        if (!named.has(hookId) && (busy.get(hookId) ?? 0) < options.perHook) this.backlog.delete(hookId);
      }
    }
    // A rate-limited hook out of tokens waits for the next round: no write transaction for nothing.
    lanes = lanes.filter((l) => options.allowance(l) > 0);
    if (lanes.length === 0) return 0;
    const claimStarted = performance.now();
    const claimed = await this.engine.write((x) => claimDue(x, { ...options, lanes }));
    for (const [hookId, tokens] of left) this.rates.set(hookId, this.laneRates.get(hookId) ?? 0, now, tokens);
    this.o.observer?.claimed(claimed.length, performance.now() - claimStarted);
    if (claimed.length >= free) this.full = true;
    const got = new Map<number, number>();
    for (const d of claimed) countUp(got, d.hookId);
    // A lane that took all it could may have more; so may every lane when the claim's limit cut it short.
    const cutShort = claimed.length >= options.limit;
    for (const l of lanes) {
      // Not a lane whose read saw fewer due than it had room for (Lane.more false): it took them all, and the
      // hook's new deliveries may be handed over again. (Kept in the backlog, a hook under a steady load was
      // put back by every claim, and on PostgreSQL most deliveries waited for a claim instead of the hand-off.)
      if (cutShort || ((got.get(l.hookId) ?? 0) >= l.room && l.more !== false)) this.backlog.add(l.hookId);
      else this.backlog.delete(l.hookId);
    }
    // In event order: the transport keeps each hook's order while its deliveries wait for a slot. One still
    // being sent here keeps going; the claim only renewed its lease (and counted no attempt: claim.ts).
    let launched = 0;
    for (const d of claimed) {
      if (this.inflight.has(sendingKey(d))) continue;
      this.launch(d);
      launched++;
    }
    return launched;
  }

  /**
   * Hands one claimed delivery to the transport, which sends it when the caps allow. Its slot is held for
   * the request only: once the answer is in, the next delivery takes the slot (on the transport's thread)
   * while this one's outcome is being recorded.
   */
  private launch(d: ClaimedDelivery): void {
    this.hold(d.hookId);
    this.send(d);
  }

  /** One more delivery of the hook handed to the transport (or about to be): answered() counts it off. */
  private hold(hookId: number): void {
    this.heldCount++;
    countUp(this.held, hookId);
  }

  /** launch() of a delivery already counted as held. */
  private send(d: ClaimedDelivery): void {
    const key = sendingKey(d);
    const handedAt = this.clock.now();
    // Claimed past its last attempt by counting another holder's expired lease (claim.ts
    // EXPIRED_LEASES_FORGIVEN): its sending stopped Hookline, or its outcome could not be recorded, time after
    // time. Not sent again: failed. Past the last attempt any other way (the hook's schedule, or the server's,
    // was shortened since its last attempt), an attempt that is due is made: record() fails the delivery if it
    // fails, as the schedule has no retry left.
    const sending =
      d.leaseCounted === true && d.attempt > this.scheduleOf(d).length + 1
        ? Promise.resolve(failedAttempt(PAST_LAST_ATTEMPT))
        : this.attempt(d, handedAt, this.stopSignal.signal, true);
    void sending
      .then((result) => {
        this.answered(d.hookId);
        // The attempt started when its slot came free.
        return this.record(d, handedAt + result.waitedMs, result);
      })
      .catch((e: Error) =>
        // The outcome could not be recorded (database down): the lease expires and the delivery is retried.
        this.o.logger?.error({ hookId: d.hookId, eventId: d.eventId, err: e.message }, 'recording a delivery failed'),
      )
      .finally(() => {
        this.inflight.delete(key);
        if (this.inflight.size === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
    this.inflight.add(key);
  }

  private answered(hookId: number): void {
    this.heldCount--;
    const held = countDown(this.held, hookId);
    // A claim refills the hook once half of what it holds ahead is used (the other half covers the claim's
    // own time), so a busy hook costs one claim per perHook/2 requests, not one per request.
    const hookLow = held <= (PREFETCH - 0.5) * this.o.concurrencyPerHook;
    const allLow = this.full && this.heldCount <= (PREFETCH - 0.5) * this.o.concurrency;
    if (hookLow || allLow) {
      if (allLow) this.full = false;
      this.wake();
    }
  }

  /** One attempt; never rejects (a transport that throws is a failed attempt, so no slot is ever lost). */
  private attempt(d: ClaimedDelivery, now: number, stop?: AbortSignal, capped = false): Promise<SendResult> {
    return this.transport
      .send(d, now, { stop, capped })
      .catch((e: Error) => failedAttempt(`sending failed: ${e.message}`));
  }

  private attemptRecord(d: ClaimedDelivery, trigger: Trigger, startedAt: number, r: SendResult) {
    return {
      accountId: d.accountId,
      hookId: d.hookId,
      eventId: d.eventId,
      trigger,
      startedAt,
      durationMs: r.durationMs,
      statusCode: r.statusCode,
      error: r.error,
      responseBody: r.responseBody,
    };
  }

  /** Records an attempt's outcome (or gives the claim back, when stopping cut the attempt short). */
  private async record(d: ClaimedDelivery, startedAt: number, result: SendResult): Promise<void> {
    const now = this.clock.now();
    if (result.aborted) {
      await this.engine.write((x) => releaseClaims(x, this.owner, [d], now));
      return;
    }
    this.attemptCount++;
    this.o.observer?.attempted(result.ok, result.durationMs);
    const schedule = this.scheduleOf(d);
    const scheduled = result.ok ? null : nextDelay(d.attempt, schedule, this.o.random);
    const delay = scheduled !== null && overloaded(result) ? slowDown(scheduled, schedule) : scheduled;
    const ended = await this.recorder.add({
      delivery: d,
      attempt: this.attemptRecord(d, 'scheduled', startedAt, result),
      // Standard Webhooks: a receiver that answers 410 Gone wants no more notifications.
      gone: result.statusCode === 410 && (this.o.disableOnGone ?? true),
      next: result.ok
        ? { state: 'succeeded' }
        : delay === null
          ? { state: 'failed' }
          : {
              state: 'pending',
              retryAt: now + applyRetryAfter(delay, parseRetryAfter(result.retryAfter ?? undefined, now)),
            },
    });
    this.log(d, 'scheduled', result);
    if (ended) {
      const { disabledSince, gone, failed, told } = ended.value;
      if (failed) this.o.observer?.failed();
      this.o.mailer.wake();
      // Logged after the commit (once, whatever retried the transaction).
      const ids = { accountId: d.accountId, hookId: d.hookId };
      if (disabledSince !== null) this.o.logger?.warn({ ...ids, failingSince: disabledSince }, 'hook disabled');
      if (gone) this.o.logger?.warn({ ...ids, status: 410 }, 'hook disabled: its receiver answered 410 Gone');
      if (!told) this.o.logger?.warn(ids, 'delivery failed or hook disabled; the account has no admin to tell');
    }
  }

  /** The hook's own retry schedule (checked when it was saved), or the server's. */
  private scheduleOf(d: ClaimedDelivery): readonly number[] {
    const own = d.hook.retrySchedule;
    if (!own) return this.o.retrySchedule;
    let s = this.schedules.get(own);
    if (!s) {
      try {
        s = parseSchedule(own, 'retryschedule');
      } catch {
        s = this.o.retrySchedule; // not through the API (checked there): the server's, rather than no record
      }
      if (this.schedules.size >= 1000) this.schedules.clear();
      this.schedules.set(own, s);
    }
    return s;
  }

  private log(d: ClaimedDelivery, trigger: Trigger, r: SendResult): void {
    // Never the URL (it may carry a token) nor the secret: ids, status and error only.
    const fields = {
      hookId: d.hookId,
      eventId: d.eventId,
      attempt: d.attempt,
      trigger,
      status: r.statusCode,
      ms: r.durationMs,
    };
    if (r.ok) this.o.logger?.debug(fields, 'delivered');
    else this.o.logger?.info({ ...fields, error: r.error }, 'delivery attempt failed');
  }

  /**
   * In the transaction that failed a delivery for good or disabled its hook for a 410 Gone: a failure notes
   * the hook's failing streak (disabling the hook when the streak is HOOKLINE_DISABLE_AFTER old), and the
   * admins' e-mails are queued — all or nothing, whatever crashes when. Answers what to log once it has
   * committed.
   */
  private async onEnded(x: Executor, d: ClaimedDelivery, ended: Ended): Promise<FailedNote & Ended> {
    const now = this.clock.now();
    const disabledSince = ended.failed ? await noteHookFailure(x, d, now, this.o.disableAfterMs ?? 0) : null;
    const admins = await x.all<{ email: string }>(
      "SELECT email FROM users WHERE account_id = ? AND role = 'admin' ORDER BY id",
      [d.accountId],
    );
    const note = { ...ended, disabledSince, told: admins.length > 0 };
    if (!note.told) return note;
    const to = admins.map((a) => a.email);
    const hook = { hookId: d.hookId, title: d.hook.title, url: d.hook.url };
    if (ended.failed) {
      const mail = failureMail({ ...d, webhookId: webhookId(d.hookId, d.eventId) }, await attemptsOf(x, d));
      await this.o.mailer.enqueue(x, { accountId: d.accountId, to, ...mail });
    }
    if (disabledSince !== null) {
      await this.o.mailer.enqueue(x, { accountId: d.accountId, to, ...disabledMail(hook, disabledSince, now) });
    }
    if (ended.gone) await this.o.mailer.enqueue(x, { accountId: d.accountId, to, ...goneMail(hook, d, now) });
    return note;
  }
}

/**
 * How long a claim holds. A lease must outlast the wait of a delivery claimed ahead — the requests before
 * it, in rounds of the caps, each round bounded by the timeout — plus its own request, or a second worker
 * could send it while the first still would. Claimed ahead is PREFETCH times the caps: PREFETCH rounds with
 * one sender thread, and up to PREFETCH × threads rounds with several, since each thread has its share of
 * the overall cap and each hook is sent from one thread (the busy hooks may all share one). A configured
 * lease is raised to that, never lowered; 0 is that plus a minute to record the outcome.
 */
export function leaseMsFor(config: Pick<Config, 'deliveryLeaseMs' | 'deliveryTimeoutMs' | 'deliveryThreads'>): number {
  const wait = PREFETCH * Math.max(1, config.deliveryThreads) * config.deliveryTimeoutMs;
  return config.deliveryLeaseMs > 0 ? Math.max(config.deliveryLeaseMs, wait + 1000) : wait + 60_000;
}

/** What main wires: the guard (also used by hook management), the mailer, the engine and its metrics. */
export function buildDelivery(
  engine: Engine,
  config: Pick<
    Config,
    | 'allowedTargets'
    | 'smtpUrl'
    | 'mailFrom'
    | 'deliveryTimeoutMs'
    | 'retrySchedule'
    | 'disableAfterMs'
    | 'disableOnGone'
    | 'deliveryLeaseMs'
    | 'deliveryConcurrency'
    | 'deliveryConcurrencyPerHook'
    | 'deliveryThreads'
  >,
  options: { logger?: Logger; clock?: Clock } = {},
): { guard: TargetGuard; mailer: Mailer; delivery: DeliveryEngine; metrics: DeliveryMetrics } {
  const clock = options.clock ?? systemClock;
  const guard = new TargetGuard(config.allowedTargets);
  const mailer = new Mailer(engine, { smtpUrl: config.smtpUrl, from: config.mailFrom, clock, logger: options.logger });
  // The gauges read the engine at scrape time (after it exists); the engine reports to the metrics as it works.
  const metrics = new DeliveryMetrics((): number => delivery.inFlight);
  const delivery: DeliveryEngine = new DeliveryEngine({
    observer: metrics,
    engine,
    guard,
    mailer,
    clock,
    timeoutMs: config.deliveryTimeoutMs,
    leaseMs: leaseMsFor(config),
    retrySchedule: config.retrySchedule,
    disableAfterMs: config.disableAfterMs,
    disableOnGone: config.disableOnGone,
    transport:
      config.deliveryThreads > 0
        ? new ThreadTransport({
            threads: config.deliveryThreads,
            allowedTargets: config.allowedTargets,
            timeoutMs: config.deliveryTimeoutMs,
          })
        : undefined,
    concurrency: config.deliveryConcurrency,
    concurrencyPerHook: config.deliveryConcurrencyPerHook,
    logger: options.logger,
  });
  return { guard, mailer, delivery, metrics };
}
