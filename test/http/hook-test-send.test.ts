// POST /hooks/{id}/test/ over HTTP, with a real delivery engine and a real receiver on loopback: a recent
// event of the hook's type sent now, signed, with a webhook-id of its own, whatever the hook's state; nothing
// recorded; clear errors for what cannot be sent.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp } from '../support/app.js';
import { hookRoutes } from '../../src/http/routes/hooks.js';
import { TargetGuard } from '../../src/delivery/ssrf.js';
import { DeliveryEngine } from '../../src/delivery/engine.js';
import { Mailer } from '../../src/delivery/mailer.js';
import { systemClock } from '../../src/delivery/clock.js';
import { solve360Signature, verifyStandard } from '../../src/webhooks/signer.js';
import { receiver, type Receiver } from '../delivery/helpers.js';

describe.each(ENGINES)('test notifications on %s', (engine) => {
  let t: TestApp;
  let delivery: DeliveryEngine;
  const receivers: Receiver[] = [];
  beforeAll(async () => {
    const guard = new TargetGuard(['127.0.0.0/8']);
    // The engine needs the app's storage, which makeApp creates: the routes reach it once it exists.
    const late = {
      redeliver: (...a: Parameters<DeliveryEngine['redeliver']>) => delivery.redeliver(...a),
      test: (...a: Parameters<DeliveryEngine['test']>) => delivery.test(...a),
    };
    t = await makeApp(engine, { plugins: [hookRoutes(guard, late)] });
    delivery = new DeliveryEngine({
      engine: t.db.engine,
      guard,
      mailer: new Mailer(t.db.engine, { smtpUrl: '', from: 'hookline@test.example', clock: systemClock }),
      timeoutMs: 2_000,
      retrySchedule: [5_000],
      concurrency: 4,
      concurrencyPerHook: 2,
    }); // never started: only its test sends run
  });
  afterAll(async () => {
    await delivery.stop({ graceMs: 0 });
    await t.close();
  });
  afterEach(async () => Promise.all(receivers.splice(0).map((r) => r.close())));

  async function hook(body: Record<string, unknown>, status = 200): Promise<{ id: number; rx: Receiver }> {
    const rx = await receiver((_q, res) => {
      res.statusCode = status;
      res.end(status === 200 ? 'thanks' : 'nope');
    });
    receivers.push(rx);
    const c = await call(t, t.adminA, 'POST', '/hooks/', {
      body: { event: 'items.create', url: rx.url, contenttype: 'json', secret: 'test-s3cret', ...body },
    });
    expect(c.status).toBe(200);
    return { id: Number(c.body.id), rx };
  }

  const deliveriesOf = (hookId: number) =>
    t.db.engine.read((x) =>
      x.all('SELECT 1 FROM deliveries WHERE hook_id = ? UNION ALL SELECT 1 FROM attempts WHERE hook_id = ?', [
        hookId,
        hookId,
      ]),
    );

  for (const wire of ['json', 'xml'] as const) {
    it(`sends the latest event of the hook's type to a paused hook, signed, and records nothing (${wire})`, async () => {
      const { id, rx } = await hook({ active: 0 });
      await call(t, t.adminA, 'POST', '/contacts/', { body: { firstname: 'Older', lastname: 'One' } });
      const c = await call(t, t.adminA, 'POST', '/contacts/', { body: { firstname: 'Ada', lastname: 'Lovelace' } });
      const contactId = Number(c.body.item.id);

      const r = await call(t, t.adminA, 'POST', `/hooks/${id}/test/`, { wire });
      expect(r.status).toBe(200);
      const answer = r.body.test;
      expect(rx.requests).toHaveLength(1);
      const q = rx.requests[0];
      const payload = JSON.parse(q.body.toString());
      expect(payload).toMatchObject({ type: 'items.create', objectid: contactId });
      expect(payload.content.item.fields).toMatchObject({ firstname: 'Ada', lastname: 'Lovelace' });
      expect(q.headers['x-solve360-hmac-sha256']).toBe(solve360Signature('test-s3cret', q.body));
      const std = {
        id: String(q.headers['webhook-id']),
        timestamp: String(q.headers['webhook-timestamp']),
        signature: String(q.headers['webhook-signature']),
      };
      expect(verifyStandard('test-s3cret', std, q.body)).toBe(true);
      // Its own id: a receiver that drops repeated ids must not drop the real delivery later.
      expect(std.id).toMatch(new RegExp(`^test_${id}_\\d+_[0-9a-f]{8}$`));
      expect(String(answer.webhookid)).toBe(std.id);
      expect(Number(answer.objectid)).toBe(contactId);
      expect(Number(answer.statuscode)).toBe(200);
      expect(answer.responsebody).toBe('thanks');
      expect(await deliveriesOf(id)).toEqual([]);
    });
  }

  it('sends a named event; a failing receiver is reported, not retried', async () => {
    const { id, rx } = await hook({}, 500);
    const c = await call(t, t.adminA, 'POST', '/companies/', { body: { name: 'Acme' } });
    const eventId = await t.db.engine.read(async (x) => {
      const row = await x.get<{ id: number }>('SELECT id FROM events WHERE object_id = ?', [Number(c.body.item.id)]);
      return Number(row!.id);
    });
    // The hook is active, but the engine is not started: the create's own delivery stays unsent.
    const r = await call(t, t.adminA, 'POST', `/hooks/${id}/test/`, { body: { eventid: eventId } });
    expect(r.status).toBe(200);
    expect(r.body.test).toMatchObject({ eventid: eventId, statuscode: 500, error: 'HTTP 500', responsebody: 'nope' });
    expect(rx.requests).toHaveLength(1);
    expect(JSON.parse(rx.requests[0].body.toString()).objectid).toBe(Number(c.body.item.id));
    const attempts = await t.db.engine.read((x) => x.all('SELECT 1 FROM attempts WHERE hook_id = ?', [id]));
    expect(attempts).toEqual([]);
  });

  it('answers clearly when there is nothing to send, and only to the hook’s own admins', async () => {
    const { id, rx } = await hook({ event: 'activities.restore', constrainttype: 'task' });
    const none = await call(t, t.adminA, 'POST', `/hooks/${id}/test/`);
    expect(none.status).toBe(404);
    expect(none.body.errors.eventid).toBe(
      'No recent activities.restore event of a task to send: make such a change first, or name an event with eventid',
    );
    const other = await call(t, t.adminB, 'POST', '/contacts/', { body: { firstname: 'Other', lastname: 'Account' } });
    const foreign = await t.db.engine.read(async (x) => {
      const row = await x.get<{ id: number }>('SELECT id FROM events WHERE object_id = ?', [
        Number(other.body.item.id),
      ]);
      return Number(row!.id);
    });
    const r = await call(t, t.adminA, 'POST', `/hooks/${id}/test/`, { body: { eventid: foreign } });
    expect(r.status).toBe(404);
    expect(r.body.errors.eventid).toBe(`No event ${foreign}`);
    expect((await call(t, t.adminA, 'POST', `/hooks/${id}/test/`, { body: { eventid: 'x' } })).status).toBe(400);
    expect((await call(t, t.adminB, 'POST', `/hooks/${id}/test/`)).status).toBe(404);
    expect((await call(t, t.memberA, 'POST', `/hooks/${id}/test/`)).status).toBe(403);
    expect(rx.requests).toHaveLength(0);
  });
});
