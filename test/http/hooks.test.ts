// Hook management over HTTP (dialect §5) in XML, JSON and form: admins only, per account, validated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp } from '../support/app.js';
import { hookRoutes } from '../../src/http/routes/hooks.js';
import { TargetGuard } from '../../src/delivery/ssrf.js';
import { raiseEvent } from '../delivery/helpers.js';
import { raise } from '../../src/records/events.js';
import { insertAttempt } from '../../src/delivery/record.js';
import { webhookId } from '../../src/webhooks/signer.js';

const redeliver = async () => ({ id: 1 });

describe.each(ENGINES)('hooks API on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    const guard = new TargetGuard(['127.0.0.0/8']);
    t = await makeApp(engine, {
      plugins: [hookRoutes(guard, { redeliver: redeliver as never, test: redeliver as never })],
    });
    // What the delivery engine is told: deliveries may be due that were not before.
    t.db.engine.onDeliveries(() => void notified++);
  });
  let notified = 0;
  afterAll(async () => t.close());

  /**
   * A recover or replay route refuses another account's admin (404), a member (403), no `since`, a `since`
   * that is not a date, and an `until` before `since` (each 400 naming the field).
   */
  async function expectWindowRefusals(url: string, day: string, nextDay: string): Promise<void> {
    expect((await call(t, t.adminB, 'POST', url, { body: { since: day } })).status).toBe(404);
    expect((await call(t, t.memberA, 'POST', url, { body: { since: day } })).status).toBe(403);
    const missing = await call(t, t.adminA, 'POST', url, { body: {} });
    expect(missing.status).toBe(400);
    expect(Object.keys(missing.body.errors)).toEqual(['since']);
    expect((await call(t, t.adminA, 'POST', url, { body: { since: 'yesterday' } })).status).toBe(400);
    const backwards = await call(t, t.adminA, 'POST', url, { body: { since: nextDay, until: day } });
    expect(backwards.status).toBe(400);
    expect(Object.keys(backwards.body.errors)).toEqual(['until']);
  }

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

  it.each(['xml', 'json', 'form'] as const)('takes and shows a hook’s own request headers in %s', async (wire) => {
    const headers = { 'X-Api-Key': `key-${wire}`, 'X-Env': 'prod' };
    const body = { event: 'items.create', url: 'http://127.0.0.1:9/h', headers };
    const c = await call(t, t.adminA, 'POST', '/hooks/', { wire, body });
    expect(c.status, c.text).toBe(200);
    const id = Number((c.body.hook ?? c.body).id);
    const shown = await call(t, t.adminA, 'GET', `/hooks/${id}/`, { wire });
    expect((shown.body.hook ?? shown.body).headers).toEqual(headers);
    expect((await call(t, t.adminA, 'GET', `/hooks/${id}/`, { wire: 'json' })).body.headers).toEqual(headers);
    // A refused name is named; nothing changes.
    const bad = await call(t, t.adminA, 'PUT', `/hooks/${id}/`, { wire, body: { headers: { 'Content-Type': 'x' } } });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.errors)).toEqual(['headers.Content-Type']);
    // Empty clears them.
    const cleared = await call(t, t.adminA, 'PUT', `/hooks/${id}/`, { wire, body: { headers: '' } });
    expect(cleared.status, cleared.text).toBe(200);
    expect((await call(t, t.adminA, 'GET', `/hooks/${id}/`, { wire: 'json' })).body.headers).toEqual({});
    expect((await call(t, t.adminA, 'DELETE', `/hooks/${id}/`)).status).toBe(200);
  });

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

  it('turning a paused hook back on tells the delivery engine (its pending deliveries may be due); other changes do not', async () => {
    const c = await call(t, t.adminA, 'POST', '/hooks/', {
      body: { event: 'items.create', url: 'http://127.0.0.1:9/', active: 0 },
    });
    const id = Number((c.body.hook ?? c.body).id);
    const before = notified;
    expect((await call(t, t.adminA, 'PUT', `/hooks/${id}/`, { body: { title: 'renamed' } })).status).toBe(200);
    expect(notified).toBe(before);
    expect((await call(t, t.adminA, 'PUT', `/hooks/${id}/`, { body: { active: 1 } })).status).toBe(200);
    expect(notified).toBe(before + 1);
    expect((await call(t, t.adminA, 'PUT', `/hooks/${id}/`, { body: { active: 1 } })).status).toBe(200);
    expect(notified).toBe(before + 1); // already on
    expect((await call(t, t.adminA, 'PUT', `/hooks/${id}/`, { body: { active: 0 } })).status).toBe(200);
    expect(notified).toBe(before + 1);
  });

  it('shows one delivery: its attempts, and the request it sends (body byte for byte in the hook’s format; no header values of the hook’s own)', async () => {
    const c = await call(t, t.adminA, 'POST', '/hooks/', {
      body: {
        event: 'items.create',
        url: 'http://127.0.0.1:9/in',
        contenttype: 'xml',
        headers: { 'X-Api-Key': 'k-9f3a' },
      },
    });
    const hookId = Number((c.body.hook ?? c.body).id);
    const content = { item: { id: 467069, name: 'Aaron <Baileys> & "Co"' } };
    const eventId = await raiseEvent(t.db.engine, t.adminA.accountId, { now: Date.now(), content });
    await t.db.engine.write((x) =>
      insertAttempt(x, {
        accountId: t.adminA.accountId,
        hookId,
        eventId,
        trigger: 'scheduled',
        startedAt: Date.now(),
        durationMs: 12,
        statusCode: 500,
        error: 'HTTP 500',
        responseBody: '<h1>oops</h1>',
      }),
    );
    const url = `/hooks/${hookId}/deliveries/${eventId}/`;
    const j = await call(t, t.adminA, 'GET', url);
    expect(j.status, j.text).toBe(200);
    const d = j.body.delivery;
    expect(d).toMatchObject({
      hookid: hookId,
      eventid: eventId,
      webhookid: webhookId(hookId, eventId),
      state: 'pending',
    });
    expect(d.event).toEqual({ type: 'items.create', objectid: 467069 });
    expect(d.attempts.attempt).toHaveLength(1);
    expect(d.attempts.attempt[0]).toMatchObject({
      trigger: 'scheduled',
      statuscode: 500,
      responsebody: '<h1>oops</h1>',
    });
    expect(d.request.url).toBe('http://127.0.0.1:9/in');
    expect(d.request.headers['webhook-id']).toBe(webhookId(hookId, eventId));
    expect(d.request.headers['content-type']).toMatch(/xml/);
    expect(d.request.headers['user-agent']).toMatch(/^Hookline\//);
    expect(d.request.hookheaders).toEqual({ name: ['X-Api-Key'] });
    expect(j.text).not.toContain('k-9f3a');
    expect(d.request.body).toContain('<objectid>467069</objectid>');
    expect(d.request.body).toContain('Aaron &lt;Baileys&gt; &amp; &quot;Co&quot;');
    // In the hook's format as it is now: JSON after a change.
    expect((await call(t, t.adminA, 'PUT', `/hooks/${hookId}/`, { body: { contenttype: 'json' } })).status).toBe(200);
    const now = await call(t, t.adminA, 'GET', url, { wire: 'xml' });
    expect(now.status, now.text).toBe(200);
    const body = JSON.parse(String(now.body.delivery.request.body));
    expect(body).toEqual({ type: 'items.create', objectid: 467069, content });
    // Only the account's admins, only its hooks, only deliveries that exist.
    expect((await call(t, t.adminB, 'GET', url)).status).toBe(404);
    expect((await call(t, t.memberA, 'GET', url)).status).toBe(403);
    const none = await call(t, t.adminA, 'GET', `/hooks/${hookId}/deliveries/${eventId + 1000}/`);
    expect(none.status).toBe(404);
    expect(Object.keys(none.body.errors)).toEqual(['eventid']);
    expect((await call(t, t.adminA, 'GET', `/hooks/${hookId}/deliveries/x1/`)).status).toBe(404);
    expect((await call(t, t.adminA, 'DELETE', `/hooks/${hookId}/`)).status).toBe(200);
  });

  it('recover: failed deliveries of the hook raised in the window are pending again, on a fresh schedule', async () => {
    const c = await call(t, t.adminA, 'POST', '/hooks/', {
      body: { event: 'items.create', url: 'http://127.0.0.1:9/' },
    });
    const hookId = Number((c.body.hook ?? c.body).id);
    const day = Date.parse('2026-11-20T00:00:00Z');
    const at = [day - 3_600_000, day + 3_600_000, day + 2 * 3_600_000, day + 26 * 3_600_000];
    const events = [];
    for (const now of at) events.push(await raiseEvent(t.db.engine, t.adminA.accountId, { now }));
    // Before the window failed; in it, one failed and one succeeded; after it (until) failed.
    const set = (eventId: number, state: string) =>
      t.db.engine.write((x) =>
        x.run(
          'UPDATE deliveries SET state = ?, attempt_count = 5 WHERE account_id = ? AND hook_id = ? AND event_id = ?',
          [state, t.adminA.accountId, hookId, eventId],
        ),
      );
    await set(events[0], 'failed');
    await set(events[1], 'failed');
    await set(events[2], 'succeeded');
    await set(events[3], 'failed');
    const url = `/hooks/${hookId}/deliveries/recover/`;
    await expectWindowRefusals(url, '2026-11-20', '2026-11-21');

    const before = notified;
    const r = await call(t, t.adminA, 'POST', url, {
      wire: 'json',
      body: { since: '2026-11-20', until: '2026-11-21T00:00:00Z' },
    });
    expect(r.status).toBe(200);
    expect(Number(r.body.recovered)).toBe(1);
    expect(notified).toBe(before + 1);
    const states = await t.db.engine.read((x) =>
      x.all<{ event_id: number; state: string; attempt_count: number }>(
        'SELECT event_id, state, attempt_count FROM deliveries WHERE account_id = ? AND hook_id = ? ORDER BY event_id',
        [t.adminA.accountId, hookId],
      ),
    );
    expect(states.map((d) => [d.state, d.attempt_count])).toEqual([
      ['failed', 5],
      ['pending', 0],
      ['succeeded', 5],
      ['failed', 5],
    ]);
  });
  it('replay: events of the window the hook matches and never sent get a delivery now, once', async () => {
    const c = await call(t, t.adminA, 'POST', '/hooks/', {
      body: { event: 'items.create', constrainttype: 'contact', url: 'http://127.0.0.1:9/' },
    });
    const hookId = Number((c.body.hook ?? c.body).id);
    const day = Date.parse('2026-10-20T00:00:00Z');
    const h = (n: number) => day + n * 3_600_000;
    // Sent while the hook was on (its delivery stays as it is), then the hook paused.
    const sent = await raiseEvent(t.db.engine, t.adminA.accountId, { now: h(4) });
    const setState = (eventId: number, state: string) =>
      t.db.engine.write((x) =>
        x.run('UPDATE deliveries SET state = ? WHERE account_id = ? AND hook_id = ? AND event_id = ?', [
          state,
          t.adminA.accountId,
          hookId,
          eventId,
        ]),
      );
    await setState(sent, 'succeeded');
    await t.db.engine.write((x) =>
      x.run('UPDATE hooks SET active = 0 WHERE account_id = ? AND id = ?', [t.adminA.accountId, hookId]),
    );
    const before = await raiseEvent(t.db.engine, t.adminA.accountId, { now: h(-1) });
    const missed = await raiseEvent(t.db.engine, t.adminA.accountId, { now: h(1) });
    await raiseEvent(t.db.engine, t.adminA.accountId, { now: h(2), objectKind: 'company' });
    await raiseEvent(t.db.engine, t.adminA.accountId, { now: h(3), type: 'items.update' });
    await raiseEvent(t.db.engine, t.adminB.accountId, { now: h(2) });
    const after = await raiseEvent(t.db.engine, t.adminA.accountId, { now: h(26) });

    const url = `/hooks/${hookId}/deliveries/replay/`;
    await expectWindowRefusals(url, '2026-10-20', '2026-10-21');

    const deliveries = () =>
      t.db.engine.read((x) =>
        x.all<{ event_id: number; state: string; attempt_count: number; next_attempt_at: number; created_at: number }>(
          'SELECT event_id, state, attempt_count, next_attempt_at, created_at FROM deliveries WHERE account_id = ? AND hook_id = ? ORDER BY event_id',
          [t.adminA.accountId, hookId],
        ),
      );
    const nothingYet = await deliveries();
    const notifiedBefore = notified;
    const window = { since: '2026-10-20', until: '2026-10-21T00:00:00Z' };
    const r = await call(t, t.adminA, 'POST', url, { wire: 'json', body: window });
    expect(r.status).toBe(200);
    expect(Number(r.body.replayed)).toBe(1);
    expect(notified).toBe(notifiedBefore + 1);
    const now = await deliveries();
    expect(now.length).toBe(nothingYet.length + 1);
    const replayed = now.find((d) => Number(d.event_id) === missed)!;
    expect(replayed.state).toBe('pending');
    expect(Number(replayed.attempt_count)).toBe(0);
    expect(Number(replayed.created_at)).toBe(h(1)); // the event's time: recover's window finds it
    expect(Number(replayed.next_attempt_at)).toBeGreaterThan(h(26));
    expect(now.find((d) => Number(d.event_id) === sent)!.state).toBe('succeeded');

    // Again: nothing more. A wider window: the events before and after that one.
    expect(Number((await call(t, t.adminA, 'POST', url, { body: window })).body.replayed)).toBe(0);
    const wide = await call(t, t.adminA, 'POST', url, { body: { since: '2026-10-19', until: '2026-10-23' } });
    expect(Number(wide.body.replayed)).toBe(2);
    const ids = (await deliveries()).map((d) => Number(d.event_id));
    expect(ids).toEqual(expect.arrayContaining([before, missed, sent, after]));
    expect(ids.length).toBe(4);
  });

  it('replay walks every batch of a long window and stops at its start', async () => {
    const c = await call(t, t.adminA, 'POST', '/hooks/', {
      body: { event: 'items.delete', url: 'http://127.0.0.1:9/', active: 0 },
    });
    const hookId = Number((c.body.hook ?? c.body).id);
    const start = Date.parse('2026-09-01T00:00:00Z');
    // 1,234 deletes over a day (more than two batches), between other events of the account.
    await t.db.engine.write(async (x) => {
      for (let i = 0; i < 1234; i++) {
        for (const type of ['items.delete', 'items.update'] as const) {
          await raise(x, {
            accountId: t.adminA.accountId,
            type,
            objectId: 5000 + i,
            objectKind: 'contact',
            content: { item: { id: 5000 + i } },
            now: start + i * 60_000,
          });
        }
      }
    });
    const url = `/hooks/${hookId}/deliveries/replay/`;
    const half = new Date(start + 617 * 60_000).toISOString();
    expect(Number((await call(t, t.adminA, 'POST', url, { body: { since: half } })).body.replayed)).toBe(617);
    expect(Number((await call(t, t.adminA, 'POST', url, { body: { since: '2026-09-01' } })).body.replayed)).toBe(617);
    const n = await t.db.engine.readOne<{ n: number }>(
      'SELECT COUNT(*) AS n FROM deliveries WHERE account_id = ? AND hook_id = ?',
      [t.adminA.accountId, hookId],
    );
    expect(Number(n[0].n)).toBe(1234);
  });
});
