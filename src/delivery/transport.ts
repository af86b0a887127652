// The transport: what turns a claimed delivery into an HTTP attempt — building the notification (encode and
// sign) and sending it — under the in-flight caps (caps.ts). LocalTransport does it on the main thread;
// ThreadTransport hands it to sender threads (send-thread.ts), so that signing, HTTP and TLS run beside the
// thread that claims and records (a Node process is otherwise one core), and so that the next delivery of a
// hook starts on that thread the moment an answer comes in. Both answer the same SendResult; neither ever
// throws for a receiver's failure.
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../start-worker.js';
import { buildNotification, type NotificationSource } from './notification.js';
import { Sender, failedAttempt, type SendResult } from './send.js';
import type { TargetGuard } from './ssrf.js';
import { PerTurn } from './per-turn.js';
import { InFlightCaps, type Caps } from './caps.js';
import { countDown, countUp } from './counts.js';

export interface SendOptions {
  /** aborts the attempt, in flight or waiting (answered aborted: true) */
  stop?: AbortSignal;
  /** waits for a slot under the in-flight caps (the engine's scheduled attempts); a manual attempt does not */
  capped?: boolean;
}

export interface Transport {
  /** Gets ready to send (starts threads), so the first delivery does not wait for that; optional. */
  start?(): void;
  /** Resolves once what start() began is done (threads loaded), so sending starts at once; optional. */
  ready?(): Promise<void>;
  /** The in-flight caps for capped sends: overall, and per hook. */
  limit(caps: Caps): void;
  /**
   * One attempt of the delivery: its webhook-timestamp is `nowMs` plus the time it waited for a slot
   * (SendResult.waitedMs).
   */
  send(d: NotificationSource, nowMs: number, o?: SendOptions): Promise<SendResult>;
  /** Gives back every capped send still waiting for a slot: answered aborted (not an attempt), never sent. */
  release(): void;
  /** Requests in flight now. */
  readonly inFlight: number;
  close(): Promise<void>;
}

/** A capped send given back before it started. */
const givenBack = (): SendResult => ({ ...failedAttempt('given back before it was sent'), aborted: true });

export class LocalTransport implements Transport {
  private readonly sender: Sender;
  private readonly caps = new InFlightCaps();
  private uncapped = 0;

  constructor(guard: TargetGuard, timeoutMs: number) {
    this.sender = new Sender(guard, timeoutMs);
  }

  limit(caps: Caps): void {
    this.caps.set(caps);
  }

  get inFlight(): number {
    return this.caps.inFlight + this.uncapped;
  }

  send(d: NotificationSource, nowMs: number, o: SendOptions = {}): Promise<SendResult> {
    if (o.capped) return this.caps.run(d.hookId, (waited) => this.attempt(d, nowMs, waited, o.stop), givenBack);
    this.uncapped++;
    return this.attempt(d, nowMs, 0, o.stop).finally(() => this.uncapped--);
  }

  release(): void {
    this.caps.release();
  }

  private async attempt(d: NotificationSource, nowMs: number, waitedMs: number, stop?: AbortSignal) {
    let n;
    try {
      n = buildNotification(d, nowMs + waitedMs);
    } catch (e) {
      // A stored event that cannot be encoded: a failed attempt like any other, retried and reported.
      return { ...failedAttempt(`notification could not be built: ${(e as Error).message}`), waitedMs };
    }
    const r = await this.sender.send(n, stop);
    r.waitedMs = waitedMs;
    return r;
  }

  close(): Promise<void> {
    return this.sender.close();
  }
}

/**
 * What crosses to a sender thread and back, as flat arrays of primitives: structured cloning copies those
 * much faster than objects (no property names per item), and every attempt crosses twice.
 * A job: the attempt's id (its slot in the thread's Slots, which the answer names), its time, and what
 * building the notification needs.
 */
export type SendJob = [
  id: number,
  nowMs: number,
  hookId: number,
  eventId: number,
  url: string,
  contenttype: string,
  secret: string,
  previousSecret: string,
  type: string,
  objectId: number,
  content: string,
  capped: boolean,
  webhookId: string,
  headers: string,
];
export type Answer = [
  id: number,
  ok: boolean,
  statusCode: number | null,
  error: string | null,
  responseBody: string | null,
  durationMs: number,
  retryAfter: string | null,
  aborted: boolean,
  waitedMs: number,
];

export function packJob(id: number, nowMs: number, d: NotificationSource, capped: boolean): SendJob {
  return [
    id,
    nowMs,
    d.hookId,
    d.eventId,
    d.hook.url,
    d.hook.contenttype,
    d.hook.secret,
    d.hook.previousSecret ?? '',
    d.event.type,
    d.event.objectId,
    d.event.content,
    capped,
    d.webhookId ?? '',
    d.hook.headers ?? '',
  ];
}

const isCapped = (j: SendJob): boolean => j[11];

export function unpackJob(j: SendJob): { id: number; nowMs: number; d: NotificationSource; capped: boolean } {
  const [
    id,
    nowMs,
    hookId,
    eventId,
    url,
    contenttype,
    secret,
    previousSecret,
    type,
    objectId,
    content,
    capped,
    wid,
    headers,
  ] = j;
  const hook = { url, contenttype, secret, previousSecret, headers };
  const d = { hookId, eventId, hook, event: { type, objectId, content }, webhookId: wid };
  return { id, nowMs, d, capped };
}

export function packAnswer(id: number, r: SendResult): Answer {
  return [id, r.ok, r.statusCode, r.error, r.responseBody, r.durationMs, r.retryAfter, r.aborted, r.waitedMs];
}

function unpackAnswer(a: Answer): SendResult {
  const [, ok, statusCode, error, responseBody, durationMs, retryAfter, aborted, waitedMs] = a;
  return { ok, statusCode, error, responseBody, durationMs, retryAfter, aborted, waitedMs };
}

export type ToThread =
  { kind: 'send'; jobs: SendJob[] } | { kind: 'limit'; caps: Caps } | { kind: 'release' } | { kind: 'stop' };
export type FromThread = Answer[];

export interface ThreadOptions {
  threads: number;
  /** HOOKLINE_ALLOWED_TARGETS: each thread builds its own SSRF guard from it */
  allowedTargets: string[];
  timeoutMs: number;
  /** how long a thread gathers answers before handing them back (send-thread.ts; default 4 ms; tests) */
  answerWindowMs?: number;
}

interface Queued {
  job: SendJob;
  resolve: (r: SendResult) => void;
}

/**
 * The jobs a thread has not answered, each in a slot whose index is the job's id (a free slot is used
 * again). Not a Map: a Map whose entries come and go thousands of times a second keeps finished jobs, and
 * everything their promises hold, reachable from the tables it leaves behind, and the young generation's
 * collections copy them (see send.ts AttemptList).
 */
class Slots<T> {
  private readonly slots: (T | null)[] = [];
  private readonly free: number[] = [];

  /** Stores `v`: its slot's index. */
  put(v: T): number {
    const i = this.free.pop() ?? this.slots.length;
    this.slots[i] = v;
    return i;
  }

  /** Takes what slot `i` holds out of it (undefined if it holds nothing). */
  take(i: number): T | undefined {
    const v = this.slots[i];
    if (v === null || v === undefined) return undefined;
    this.slots[i] = null;
    this.free.push(i);
    return v;
  }

  /** Takes everything out. */
  drain(): T[] {
    const all = this.slots.filter((v): v is T => v !== null);
    this.slots.length = 0;
    this.free.length = 0;
    return all;
  }
}

/** One sender thread, started on first use and again after it dies. */
class SenderThread {
  private current: { worker: Worker; pending: Slots<Queued>; loaded: Promise<void> } | null = null;
  /** the current thread has said it is loaded (its first message) */
  private isLoaded = false;
  /** Every attempt started in one turn of the event loop crosses in one message. */
  private readonly batches = new PerTurn<Queued>((batch) => this.flush(batch));
  private closed = false;
  private caps: Caps | null = null;
  /** capped sends handed to the thread and not answered yet, per hook; and the uncapped ones */
  private readonly held = new Map<number, number>();
  private uncapped = 0;

  constructor(private readonly o: ThreadOptions) {}

  private start(): NonNullable<SenderThread['current']> {
    const worker = startWorker(new URL('./send-thread.js', import.meta.url), {
      allowedTargets: this.o.allowedTargets,
      timeoutMs: this.o.timeoutMs,
      caps: this.caps,
      answerWindowMs: this.o.answerWindowMs,
    });
    this.isLoaded = false;
    // The thread's first message (an empty batch of answers) says it has loaded; a thread that fails to
    // load is not waited for either.
    let loaded!: () => void;
    const me = { worker, pending: new Slots<Queued>(), loaded: new Promise<void>((r) => (loaded = r)) };
    worker.once('message', () => {
      if (this.current === me) this.isLoaded = true;
      loaded();
    });
    worker.once('error', () => loaded());
    worker.once('exit', () => loaded());
    worker.on('message', (m: FromThread) => {
      for (const a of m) {
        const q = me.pending.take(a[0]);
        if (q) this.answer(q, unpackAnswer(a));
      }
    });
    const lost = (why: string) => {
      if (this.current === me) this.current = null;
      // What the thread had is lost with it: failed attempts (the requests may or may not have gone out),
      // retried on the schedule. The next send starts a new thread.
      for (const q of me.pending.drain()) this.answer(q, failedAttempt(`sender thread stopped: ${why}`));
    };
    worker.on('error', (e) => lost(e.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return me;
  }

  send(job: SendJob): Promise<SendResult> {
    const hookId = job[2];
    if (isCapped(job)) countUp(this.held, hookId);
    else this.uncapped++;
    return new Promise((resolve) => this.batches.add({ job, resolve }));
  }

  private answer(q: Queued, r: SendResult): void {
    if (isCapped(q.job)) countDown(this.held, q.job[2]);
    else this.uncapped--;
    q.resolve(r);
  }

  private flush(batch: Queued[]): void {
    if (this.closed) {
      // Never sent: given back, not counted as attempts.
      for (const q of batch) this.answer(q, { ...failedAttempt('sender threads closed'), aborted: true });
      return;
    }
    const thread = (this.current ??= this.start());
    // A job's id is its slot here, which its answer names.
    for (const q of batch) q.job[0] = thread.pending.put(q);
    thread.worker.postMessage({ kind: 'send', jobs: batch.map((q) => q.job) } satisfies ToThread);
  }

  /**
   * Requests in flight on this thread now: its caps let every hook run up to perHook of what it holds, and
   * all of them up to the overall cap (the thread starts a held send whenever the caps allow it).
   */
  get inFlight(): number {
    const caps = this.caps ?? { concurrency: Infinity, perHook: Infinity };
    let capped = 0;
    for (const n of this.held.values()) capped += Math.min(n, caps.perHook);
    return Math.min(capped, caps.concurrency) + this.uncapped;
  }

  limit(caps: Caps): void {
    this.caps = caps;
    this.current?.worker.postMessage({ kind: 'limit', caps } satisfies ToThread);
  }

  get running(): boolean {
    return this.current !== null;
  }

  /** Starts the thread now rather than on the first send (a thread takes a few hundred ms to load). */
  warm(): void {
    if (!this.closed) this.current ??= this.start();
  }

  /** Resolves once the thread is loaded (or has failed to load); at once when none runs. */
  ready(): Promise<void> {
    return this.current?.loaded ?? Promise.resolve();
  }

  get loaded(): boolean {
    return this.current !== null && this.isLoaded;
  }

  release(): void {
    this.current?.worker.postMessage({ kind: 'release' } satisfies ToThread);
  }

  stop(): void {
    this.current?.worker.postMessage({ kind: 'stop' } satisfies ToThread);
  }

  /** Ends the thread; what it still had in flight resolves as failed attempts. */
  async close(): Promise<void> {
    this.closed = true;
    const thread = this.current;
    this.current = null;
    await thread?.worker.terminate();
  }
}

/**
 * Sender threads. Each hook's deliveries all go to one thread (by hook id), so that its per-hook cap holds
 * exactly; the overall cap is shared out among the threads.
 */
export class ThreadTransport implements Transport {
  private readonly threads: SenderThread[];
  private readonly stops = new WeakSet<AbortSignal>();

  constructor(o: ThreadOptions) {
    this.threads = Array.from({ length: Math.max(1, o.threads) }, () => new SenderThread(o));
  }

  start(): void {
    this.threads.forEach((t) => t.warm());
  }

  /** Resolves once every started thread has loaded: each takes a few hundred ms (undici, the encoders). */
  async ready(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.ready()));
  }

  /** Sender threads loaded and ready now. */
  get loaded(): number {
    return this.threads.filter((t) => t.loaded).length;
  }

  limit(caps: Caps): void {
    const concurrency = Math.max(1, Math.floor(caps.concurrency / this.threads.length));
    this.threads.forEach((t) => t.limit({ concurrency, perHook: caps.perHook }));
  }

  /** Sender threads running now. */
  get running(): number {
    return this.threads.filter((t) => t.running).length;
  }

  get inFlight(): number {
    return this.threads.reduce((n, t) => n + t.inFlight, 0);
  }

  send(d: NotificationSource, nowMs: number, o: SendOptions = {}): Promise<SendResult> {
    const { stop } = o;
    if (stop && !this.stops.has(stop)) {
      // The engine's one stop signal: when it fires, every thread aborts what it has in flight.
      this.stops.add(stop);
      stop.addEventListener('abort', () => this.threads.forEach((t) => t.stop()), { once: true });
    }
    if (stop?.aborted) return Promise.resolve({ ...failedAttempt('stopped before the answer'), aborted: true });
    const thread = this.threads[d.hookId % this.threads.length];
    // Only what building the notification needs crosses (not the claimed delivery's other fields).
    // Its id is given by the thread it goes to (SenderThread.flush).
    return thread.send(packJob(0, nowMs, d, o.capped === true));
  }

  release(): void {
    this.threads.forEach((t) => t.release());
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.close()));
  }
}
