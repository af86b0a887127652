// The composition root: builds storage, the HTTP app and the delivery engine from a Config, and nothing else.
import fs from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import type { Engine } from './storage/port.js';
import { openStorage } from './storage/open.js';
import { createAccount, ensureAdmin, findUserByEmail, newToken } from './accounts/accounts.js';
import { buildApp, type AppDeps } from './http/app.js';

export interface Server {
  app: FastifyInstance;
  engine: Engine;
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
    const user = await engine.read((x) => findUserByEmail(x, saved.email));
    if (user) return saved;
  }
  const email = 'admin@hookline.local';
  const existing = await engine.read((x) => findUserByEmail(x, email));
  let token: string;
  if (existing) {
    // The saved token is gone: give the quick-start admin a new one.
    token = newToken();
    await ensureAdmin(engine, email, token);
  } else {
    ({ token } = await createAccount(engine, { name: 'Quick start', adminEmail: email }));
  }
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ email, token }, null, 2), { mode: 0o600 });
  return { email, token };
}

export async function startServer(
  config: Config,
  options: { logger?: Logger; plugins?: AppDeps['plugins'] } = {},
): Promise<Server> {
  const logger = options.logger ?? makeLogger(config.logLevel);
  const engine = await openStorage(config);
  if (config.adminEmail) await ensureAdmin(engine, config.adminEmail, config.adminToken);
  const app = await buildApp({ engine, bodyLimit: config.bodyLimit, logger, plugins: options.plugins });
  const address = await app.listen({ host: config.host, port: config.port });
  return {
    app,
    engine,
    url: address,
    async close() {
      await app.close();
      await engine.close();
    },
  };
}
