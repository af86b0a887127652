// One request, by transport: CPU time per request in this process (every thread) for a bare undici
// dispatch, for Hookline's LocalTransport (building, signing and its sender around the same dispatch) and
// for its ThreadTransport (the same on a sender thread, with the hop there and back). The receiver runs in
// a process of its own, so only the sending side is counted. This is what the drain's "where the time
// goes" rests on: what the transport adds to undici, and what the thread hop costs.
import { spawn } from 'node:child_process';
import { Agent } from 'undici';
import { LocalTransport, ThreadTransport, type Transport } from '../src/delivery/transport.js';
import { TargetGuard } from '../src/delivery/ssrf.js';
import { PREFETCH } from '../src/delivery/engine.js';
import { closedLoop, cpuTimeUs } from './load.js';

const CONCURRENCY = 50;

/** A receiver in its own process that answers every POST with "ok". */
async function startReceiver(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:http').createServer((q, r) => { q.resume(); q.on('end', () => r.end('ok')); });
       s.keepAliveTimeout = 60000;
       s.listen(0, '127.0.0.1', () => console.log(s.address().port));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d)))));
  return { port, stop: () => child.kill() };
}

/**
 * Closed loop of `clients` (CONCURRENCY in flight: the bare dispatch has no cap, the transports are capped
 * at it and, like the engine, handed PREFETCH times as many): requests per second, and this process's CPU µs per
 * request.
 */
async function measure(
  ms: number,
  one: () => Promise<void>,
  clients = CONCURRENCY,
): Promise<{ rate: number; cpuUs: number }> {
  await closedLoop(clients, Math.min(1000, ms), one); // warm-up
  const cpu = cpuTimeUs();
  const { latencies, seconds } = await closedLoop(clients, ms, one);
  return { rate: latencies.length / seconds, cpuUs: (cpuTimeUs() - cpu) / latencies.length };
}

export async function runTransportBench(ms: number): Promise<void> {
  const rx = await startReceiver();
  const origin = `http://127.0.0.1:${rx.port}`;
  const hook = { url: `${origin}/hook`, contenttype: 'json', secret: 'bench-secret' };
  let i = 0;
  const source = () => {
    const id = ++i;
    const content = `{"item":{"id":${id},"name":"Backlog ${id}"}}`;
    return { hookId: 1, eventId: id, hook, event: { type: 'items.create', objectId: id, content } };
  };
  const body = JSON.stringify({ type: 'items.create', objectid: 1, content: { item: { id: 1, name: 'Backlog 1' } } });
  const agent = new Agent();
  const local = new LocalTransport(new TargetGuard(['127.0.0.0/8']), 10_000);
  const threads = new ThreadTransport({ threads: 1, allowedTargets: ['127.0.0.0/8'], timeoutMs: 10_000 });
  const transports: [string, Transport][] = [
    ['LocalTransport (build, sign, send)', local],
    ['ThreadTransport (the same, on a thread)', threads],
  ];
  for (const [, t] of transports) t.limit({ concurrency: CONCURRENCY, perHook: CONCURRENCY });
  threads.start();
  try {
    const bare = await measure(ms, () => {
      return new Promise<void>((resolve, reject) =>
        agent.dispatch(
          { origin, path: '/hook', method: 'POST', headers: { 'content-type': 'application/json' }, body },
          {
            // undici tells the new handler API by these (the old one has onConnect instead)
            onRequestStart: () => undefined,
            onResponseStart: () => undefined,
            onResponseData: () => undefined,
            onResponseEnd: () => resolve(),
            onResponseError: (_c, e) => reject(e),
          },
        ),
      );
    });
    const row = (label: string, r: { rate: number; cpuUs: number }) =>
      console.log(
        `${label.padEnd(46)} ${Math.round(r.rate).toLocaleString('en-US').padStart(8)} req/s   CPU ${r.cpuUs.toFixed(1).padStart(6)} µs/req   = ${(r.cpuUs / bare.cpuUs).toFixed(2)} × bare`,
      );
    row('bare undici dispatch, same body', bare);
    for (const [label, t] of transports) {
      row(
        label,
        await measure(
          ms,
          async () => {
            const r = await t.send(source(), Date.now(), { capped: true });
            if (!r.ok) throw new Error(`transport: ${r.error}`);
          },
          PREFETCH * CONCURRENCY,
        ),
      );
    }
  } finally {
    await Promise.all([agent.close(), local.close(), threads.close()]);
    rx.stop();
  }
}
