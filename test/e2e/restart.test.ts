// A crash and a restart on both engines, with the default lease (80 s): a real `hookline serve` is killed
// with SIGKILL while a notification is in flight to a receiver that never answers it, and started again on
// the same database. The new process ends the dead one's leases as it starts (src/delivery/owners.ts), so
// the notification goes out again at once, with the same webhook-id — not when the lease would have run out.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { databaseFor, type FreshDatabase } from '../support/fresh-database.js';
import { api, serve, serverEnv, stop, type Proc } from '../support/serve.js';
import { receiver, type Receiver } from '../delivery/helpers.js';

const ADMIN = { email: 'restart@example.org', token: 'restart-token-0123456789abcdef' };

describe.each(ENGINES)('a restart after kill -9 on %s', (engine) => {
  let dir: string;
  let db: FreshDatabase;
  let rx: Receiver;
  const procs: Proc[] = [];
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-restart-'));
    db = await databaseFor(engine, 'hookline_restart');
    // The first request is never answered: the process is killed while it is in flight.
    rx = await receiver((_req, res, _body, n) => (n === 1 ? undefined : res.end('ok')));
  });
  afterAll(async () => {
    for (const p of procs) await stop(p, 'SIGKILL');
    await rx.close();
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sends what the dead process had in flight again at once, with the same webhook-id', async () => {
    const env = serverEnv({ dir, databaseUrl: db.url, admin: ADMIN });
    const first = await serve(env);
    procs.push(first);
    const hook = await api(first, ADMIN, 'POST', '/hooks/', {
      event: 'items.create',
      constrainttype: 'all',
      contenttype: 'json',
      url: rx.url,
      secret: 'restart-secret',
    });
    expect(hook.status).toBe(200);
    const created = await api(first, ADMIN, 'POST', '/contacts/', { firstname: 'Crash', lastname: 'Test' });
    expect(created.status).toBe(200);
    await rx.waitFor(1);
    await stop(first, 'SIGKILL');

    const second = await serve(env);
    procs.push(second);
    const restarted = Date.now();
    // Well within the default lease (80 s), which is what it would wait for otherwise.
    await rx.waitFor(2, 15_000);
    const waited = Date.now() - restarted;
    expect(waited).toBeLessThan(15_000);
    const [a, b] = rx.requests;
    expect(b.headers['webhook-id']).toBe(a.headers['webhook-id']);
    expect(JSON.parse(b.body.toString()).objectid).toBe(Number(created.body.item.id));
    // The delivery ends succeeded, its crashed attempt made again under the same number.
    const eventId = String(a.headers['webhook-id']).split('_')[2];
    let delivery: { state: string; attemptcount: number } | undefined;
    for (let i = 0; i < 100 && delivery?.state !== 'succeeded'; i++) {
      delivery = (await api(second, ADMIN, 'GET', `/hooks/${hook.body.id}/deliveries/${eventId}/`)).body.delivery;
      if (delivery?.state !== 'succeeded') await new Promise((r) => setTimeout(r, 50));
    }
    expect(delivery).toMatchObject({ state: 'succeeded', attemptcount: 1 });
  });
});
