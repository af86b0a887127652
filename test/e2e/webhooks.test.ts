// End to end through a real `hookline serve` process on SQLite: a hook made through the API, a contact
// change, a signed notification at a loopback receiver, the operations API, the CLI — and a kill -9 in
// the middle of a delivery followed by a restart, which loses nothing and repeats the same webhook-id.
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiver, type Receiver } from '../delivery/helpers.js';
import { CLI, api as call, serve, serverEnv, type Proc } from '../support/serve.js';

const ADMIN = { email: 'e2e@example.org', token: 'e2e-token-0123456789abcdef' };
const SECRET = 's3cret-e2e';
const HEADER_KEY = 'gateway-key-e2e';

/** Asks again (for up to 2 s) until the answer passes `ok`: outcomes are recorded just after the answer. */
async function until<T>(ask: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let v = await ask();
  for (let i = 0; i < 100 && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 20));
    v = await ask();
  }
  return v;
}

const api = (p: Proc, method: string, url: string, body?: unknown) => call(p, ADMIN, method, url, body);

describe('webhooks end to end (hookline serve on SQLite)', () => {
  let dir: string;
  let env: Record<string, string>;
  let hanging: boolean;
  let rx: Receiver;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-e2e-'));
    hanging = false;
    rx = await receiver((_req, res) => {
      if (!hanging) res.end('ok');
    });
    env = serverEnv(
      { dir, databaseUrl: '', admin: ADMIN },
      {
        // Everything logged, so that the check that no secret is in the logs sees every line.
        HOOKLINE_LOG_LEVEL: 'info',
        // The hanging request must still hang when the process is killed; the lease (at least twice the
        // timeout, for deliveries claimed ahead) decides how soon the restarted process sends it again.
        HOOKLINE_DELIVERY_TIMEOUT: '4s',
        HOOKLINE_DELIVERY_LEASE: '9s',
        HOOKLINE_RETRY_SCHEDULE: '1s',
      },
    );
  });
  afterAll(async () => {
    await rx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers a signed notification, lists it, redelivers it; kill -9 mid-delivery loses nothing', async () => {
    let p = await serve(env);
    const hook = await api(p, 'POST', '/hooks/', {
      type: 'web',
      title: 'e2e',
      active: 1,
      event: 'items.create',
      constrainttype: 'contact',
      url: rx.url,
      contenttype: 'json',
      secret: SECRET,
      headers: { 'X-Api-Key': HEADER_KEY },
    });
    expect(hook.status).toBe(200);
    const hookId = Number(hook.body.id ?? hook.body.hook?.id);
    expect(hookId).toBeGreaterThan(0);

    // A refused target is refused at creation.
    const refused = await api(p, 'POST', '/hooks/', { event: 'items.create', url: 'http://169.254.169.254/latest' });
    expect(refused.status).toBe(400);

    const c = await api(p, 'POST', '/contacts/', { firstname: 'Ada', lastname: 'Lovelace' });
    await rx.waitFor(1, 10_000);
    const first = rx.requests[0];
    expect(first.headers['x-solve360-hmac-sha256']).toBe(createHmac('sha256', SECRET).update(first.body).digest('hex'));
    expect(first.headers['x-api-key']).toBe(HEADER_KEY);
    const payload = JSON.parse(first.body.toString());
    expect(payload).toMatchObject({ type: 'items.create', objectid: c.body.item.id });
    expect(payload.content.item.fields).toMatchObject({ firstname: 'Ada', lastname: 'Lovelace' });

    // The operations API shows it, with its attempt (recorded just after the receiver's answer).
    let list = await until(
      () => api(p, 'GET', `/hooks/${hookId}/deliveries/?state=succeeded`),
      (l) => l.body.count === 1,
    );
    expect(list.status).toBe(200);
    expect(list.body.count).toBe(1);
    const eventId = Number(Object.keys(list.body).find((k) => /^\d+$/.test(k)));
    // One delivery shows the very bytes the receiver got, and the headers that do not change between attempts.
    const one = await api(p, 'GET', `/hooks/${hookId}/deliveries/${eventId}/`);
    expect(one.status).toBe(200);
    expect(one.body.delivery.request.body).toBe(first.body.toString('utf8'));
    for (const h of ['content-type', 'user-agent', 'webhook-id'])
      expect(one.body.delivery.request.headers[h]).toBe(first.headers[h]);
    expect(one.body.delivery.attempts.attempt).toMatchObject([{ trigger: 'scheduled', statuscode: 200 }]);
    const manual = await api(p, 'POST', `/hooks/${hookId}/deliveries/${eventId}/redeliver/`);
    expect(manual.status).toBe(200);
    await rx.waitFor(2, 10_000);
    expect(rx.requests[1].headers['webhook-id']).toBe(first.headers['webhook-id']);

    // Now the receiver hangs: the next delivery is in flight when the process is killed.
    hanging = true;
    await api(p, 'POST', '/contacts/', { firstname: 'Grace', lastname: 'Hopper' });
    await rx.waitFor(3, 10_000);
    const inFlightId = rx.requests[2].headers['webhook-id'];
    p.child.kill('SIGKILL');
    await new Promise((r) => p.child.on('exit', r));

    // After a restart (and the lease running out), it arrives again, with the same webhook-id.
    hanging = false;
    p = await serve(env);
    await rx.waitFor(4, 45_000);
    expect(rx.requests[3].headers['webhook-id']).toBe(inFlightId);
    expect(JSON.parse(rx.requests[3].body.toString()).content.item.fields.firstname).toBe('Grace');
    list = await until(
      () => api(p, 'GET', `/hooks/${hookId}/deliveries/?state=pending`),
      (l) => l.body.count === 0,
    );
    expect(list.body.count).toBe(0);

    // A new secret: for HOOKLINE_SECRET_OVERLAP (24 h by default) webhook-signature carries the old one's too.
    const rotated = await api(p, 'PUT', `/hooks/${hookId}/`, { secret: 'n3w-secret' });
    expect(rotated.status).toBe(200);
    await api(p, 'POST', '/contacts/', { firstname: 'Katherine', lastname: 'Johnson' });
    await rx.waitFor(5, 10_000);
    const next = rx.requests[4];
    expect(next.headers['x-solve360-hmac-sha256']).toBe(
      createHmac('sha256', 'n3w-secret').update(next.body).digest('hex'),
    );
    const signed = `${String(next.headers['webhook-id'])}.${String(next.headers['webhook-timestamp'])}.${next.body.toString()}`;
    expect(String(next.headers['webhook-signature']).split(' ')).toEqual(
      ['n3w-secret', SECRET].map((k) => `v1,${createHmac('sha256', k).update(signed).digest('base64')}`),
    );
    const exited = new Promise((r) => p.child.on('exit', r));
    p.child.kill('SIGTERM');
    await exited;
    // Secrets never reach the logs: not the hook's secrets, not its own headers' values, not the token.
    const logged = p.output();
    expect(logged).toContain('serving on');
    for (const secret of [SECRET, 'n3w-secret', HEADER_KEY, ADMIN.token]) expect(logged).not.toContain(secret);

    // The CLI sees the same deliveries — for the hook's own account only.
    const db = new Database(path.join(dir, 'hookline.sqlite'), { readonly: true });
    const { account_id: accountId } = db.prepare('SELECT account_id FROM users WHERE email = ?').get(ADMIN.email) as {
      account_id: number;
    };
    db.close();
    const cliList = (account: number) =>
      spawnSync(
        process.execPath,
        [...CLI, 'deliveries', 'list', '--account', String(account), '--hook', String(hookId)],
        {
          env: { ...process.env, ...env },
          encoding: 'utf8',
        },
      );
    const cli = cliList(accountId);
    expect(cli.status).toBe(0);
    expect(JSON.parse(cli.stdout).count).toBe(3);
    const other = cliList(accountId + 1);
    expect(other.status).toBe(2);
    expect(other.stderr).toContain(`No hook ${hookId}`);
    const mb = spawnSync(process.execPath, [...CLI, 'mailbox'], { env: { ...process.env, ...env }, encoding: 'utf8' });
    expect(mb.status).toBe(0);
    expect(mb.stdout).toContain('the mailbox is empty');
  }, 90_000);
});
