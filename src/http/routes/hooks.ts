// Webhook management (dialect §5) and the operations API on deliveries (Hookline's choice of paths):
// /hooks/, /hooks/{id}/, /hooks/{id}/test/, /hooks/{id}/deliveries/, /hooks/{id}/deliveries/{eventId}/,
// /hooks/{id}/deliveries/{eventId}/redeliver/, /hooks/{id}/deliveries/recover/, /hooks/{id}/deliveries/replay/.
// Admins only.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Handlers } from '../app.js';
import { pathId } from '../params.js';
import { Errors } from '../../errors.js';
import { parseDate, parseId } from '../../records/values.js';
import { recoverFailed, windowProblem } from '../../delivery/recover.js';
import { replayMissing } from '../../delivery/replay.js';
import { createHook, deleteHook, getHook, listHooks, updateHook, type UrlChecker } from '../../webhooks/hooks.js';
import { DELIVERY_STATES, listDeliveries, showDelivery } from '../../delivery/history.js';
import type { DeliveryEngine } from '../../delivery/engine.js';
import type { TreeObject } from '../../dialect/tree.js';

/** A date or date-time parameter (2026-11-28, 2026-11-28T09:45:00Z, any offset) as epoch ms. */
function when(p: TreeObject, key: string, required: boolean): number | undefined {
  const v = p[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw Errors.badRequest(key, `${key} is required: a date or date-time (2026-11-28T09:45:00Z)`);
    return undefined;
  }
  const ms = typeof v === 'string' ? parseDate(v) : null;
  if (ms === null) throw Errors.badRequest(key, `${key} must be a date or date-time (2026-11-28T09:45:00Z)`);
  return ms;
}

function optionalInt(p: TreeObject, key: string): number | undefined {
  const v = p[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = parseId(v);
  if (n === null) throw Errors.badRequest(key, `${key} must be a positive whole number`);
  return n;
}

export function hookRoutes(
  guard: UrlChecker,
  delivery: Pick<DeliveryEngine, 'redeliver' | 'test'>,
  options: { secretOverlapMs?: number } = {},
) {
  return (app: FastifyInstance, h: Handlers): void => {
    app.get('/hooks', async (req, reply) => {
      h.requireAdmin(req);
      return h.send(req, reply, await listHooks(h.engine, req.actor!.accountId));
    });
    app.post('/hooks', async (req, reply) => {
      h.requireAdmin(req);
      return h.send(req, reply, await createHook(h.engine, req.actor!.accountId, h.body(req), h.clock.now(), guard));
    });
    app.get('/hooks/:id', async (req, reply) => {
      h.requireAdmin(req);
      return h.send(req, reply, await getHook(h.engine, req.actor!.accountId, pathId(req, 'id')));
    });
    app.put('/hooks/:id', async (req, reply) => {
      h.requireAdmin(req);
      const out = await updateHook(
        h.engine,
        req.actor!.accountId,
        pathId(req, 'id'),
        h.body(req),
        h.clock.now(),
        guard,
        options,
      );
      return h.send(req, reply, out);
    });
    app.delete('/hooks/:id', async (req, reply) => {
      h.requireAdmin(req);
      const hookId = pathId(req, 'id');
      await deleteHook(h.engine, req.actor!.accountId, hookId);
      return h.send(req, reply, { id: hookId });
    });
    app.get('/hooks/:id/deliveries', async (req, reply) => {
      h.requireAdmin(req);
      const hookId = pathId(req, 'id');
      await getHook(h.engine, req.actor!.accountId, hookId); // 404 for another account's hook
      const p = h.params(req);
      const state = p.state === undefined || p.state === '' ? undefined : String(p.state);
      if (state !== undefined && !(DELIVERY_STATES as readonly string[]).includes(state)) {
        throw Errors.badRequest('state', `state must be one of ${DELIVERY_STATES.join(', ')}`);
      }
      const list = await listDeliveries(h.engine, req.actor!.accountId, hookId, {
        state,
        limit: optionalInt(p, 'limit'),
        before: optionalInt(p, 'before'),
      });
      return h.send(req, reply, list);
    });
    app.get('/hooks/:id/deliveries/:eventId', async (req, reply) => {
      h.requireAdmin(req);
      const d = await showDelivery(h.engine, req.actor!.accountId, pathId(req, 'id'), pathId(req, 'eventId'));
      return h.send(req, reply, d);
    });
    /** The hook of a recover or replay (another account's: 404) and its window, since to until. */
    const windowOf = async (req: FastifyRequest) => {
      h.requireAdmin(req);
      const hookId = pathId(req, 'id');
      await getHook(h.engine, req.actor!.accountId, hookId);
      const p = { ...h.params(req), ...h.body(req) };
      const since = when(p, 'since', true)!;
      const until = when(p, 'until', false);
      const window = { since, until };
      const problem = windowProblem(window);
      if (problem) throw Errors.badRequest('until', problem);
      return { accountId: req.actor!.accountId, hookId, window };
    };
    app.post('/hooks/:id/deliveries/recover', async (req, reply) => {
      const { accountId, hookId, window } = await windowOf(req);
      const recovered = await recoverFailed(h.engine, accountId, hookId, window, h.clock.now());
      return h.send(req, reply, { recovered });
    });
    app.post('/hooks/:id/deliveries/replay', async (req, reply) => {
      const { accountId, hookId, window } = await windowOf(req);
      const replayed = await replayMissing(h.engine, accountId, hookId, window, h.clock.now());
      return h.send(req, reply, { replayed });
    });
    app.post('/hooks/:id/test', async (req, reply) => {
      h.requireAdmin(req);
      const p = { ...h.params(req), ...h.body(req) };
      const test = await delivery.test(req.actor!.accountId, pathId(req, 'id'), optionalInt(p, 'eventid'));
      return h.send(req, reply, { test });
    });
    app.post('/hooks/:id/deliveries/:eventId/redeliver', async (req, reply) => {
      h.requireAdmin(req);
      const hookId = pathId(req, 'id');
      await getHook(h.engine, req.actor!.accountId, hookId);
      const attempt = await delivery.redeliver(req.actor!.accountId, hookId, pathId(req, 'eventId'));
      return h.send(req, reply, { attempt });
    });
  };
}
