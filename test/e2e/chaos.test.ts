// Nothing lost under chaos, on both engines: a real `hookline serve` takes contact creates through its API
// while it is killed with SIGKILL again and again (requests, claims and deliveries in flight), and restarted
// on the same database; its receiver fails first attempts in every way a receiver can (500, a reset, a
// redirect, a hang past the timeout), and always fails a few deliveries. Once it has settled: every
// acknowledged create has its event, every event has a delivery to each matching hook, every delivery has
// ended — succeeded only after a 2xx, failed only after five attempts, with one e-mail each, received by a
// real SMTP server — and every notification carried a valid signature.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { databaseFor, type FreshDatabase } from '../support/fresh-database.js';
import { api, serve, serverEnv, stop, type Proc } from '../support/serve.js';
import { receiver, smtpSink, type Receiver, type SmtpSink } from '../delivery/helpers.js';
import { openStorage } from '../../src/storage/open.js';
import { EXPIRED_LEASES_FORGIVEN } from '../../src/delivery/claim.js';

const ADMIN = { email: 'chaos@example.org', token: 'chaos-token-0123456789abcdef' };
const SECRET = 'chaos-secret';
/** Creates in all, and how many clients send them at once. */
const CREATES = 480;
const CLIENTS = 8;
/** A SIGKILL each time this many more creates have been acknowledged. */
const KILL_EVERY = 100;
/** Events whose id is a multiple of this fail at every attempt, to every hook. */
const ALWAYS_FAILING = 25;

/** What the receiver does with the k-th request (from 1) of a delivery, by its event id. */
function behaviour(eventId: number, k: number): 'ok' | 'error' | 'reset' | 'redirect' | 'hang' {
  if (eventId % ALWAYS_FAILING === 0) return 'error';
  if (k === 1 && eventId % 3 === 0) return 'error';
  if (k === 1 && eventId % 7 === 0) return 'reset';
  if (k === 1 && eventId % 11 === 0) return 'redirect';
  if (k === 1 && eventId % 13 === 0) return 'hang';
  if (k === 2 && eventId % 5 === 0) return 'reset';
  return 'ok';
}

describe.each(ENGINES)('chaos on %s: kill -9 again and again, receivers failing every way', (engine) => {
  let dir: string;
  let db: FreshDatabase;
  let rx: Receiver;
  let smtp: SmtpSink;
  /** requests per webhook-id, and the webhook-ids answered 2xx */
  const seen = new Map<string, number>();
  const answered2xx = new Set<string>();
  let badSignatures = 0;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-chaos-'));
    db = await databaseFor(engine, 'hookline_chaos');
    smtp = await smtpSink();
    rx = await receiver((req, res, body) => {
      const id = String(req.headers['webhook-id']);
      if (req.headers['x-solve360-hmac-sha256'] !== createHmac('sha256', SECRET).update(body).digest('hex'))
        badSignatures++;
      const k = (seen.get(id) ?? 0) + 1;
      seen.set(id, k);
      const what = behaviour(Number(id.split('_')[2]), k);
      if (what === 'hang') return;
      if (what === 'reset') return req.socket.destroy();
      if (what === 'redirect') return res.writeHead(302, { location: '/elsewhere' }).end();
      if (what === 'error') return res.writeHead(500).end('no');
      answered2xx.add(id);
      res.end('ok');
    });
  });
  afterAll(async () => {
    await rx.close();
    await smtp.close();
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing, and ends every delivery as it should', async () => {
    const env = serverEnv(
      { dir, databaseUrl: db.url, admin: ADMIN },
      {
        HOOKLINE_DELIVERY_TIMEOUT: '500ms',
        HOOKLINE_DELIVERY_LEASE: '2s',
        HOOKLINE_RETRY_SCHEDULE: '100ms,200ms,300ms,400ms',
        HOOKLINE_SMTP_URL: smtp.url,
        HOOKLINE_MAIL_FROM: 'hookline@chaos.example',
      },
    );
    let p: Proc = await serve(env);
    const hooks = [
      { contenttype: 'json', constrainttype: 'all', event: 'items.create' },
      { contenttype: 'xml', constrainttype: 'contact', event: 'items.create' },
      { contenttype: 'form', constrainttype: 'all', event: 'items.create' },
      // matches none of the events raised here
      { contenttype: 'json', constrainttype: 'all', event: 'items.delete' },
    ];
    const hookIds: number[] = [];
    for (const h of hooks) {
      const r = await api(p, ADMIN, 'POST', '/hooks/', { ...h, url: rx.url, secret: SECRET });
      expect(r.status).toBe(200);
      hookIds.push(Number(r.body.id));
    }

    // Clients create contacts; every KILL_EVERY acknowledgements the server is killed and started again.
    const acked: number[] = [];
    let sent = 0;
    let kills = 0;
    let restarting: Promise<void> | null = null;
    const killAndRestart = async () => {
      kills++;
      await stop(p, 'SIGKILL');
      p = await serve(env);
    };
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (sent < CREATES) {
          if (restarting) await restarting;
          sent++;
          const r = await api(p, ADMIN, 'POST', '/contacts/', { firstname: 'Chaos', lastname: `N${sent}` }).catch(
            () => null, // the server died under it: committed or not, unknown
          );
          if (r?.status === 200) {
            acked.push(Number(r.body.item.id));
            if (acked.length % KILL_EVERY === 0 && !restarting) {
              restarting = killAndRestart().finally(() => (restarting = null));
            }
          }
        }
      }),
    );
    if (restarting) await restarting;
    expect(kills).toBeGreaterThanOrEqual(3);

    // Let it settle: every delivery ends (retries take a second or two, an expired lease two seconds more).
    const storage = await openStorage({ databaseUrl: db.url, dataDir: dir });
    try {
      // Every delivery ended and every e-mail about it went out over SMTP. An e-mail that the process had
      // claimed when it was killed waits for its lease (two minutes, about as long as nodemailer takes to give
      // up on a connection) before it is sent again: the test does not wait that long. Once nothing else is
      // left, it runs those leases out (it drives that clock), and the mail loop sends them at its next poll.
      const unsettled = async (leasedToo: boolean) =>
        Number(
          (await storage.read((x) =>
            x.get<{ n: number }>(
              `SELECT (SELECT COUNT(*) FROM deliveries WHERE state = 'pending')
                    + (SELECT COUNT(*) FROM mailbox WHERE sent_at IS NULL AND (? = 1 OR next_send_at <= ?)) AS n`,
              [leasedToo ? 1 : 0, Date.now() + 10_000],
            ),
          ))!.n,
        );
      const settle = async (leasedToo: boolean) => {
        for (let i = 0; i < 300 && (await unsettled(leasedToo)) > 0; i++) await new Promise((r) => setTimeout(r, 100));
      };
      await settle(false);
      await storage.write((x) =>
        x.run('UPDATE mailbox SET next_send_at = ? WHERE sent_at IS NULL AND next_send_at > ?', [
          Date.now(),
          Date.now(),
        ]),
      );
      await settle(true);
      await stop(p);

      const events = await storage.read((x) =>
        x.all<{ id: number; object_id: number }>("SELECT id, object_id FROM events WHERE type = 'items.create'"),
      );
      const deliveries = await storage.read((x) =>
        x.all<{ hook_id: number; event_id: number; state: string; attempt_count: number; expired_leases: number }>(
          'SELECT hook_id, event_id, state, attempt_count, expired_leases FROM deliveries',
        ),
      );
      const mails = await storage.read((x) => x.get<{ n: number }>('SELECT COUNT(*) AS n FROM mailbox'));
      const made = await storage.read((x) =>
        x.all<{ hook_id: number; event_id: number; n: number }>(
          `SELECT hook_id, event_id, COUNT(*) AS n FROM attempts WHERE trigger = 'scheduled' GROUP BY hook_id, event_id`,
        ),
      );
      const attemptsOf = new Map(made.map((m) => [`${Number(m.hook_id)}_${Number(m.event_id)}`, Number(m.n)]));

      // Every acknowledged create was committed with its event (some unacknowledged ones too).
      const objects = new Set(events.map((e) => Number(e.object_id)));
      expect(acked.filter((id) => !objects.has(id))).toEqual([]);
      expect(events.length).toBeGreaterThanOrEqual(acked.length);

      // One delivery per event and matching hook, none to the hook on another event.
      const matching = hookIds.slice(0, 3);
      const keys = deliveries.map((d) => `${Number(d.hook_id)}_${Number(d.event_id)}`).sort();
      expect(keys).toEqual(events.flatMap((e) => matching.map((h) => `${h}_${Number(e.id)}`)).sort());

      // Every delivery ended: succeeded only after the receiver answered 2xx; failed only where every
      // attempt fails, after all five — five counted, five recorded (none twice: a process does not send again
      // what it still sends), and at least five requests at the receiver (the crashes used up none of them)
      // — with one e-mail each. Unless one was held by the process at more kills than are forgiven
      // (EXPIRED_LEASES_FORGIVEN; it happens to the odd delivery that a restart claims just before each
      // kill): each kill past those counts as an attempt that was not recorded, and one claimed past its last
      // attempt is failed without being sent (a sixth, recorded attempt that no request went with).
      const wrong = deliveries.filter((d) => {
        const key = `${Number(d.hook_id)}_${Number(d.event_id)}`;
        const hopeless = Number(d.event_id) % ALWAYS_FAILING === 0;
        if (d.state === 'succeeded') return hopeless || !answered2xx.has(`dlv_${key}`);
        if (d.state === 'failed') {
          const counted = Math.max(0, Number(d.expired_leases) - EXPIRED_LEASES_FORGIVEN);
          const count = Number(d.attempt_count);
          const recorded = attemptsOf.get(key) ?? 0;
          const unsent = count === 6 ? 1 : 0;
          return (
            !hopeless ||
            (count !== 5 && !(count === 6 && counted > 0)) ||
            recorded !== count - counted ||
            (seen.get(`dlv_${key}`) ?? 0) < recorded - unsent
          );
        }
        return true;
      });
      const keyOf = (d: { hook_id: number; event_id: number }) => `${Number(d.hook_id)}_${Number(d.event_id)}`;
      expect(
        wrong.map((d) => ({ ...d, recorded: attemptsOf.get(keyOf(d)), seen: seen.get(`dlv_${keyOf(d)}`) })),
      ).toEqual([]);
      const failed = deliveries.filter((d) => d.state === 'failed').length;
      expect(failed).toBeGreaterThan(0);
      expect(failed).toBe(events.filter((e) => Number(e.id) % ALWAYS_FAILING === 0).length * matching.length);
      expect(Number(mails!.n)).toBe(failed);
      // Each reached the SMTP server (more than once only if a crash came between sending and noting it).
      const told = new Set(
        smtp.mails.map((m) => /\(hook (\d+)\)[\s\S]*\(event (\d+)\)/.exec(m.text)?.slice(1, 3).join('_')),
      );
      const failedKeys = deliveries
        .filter((d) => d.state === 'failed')
        .map((d) => `${Number(d.hook_id)}_${Number(d.event_id)}`);
      expect(failedKeys.filter((k) => !told.has(k))).toEqual([]);
      expect(smtp.mails.every((m) => m.to.includes(ADMIN.email))).toBe(true);
      expect(badSignatures).toBe(0);
    } finally {
      await stop(p);
      await storage.close();
    }
  }, 120_000);
});
