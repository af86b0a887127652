// The example receiver of docs/receiving.md (examples/receiver.mjs), run as its own process exactly as the
// guide says, against Hookline's delivery engine: it takes every format, refuses a changed body, an old
// timestamp, a wrong secret or an unsigned request, and answers a repeated webhook-id without taking it twice.
// Also the guide's word on Standard Webhooks libraries: the key is base64 of the secret's UTF-8 bytes.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { makeEngine, type TestEngine } from '../support/engines.js';
import { DeliveryEngine } from '../../src/delivery/engine.js';
import { TargetGuard } from '../../src/delivery/ssrf.js';
import { Mailer } from '../../src/delivery/mailer.js';
import { systemClock } from '../../src/delivery/clock.js';
import { buildNotification } from '../../src/delivery/notification.js';
import { insertHook, newAccount, raiseEvent } from '../delivery/helpers.js';

const SECRET = 'a hook’s sécret';

describe('the example receiver (docs/receiving.md)', () => {
  let child: ChildProcess;
  let url: string;
  let lines: string[];
  let db: TestEngine;
  let delivery: DeliveryEngine;

  /** Waits until the receiver has printed `n` lines in all. */
  async function printed(n: number): Promise<string[]> {
    for (let i = 0; i < 250 && lines.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    return lines;
  }

  beforeAll(async () => {
    lines = [];
    child = spawn(process.execPath, ['examples/receiver.mjs'], {
      env: { ...process.env, HOOKLINE_SECRET: SECRET, PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const port = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^listening on (\d+)$/m.exec(out);
        if (m && !url) resolve(m[1]);
        const done = out.split('\n');
        out = done.pop()!;
        if (url) lines.push(...done);
      });
      child.on('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
    });
    url = `http://127.0.0.1:${port}/hook`;
    lines.length = 0;
    db = await makeEngine('sqlite');
    delivery = new DeliveryEngine({
      engine: db.engine,
      guard: new TargetGuard(['127.0.0.0/8']),
      mailer: new Mailer(db.engine, { smtpUrl: '', from: 'hookline@test.example', clock: systemClock }),
      timeoutMs: 5_000,
      retrySchedule: [60_000],
      concurrency: 4,
      concurrencyPerHook: 4,
      handOff: false,
    });
  }, 30_000);
  afterAll(async () => {
    await delivery.stop({ graceMs: 0 });
    await db.destroy();
    child.kill();
  });

  it('takes each format from Hookline once, even when a notification comes again', async () => {
    const { accountId } = await newAccount(db.engine);
    const hooks = [];
    for (const contenttype of ['json', 'xml', 'form'] as const) {
      hooks.push(await insertHook(db.engine, accountId, { url, contenttype, secret: SECRET }));
    }
    const eventId = await raiseEvent(db.engine, accountId, { now: Date.now(), objectId: 4242 });
    expect(await delivery.runDue()).toBe(3);
    const got = await printed(3);
    expect([...got].sort()).toEqual(hooks.map((h) => `accepted dlv_${h}_${eventId} items.create 4242`).sort());
    // A repeat carries the same webhook-id (a retry, a resend after a crash, a manual redelivery).
    const again = await delivery.redeliver(accountId, hooks[0], eventId);
    expect(again.statuscode).toBe(200);
    expect((await printed(4))[3]).toBe(`duplicate dlv_${hooks[0]}_${eventId}`);
  });

  it('refuses a changed body, an old timestamp, another secret and an unsigned request; takes the old secret’s signature during a rotation', async () => {
    const before = lines.length;
    const source = {
      hookId: 7,
      eventId: 9,
      hook: { url, contenttype: 'json', secret: SECRET },
      event: { type: 'items.update', objectId: 12, content: '{"item":{"id":12}}' },
    };
    const post = (headers: Record<string, string>, body: Buffer | string) =>
      fetch(url, { method: 'POST', headers, body: typeof body === 'string' ? body : new Uint8Array(body) }).then(
        (r) => r.status,
      );
    const fresh = buildNotification(source, Date.now());
    const changed = Buffer.from(fresh.body.toString('utf8').replace('"objectid":12', '"objectid":13'));
    expect(await post(fresh.headers, changed)).toBe(401);
    const old = buildNotification(source, Date.now() - 10 * 60_000);
    expect(await post(old.headers, old.body)).toBe(401);
    const other = buildNotification({ ...source, hook: { ...source.hook, secret: 'another' } }, Date.now());
    expect(await post(other.headers, other.body)).toBe(401);
    expect(await post({ 'content-type': 'application/json' }, fresh.body)).toBe(401);
    // While the hook's secret changes, the notification carries the old secret's signature too: a receiver
    // still on the old one takes it.
    const rotated = buildNotification(
      { ...source, eventId: 10, hook: { ...source.hook, secret: 'the new secret', previousSecret: SECRET } },
      Date.now(),
    );
    expect(rotated.headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(await post(rotated.headers, rotated.body)).toBe(204);
    // The Solve360 header alone is checked too.
    const { 'webhook-signature': _s, ...solve360Only } = fresh.headers;
    expect(await post(solve360Only, changed)).toBe(401);
    expect(await post(solve360Only, fresh.body)).toBe(204);
    expect((await printed(before + 7)).slice(before)).toEqual([
      'refused 401 webhook-signature does not match',
      'refused 401 webhook-timestamp is not within 5 minutes of now',
      'refused 401 webhook-signature does not match',
      'refused 401 not signed',
      'accepted dlv_7_10 items.update 12',
      'refused 401 X-Solve360-Hmac-Sha256 does not match',
      `accepted dlv_7_9 items.update 12`,
    ]);
  });

  it('Standard Webhooks libraries verify with base64 of the secret’s UTF-8 bytes as the key, whsec_ or not', () => {
    const n = buildNotification(
      {
        hookId: 1,
        eventId: 2,
        hook: { url, contenttype: 'json', secret: SECRET },
        event: { type: 'items.create', objectId: 3, content: '{"item":{"id":3}}' },
      },
      Date.now(),
    );
    const key = Buffer.from(SECRET, 'utf8').toString('base64');
    for (const secret of [key, `whsec_${key}`]) {
      expect(new Webhook(secret).verify(n.body.toString('utf8'), n.headers)).toMatchObject({ objectid: 3 });
    }
    // The secret as given, not encoded, is another key: the library refuses it.
    expect(() =>
      new Webhook(Buffer.from('not the key').toString('base64')).verify(n.body.toString(), n.headers),
    ).toThrow();
  });
});
