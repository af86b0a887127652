// A sender thread (see transport.ts): builds and sends the notifications the main thread hands it, each on
// this thread's own keep-alive pool, behind its own SSRF guard, and answers their results in batches.
import { setMaxListeners } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { LocalTransport, packAnswer, unpackJob, type FromThread, type ToThread } from './transport.js';
import { TargetGuard } from './ssrf.js';
import { PerTurn } from './per-turn.js';

const { allowedTargets, timeoutMs } = workerData as { allowedTargets: string[]; timeoutMs: number };
const transport = new LocalTransport(new TargetGuard(allowedTargets), timeoutMs);
const stop = new AbortController();
setMaxListeners(0, stop.signal); // one listener per request in flight
// Every answer that comes in during one turn of the event loop goes back in one message.
const answers = new PerTurn<FromThread[number]>((batch) => parentPort!.postMessage(batch satisfies FromThread));

parentPort!.on('message', (m: ToThread) => {
  if (m.kind === 'stop') return stop.abort();
  for (const j of m.jobs) {
    const { id, nowMs, d } = unpackJob(j);
    void transport.send(d, nowMs, stop.signal).then((r) => answers.add(packAnswer(id, r)));
  }
});
