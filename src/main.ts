// The composition root: builds storage, the HTTP app and the delivery engine from a Config, and nothing else.
import fs from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { oneStatement, type Engine } from './storage/port.js';
import { openStorage } from './storage/open.js';
import { createAccount, ensureAdmin, findUserByEmail, newToken } from './accounts/accounts.js';
import { buildApp, type AppDeps } from './http/app.js';
import { buildDelivery } from './delivery/engine.js';
import type { DeliveryEngine } from './delivery/engine.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { healthRoutes } from './http/routes/health.js';
import { prune } from './delivery/retention.js';
import { sweepSessions } from './accounts/sessions.js';
import { startPeriodic, type Periodic } from './periodic.js';
import { hookRoutes } from './http/routes/hooks.js';
import { portalRoutes } from './http/routes/portal.js';
import { batchRoutes } from './http/routes/batch.js';
import { reportRoutes } from './http/routes/reports.js';
import { makeUploadRoutes } from './http/routes/uploads.js';
import { ApiQuota } from './http/quota.js';
import { PRIVATE_DIR } from './storage/sqlite/engine.js';

export interface Server {
  app: FastifyInstance;
  engine: Engine;
  delivery: DeliveryEngine;
  url: string;
  close(): Promise<void>;
}

export function makeLogger(level: string): Logger {
  return pino({
    level,
    // Secrets never reach the log: credentials, hook secrets and tokens are cut out wherever they appear.
    redact: {
      paths: [
        'req.headers.authorization',
        '*.secret',
        '*.token',
        'secret',
        'token',
        'config.adminToken',
        'config.smtpUrl',
      ],
      censor: '[redacted]',
    },
  });
}

/** Quick start: the first start creates an account and keeps its admin token in the data directory. */
export async function quickstartAdmin(engine: Engine, dataDir: string): Promise<{ email: string; token: string }> {
  const file = path.join(dataDir, 'quickstart-admin.json');
  if (fs.existsSync(file)) {
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { email: string; token: string };
    const user = await engine.read(oneStatement((x) => findUserByEmail(x, saved.email)));
    if (user) return saved;
  }
  const email = 'admin@hookline.local';
  const existing = await engine.read(oneStatement((x) => findUserByEmail(x, email)));
  let token: string;
  if (existing) {
    // The saved token is gone: give the quick-start admin a new one.
    token = newToken();
    await ensureAdmin(engine, email, token);
  } else {
    ({ token } = await createAccount(engine, { name: 'Quick start', adminEmail: email }));
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR });
  fs.writeFileSync(file, JSON.stringify({ email, token }, null, 2), { mode: 0o600 });
  return { email, token };
}

/** HOOKLINE_RETENTION: a prune every ten minutes (each run bounded). Nothing when the retention is 0. */
function startPruner(engine: Engine, retentionMs: number, logger: Logger): Periodic {
  if (retentionMs <= 0) return { stop: async () => undefined };
  return startPeriodic(
    'retention: pruning',
    { firstMs: 60_000, everyMs: 10 * 60_000 },
    async () => {
      const c = await prune(engine, Date.now() - retentionMs);
      if (c.events + c.mail > 0) logger.info(c, 'retention: deleted what is older than HOOKLINE_RETENTION');
    },
    logger,
  );
}

/**
 * Expired portal sessions are deleted every hour, whatever the retention: a sign-in deletes its own
 * account's, but an account nobody signs in to again would keep them.
 */
function startSessionSweep(engine: Engine, logger: Logger): Periodic {
  return startPeriodic(
    'portal sessions: sweeping',
    { firstMs: 60_000, everyMs: 60 * 60_000 },
    async () => {
      const n = await sweepSessions(engine, Date.now());
      if (n > 0) logger.info({ sessions: n }, 'portal sessions: deleted expired sessions');
    },
    logger,
  );
}

export async function startServer(
  config: Config,
  options: { logger?: Logger; plugins?: AppDeps['plugins'] } = {},
): Promise<Server> {
  const logger = options.logger ?? makeLogger(config.logLevel);
  let told = -Infinity;
  const engine = await openStorage({
    ...config,
    server: true,
    // Said at the first failed try and every 10 s after, not at every try.
    onWaiting: (why, waitedMs) => {
      if (waitedMs - told < 10_000) return;
      told = waitedMs;
      logger.warn(
        { err: why, waitedMs, waitMs: config.databaseWaitMs },
        'waiting for PostgreSQL to accept connections',
      );
    },
  });
  if (config.adminEmail) await ensureAdmin(engine, config.adminEmail, config.adminToken);
  const { guard, mailer, delivery, metrics } = buildDelivery(engine, config, { logger });
  // A committed write that made deliveries due wakes the engine at once (otherwise it polls).
  engine.onDeliveries(() => delivery.notify());
  if (!config.smtpUrl)
    logger.warn('no HOOKLINE_SMTP_URL: admin e-mail is kept in the local mailbox (hookline mailbox)');
  const app = await buildApp({
    engine,
    bodyLimit: config.bodyLimit,
    quota: config.apiQuota ? new ApiQuota(config.apiQuota) : undefined,
    logger,
    plugins: [
      hookRoutes(guard, delivery, { secretOverlapMs: config.secretOverlapMs }),
      portalRoutes(delivery),
      batchRoutes,
      reportRoutes,
      makeUploadRoutes({ maxBytes: config.uploadLimit }),
      metricsRoutes(metrics, config.metricsToken),
      healthRoutes(engine, config.metricsToken),
      ...(options.plugins ?? []),
    ],
  });
  const address = await app.listen({ host: config.host, port: config.port });
  delivery.start();
  mailer.start();
  // Serving means delivering too: the sender threads load (a few hundred ms) before the server says so,
  // so the first events after a start do not wait for them.
  await delivery.ready();
  const pruner = startPruner(engine, config.retentionMs, logger);
  const sweeper = startSessionSweep(engine, logger);
  return {
    app,
    engine,
    delivery,
    url: address,
    async close() {
      // Order matters: stop taking requests, finish or release in-flight deliveries (their leases live in
      // the database), then close mail and storage.
      await app.close();
      await delivery.stop({ graceMs: 10_000 });
      await mailer.close();
      await pruner.stop();
      await sweeper.stop();
      await engine.close();
    },
  };
}
