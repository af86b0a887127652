// GET /health on both engines: only for the bearer token (HOOKLINE_METRICS_TOKEN), absent without one; 200
// while the database answers, 503 naming what failed once it does not (here: the storage closed under it),
// and a database slower than the bound reads as failing too.
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ENGINES, makeEngine, type TestEngine } from '../support/engines.js';
import { buildApp } from '../../src/http/app.js';
import { databaseHealth, healthRoutes } from '../../src/http/routes/health.js';
import type { Engine } from '../../src/storage/port.js';

const TOKEN = 'health-token-0123456789';

describe.each(ENGINES)('health on %s', (name) => {
  const open: TestEngine[] = [];
  afterEach(async () => {
    for (const db of open.splice(0)) await db.destroy().catch(() => undefined);
  });

  async function appWith(token: string): Promise<{ db: TestEngine; app: FastifyInstance }> {
    const db = await makeEngine(name);
    open.push(db);
    const app = await buildApp({ engine: db.engine, bodyLimit: 1 << 20, plugins: [healthRoutes(db.engine, token)] });
    return { db, app };
  }
  const probe = (app: FastifyInstance, auth?: string) =>
    app.inject({ method: 'GET', url: '/health', headers: auth ? { authorization: auth } : {} });

  it('answers the bearer token only, and says the database answers', async () => {
    const { app } = await appWith(TOKEN);
    expect((await probe(app)).statusCode).toBe(401);
    expect((await probe(app, `Bearer ${TOKEN}x`)).statusCode).toBe(401);
    const ok = await probe(app, `Bearer ${TOKEN}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect(ok.json()).toEqual({ status: 'ok', engine: name, database: 'ok' });
    const { app: without } = await appWith('');
    expect((await probe(without, `Bearer ${TOKEN}`)).statusCode).toBe(401);
  });

  it('answers 503 naming what failed when the database does not answer', async () => {
    const { db, app } = await appWith(TOKEN);
    await db.engine.close();
    const failing = await probe(app, `Bearer ${TOKEN}`);
    expect(failing.statusCode).toBe(503);
    const body = failing.json();
    expect(body).toMatchObject({ status: 'failing', engine: name });
    expect(body.database).not.toBe('ok');
    expect(String(body.database).length).toBeGreaterThan(0);
  });

  it('reads a database that answers reads but not writes as failing', async () => {
    const db = await makeEngine(name);
    open.push(db);
    // The real engine, its writers refusing (as when their connections are gone and cannot be made again).
    const readOnly: Engine = { ...db.engine, write: () => Promise.reject(new Error('writes refused')) };
    expect(await databaseHealth(readOnly)).toBe('writes refused');
    expect(await databaseHealth(db.engine)).toBe('ok');
  });

  it('reads a database slower than the bound as failing', async () => {
    const db = await makeEngine(name);
    open.push(db);
    // The real engine, answering 200 ms late.
    const slow: Engine = {
      ...db.engine,
      readOne: (sql, params) => new Promise((r) => setTimeout(r, 200)).then(() => db.engine.readOne(sql, params)),
    };
    expect(await databaseHealth(slow, 50)).toBe('no answer within 50 ms');
    expect(await databaseHealth(slow, 1000)).toBe('ok');
  });
});
