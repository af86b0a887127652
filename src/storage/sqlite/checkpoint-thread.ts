// The background checkpointer's thread (checkpointer.ts): its own connection to the database, copying the
// write-ahead log into the database file (a PASSIVE checkpoint: never waits for the writer or readers) once
// enough commits have gone into it, or a second after the last one, so the writer's thread never does.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointThreadData, FromCheckpointThread } from './checkpointer.js';

const { file, commits, pollMs, everyCommits, atLeastEveryMs } = workerData as CheckpointThreadData;
const counter = new Int32Array(commits);
const db = new Database(file);
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
// This connection only checkpoints: it never checkpoints on a commit of its own either.
db.pragma('wal_autocheckpoint = 0');

// Commits made while this thread was loading count too.
let done = 0;
let lastAt = performance.now();
const timer = setInterval(() => {
  const seen = Atomics.load(counter, 0);
  const waiting = seen - done;
  if (waiting === 0) return;
  if (waiting < everyCommits && performance.now() - lastAt < atLeastEveryMs) return;
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    done = seen;
    lastAt = performance.now();
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
