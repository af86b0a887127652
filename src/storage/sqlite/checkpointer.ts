// Checkpoints off the writer's thread. In WAL mode a commit appends pages to the write-ahead log, and by
// default the commit that takes the log past 1,000 pages then copies it into the database file and syncs
// both: on the thread that serves the API, which stalls for that long (5–15 ms every few hundred commits
// under load, stop 16). Here the writer never checkpoints in the normal course: a thread with its own
// connection does (checkpoint-thread.ts), told of commits through a shared counter (no message, no
// wake-up per commit), with SQLite's PASSIVE checkpoint, which waits for neither the writer nor readers.
// The log restarts from its beginning at the first commit after a checkpoint has copied all of it, so it
// stays as small as before. SQLite's documentation describes this arrangement (wal.html, "Automatic
// Checkpoint": turn it off and run checkpoints from a separate thread).
//
// If the thread stops, the writer goes back to checkpointing itself at SQLite's default; until then a far
// larger automatic checkpoint on the writer (WRITER_SAFETY_NET_PAGES) keeps the log bounded whatever happens.
import type { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { startWorker } from '../../start-worker.js';
import { within } from '../../within.js';

/** What the thread is started with. */
export interface CheckpointThreadData {
  file: string;
  /** one Int32: commits so far (the writer adds, the thread reads) */
  commits: SharedArrayBuffer;
  pollMs: number;
  /** checkpoint once this many commits wait… */
  everyCommits: number;
  /** …or once any do and this long has passed since the last checkpoint */
  atLeastEveryMs: number;
  /** the writer's automatic checkpoint (WRITER_SAFETY_NET_PAGES): the thread stands back once the log is there */
  safetyNetPages: number;
}

export type FromCheckpointThread =
  { kind: 'checkpointed'; log: number; checkpointed: number } | { kind: 'error'; message: string };

/** SQLite's own default: what the writer goes back to if the thread stops. */
const SQLITE_DEFAULT_PAGES = 1000;
/** The writer's automatic checkpoint while the thread runs: only if the thread falls far behind (40 MB). */
export const WRITER_SAFETY_NET_PAGES = 10_000;

export interface CheckpointerOptions {
  pollMs?: number;
  everyCommits?: number;
  atLeastEveryMs?: number;
}

export class BackgroundCheckpointer {
  private readonly counter = new Int32Array(new SharedArrayBuffer(4));
  private worker: Worker | null;
  private exited: Promise<void>;
  private count = 0;
  private lastError: string | null = null;

  constructor(
    file: string,
    private readonly writer: Database.Database,
    o: CheckpointerOptions = {},
  ) {
    writer.pragma(`wal_autocheckpoint = ${WRITER_SAFETY_NET_PAGES}`);
    const data: CheckpointThreadData = {
      file,
      commits: this.counter.buffer as SharedArrayBuffer,
      pollMs: o.pollMs ?? 100,
      everyCommits: o.everyCommits ?? 16,
      atLeastEveryMs: o.atLeastEveryMs ?? 1000,
      safetyNetPages: WRITER_SAFETY_NET_PAGES,
    };
    const worker = startWorker(new URL('./checkpoint-thread.js', import.meta.url), data);
    this.worker = worker;
    // Checkpointing must never keep the process alive by itself.
    worker.unref();
    worker.on('message', (m: FromCheckpointThread) => {
      if (m.kind === 'checkpointed') this.count++;
      else this.lastError = m.message;
    });
    worker.on('error', (e) => (this.lastError = e.message));
    this.exited = new Promise((resolve) =>
      worker.once('exit', () => {
        if (this.worker === worker) {
          // Stopped on its own: the writer checkpoints again, as SQLite does by default.
          this.worker = null;
          if (writer.open) writer.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_PAGES}`);
        }
        resolve();
      }),
    );
  }

  /** A commit went into the log (the writer's thread, after each COMMIT). */
  committed(): void {
    Atomics.add(this.counter, 0, 1);
  }

  /** Checkpoints the thread has run so far. */
  get checkpoints(): number {
    return this.count;
  }

  /** Whether the thread is checkpointing (false once it stopped, for whatever reason). */
  get running(): boolean {
    return this.worker !== null;
  }

  /** The last error the thread reported, if any. */
  get error(): string | null {
    return this.lastError;
  }

  /** Ends the thread (after a checkpoint in progress); the writer's close then checkpoints what is left. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = null;
    worker.postMessage('stop');
    const late = await within(
      this.exited.then(() => false),
      5000,
      () => true,
    );
    // One that does not stop in time is ended where it is (a checkpoint cut short is safe: SQLite redoes it).
    if (late) await worker.terminate();
  }
}
