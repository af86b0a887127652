// `npm run bench`: every figure with its reference measured in the same run, and their ratio.
import { apiCreates, bareReference } from './api.js';
import { pgReachable } from './processes.js';
import type { LoadResult } from './load.js';
import { bareDeliveryReference, drain, endToEnd, steady, transportOnly, type DeliveryFigures } from './delivery.js';
import { runReportBench } from './reports.js';
import { runBatchBench } from './batch.js';

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const line = (label: string, r: LoadResult, ref?: LoadResult) =>
  `${label.padEnd(46)} ${fmt(r.rate).padStart(8)} req/s   p50 ${fmt(r.p50, 1).padStart(6)} ms   p99 ${fmt(r.p99, 1).padStart(6)} ms` +
  (ref ? `   ratio ${fmt(r.rate / ref.rate, 2)}` : '');

const only = new Set((process.env.BENCH_ONLY ?? 'api,delivery,reports,batch').split(','));
const engines: ('sqlite' | 'postgres')[] = (await pgReachable()) ? ['sqlite', 'postgres'] : ['sqlite'];
if (engines.length === 1) console.log('!! PostgreSQL not reachable: PostgreSQL figures skipped');

if (only.has('api')) {
  console.log('\n== API: contact creates through the JSON API, concurrency 50');
  const ref = await bareReference();
  console.log(line('reference: bare Fastify route, same JSON body', ref));
  for (const engine of engines) {
    const plain = await apiCreates(engine);
    console.log(line(`hookline ${engine}: POST /contacts/`, plain, ref));
    // Dispatch with 10,000 hooks on another event against none: interleaved, best of two each, since two
    // single runs on this shared machine differ by more than the effect looked for.
    const best = (a: LoadResult, b: LoadResult) => (a.rate >= b.rate ? a : b);
    let without = await apiCreates(engine);
    let crowded = await apiCreates(engine, 10_000);
    without = best(without, await apiCreates(engine));
    crowded = best(crowded, await apiCreates(engine, 10_000));
    console.log(
      `${line(`  … with 10,000 hooks on another event`, crowded)}   vs without (best of two each): ${fmt(crowded.rate / without.rate, 2)}`,
    );
  }
}

if (only.has('delivery')) {
  const n = Number(process.env.BENCH_EVENTS ?? 5000);
  // The drain is long enough that the server's warm-up (JIT, threads) is a small part of it.
  const drainN = Number(process.env.BENCH_DRAIN ?? 20000);
  console.log(
    `\n== Delivery: ${n} contact creates through the API → signed notifications at a local receiver, concurrency 50;\n   then 500 creates/s for a steady latency (after a warm-up); then the drain of a backlog of ${drainN} with no API traffic`,
  );
  const ref = await bareDeliveryReference(Number(process.env.BENCH_DURATION_MS ?? 5000));
  console.log(line('reference: bare undici client → same receiver', ref));
  const t = await transportOnly(Number(process.env.BENCH_DURATION_MS ?? 5000));
  console.log(
    `${'sender thread alone (no database, no engine)'.padEnd(46)} ${fmt(t.rate).padStart(8)} del/s   ratio ${fmt(t.rate / ref.rate, 2)}`,
  );
  for (const engine of engines) {
    const e = await endToEnd(engine, n);
    console.log(
      `${`hookline ${engine}: API → receiver`.padEnd(46)} ${fmt(e.rate).padStart(8)} del/s   p50 ${fmt(e.p50, 1).padStart(6)} ms   p99 ${fmt(e.p99, 1).padStart(6)} ms   ratio ${fmt(e.rate / ref.rate, 2)}`,
    );
    const st = await steady(
      engine,
      500,
      Number(process.env.BENCH_STEADY_SECONDS ?? 5),
      Number(process.env.BENCH_WARMUP_SECONDS ?? 3),
    );
    console.log(
      `${`hookline ${engine}: steady ${st.rate} events/s, commit → receiver`.padEnd(46)} ${fmt(st.count).padStart(8)} events  p50 ${fmt(st.p50, 1).padStart(6)} ms   p99 ${fmt(st.p99, 1).padStart(6)} ms   (from sending the create: p50 ${fmt(st.p50Sent, 1)} ms, p99 ${fmt(st.p99Sent, 1)} ms)`,
    );
    const d = await drain(engine, drainN);
    const local = await drain(engine, drainN, { HOOKLINE_DELIVERY_THREADS: '0' });
    // CPU time per delivery, every thread of every process involved (PostgreSQL's too): unlike rates, it
    // hardly moves when the shared machine is busy, since it counts work, not waiting.
    const drainLine = (label: string, r: DeliveryFigures) => {
      const cpu = r.cpu ? r.cpu.server + r.cpu.database + r.cpu.receiver : NaN;
      const pgPart = engine === 'postgres' ? ` + PostgreSQL ${fmt(r.cpu?.database ?? NaN)}` : '';
      console.log(
        `${label.padEnd(46)} ${fmt(r.rate).padStart(8)} del/s   ratio ${fmt(r.rate / ref.rate, 2)}` +
          `   CPU ${fmt(cpu)} µs/del (Hookline ${fmt(r.cpu?.server ?? NaN)}${pgPart} + receiver ${fmt(r.cpu?.receiver ?? NaN)}) = ${fmt(cpu / ref.cpuUs, 1)} × the reference's ${fmt(ref.cpuUs)} µs/req`,
      );
    };
    drainLine(`hookline ${engine}: drain of a backlog of ${drainN}`, d);
    // The same with no sender thread: on this 2-core machine the receiver and the load generator take a
    // core, and the hop between threads costs more than a second thread gains.
    drainLine(`  … sending on the main thread (THREADS=0)`, local);
  }
}

if (only.has('reports')) {
  console.log('\n== Reports: 100,000 activities in one account');
  await runReportBench();
}

if (only.has('batch')) {
  console.log('\n== Batch: 100-part batches of contact creates');
  await runBatchBench();
}
