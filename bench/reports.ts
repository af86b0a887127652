// Activity reports on a large account: 100,000 activities under 10,000 contacts, created over one year,
// on SQLite (and PostgreSQL when reachable). Times the reports through the app in-process (routing, auth,
// the query, rendering), so the figure is what a client waits for minus the network. The target: a one-week
// `activities` report answers in under 100 ms on SQLite. `npx tsx bench/reports.ts` runs it alone.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Engine } from '../src/storage/port.js';
import { openSqlite } from '../src/storage/sqlite/engine.js';
import { openPostgres } from '../src/storage/postgres/engine.js';
import { createAccount } from '../src/accounts/accounts.js';
import { buildApp } from '../src/http/app.js';
import { reportRoutes } from '../src/http/routes/reports.js';
import { percentile } from './load.js';
import { PG_URL, pgReachable } from './processes.js';

const ACTIVITIES = Number(process.env.BENCH_ACTIVITIES ?? 100_000);
const CONTACTS = ACTIVITIES / 10;
const RUNS = 30;
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 28, 12);
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Deterministic pseudo-random numbers, so every run measures the same data. */
function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const SHAPES: [string, number, (r: () => number, at: number, user: number) => Record<string, unknown>][] = [
  ['note', 3, () => ({ details: 'Spoke about the renewal; they want the new price list before Friday.' })],
  [
    'task',
    14,
    (r, at, user) => ({
      title: 'Send the contract',
      duedate: day(at + r() * 30 * DAY),
      assignedto: user,
      completed: r() < 0.6 ? 1 : 0,
      priority: 1,
    }),
  ],
  [
    'followup',
    6,
    (r, at, user) => ({
      title: 'Call back',
      duedate: day(at + r() * 14 * DAY),
      responsible: user,
      completed: r() < 0.5 ? 1 : 0,
    }),
  ],
  [
    'event',
    4,
    (r, at) => ({
      title: 'Meeting',
      timestart: new Date(at + r() * 20 * DAY).toISOString().slice(0, 19) + '+00:00',
      location: 'Office',
    }),
  ],
  [
    'timerecord',
    15,
    (r, at, user) => ({
      hours: 1 + Math.floor(r() * 8),
      date: day(at),
      billable: r() < 0.7 ? 1 : 0,
      invoiced: 0,
      person: user,
    }),
  ],
  [
    'opportunity',
    32,
    (r, at, user) => ({
      description: 'Upgrade',
      status: ['Discussion', 'Pending', 'Won', 'Lost'][Math.floor(r() * 4)],
      closingdate: day(at + r() * 60 * DAY),
      responsible: user,
      valueunit: 5000,
    }),
  ],
  [
    'call',
    73,
    (r, at) => ({
      details: 'Left a message',
      dateoccured: new Date(at).toISOString().slice(0, 19) + '+00:00',
      duration: 5,
    }),
  ],
];

async function populate(engine: Engine, accountId: number, userId: number): Promise<void> {
  const r = rng(42);
  const firstId = 10_000_000;
  await engine.solo(async (x) => {
    for (let c = 0; c < CONTACTS; c++) {
      const at = NOW - 400 * DAY + Math.floor((c / CONTACTS) * 30 * DAY);
      await x.run(
        `INSERT INTO items (account_id, id, kind, typeid, name, fields, ownership, assignedto, creator_id, modificator_id, created_at, updated_at, flagged)
         VALUES (?, ?, 'contact', 1, ?, ?, ?, NULL, ?, ?, ?, ?, 0)`,
        [
          accountId,
          firstId + c,
          `Contact ${c}`,
          JSON.stringify({ firstname: 'Contact', lastname: String(c) }),
          userId,
          userId,
          userId,
          at,
          at,
        ],
      );
    }
    for (let i = 0; i < ACTIVITIES; i++) {
      const [segment, typeid, make] = SHAPES[i % SHAPES.length];
      const created = NOW - 365 * DAY + Math.floor(r() * 365 * DAY);
      const updated = r() < 0.3 ? Math.min(NOW, created + Math.floor(r() * 30 * DAY)) : created;
      await x.run(
        `INSERT INTO activities (account_id, id, parent_id, segment, typeid, fields, position, creator_id, modificator_id, created_at, updated_at, deleted_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
        [
          accountId,
          firstId + CONTACTS + i,
          firstId + Math.floor(r() * CONTACTS),
          segment,
          typeid,
          JSON.stringify(make(r, created, userId)),
          i,
          userId,
          userId,
          created,
          updated,
        ],
      );
    }
  });
  if (engine.dialect.name === 'postgres') await engine.solo((x) => x.run('ANALYZE'));
}

export interface ReportTiming {
  engine: string;
  report: string;
  rows: number;
  p50: number;
  p95: number;
}

async function measure(engine: Engine, label: string): Promise<ReportTiming[]> {
  const { accountId, userId, token } = await createAccount(engine, {
    name: 'Bench',
    adminEmail: `reports-${label}-${Date.now()}@bench.example`,
  });
  const started = performance.now();
  await populate(engine, accountId, userId);
  console.log(
    `   ${label}: ${ACTIVITIES.toLocaleString('en-US')} activities written in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const app = await buildApp({ engine, bodyLimit: 1 << 20, plugins: [reportRoutes], clock: { now: () => NOW } });
  const email = `reports-${label}`;
  void email;
  const user = await engine.read((x) => x.get<{ email: string }>('SELECT email FROM users WHERE id = ?', [userId]));
  const auth = `Basic ${Buffer.from(`${user!.email}:${token}`).toString('base64')}`;
  const week = `start=${day(NOW - 6 * DAY)}&end=${day(NOW)}`;
  const cases: [string, string, 'json' | 'xml'][] = [
    ['activities, one week (JSON)', `/report/activities/?${week}`, 'json'],
    ['activities, one week (XML)', `/report/activities/?${week}`, 'xml'],
    ['activities, one week, itemsdata=1 (JSON)', `/report/activities/?${week}&itemsdata=1`, 'json'],
    ['activities, one week, last=changed (JSON)', `/report/activities/?${week}&last=changed`, 'json'],
    ['nextactions, due=next7 (JSON)', '/report/nextactions/?due=next7', 'json'],
    ['calendar, one week (JSON)', '/report/calendar/', 'json'],
    ['followups, due=now (JSON)', '/report/followups/?due=now', 'json'],
    ['opportunities, status=won,pending, due=next30', '/report/opportunities/?status=won,pending&due=next30', 'json'],
    ['timetracking, one week (JSON)', `/report/timetracking/?${week}`, 'json'],
  ];
  const out: ReportTiming[] = [];
  try {
    for (const [report, url, format] of cases) {
      const headers: Record<string, string> = { authorization: auth };
      if (format === 'json') headers.accept = 'application/json';
      const times: number[] = [];
      let rows = 0;
      for (let i = 0; i < RUNS + 3; i++) {
        const t0 = performance.now();
        const res = await app.inject({ method: 'GET', url, headers });
        const ms = performance.now() - t0;
        if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
        if (i >= 3) times.push(ms); // the first runs warm caches and prepared statements
        rows =
          format === 'json' ? Number(JSON.parse(res.body).count) : Number(/<count>(\d+)<\/count>/.exec(res.body)?.[1]);
      }
      times.sort((a, b) => a - b);
      out.push({ engine: label, report, rows, p50: percentile(times, 50), p95: percentile(times, 95) });
    }
  } finally {
    await app.close();
  }
  return out;
}

/** Prints the timings (ms, p50 and p95 of 30 runs) and answers them. */
export async function runReportBench(): Promise<ReportTiming[]> {
  const results: ReportTiming[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-bench-reports-'));
  const sqlite = openSqlite({ file: path.join(dir, 'bench.sqlite') });
  try {
    results.push(...(await measure(sqlite, 'sqlite')));
  } finally {
    await sqlite.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (process.env.BENCH_ENGINES === 'sqlite') {
    // PostgreSQL left out on request
  } else if (await pgReachable()) {
    const schema = `bench_reports_${process.pid}`;
    const pg = await openPostgres({ url: PG_URL, schema });
    try {
      results.push(...(await measure(pg, 'postgres')));
    } finally {
      await pg.close();
      const { default: pgLib } = await import('pg');
      const c = new pgLib.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    }
  } else {
    console.log('!! PostgreSQL not reachable: PostgreSQL figures skipped');
  }
  for (const r of results) {
    console.log(
      `${`${r.engine}: ${r.report}`.padEnd(62)} ${String(r.rows).padStart(6)} rows   p50 ${r.p50.toFixed(1).padStart(7)} ms   p95 ${r.p95.toFixed(1).padStart(7)} ms`,
    );
  }
  const target = results.find((r) => r.engine === 'sqlite' && r.report === 'activities, one week (JSON)');
  if (target)
    console.log(
      `target: one-week activities report on SQLite under 100 ms: ${target.p50 < 100 ? 'met' : 'NOT met'} (p50 ${target.p50.toFixed(1)} ms)`,
    );
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runReportBench();
