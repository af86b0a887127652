// GET /health: whether this server can serve, for a load balancer or an orchestrator's probe presenting
// HOOKLINE_METRICS_TOKEN as a bearer token, like /metrics (every route asks for credentials; a probe can send
// a header). It answers 200 when a read and a write of the database answer within HEALTH_TIMEOUT_MS, 503
// naming what failed otherwise. Without a token the path does not exist.
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../../storage/port.js';
import { within } from '../../within.js';

/** How long the database may take to answer before the server reads as failing. */
export const HEALTH_TIMEOUT_MS = 2000;

export function healthRoutes(engine: Engine, token: string) {
  return (app: FastifyInstance): void => {
    if (!token) return;
    app.get('/health', { config: { bearer: token } }, async (_req, reply) => {
      const database = await databaseHealth(engine);
      reply.code(database === 'ok' ? 200 : 503).header('cache-control', 'no-store');
      return { status: database === 'ok' ? 'ok' : 'failing', engine: engine.dialect.name, database };
    });
  };
}

/**
 * 'ok', or what went wrong: the error's message, or that no answer came within `timeoutMs`. Both a read and a
 * write (a transaction through the writers, which share it with the API's writes): a database that answers
 * reads but refuses writes (connections of the writers lost for good, a primary turned read-only) cannot
 * serve.
 */
export async function databaseHealth(engine: Engine, timeoutMs = HEALTH_TIMEOUT_MS): Promise<string> {
  try {
    return await within(
      Promise.all([engine.readOne('SELECT 1 AS one'), engine.write((x) => x.get('SELECT 1 AS one'))]).then(() => 'ok'),
      timeoutMs,
      () => `no answer within ${timeoutMs} ms`,
    );
  } catch (e) {
    return (e as Error).message;
  }
}
