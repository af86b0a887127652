// Webhook management (dialect §5) and the operations API on deliveries (Hookline's choice of paths):
// /hooks/, /hooks/{id}/, /hooks/{id}/deliveries/, /hooks/{id}/deliveries/{eventId}/redeliver/. Admins only.
import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../app.js';
import { pathId } from '../params.js';
import { Errors } from '../../errors.js';
import { parseId } from '../../records/values.js';
import { createHook, deleteHook, getHook, listHooks, updateHook, type UrlChecker } from '../../webhooks/hooks.js';
import { DELIVERY_STATES, listDeliveries } from '../../delivery/history.js';
import type { DeliveryEngine } from '../../delivery/engine.js';
import type { TreeObject } from '../../dialect/tree.js';

function optionalInt(p: TreeObject, key: string): number | undefined {
  const v = p[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = parseId(v);
  if (n === null) throw Errors.badRequest(key, `${key} must be a positive whole number`);
  return n;
}

export function hookRoutes(guard: UrlChecker, delivery: Pick<DeliveryEngine, 'redeliver'>) {
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
    app.post('/hooks/:id/deliveries/:eventId/redeliver', async (req, reply) => {
      h.requireAdmin(req);
      const hookId = pathId(req, 'id');
      await getHook(h.engine, req.actor!.accountId, hookId);
      const attempt = await delivery.redeliver(req.actor!.accountId, hookId, pathId(req, 'eventId'));
      return h.send(req, reply, { attempt });
    });
  };
}
