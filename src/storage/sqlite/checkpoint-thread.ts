// The background checkpointer's thread (checkpointer.ts): its own connection to the database, copying the
// write-ahead log into the database file (a PASSIVE checkpoint: never waits for the writer or readers) once
// enough commits have gone into it, or a second after the last one, so the writer's thread never does.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointThreadData, FromCheckpointThread } from './checkpointer.js';

const { file, commits, pollMs, everyCommits, atLeastEveryMs, safetyNetPages } = workerData as CheckpointThreadData;
const counter = new Int32Array(commits);
const db = new Database(file);
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
// This connection only checkpoints: it never checkpoints on a commit of its own either.
db.pragma('wal_autocheckpoint = 0');

// Commits made while this thread was loading count too.
let done = 0;
let lastAt = performance.now();
/**
 * Under a load that never pauses the log cannot start over, and grows to the writer's safety net. There the
 * writer's own checkpoint copies what is left and the log starts over, but only if this thread is not
 * checkpointing at that moment (the writer's attempt is then skipped, and the log grows on). So once the log
 * has reached the safety net, this thread stands back for a while.
 */
const STAND_BACK_MS = 1000;
let standBackUntil = 0;
const timer = setInterval(() => {
  if (performance.now() < standBackUntil) return;
  const seen = Atomics.load(counter, 0);
  const waiting = seen - done;
  if (waiting === 0) return;
  if (waiting < everyCommits && performance.now() - lastAt < atLeastEveryMs) return;
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    done = seen;
    lastAt = performance.now();
    if (r.log >= safetyNetPages) standBackUntil = lastAt + STAND_BACK_MS;
    parentPort!.postMessage({
      kind: 'checkpointed',
      log: r.log,
      checkpointed: r.checkpointed,
    } satisfies FromCheckpointThread);
  } catch (e) {
    parentPort!.postMessage({ kind: 'error', message: (e as Error).message } satisfies FromCheckpointThread);
  }
}, pollMs);

parentPort!.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
