import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp } from '../support/app.js';

describe.each(ENGINES)('smoke on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp(engine);
  });
  afterAll(async () => t.close());

  it('creates and shows a contact in XML, JSON and form', async () => {
    for (const wire of ['xml', 'json', 'form'] as const) {
      const c = await call(t, t.adminA, 'POST', '/contacts/', { wire, body: { firstname: 'Aaron', lastname: wire } });
      expect(c.status).toBe(200);
      expect(c.body.status).toBe('success');
      const id = c.body.item.id;
      const s = await call(t, t.adminA, 'GET', `/contacts/${id}/`, { wire });
      expect(String(s.body.item.name)).toBe(`Aaron ${wire}`);
    }
  });
});
