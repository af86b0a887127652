// Routes of the records API (dialect §2–§3): /{contacts|companies|projectblogs}/… for items, their
// categories and field definitions, and their activities by segment.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Handlers } from '../app.js';
import { Errors } from '../../errors.js';
import { ITEM_KINDS, activityKindBySegment, type ActivityKind, type ItemKind } from '../../records/kinds.js';
import { createItem, listItems, showItem, trashItem, updateItem } from '../../records/items.js';
import { createActivity, insertTemplate, trashActivity, updateActivity } from '../../records/activities.js';
import { createCategory, listCategories } from '../../records/categories.js';
import { createField, listFields } from '../../records/fields.js';
import { parseId } from '../../records/values.js';
import { pathId } from '../params.js';

type P = Record<string, string>;

function activityKind(req: FastifyRequest, kind: ItemKind): ActivityKind {
  const segment = (req.params as P).segment;
  const a = activityKindBySegment.get(segment);
  if (!a) throw Errors.notFound('segment', `Unknown ${kind.segment} segment "${segment}"`);
  return a;
}

export function recordRoutes(app: FastifyInstance, h: Handlers): void {
  for (const kind of ITEM_KINDS) {
    const base = `/${kind.segment}`;

    app.get(base, async (req, reply) =>
      h.send(req, reply, await listItems(h.engine, await h.ctx(req), kind, h.params(req))),
    );
    app.post(base, async (req, reply) => {
      const out = await createItem(h.engine, await h.ctx(req), kind, h.body(req));
      return h.send(req, reply, out);
    });

    app.get(`${base}/categories`, async (req, reply) =>
      h.send(req, reply, await listCategories(h.engine, await h.ctx(req), kind)),
    );
    app.post(`${base}/categories`, async (req, reply) =>
      h.send(req, reply, await createCategory(h.engine, await h.ctx(req), kind, h.body(req))),
    );

    app.get(`${base}/fields`, async (req, reply) => h.send(req, reply, listFields(await h.ctx(req), kind)));
    app.post(`${base}/fields`, async (req, reply) => {
      h.requireAdmin(req);
      const out = await createField(h.engine, await h.ctx(req), kind, h.body(req));
      h.cache.invalidate(req.actor!.accountId);
      return h.send(req, reply, out);
    });

    app.get(`${base}/:id`, async (req, reply) =>
      h.send(req, reply, await showItem(h.engine, await h.ctx(req), kind, pathId(req, 'id'))),
    );
    app.put(`${base}/:id`, async (req, reply) => {
      const out = await updateItem(h.engine, await h.ctx(req), kind, pathId(req, 'id'), h.body(req));
      return h.send(req, reply, out);
    });
    app.delete(`${base}/:id`, async (req, reply) => {
      const out = await trashItem(h.engine, await h.ctx(req), kind, pathId(req, 'id'), false);
      return h.send(req, reply, out);
    });
    app.post(`${base}/:id/restore`, async (req, reply) => {
      const out = await trashItem(h.engine, await h.ctx(req), kind, pathId(req, 'id'), true);
      return h.send(req, reply, out);
    });

    // POST /contacts/{segment}/: create an activity, or insert a template's activities.
    app.post(`${base}/:segment`, async (req, reply) => {
      const segment = (req.params as P).segment;
      if (parseId(segment) !== null) throw Errors.methodNotAllowed('POST');
      const ctx = await h.ctx(req);
      let out;
      if (segment === 'template') out = await insertTemplate(h.engine, ctx, kind, h.body(req));
      else {
        const a = activityKind(req, kind);
        if (a.upload)
          throw Errors.badRequest(
            'file',
            `A ${a.segment} is uploaded as multipart/form-data with parts parent and file`,
          );
        out = await createActivity(h.engine, ctx, kind, a, h.body(req));
      }
      return h.send(req, reply, out);
    });
    app.put(`${base}/:segment/:aid`, async (req, reply) => {
      const out = await updateActivity(
        h.engine,
        await h.ctx(req),
        kind,
        activityKind(req, kind),
        pathId(req, 'aid'),
        h.body(req),
      );
      return h.send(req, reply, out);
    });
    // DELETE puts an activity in the trash, POST …/restore takes it out: one handler, told which.
    const trash = (restore: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
      const ctx = await h.ctx(req);
      const out = await trashActivity(h.engine, ctx, kind, activityKind(req, kind), pathId(req, 'aid'), restore);
      return h.send(req, reply, out);
    };
    app.delete(`${base}/:segment/:aid`, trash(false));
    app.post(`${base}/:segment/:aid/restore`, trash(true));
  }
}
