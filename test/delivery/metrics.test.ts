// GET /metrics on both engines: only for the bearer token, absent without one, and counting what the
// delivery engine really did (attempts by outcome, final failures, claims, durations, requests in flight).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ENGINES, makeEngine, type TestEngine } from '../support/engines.js';
import { buildApp } from '../../src/http/app.js';
import { buildDelivery } from '../../src/delivery/engine.js';
import { metricsRoutes } from '../../src/http/routes/metrics.js';
import { insertHook, newAccount, raiseEvent, receiver, type Receiver } from './helpers.js';

const TOKEN = 'metrics-token-0123456789';

describe.each(ENGINES)('metrics on %s', (name) => {
  let db: TestEngine;
  let app: FastifyInstance;
  let bare: FastifyInstance;
  let built: ReturnType<typeof buildDelivery>;
  const receivers: Receiver[] = [];
  beforeAll(async () => {
    db = await makeEngine(name);
    built = buildDelivery(db.engine, {
      allowedTargets: ['127.0.0.0/8'],
      smtpUrl: '',
      mailFrom: 'hookline@test.example',
      deliveryTimeoutMs: 2_000,
      retrySchedule: [],
      disableAfterMs: 0,
      disableOnGone: true,
      deliveryLeaseMs: 0,
      deliveryConcurrency: 16,
      deliveryConcurrencyPerHook: 4,
      deliveryThreads: 0,
    });
    app = await buildApp({ engine: db.engine, bodyLimit: 65536, plugins: [metricsRoutes(built.metrics, TOKEN)] });
    bare = await buildApp({ engine: db.engine, bodyLimit: 65536, plugins: [metricsRoutes(built.metrics, '')] });
  });
  afterAll(async () => {
    await built.delivery.stop({ graceMs: 0 });
    await built.mailer.close();
    await Promise.all(receivers.map((r) => r.close()));
    await app.close();
    await bare.close();
    await db.destroy();
  });

  const scrape = (auth?: string, on = app) =>
    on.inject({ method: 'GET', url: '/metrics', headers: auth ? { authorization: auth } : {} });
  const value = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('answers only the bearer token; without a token configured there is no /metrics', async () => {
    expect((await scrape()).statusCode).toBe(401);
    expect((await scrape(`Bearer ${TOKEN}x`)).statusCode).toBe(401);
    expect((await scrape(`Basic ${Buffer.from(`a@b.c:${TOKEN}`).toString('base64')}`)).statusCode).toBe(401);
    const ok = await scrape(`Bearer ${TOKEN}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^text\/plain/);
    expect(value(ok.body, 'hookline_delivery_attempts_total{outcome="success"}')).toBe(0);
    expect(ok.body).toContain('hookline_process_cpu_user_seconds_total');
    expect((await scrape(`Bearer ${TOKEN}`, bare)).statusCode).toBe(401);
  });

  it('counts attempts by outcome, final failures, claims and durations as deliveries happen', async () => {
    const good = await receiver();
    const bad = await receiver((_q, res) => {
      res.statusCode = 500;
      res.end();
    });
    receivers.push(good, bad);
    const { accountId } = await newAccount(db.engine);
    await insertHook(db.engine, accountId, { url: good.url });
    await insertHook(db.engine, accountId, { url: bad.url });
    await raiseEvent(db.engine, accountId, { now: Date.now() - 1 });
    expect(await built.delivery.runDue()).toBe(2);
    const text = (await scrape(`Bearer ${TOKEN}`)).body;
    expect(value(text, 'hookline_delivery_attempts_total{outcome="success"}')).toBe(1);
    expect(value(text, 'hookline_delivery_attempts_total{outcome="failure"}')).toBe(1);
    expect(value(text, 'hookline_deliveries_failed_total')).toBe(1); // no retries configured
    expect(value(text, 'hookline_claims_total')).toBe(1);
    expect(value(text, 'hookline_claimed_deliveries_total')).toBe(2);
    // runDue() claims; an engine that is not started takes nothing handed over (handoff.test.ts).
    expect(value(text, 'hookline_handed_over_deliveries_total')).toBe(0);
    built.metrics.handedOver(3);
    expect(value((await scrape(`Bearer ${TOKEN}`)).body, 'hookline_handed_over_deliveries_total')).toBe(3);
    expect(value(text, 'hookline_delivery_attempt_duration_seconds_count')).toBe(2);
    expect(value(text, 'hookline_delivery_requests_in_flight')).toBe(0);
    // Nothing that names an account, a hook or a URL.
    expect(text).not.toContain('127.0.0.1');
    expect(text).not.toMatch(/hook_id|account/);
  });
});
