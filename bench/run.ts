// `npm run bench`: every figure with its reference measured in the same run, and their ratio.
import { apiCreates, bareReference } from './api.js';
import { pgReachable } from './processes.js';
import type { LoadResult } from './load.js';

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const line = (label: string, r: LoadResult, ref?: LoadResult) =>
  `${label.padEnd(46)} ${fmt(r.rate).padStart(8)} req/s   p50 ${fmt(r.p50, 1).padStart(6)} ms   p99 ${fmt(r.p99, 1).padStart(6)} ms` +
  (ref ? `   ratio ${fmt(r.rate / ref.rate, 2)}` : '');

const only = new Set((process.env.BENCH_ONLY ?? 'api').split(','));
const engines: ('sqlite' | 'postgres')[] = (await pgReachable()) ? ['sqlite', 'postgres'] : ['sqlite'];
if (engines.length === 1) console.log('!! PostgreSQL not reachable: PostgreSQL figures skipped');

if (only.has('api')) {
  console.log('\n== API: contact creates through the JSON API, concurrency 50');
  const ref = await bareReference();
  console.log(line('reference: bare Fastify route, same JSON body', ref));
  for (const engine of engines) console.log(line(`hookline ${engine}: POST /contacts/`, await apiCreates(engine), ref));
}
