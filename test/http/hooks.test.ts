// Hook management over HTTP (dialect §5) in XML, JSON and form: admins only, per account, validated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp } from '../support/app.js';
import { hookRoutes } from '../../src/http/routes/hooks.js';
import { TargetGuard } from '../../src/delivery/ssrf.js';

const redeliver = async () => ({ id: 1 });

describe.each(ENGINES)('hooks API on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    const guard = new TargetGuard(['127.0.0.0/8']);
    t = await makeApp(engine, { plugins: [hookRoutes(guard, { redeliver: redeliver as never })] });
  });
  afterAll(async () => t.close());

  for (const wire of ['xml', 'json', 'form'] as const) {
    it(`creates, shows, lists, updates and deletes a hook in ${wire}`, async () => {
      const body = {
        type: 'web',
        title: `Lead router ${wire}`,
        active: 1,
        event: 'items.categorize',
        constrainttype: 'contact',
        url: 'http://127.0.0.1:9/endpoint.php',
        contenttype: 'xml',
        secret: 's3cret',
      };
      const c = await call(t, t.adminA, 'POST', '/hooks/', { wire, body });
      expect(c.status).toBe(200);
      const created = c.body.hook ?? c.body;
      const id = Number(created.id);
      expect(id).toBeGreaterThan(0);
      for (const [k, v] of Object.entries(body)) expect(String(created[k])).toBe(String(v));
      const s = await call(t, t.adminA, 'GET', `/hooks/${id}/`, { wire });
      expect(String((s.body.hook ?? s.body).title)).toBe(body.title);
      const l = await call(t, t.adminA, 'GET', '/hooks/', { wire: 'json' });
      expect(l.body[String(id)]).toBeDefined();
      const u = await call(t, t.adminA, 'PUT', `/hooks/${id}/`, { wire, body: { active: 0, contenttype: 'json' } });
      expect(u.status).toBe(200);
      expect(String((u.body.hook ?? u.body).active)).toBe('0');
      expect(String((u.body.hook ?? u.body).event)).toBe('items.categorize');
      // Another account cannot see or touch it; a member cannot manage hooks.
      expect((await call(t, t.adminB, 'GET', `/hooks/${id}/`)).status).toBe(404);
      expect((await call(t, t.adminB, 'DELETE', `/hooks/${id}/`)).status).toBe(404);
      expect((await call(t, t.adminB, 'GET', `/hooks/${id}/deliveries/`)).status).toBe(404);
      expect((await call(t, t.memberA, 'GET', '/hooks/')).status).toBe(403);
      expect((await call(t, t.adminA, 'DELETE', `/hooks/${id}/`, { wire })).status).toBe(200);
      expect((await call(t, t.adminA, 'GET', `/hooks/${id}/`)).status).toBe(404);
    });
  }

  it.each([
    [{ event: 'items.explode', url: 'http://127.0.0.1:9/' }, 'event'],
    [{ event: 'items.create', constrainttype: 'task', url: 'http://127.0.0.1:9/' }, 'constrainttype'],
    [{ event: 'activities.create', constrainttype: 'contact', url: 'http://127.0.0.1:9/' }, 'constrainttype'],
    [{ event: 'items.create', url: 'ftp://127.0.0.1/' }, 'url'],
    [{ event: 'items.create', url: 'http://10.0.0.1/' }, 'url'],
    [{ event: 'items.create', url: 'http://[::ffff:169.254.169.254]/' }, 'url'],
    [{ event: 'items.create', url: 'http://127.0.0.1:9/', contenttype: 'yaml' }, 'contenttype'],
  ])('refuses %o with an error on %s and creates nothing', async (body, field) => {
    const before = await call(t, t.adminA, 'GET', '/hooks/');
    const r = await call(t, t.adminA, 'POST', '/hooks/', { body });
    expect(r.status).toBe(400);
    expect(r.body.status).toBe('failed');
    expect(Object.keys(r.body.errors)).toContain(field);
    const after = await call(t, t.adminA, 'GET', '/hooks/');
    expect(after.body.count).toBe(before.body.count);
  });

  it('refuses an unknown delivery state filter', async () => {
    const c = await call(t, t.adminA, 'POST', '/hooks/', {
      body: { event: 'items.create', url: 'http://127.0.0.1:9/' },
    });
    const id = Number((c.body.hook ?? c.body).id);
    expect((await call(t, t.adminA, 'GET', `/hooks/${id}/deliveries/?state=lost`)).status).toBe(400);
    const ok = await call(t, t.adminA, 'GET', `/hooks/${id}/deliveries/?state=failed`);
    expect(ok.status).toBe(200);
    expect(ok.body.count).toBe(0);
  });
});
