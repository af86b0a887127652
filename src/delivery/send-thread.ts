// A sender thread (see transport.ts): builds and sends the notifications the main thread hands it, each on
// this thread's own keep-alive pool, behind its own SSRF guard and under its share of the in-flight caps,
// and answers their results in batches.
import { setMaxListeners } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { LocalTransport, packAnswer, unpackJob, type FromThread, type ToThread } from './transport.js';
import { TargetGuard } from './ssrf.js';
import { PerTurn } from './per-turn.js';
import type { Caps } from './caps.js';
import { countUp } from './counts.js';
import type { SendResult } from './send.js';

const { allowedTargets, timeoutMs, caps, answerWindowMs } = workerData as {
  allowedTargets: string[];
  timeoutMs: number;
  caps: Caps | null;
  answerWindowMs?: number;
};
const transport = new LocalTransport(new TargetGuard(allowedTargets), timeoutMs);
if (caps) transport.limit(caps);
const stop = new AbortController();
setMaxListeners(0, stop.signal); // one listener per request in flight
/**
 * Answers go back at most once every 4 ms, every answer that came in since in one message: each message
 * wakes the main thread, and waking a thread is dear (on a VM, an interrupt to another core), and each batch
 * of answers is a recording transaction there unless API writes share it. Waiting up to 1 ms instead of to
 * the end of the turn cut Hookline's CPU per delivery by about a tenth (stop 15: drain 0.62 → 0.74 over ten
 * interleaved runs; closed loop 0.28 → 0.32 over four); 4 ms instead of 1 ms cut it again (stop 24: closed
 * loop faster in 11 of 14 interleaved rounds, median ratio 0.337 → 0.356, CPU per event 2.98 → 2.79 × the
 * reference's; drain faster in 3 of 4); 8 ms was worse (faster than 4 ms in 2 of 8 rounds). An answer only
 * records an outcome whose request is over: the receiver's notification is not delayed, and the thread
 * refills a freed slot at once itself (caps.ts) from the jobs the engine hands it ahead of the caps. Only
 * what waits for an answer waits longer: a manual redelivery's reply, and the recorded state (a crash in
 * between means one more repeat).
 *
 * But the engine hands a hook only twice its cap ahead and hands more once it hears that half of that
 * margin is used (engine.ts PREFETCH): answers held for the whole window would let a fast receiver empty
 * the thread's queue and wait (one hook at cap 50 and 20,000 requests/s: a fifth slower with 4 ms than with
 * 1 ms). So the answers go back at once when a hook's answers waiting reach half its cap, or all of them
 * half the overall cap, whichever comes first (answered()).
 */
const ANSWER_WINDOW_MS = 4;
const answers = new PerTurn<FromThread[number]>((batch) => {
  answeredByHook.clear();
  parentPort!.postMessage(batch satisfies FromThread);
}, answerWindowMs ?? ANSWER_WINDOW_MS);
/** capped attempts answered in the batch waiting, per hook */
const answeredByHook = new Map<number, number>();
let limits = caps;

function answered(id: number, hookId: number, capped: boolean, r: SendResult): void {
  answers.add(packAnswer(id, r));
  if (!capped || !limits) return;
  const n = countUp(answeredByHook, hookId);
  if (2 * n >= limits.perHook || 2 * answers.size >= limits.concurrency) answers.now();
}

parentPort!.on('message', (m: ToThread) => {
  if (m.kind === 'stop') return stop.abort();
  if (m.kind === 'release') return transport.release();
  if (m.kind === 'limit') {
    limits = m.caps;
    return transport.limit(m.caps);
  }
  for (const j of m.jobs) {
    const { id, nowMs, d, capped } = unpackJob(j);
    void transport.send(d, nowMs, { stop: stop.signal, capped }).then((r) => answered(id, d.hookId, capped, r));
  }
});
// Loaded: an empty batch of answers tells the main thread so (ThreadTransport.ready).
parentPort!.postMessage([] satisfies FromThread);
