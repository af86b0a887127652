// The transport: what turns a claimed delivery into an HTTP attempt — building the notification (encode and
// sign) and sending it. LocalTransport does it on the main thread; ThreadTransport hands it to sender
// threads (send-thread.ts), so that signing, HTTP and TLS run beside the thread that claims and records
// (a Node process is otherwise one core). Both answer the same SendResult; neither ever throws for a
// receiver's failure.
import { Worker } from 'node:worker_threads';
import { buildNotification, type NotificationSource } from './notification.js';
import { Sender, failedAttempt, type SendResult } from './send.js';
import type { TargetGuard } from './ssrf.js';
import { PerTurn } from './per-turn.js';

export interface Transport {
  /** Gets ready to send (starts threads), so the first delivery does not wait for that; optional. */
  start?(): void;
  /** One attempt of the delivery at `nowMs` (its webhook-timestamp); `stop` aborts it (aborted: true). */
  send(d: NotificationSource, nowMs: number, stop?: AbortSignal): Promise<SendResult>;
  close(): Promise<void>;
}

export class LocalTransport implements Transport {
  private readonly sender: Sender;

  constructor(guard: TargetGuard, timeoutMs: number) {
    this.sender = new Sender(guard, timeoutMs);
  }

  async send(d: NotificationSource, nowMs: number, stop?: AbortSignal): Promise<SendResult> {
    let n;
    try {
      n = buildNotification(d, nowMs);
    } catch (e) {
      // A stored event that cannot be encoded: a failed attempt like any other, retried and reported.
      return failedAttempt(`notification could not be built: ${(e as Error).message}`);
    }
    return this.sender.send(n, stop);
  }

  close(): Promise<void> {
    return this.sender.close();
  }
}

/**
 * What crosses to a sender thread and back, as flat arrays of primitives: structured cloning copies those
 * much faster than objects (no property names per item), and every attempt crosses twice.
 * A job: the attempt's id, its time, and what building the notification needs.
 */
export type SendJob = [
  id: number,
  nowMs: number,
  hookId: number,
  eventId: number,
  url: string,
  contenttype: string,
  secret: string,
  type: string,
  objectId: number,
  content: string,
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
];

export function packJob(id: number, nowMs: number, d: NotificationSource): SendJob {
  return [
    id,
    nowMs,
    d.hookId,
    d.eventId,
    d.hook.url,
    d.hook.contenttype,
    d.hook.secret,
    d.event.type,
    d.event.objectId,
    d.event.content,
  ];
}

export function unpackJob(j: SendJob): { id: number; nowMs: number; d: NotificationSource } {
  const [id, nowMs, hookId, eventId, url, contenttype, secret, type, objectId, content] = j;
  return { id, nowMs, d: { hookId, eventId, hook: { url, contenttype, secret }, event: { type, objectId, content } } };
}

export function packAnswer(id: number, r: SendResult): Answer {
  return [id, r.ok, r.statusCode, r.error, r.responseBody, r.durationMs, r.retryAfter, r.aborted];
}

function unpackAnswer(a: Answer): SendResult {
  const [, ok, statusCode, error, responseBody, durationMs, retryAfter, aborted] = a;
  return { ok, statusCode, error, responseBody, durationMs, retryAfter, aborted };
}

export type ToThread = { kind: 'send'; jobs: SendJob[] } | { kind: 'stop' };
export type FromThread = Answer[];

export interface ThreadOptions {
  threads: number;
  /** HOOKLINE_ALLOWED_TARGETS: each thread builds its own SSRF guard from it */
  allowedTargets: string[];
  timeoutMs: number;
}

/**
 * Starts the worker module: the compiled .js next to this file, or — running from the TypeScript sources
 * (tests, bench) — the .ts source through tsx's loader, registered inside the thread.
 */
function startWorker(workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./send-thread.js', import.meta.url), { workerData });
  const entry = JSON.stringify(new URL('./send-thread.ts', import.meta.url).href);
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${entry}); });`, {
    eval: true,
    workerData,
  });
}

interface Queued {
  job: SendJob;
  resolve: (r: SendResult) => void;
}

/** One sender thread, started on first use and again after it dies. */
class SenderThread {
  private current: { worker: Worker; pending: Map<number, (r: SendResult) => void> } | null = null;
  /** Every attempt started in one turn of the event loop crosses in one message. */
  private readonly batches = new PerTurn<Queued>((batch) => this.flush(batch));
  private closed = false;

  constructor(private readonly o: ThreadOptions) {}

  private start(): NonNullable<SenderThread['current']> {
    const worker = startWorker({ allowedTargets: this.o.allowedTargets, timeoutMs: this.o.timeoutMs });
    const me = { worker, pending: new Map<number, (r: SendResult) => void>() };
    worker.on('message', (m: FromThread) => {
      for (const a of m) {
        me.pending.get(a[0])?.(unpackAnswer(a));
        me.pending.delete(a[0]);
      }
    });
    const lost = (why: string) => {
      if (this.current === me) this.current = null;
      // What the thread had is lost with it: failed attempts (the requests may or may not have gone out),
      // retried on the schedule. The next send starts a new thread.
      for (const resolve of me.pending.values()) resolve(failedAttempt(`sender thread stopped: ${why}`));
      me.pending.clear();
    };
    worker.on('error', (e) => lost(e.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return me;
  }

  send(job: SendJob): Promise<SendResult> {
    return new Promise((resolve) => this.batches.add({ job, resolve }));
  }

  private flush(batch: Queued[]): void {
    if (this.closed) {
      // Never sent: given back, not counted as attempts.
      for (const q of batch) q.resolve({ ...failedAttempt('sender threads closed'), aborted: true });
      return;
    }
    const thread = (this.current ??= this.start());
    for (const q of batch) thread.pending.set(q.job[0], q.resolve);
    thread.worker.postMessage({ kind: 'send', jobs: batch.map((q) => q.job) } satisfies ToThread);
  }

  get running(): boolean {
    return this.current !== null;
  }

  /** Starts the thread now rather than on the first send (a thread takes a few hundred ms to load). */
  warm(): void {
    if (!this.closed) this.current ??= this.start();
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

export class ThreadTransport implements Transport {
  private readonly threads: SenderThread[];
  private next = 0;
  private seq = 0;
  private readonly stops = new WeakSet<AbortSignal>();

  constructor(o: ThreadOptions) {
    this.threads = Array.from({ length: Math.max(1, o.threads) }, () => new SenderThread(o));
  }

  start(): void {
    this.threads.forEach((t) => t.warm());
  }

  /** Sender threads running now. */
  get running(): number {
    return this.threads.filter((t) => t.running).length;
  }

  send(d: NotificationSource, nowMs: number, stop?: AbortSignal): Promise<SendResult> {
    if (stop && !this.stops.has(stop)) {
      // The engine's one stop signal: when it fires, every thread aborts what it has in flight.
      this.stops.add(stop);
      stop.addEventListener('abort', () => this.threads.forEach((t) => t.stop()), { once: true });
    }
    if (stop?.aborted) return Promise.resolve({ ...failedAttempt('stopped before the answer'), aborted: true });
    const thread = this.threads[this.next++ % this.threads.length];
    // Only what building the notification needs crosses (not the claimed delivery's other fields).
    return thread.send(packJob(++this.seq, nowMs, d));
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.close()));
  }
}
