// PostgreSQL lost and back under a running server (webhook-practice: users ask for "surviving a queue-store
// restart"): every connection of a real `hookline serve` is terminated, and then its database refuses
// connections for a while, as in a restart or a failover. The writers' connections are replaced by the next
// transaction (src/storage/postgres/connection.ts); while the database is away the API answers 503 with
// Retry-After and changes nothing; afterwards everything works again, a retry that fell due meanwhile still
// reaches its receiver, and an answer that came in meanwhile is recorded (src/delivery/record.ts Recorder),
// not lost to a lease running out and sent again.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL, pgAvailable } from '../support/engines.js';
import { freshDatabase, type FreshDatabase } from '../support/fresh-database.js';
import { CLI, api, serve, serverEnv, stop, type Proc } from '../support/serve.js';
import { receiver, type Receiver } from '../delivery/helpers.js';

const ADMIN = { email: 'outage@example.org', token: 'outage-token-0123456789abcdef' };
const HEALTH_TOKEN = 'outage-health-token-0123456789';

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe.runIf(pgAvailable)('PostgreSQL lost under a running server', () => {
  let dir: string;
  let db: FreshDatabase;
  let name: string;
  let rx: Receiver;
  let server: Proc;
  let held: (() => void) | null = null;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-outage-'));
    db = await freshDatabase('hookline_outage');
    name = new URL(db.url).pathname.slice(1);
    // The second notification fails once, so that its retry falls due while the database is away.
    // The notification for "Held" is answered only when the test says so.
    rx = await receiver((_req, res, body, n) => {
      if (body.includes('"Held"')) return void (held = () => res.end('ok'));
      res.statusCode = n === 2 ? 500 : 200;
      res.end(n === 2 ? 'not now' : 'ok');
    });
    server = await serve(
      serverEnv(
        { dir, databaseUrl: db.url, admin: ADMIN },
        {
          HOOKLINE_LOG_LEVEL: 'warn',
          HOOKLINE_RETRY_SCHEDULE: '2s',
          HOOKLINE_DELIVERY_CONCURRENCY_PER_HOOK: '1',
          // A lease that runs out within the test: what a lost outcome would lead to (the shortest allowed).
          HOOKLINE_DELIVERY_TIMEOUT: '1s',
          HOOKLINE_DELIVERY_LEASE: '3s',
          HOOKLINE_METRICS_TOKEN: HEALTH_TOKEN,
        },
      ),
    );
  });
  afterAll(async () => {
    await admin((c) => c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`)).catch(() => undefined);
    await stop(server, 'SIGKILL');
    await rx.close();
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Ends every connection of the server's, and waits until PostgreSQL has let them all go. */
  const terminate = async () => {
    let ended = 0;
    for (let i = 0; i < 100; i++) {
      const r = await admin((c) =>
        c.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
          [name],
        ),
      );
      ended += r.rowCount ?? 0;
      // pg_terminate_backend only signals: the backends end a moment later.
      const left = await admin((c) =>
        c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [name]),
      );
      if (left.rows[0].n === 0) return ended;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the server’s connections did not end');
  };
  /** The delivery of a notification the receiver got, once its outcome is recorded (one attempt logged). */
  const recorded = async (hookId: number, got: { headers: Record<string, unknown> }) => {
    const eventId = String(got.headers['webhook-id']).split('_')[2];
    let d: { state: string; attemptcount: number; attempts: { attempt: unknown[] } } | undefined;
    for (let i = 0; i < 100 && !(d?.attempts.attempt.length === 1); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      d = (await api(server, ADMIN, 'GET', `/hooks/${hookId}/deliveries/${eventId}/`)).body.delivery;
    }
    return d;
  };
  const health = async () => {
    const r = await fetch(`${server.url}/health`, { headers: { authorization: `Bearer ${HEALTH_TOKEN}` } });
    return { status: r.status, body: (await r.json()) as { status: string; database: string } };
  };
  const objectIds = () => rx.requests.map((r) => JSON.parse(r.body.toString()).objectid as number);

  it('writes, reads and delivers again after its connections are terminated, and answers 503 while it cannot connect', async () => {
    const hook = await api(server, ADMIN, 'POST', '/hooks/', {
      event: 'items.create',
      constrainttype: 'all',
      contenttype: 'json',
      url: rx.url,
    });
    expect(hook.status).toBe(200);
    const a = await api(server, ADMIN, 'POST', '/contacts/', { firstname: 'Before' });
    expect(a.status).toBe(200);
    await rx.waitFor(1);
    // Its outcome recorded first: a commit cut by the termination could not tell whether it went through, and
    // the delivery would go out again when its lease ran out (by design: at least once).
    expect(await recorded(hook.body.id, rx.requests[0])).toMatchObject({ state: 'succeeded' });

    // Every connection ended (the writers', the read pool's), as PostgreSQL's restart ends them.
    expect(await terminate()).toBeGreaterThanOrEqual(2);
    const b = await api(server, ADMIN, 'POST', '/contacts/', { firstname: 'Terminated' });
    expect(b.status).toBe(200);
    // Its notification is answered 500: the retry is due in about 2 s, once that outcome is recorded.
    await rx.waitFor(2);
    const delivery = await recorded(hook.body.id, rx.requests[1]);
    expect(delivery).toMatchObject({ state: 'pending', attemptcount: 1 });
    expect(delivery?.attempts.attempt).toEqual([expect.objectContaining({ statuscode: 500 })]);

    // Now the database refuses every connection, as while it restarts.
    await admin((c) => c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`));
    await terminate();
    const refused = await fetch(`${server.url}/contacts/`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${ADMIN.email}:${ADMIN.token}`).toString('base64')}`,
        accept: 'application/json',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ firstname: 'Refused' }),
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    const text = await refused.text();
    expect(JSON.parse(text)).toEqual({
      status: 'failed',
      errors: { server: 'The database is unavailable; try again shortly' },
    });
    // The database's name (and host) stay in the log, not in the answer.
    expect(text).not.toContain(name);
    expect((await api(server, ADMIN, 'GET', '/contacts/')).status).toBe(503);
    // The health check fails with it, naming the cause (for the operator holding the token).
    const failing = await health();
    expect(failing.status).toBe(503);
    expect(failing.body.status).toBe('failing');
    expect(failing.body.database).toMatch(/not currently accepting connections/);
    // Past the retry's due time, with the database still away: nothing is sent, nothing is lost.
    await new Promise((r) => setTimeout(r, 2500));
    expect(rx.requests).toHaveLength(2);

    await admin((c) => c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`));
    // The retry that fell due during the outage goes out once the database answers again.
    await rx.waitFor(3, 15_000);
    expect(objectIds()[2]).toBe(Number(b.body.item.id));
    // Writes get through again (a writer tries a new connection at most once a second).
    let c: { status: number; body: any } = { status: 0, body: null };
    for (const until = Date.now() + 10_000; Date.now() < until;) {
      c = await api(server, ADMIN, 'POST', '/contacts/', { firstname: 'After' });
      if (c.status === 200) break;
      expect(c.status).toBe(503);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(c.status).toBe(200);
    expect(await health()).toEqual({ status: 200, body: expect.objectContaining({ status: 'ok', database: 'ok' }) });
    await rx.waitFor(4);
    expect(objectIds()).toEqual([a, b, b, c].map((x) => Number(x.body.item.id)));
    // The retry went out under the same webhook-id, as every repeat does.
    expect(rx.requests[2].headers['webhook-id']).toBe(rx.requests[1].headers['webhook-id']);

    // The refused create changed nothing: three contacts, no "Refused".
    const list = await api(server, ADMIN, 'GET', '/contacts/');
    expect(list.status).toBe(200);
    expect(list.body.count).toBe(3);
    expect(JSON.stringify(list.body)).not.toContain('Refused');

    // The delivery engine said once that the database was away and once that it was back, not at every poll.
    const out = server.output();
    expect(out.match(/database unavailable: deliveries wait/g)).toHaveLength(1);
    expect(out).toMatch(/database available again/);
  }, 60_000);

  it('an answer that comes in while the database is away is recorded once it is back, and not sent again', async () => {
    const hooks = await api(server, ADMIN, 'GET', '/hooks/');
    const hookId = (Object.values(hooks.body).find((h: any) => h?.url === rx.url) as { id: number }).id;
    const before = rx.requests.length;
    // The last notification's outcome is in: nothing else is being recorded when the database goes.
    expect(await recorded(hookId, rx.requests[before - 1])).toMatchObject({ state: 'succeeded' });
    const created = await api(server, ADMIN, 'POST', '/contacts/', { firstname: 'Held' });
    expect(created.status).toBe(200);
    await rx.waitFor(before + 1);
    expect(held).not.toBeNull();
    await admin((c) => c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`));
    await terminate();
    // The receiver answers 200 now; the outcome cannot be written yet.
    held!();
    await new Promise((r) => setTimeout(r, 500));
    await admin((c) => c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`));
    // Past the 3 s lease: had the outcome been dropped, the lease would have run out and the notification
    // would have gone out again.
    await new Promise((r) => setTimeout(r, 4500));
    expect(rx.requests).toHaveLength(before + 1);
    const eventId = String(rx.requests[before].headers['webhook-id']).split('_')[2];
    const d = (await api(server, ADMIN, 'GET', `/hooks/${hookId}/deliveries/${eventId}/`)).body.delivery;
    expect(d).toMatchObject({ state: 'succeeded', attemptcount: 1 });
    expect(d.attempts.attempt).toEqual([expect.objectContaining({ statuscode: 200 })]);
  }, 30_000);
});

// HOOKLINE_DATABASE_WAIT: a server started while its PostgreSQL does not accept connections yet (one starting
// beside it) waits for it, and one that waits in vain stops with one line that names no user or password.
describe.runIf(pgAvailable)('a server started before its PostgreSQL accepts connections', () => {
  let dir: string;
  let db: FreshDatabase;
  let name: string;
  const procs: Proc[] = [];
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-wait-'));
    db = await freshDatabase('hookline_wait');
    name = new URL(db.url).pathname.slice(1);
    await admin((c) => c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`));
  });
  afterAll(async () => {
    for (const p of procs) await stop(p, 'SIGKILL');
    await admin((c) => c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`)).catch(() => undefined);
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives up after HOOKLINE_DATABASE_WAIT with one line and exit code 2', async () => {
    const env = serverEnv({ dir, databaseUrl: db.url, admin: ADMIN }, { HOOKLINE_DATABASE_WAIT: '1s' });
    const child = spawn(process.execPath, [...CLI, 'serve', '--port', '0'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(2);
    expect(err.trim()).toBe(
      `hookline: PostgreSQL at ${new URL(db.url).hostname}:${new URL(db.url).port || '5432'}/${name} cannot be reached: database "${name}" is not currently accepting connections (waited 1 s; HOOKLINE_DATABASE_WAIT)`,
    );
  });

  it('waits, and serves once PostgreSQL accepts connections', async () => {
    const env = serverEnv({ dir, databaseUrl: db.url, admin: ADMIN }, { HOOKLINE_DATABASE_WAIT: '30s' });
    // Connections open only once the server has said it waits (a timer raced a slow start).
    let opened = false;
    const server = await serve({ ...env, HOOKLINE_LOG_LEVEL: 'warn' }, (all) => {
      if (opened || !/waiting for PostgreSQL to accept connections/.test(all)) return;
      opened = true;
      void admin((c) => c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`));
    });
    procs.push(server);
    expect(opened).toBe(true);
    const created = await api(server, ADMIN, 'POST', '/contacts/', { firstname: 'Waited' });
    expect(created.status).toBe(200);
  }, 40_000);
});
