// Routes about the account itself: /ownership/ (users and groups) and activity templates /templates/.
import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../app.js';
import { pathId } from '../params.js';
import {
  createTemplate,
  deleteTemplate,
  listTemplates,
  showTemplate,
  updateTemplate,
} from '../../records/templates.js';

export function accountRoutes(app: FastifyInstance, h: Handlers): void {
  app.get('/ownership', async (req, reply) => {
    const { info } = await h.ctx(req);
    return h.send(req, reply, {
      users: {
        user: [...info.directory.users.values()].map((u) => ({ id: u.id, name: u.name, email: u.email, role: u.role })),
      },
      groups: {
        group: [...info.directory.groups.values()].map((g) => ({
          id: g.id,
          name: g.name,
          members: { user: g.members },
        })),
      },
    });
  });

  app.get('/templates', async (req, reply) => h.send(req, reply, await listTemplates(h.engine, await h.ctx(req))));
  app.post('/templates', async (req, reply) => {
    h.requireAdmin(req);
    return h.send(req, reply, await createTemplate(h.engine, await h.ctx(req), h.body(req)));
  });
  app.get('/templates/:id', async (req, reply) =>
    h.send(req, reply, await showTemplate(h.engine, await h.ctx(req), pathId(req, 'id'))),
  );
  app.put('/templates/:id', async (req, reply) => {
    h.requireAdmin(req);
    return h.send(req, reply, await updateTemplate(h.engine, await h.ctx(req), pathId(req, 'id'), h.body(req)));
  });
  app.delete('/templates/:id', async (req, reply) => {
    h.requireAdmin(req);
    return h.send(req, reply, await deleteTemplate(h.engine, await h.ctx(req), pathId(req, 'id')));
  });
}
