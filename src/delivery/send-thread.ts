// A sender thread (see transport.ts): builds and sends the notifications the main thread hands it, each on
// this thread's own keep-alive pool, behind its own SSRF guard, and answers their results in batches.
import { setMaxListeners } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { LocalTransport, packAnswer, unpackJob, type FromThread, type ToThread } from './transport.js';
import { TargetGuard } from './ssrf.js';
import type { SendResult } from './send.js';

const { allowedTargets, timeoutMs } = workerData as { allowedTargets: string[]; timeoutMs: number };
const transport = new LocalTransport(new TargetGuard(allowedTargets), timeoutMs);
const stop = new AbortController();
setMaxListeners(0, stop.signal); // one listener per request in flight
let results: FromThread = [];
let scheduled = false;

function answer(id: number, result: SendResult): void {
  results.push(packAnswer(id, result));
  if (!scheduled) {
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const batch = results;
      results = [];
      parentPort!.postMessage(batch satisfies FromThread);
    });
  }
}

parentPort!.on('message', (m: ToThread) => {
  if (m.kind === 'stop') return stop.abort();
  for (const j of m.jobs) {
    const { id, nowMs, d } = unpackJob(j);
    void transport.send(d, nowMs, stop.signal).then((r) => answer(id, r));
  }
});
