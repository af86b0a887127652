// GET /report/{name}/ (dialect §4): the activity reports, parameters in the query string or an XML/JSON
// body. JSON keys rows by activity id; XML nests them (<activities><activity>…, see records/reports.ts).
import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../app.js';
import { negotiate } from '../../dialect/respond.js';
import { reportBody, runReport } from '../../records/reports.js';

export function reportRoutes(app: FastifyInstance, h: Handlers): void {
  app.get('/report/:name', async (req, reply) => {
    const name = (req.params as Record<string, string>).name;
    const report = await runReport(h.engine, await h.ctx(req), name, h.params(req));
    const { format } = negotiate(req.headers, req.query as Record<string, unknown>);
    return h.send(req, reply, reportBody(report, format));
  });
}
