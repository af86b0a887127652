// GET /metrics: the delivery engine's Prometheus metrics, for a scraper presenting HOOKLINE_METRICS_TOKEN
// as a bearer token (no user login: the figures are server-wide). Without a token the path does not exist.
import type { FastifyInstance } from 'fastify';
import type { DeliveryMetrics } from '../../delivery/metrics.js';

export function metricsRoutes(metrics: DeliveryMetrics, token: string) {
  return (app: FastifyInstance): void => {
    if (!token) return;
    app.get('/metrics', { config: { bearer: token } }, async (_req, reply) => {
      reply.header('content-type', metrics.contentType);
      return metrics.text();
    });
  };
}
