// `npm run bench:ab`: interleaved pairs of the API → receiver closed loop, for telling whether a change moves
// the figure the shared machine moves most (single rounds of one build have read 0.27–0.40 within an hour).
// Each round runs every variant in turn, each between two references, and the verdict is the count of rounds
// a variant beat the first one in, and the medians of the ratio and of Hookline's CPU per event against the
// reference's.
//
//   AB_VARIANTS='[{"name":"now"},{"name":"semi64","nodeArgs":"--max-semi-space-size=64"}]' npm run bench:ab
//
// A variant may set `nodeArgs` (added to the start script's node flags, a later V8 flag overriding an earlier
// one), `env` (the server's environment) and `server` (another build's cli/main.js, as BENCH_SERVER).
// AB_ROUNDS (5), AB_ENGINE (sqlite or postgres), BENCH_EVENTS (20,000) and BENCH_DURATION_MS (the
// references, 4,000) size it.
import { bareDeliveryReference, endToEnd } from './delivery.js';
import { percentile } from './load.js';

interface Variant {
  name: string;
  nodeArgs?: string;
  env?: Record<string, string>;
  server?: string;
}

interface Round {
  ratio: number;
  /** Hookline's CPU per event against the reference's per request */
  cpu: number;
}

const variants = JSON.parse(process.env.AB_VARIANTS ?? '[{"name":"dist"}]') as Variant[];
if (!Array.isArray(variants) || variants.length === 0 || variants.some((v) => typeof v.name !== 'string')) {
  throw new Error('AB_VARIANTS: a JSON array of { name, nodeArgs?, env?, server? }');
}
const rounds = Math.max(1, Number(process.env.AB_ROUNDS ?? 5));
const engine = (process.env.AB_ENGINE ?? 'sqlite') as 'sqlite' | 'postgres';
const events = Number(process.env.BENCH_EVENTS ?? 20000);
const refMs = Number(process.env.BENCH_DURATION_MS ?? 4000);

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

const results = new Map<string, Round[]>(variants.map((v) => [v.name, []]));
const inherited = { nodeArgs: process.env.BENCH_NODE_ARGS, server: process.env.BENCH_SERVER };
console.log(
  `== ${engine} API → receiver, ${events} creates; ${rounds} rounds of ${variants.map((v) => v.name).join(', ')}`,
);
for (let round = 1; round <= rounds; round++) {
  for (const v of variants) {
    // startHookline reads these for each server it starts.
    process.env.BENCH_NODE_ARGS = [inherited.nodeArgs, v.nodeArgs].filter(Boolean).join(' ');
    if (v.server ?? inherited.server) process.env.BENCH_SERVER = v.server ?? inherited.server;
    else delete process.env.BENCH_SERVER;
    const before = await bareDeliveryReference(refMs);
    const e = await endToEnd(engine, events, v.env ?? {});
    const after = await bareDeliveryReference(refMs);
    const ref = { rate: (before.rate + after.rate) / 2, cpuUs: (before.cpuUs + after.cpuUs) / 2 };
    const server = (e.cpu?.server ?? NaN) + (e.cpu?.database ?? 0);
    const r = { ratio: e.rate / ref.rate, cpu: server / ref.cpuUs };
    results.get(v.name)!.push(r);
    console.log(
      `round ${round} ${v.name.padEnd(16)} ratio ${r.ratio.toFixed(3)}   CPU per event ${server.toFixed(0)} µs = ${r.cpu.toFixed(2)} × the reference's ${ref.cpuUs.toFixed(0)}` +
        `   rest of the machine ${(e.others ?? NaN).toFixed(2)} cores`,
    );
  }
}
const first = results.get(variants[0].name)!;
for (const v of variants) {
  const rs = results.get(v.name)!;
  const wins =
    v === variants[0]
      ? ''
      : `   faster than ${variants[0].name} in ${rs.filter((r, i) => r.ratio > first[i].ratio).length} of ${rs.length} rounds`;
  console.log(
    `${v.name.padEnd(16)} median ratio ${median(rs.map((r) => r.ratio)).toFixed(3)}   median CPU ${median(rs.map((r) => r.cpu)).toFixed(2)} ×${wins}`,
  );
}
