// End-to-end delivery: contact creates through the API → signed notifications at a local receiver that
// checks every signature; and the pure drain of a backlog already in the database. The reference, measured
// in the same run against the same receiver: a bare undici client POSTing the same bodies at the same
// concurrency.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { Pool } from 'undici';
import { closedLoop, cpuTimeOfUs, cpuTimeUs, load, machineBusyUs, percentile } from './load.js';
import { ADMIN, AUTH, startHookline, type Running } from './processes.js';
import { openStorage } from '../src/storage/open.js';
import { ensureAdmin } from '../src/accounts/accounts.js';
import { raise } from '../src/records/events.js';
import { ThreadTransport } from '../src/delivery/transport.js';
import { buildNotification } from '../src/delivery/notification.js';
import { PREFETCH } from '../src/delivery/engine.js';

const SECRET = 'bench-secret';
const CONCURRENCY = 50;
/**
 * The warm-up of every closed loop of this section (the reference's, the sender thread's, the API →
 * receiver loop's), not counted: 3 s, as for the steady latency. Measured second by second (stop 18), a
 * server just started spends 700–900 µs of CPU per create in its first second and 240–410 in its second
 * (V8's helper threads compiling beside the main thread), and settles at 160–260 from the third on.
 */
const WARM_MS = 3000;
/** The drain's first second is not counted (drain()). */
const DRAIN_WARM_MS = 1000;
/** One hook takes all the traffic: its in-flight cap is the reference's concurrency. */
const SERVER_ENV = {
  HOOKLINE_ALLOWED_TARGETS: '127.0.0.0/8',
  HOOKLINE_DELIVERY_CONCURRENCY_PER_HOOK: String(CONCURRENCY),
};

export interface DeliveryFigures {
  rate: number;
  p50: number;
  p99: number;
  count: number;
  /** deliveries made in a warm-up before the count (not in rate or count) */
  warm?: number;
  /** the drain's rate with its first second counted too (a cold server) */
  wholeRate?: number;
  /**
   * CPU time per delivery, µs: Hookline's process (every thread), the PostgreSQL server's processes (0 on
   * SQLite), and the bench process (the receiver)
   */
  cpu?: { server: number; database: number; receiver: number };
  /**
   * Cores kept busy, on average while measuring, by the rest of the machine: everything but Hookline, the
   * PostgreSQL server and the bench process (/proc/stat less their CPU time). The closed loop needs both of
   * this machine's cores and the single-threaded reference one, so load from elsewhere lowers the ratio
   * without changing Hookline's own cost (its CPU per event).
   */
  others?: number;
}

/**
 * A receiver that checks X-Solve360-Hmac-Sha256 over the raw bytes and notes when each notification arrived,
 * by its objectid (JSON hooks): the time to compare with when the API answered the create of that object.
 */
async function startReceiver() {
  const arrivals = new Map<number, number>();
  let bad = 0;
  let waiting: { n: number; resolve: () => void } | null = null;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.timeOrigin + performance.now();
      const body = Buffer.concat(chunks);
      const sig = req.headers['x-solve360-hmac-sha256'];
      if (sig !== undefined && sig !== createHmac('sha256', SECRET).update(body).digest('hex')) bad++;
      const id = (JSON.parse(body.toString('utf8')) as { objectid?: number }).objectid ?? -arrivals.size - 1;
      if (!arrivals.has(id)) arrivals.set(id, at);
      res.end('ok');
      if (waiting && arrivals.size >= waiting.n) waiting.resolve();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    arrivals,
    bad: () => bad,
    waitFor: (n: number, timeoutMs: number) =>
      new Promise<void>((resolve, reject) => {
        if (arrivals.size >= n) return resolve();
        const timer = setTimeout(() => reject(new Error(`receiver got ${arrivals.size} of ${n}`)), timeoutMs);
        waiting = { n, resolve: () => (clearTimeout(timer), resolve()) };
      }),
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

const hookBody = (url: string) => ({
  type: 'web',
  title: 'bench',
  active: 1,
  event: 'items.create',
  constrainttype: 'all',
  url,
  contenttype: 'json',
  secret: SECRET,
});

/**
 * What every notification of these figures carries: a contact like the API's (its content as an event stores
 * it), so the reference, the sender thread alone and the drain all send bodies of the same size.
 */
const benchContent = (id: number) => ({
  item: {
    id,
    name: 'Bench Contact',
    fields: { firstname: 'Bench', lastname: 'Contact', businessemail: 'c@bench.example', jobtitle: 'Tester' },
  },
});

/**
 * The reference: a bare undici client POSTing the same request Hookline sends to the same receiver — the
 * same JSON body and the same headers, signatures included (made once: the body never changes), so the
 * receiver does the same work (parsing them, checking the HMAC) for both, and the ratio is Hookline's own
 * cost: the database, the engine, building and signing each notification.
 */
export async function bareDeliveryReference(durationMs: number) {
  const rx = await startReceiver();
  try {
    const u = new URL(rx.url);
    const n = buildNotification(
      {
        hookId: 1,
        eventId: 1,
        hook: { url: rx.url, contenttype: 'json', secret: SECRET },
        event: { type: 'items.create', objectId: 1, content: JSON.stringify(benchContent(1)) },
      },
      Date.now(),
    );
    return await load({
      origin: u.origin,
      path: u.pathname,
      headers: n.headers,
      body: () => n.body,
      concurrency: CONCURRENCY,
      durationMs,
      warmupMs: WARM_MS,
    });
  } finally {
    await rx.close();
  }
}

/**
 * The delivery path without the database: Hookline's sender thread (ThreadTransport: the same thread
 * messages, building, signing and undici dispatch as the engine) fed from this thread as the engine feeds
 * it: capped at the reference's concurrency, with twice that handed over (the engine's PREFETCH), so that a
 * freed slot is refilled on the thread without waiting for the answer to cross back. To the same kind of
 * receiver. The gap between this and the drain is the database and the engine's bookkeeping; the gap between
 * this and the reference is building, signing and the thread hop.
 */
export async function transportOnly(durationMs: number): Promise<DeliveryFigures> {
  const rx = await startReceiver();
  const transport = new ThreadTransport({ threads: 1, allowedTargets: ['127.0.0.0/8'], timeoutMs: 10_000 });
  transport.limit({ concurrency: CONCURRENCY, perHook: CONCURRENCY });
  try {
    const hook = { url: rx.url, contenttype: 'json', secret: SECRET };
    let i = 0;
    const one = async () => {
      const id = ++i;
      const content = JSON.stringify(benchContent(id));
      const event = { type: 'items.create', objectId: id, content };
      const r = await transport.send({ hookId: 1, eventId: id, hook, event }, Date.now(), { capped: true });
      if (!r.ok) throw new Error(`transport: ${r.error}`);
    };
    const handedOver = PREFETCH * CONCURRENCY;
    await closedLoop(handedOver, WARM_MS, one); // warm-up: the thread starts, connections open, code is compiled
    const { latencies, seconds } = await closedLoop(handedOver, durationMs, one);
    const rate = latencies.length / seconds;
    if (rx.bad() > 0) throw new Error(`${rx.bad()} notifications failed the signature check`);
    return { rate, p50: NaN, p99: NaN, count: rx.arrivals.size };
  } finally {
    await transport.close();
    await rx.close();
  }
}

export interface LatencyFigures {
  /** events per second offered */
  rate: number;
  count: number;
  /** from the API's answer to the create (after its commit) to the arrival: a lower bound */
  p50: number;
  p99: number;
  /** from sending the create (before its commit) to the arrival: an upper bound */
  p50Sent: number;
  p99Sent: number;
}

/** A Hookline with one JSON hook to a fresh receiver, and a client for its API. */
async function withHookline<T>(
  engine: 'sqlite' | 'postgres',
  run: (ctx: {
    rx: Awaited<ReturnType<typeof startReceiver>>;
    server: Running;
    create: (i: number) => Promise<{ id: number; sent: number; answered: number }>;
  }) => Promise<T>,
  env: Record<string, string> = {},
): Promise<T> {
  const rx = await startReceiver();
  const server = await startHookline(engine, { ...SERVER_ENV, ...env });
  const pool = new Pool(server.url, { connections: CONCURRENCY });
  try {
    const headers = { 'content-type': 'application/json', accept: 'application/json', authorization: AUTH };
    const h = await pool.request({ path: '/hooks/', method: 'POST', headers, body: JSON.stringify(hookBody(rx.url)) });
    if (h.statusCode !== 200) throw new Error(`hook: ${await h.body.text()}`);
    await h.body.dump();
    const create = async (i: number) => {
      const sent = performance.timeOrigin + performance.now();
      const r = await pool.request({
        path: '/contacts/',
        method: 'POST',
        headers,
        body: JSON.stringify({ firstname: 'Bench', lastname: `C${i}` }),
      });
      const j = (await r.body.json()) as { item: { id: number } };
      return { id: j.item.id, sent, answered: performance.timeOrigin + performance.now() };
    };
    const result = await run({ rx, server, create });
    if (rx.bad() > 0) throw new Error(`${rx.bad()} notifications failed the signature check`);
    return result;
  } finally {
    await pool.close();
    await server.stop();
    await rx.close();
  }
}

/** CPU time of the PostgreSQL server's processes so far, µs (0 on SQLite). */
const pgCpu = (engine: 'sqlite' | 'postgres') => (engine === 'postgres' ? cpuTimeOfUs('postgres') : 0);

/** The latest arrival (a loop: spreading 100,000 values into Math.max overflows the stack). */
function latest(arrivals: Map<number, number>): number {
  let last = -Infinity;
  for (const t of arrivals.values()) if (t > last) last = t;
  return last;
}

function latencies(creates: { id: number; sent: number; answered: number }[], arrivals: Map<number, number>) {
  const fromAnswer: number[] = [];
  const fromSent: number[] = [];
  for (const c of creates) {
    const at = arrivals.get(c.id);
    if (at === undefined) throw new Error(`no notification for contact ${c.id}`);
    // An arrival before the answer reached the client counts as 0.
    fromAnswer.push(Math.max(0, at - c.answered));
    fromSent.push(at - c.sent);
  }
  fromAnswer.sort((a, b) => a - b);
  fromSent.sort((a, b) => a - b);
  return {
    p50: percentile(fromAnswer, 50),
    p99: percentile(fromAnswer, 99),
    p50Sent: percentile(fromSent, 50),
    p99Sent: percentile(fromSent, 99),
  };
}

/**
 * N creates through the API, 50 clients as fast as it answers; from the first create to the last arrival.
 * First `warmMs` of the same load, not counted, whose notifications all arrive before the count starts: like
 * every other closed-loop figure here (and the reference), the server is measured warm (JIT compiled, sender
 * thread running, connections open), not in its first seconds (WARM_MS).
 */
export async function endToEnd(
  engine: 'sqlite' | 'postgres',
  n: number,
  env: Record<string, string> = {},
  warmMs = WARM_MS,
): Promise<DeliveryFigures> {
  return withHookline(
    engine,
    async ({ rx, server, create }) => {
      let i = 0;
      const warmEnd = performance.now() + warmMs;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < warmEnd) await create(i++);
        }),
      );
      await rx.waitFor(i, 60_000);
      const warm = rx.arrivals.size;
      rx.arrivals.clear();
      const creates: { id: number; sent: number; answered: number }[] = [];
      const end = i + n;
      const cpu0 = {
        server: cpuTimeUs(server.child.pid),
        database: pgCpu(engine),
        bench: cpuTimeUs(),
        machine: machineBusyUs(),
      };
      const started = performance.timeOrigin + performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (i < end) creates.push(await create(i++));
        }),
      );
      await rx.waitFor(n, 120_000);
      const ended = performance.timeOrigin + performance.now();
      const spent = {
        server: cpuTimeUs(server.child.pid) - cpu0.server,
        database: pgCpu(engine) - cpu0.database,
        receiver: cpuTimeUs() - cpu0.bench,
      };
      // Per event: the load generator shares this process with the receiver, so `receiver` counts both here.
      const cpu = { server: spent.server / n, database: spent.database / n, receiver: spent.receiver / n };
      const ours = spent.server + spent.database + spent.receiver;
      // /proc counts in ticks of 10 ms, so an idle rest of the machine can read a hair below 0: it reads 0.
      const others = Math.max(0, (machineBusyUs() - cpu0.machine - ours) / ((ended - started) * 1000));
      const last = latest(rx.arrivals);
      const l = latencies(creates, rx.arrivals);
      return {
        rate: n / ((last - started) / 1000),
        p50: l.p50,
        p99: l.p99,
        count: rx.arrivals.size,
        warm,
        cpu,
        others,
      };
    },
    env,
  );
}

/**
 * Creates at a steady `rate` per second for `seconds` (open loop: each create is sent on time whatever the
 * answers do), after `warmSeconds` of warm-up at the same rate that are not counted (the server has just
 * started: its first seconds carry JIT compilation and, on PostgreSQL, the first plans of every connection).
 * Latency from commit to arrival.
 */
export async function steady(
  engine: 'sqlite' | 'postgres',
  rate: number,
  seconds: number,
  warmSeconds = 1,
): Promise<LatencyFigures> {
  return withHookline(engine, async ({ rx, create }) => {
    const warm = Math.round(rate * warmSeconds);
    const total = warm + Math.round(rate * seconds);
    const t0 = performance.now();
    const jobs: Promise<{ id: number; sent: number; answered: number }>[] = [];
    for (let i = 0; i < total; i++) {
      const wait = t0 + (i * 1000) / rate - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      jobs.push(create(i));
    }
    const creates = await Promise.all(jobs);
    await rx.waitFor(total, 60_000);
    return { rate, count: total - warm, ...latencies(creates.slice(warm), rx.arrivals) };
  });
}

/**
 * A backlog of n deliveries written straight into the database, then drained with no API traffic; `env`
 * adds to the server's environment.
 */
export async function drain(
  engine: 'sqlite' | 'postgres',
  n: number,
  env: Record<string, string> = {},
): Promise<DeliveryFigures> {
  const rx = await startReceiver();
  const server = await startHookline(engine, { ...SERVER_ENV, ...env }, async (where) => {
    const storage = await openStorage({ databaseUrl: where.databaseUrl, dataDir: where.dataDir });
    const { accountId } = await ensureAdmin(storage, ADMIN.email, ADMIN.token);
    await storage.write(async (x) => {
      const id = await x.nextId();
      await x.run(
        `INSERT INTO hooks (account_id, id, type, title, active, event, constrainttype, url, contenttype, secret, created_at, updated_at)
         VALUES (?, ?, 'web', 'bench', 1, 'items.create', 'all', ?, 'json', ?, 0, 0)`,
        [accountId, id, rx.url, SECRET],
      );
    });
    for (let k = 0; k < n; k += 500) {
      await storage.write(async (x) => {
        for (let j = k; j < Math.min(n, k + 500); j++) {
          await raise(x, {
            accountId,
            type: 'items.create',
            objectId: j + 1,
            objectKind: 'contact',
            content: benchContent(j + 1),
            now: Date.now(),
          });
        }
      });
    }
    await storage.close();
  });
  const mark = () => ({
    at: performance.timeOrigin + performance.now(),
    count: rx.arrivals.size,
    cpu: { server: cpuTimeUs(server.child.pid), database: pgCpu(engine), receiver: cpuTimeUs() },
  });
  // Like the reference (and every closed-loop figure here), the rate is that of a warm server: what arrives
  // in its first second (JIT compilation, the sender thread starting, connections opening) is not counted.
  // A backlog drained within that second is measured whole.
  const start = mark();
  try {
    let from = start;
    if (
      !(await rx.waitFor(n, DRAIN_WARM_MS).then(
        () => true,
        () => false,
      ))
    )
      from = mark();
    await rx.waitFor(n, 120_000);
    const end = mark();
    const count = n - from.count;
    if (rx.bad() > 0) throw new Error(`${rx.bad()} notifications failed the signature check`);
    const per = (a: number, b: number) => (a - b) / count;
    return {
      rate: count / ((latest(rx.arrivals) - from.at) / 1000),
      p50: NaN,
      p99: NaN,
      count: rx.arrivals.size,
      warm: from.count,
      wholeRate: n / ((latest(rx.arrivals) - start.at) / 1000),
      cpu: {
        server: per(end.cpu.server, from.cpu.server),
        database: per(end.cpu.database, from.cpu.database),
        receiver: per(end.cpu.receiver, from.cpu.receiver),
      },
    };
  } finally {
    await server.stop();
    await rx.close();
  }
}
