// End-to-end delivery: contact creates through the API → signed notifications at a local receiver that
// checks every signature; and the pure drain of a backlog already in the database. The reference, measured
// in the same run against the same receiver: a bare undici client POSTing the same bodies at the same
// concurrency.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { Pool } from 'undici';
import { load, percentile } from './load.js';
import { ADMIN, AUTH, startHookline } from './processes.js';
import { openStorage } from '../src/storage/open.js';
import { ensureAdmin } from '../src/accounts/accounts.js';
import { raise } from '../src/records/events.js';

const SECRET = 'bench-secret';
const CONCURRENCY = 50;
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
}

/** A receiver that checks X-Solve360-Hmac-Sha256 over the raw bytes and notes when each arrived. */
async function startReceiver() {
  const arrivals = new Map<string, number>();
  let bad = 0;
  let waiting: { n: number; resolve: () => void } | null = null;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const sig = req.headers['x-solve360-hmac-sha256'];
      if (sig !== undefined && sig !== createHmac('sha256', SECRET).update(body).digest('hex')) bad++;
      arrivals.set(String(req.headers['webhook-id'] ?? arrivals.size), performance.timeOrigin + performance.now());
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

/** The reference: a bare undici client POSTing notification-sized JSON bodies to the same receiver. */
export async function bareDeliveryReference(durationMs: number) {
  const rx = await startReceiver();
  try {
    const u = new URL(rx.url);
    const body = JSON.stringify({
      type: 'items.create',
      objectid: 1,
      content: {
        item: {
          id: 1,
          name: 'Bench Contact',
          fields: { firstname: 'Bench', lastname: 'Contact', businessemail: 'c@bench.example', jobtitle: 'Tester' },
        },
      },
    });
    return await load({
      origin: u.origin,
      path: u.pathname,
      headers: { 'content-type': 'application/json' },
      body: () => body,
      concurrency: CONCURRENCY,
      durationMs,
    });
  } finally {
    await rx.close();
  }
}

/** N creates through the API at concurrency 50; figures from the first create to the last notification. */
export async function endToEnd(engine: 'sqlite' | 'postgres', n: number): Promise<DeliveryFigures> {
  const rx = await startReceiver();
  const server = await startHookline(engine, SERVER_ENV);
  try {
    const pool = new Pool(server.url, { connections: CONCURRENCY });
    const headers = { 'content-type': 'application/json', accept: 'application/json', authorization: AUTH };
    const h = await pool.request({ path: '/hooks/', method: 'POST', headers, body: JSON.stringify(hookBody(rx.url)) });
    if (h.statusCode !== 200) throw new Error(`hook: ${await h.body.text()}`);
    await h.body.dump();
    const committed = new Map<number, number>();
    let i = 0;
    const started = performance.timeOrigin + performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (i < n) {
          i++;
          const r = await pool.request({
            path: '/contacts/',
            method: 'POST',
            headers,
            body: JSON.stringify({ firstname: 'Bench', lastname: `C${i}` }),
          });
          const j = (await r.body.json()) as { item: { id: number } };
          committed.set(j.item.id, performance.timeOrigin + performance.now());
        }
      }),
    );
    await rx.waitFor(n, 120_000);
    const last = Math.max(...rx.arrivals.values());
    await pool.close();
    if (rx.bad() > 0) throw new Error(`${rx.bad()} notifications failed the signature check`);
    // Latency: from the API's answers (each commit happens before its answer) to the arrivals, matched in
    // order — the k-th answer with the k-th arrival; an arrival before its answer reached the client is 0.
    const lat: number[] = [];
    const answered = [...committed.values()].sort((a, b) => a - b);
    const arrived = [...rx.arrivals.values()].sort((a, b) => a - b);
    for (let k = 0; k < Math.min(answered.length, arrived.length); k++) lat.push(Math.max(0, arrived[k] - answered[k]));
    lat.sort((a, b) => a - b);
    return {
      rate: n / ((last - started) / 1000),
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      count: rx.arrivals.size,
    };
  } finally {
    await server.stop();
    await rx.close();
  }
}

/** A backlog of n deliveries written straight into the database, then drained with no API traffic. */
export async function drain(engine: 'sqlite' | 'postgres', n: number): Promise<DeliveryFigures> {
  const rx = await startReceiver();
  const server = await startHookline(engine, SERVER_ENV, async (where) => {
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
            content: { item: { id: j + 1, name: `Backlog ${j}` } },
            now: Date.now(),
          });
        }
      });
    }
    await storage.close();
  });
  const started = performance.timeOrigin + performance.now();
  try {
    await rx.waitFor(n, 120_000);
    const last = Math.max(...rx.arrivals.values());
    if (rx.bad() > 0) throw new Error(`${rx.bad()} notifications failed the signature check`);
    return { rate: n / ((last - started) / 1000), p50: NaN, p99: NaN, count: rx.arrivals.size };
  } finally {
    await server.stop();
    await rx.close();
  }
}
