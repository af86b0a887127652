// Sender threads against real receivers on loopback: the same bytes and signatures as the main thread,
// the in-flight caps held where requests are made, stop aborts what is in flight, and closing the threads
// never leaves an attempt hanging.
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalTransport, ThreadTransport, type Transport } from '../../src/delivery/transport.js';
import { TargetGuard } from '../../src/delivery/ssrf.js';
import { solve360Signature, webhookId } from '../../src/webhooks/signer.js';
import { RESPONSE_KEEP } from '../../src/delivery/send.js';
import { receiver, type Receiver } from './helpers.js';
import type { Caps } from '../../src/delivery/caps.js';

const source = (url: string, hookId = 7) => ({
  hookId,
  eventId: 99,
  hook: { url, contenttype: 'json', secret: 'k3y' },
  event: { type: 'items.create', objectId: 12, content: '{"item":{"id":12,"name":"Anna"}}' },
});

describe('transports', () => {
  const open: (Transport | Receiver)[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((o) => o.close()));
  });
  const threads = (timeoutMs = 2_000) => {
    const t = new ThreadTransport({ threads: 1, allowedTargets: ['127.0.0.0/8'], timeoutMs });
    open.push(t);
    return t;
  };

  it('start() starts the sender threads ahead of the first send (which would otherwise wait for one), ready() waits for them to load; close() ends them', async () => {
    const t = threads();
    expect(t.running).toBe(0);
    await t.ready(); // none started: nothing to wait for
    t.start();
    expect(t.running).toBe(1);
    // ready() waits for the thread to load (it says so in its first message), which takes a while.
    expect(t.loaded).toBe(0);
    await t.ready();
    expect(t.loaded).toBe(1);
    const rx = await receiver();
    open.push(rx);
    expect((await t.send(source(rx.url), Date.now())).ok).toBe(true);
    expect(t.running).toBe(1); // the same thread
    await t.close();
    expect(t.running).toBe(0);
    expect(t.loaded).toBe(0);
  });

  it('a sender thread sends the same bytes, headers and signatures as the main thread', async () => {
    const rx = await receiver();
    open.push(rx);
    const local = new LocalTransport(new TargetGuard(['127.0.0.0/8']), 2_000);
    open.push(local);
    const now = Date.parse('2026-11-28T10:00:00Z');
    const a = await local.send(source(rx.url), now);
    const b = await threads().send(source(rx.url), now);
    expect([a.ok, b.ok, a.statusCode, b.statusCode, b.responseBody]).toEqual([true, true, 200, 200, 'ok']);
    const [x, y] = rx.requests;
    expect(y.body.equals(x.body)).toBe(true);
    for (const h of ['content-type', 'user-agent', 'webhook-id', 'webhook-timestamp', 'webhook-signature'])
      expect(y.headers[h], h).toBe(x.headers[h]);
    expect(y.headers['x-solve360-hmac-sha256']).toBe(solve360Signature('k3y', y.body));
  });

  it('refuses a target outside the allowed ranges in the thread too', async () => {
    const r = await threads().send(source('http://10.9.8.7/hook'), Date.now());
    expect(r).toMatchObject({ ok: false, aborted: false });
    expect(r.error).toMatch(/refused target address 10\.9\.8\.7/);
  });

  it('the stop signal aborts requests in flight in the thread (aborted, not an attempt)', async () => {
    const hang = await receiver(() => undefined);
    open.push(hang);
    const stop = new AbortController();
    const pending = threads(20_000).send(source(hang.url), Date.now(), { stop: stop.signal });
    await hang.waitFor(1);
    stop.abort();
    expect(await pending).toMatchObject({ ok: false, aborted: true });
  });

  it('the stop signal aborts exactly the requests still in flight, whichever finished before it (first, middle, last sent)', async () => {
    // Answers are held per delivery (webhook-id) until the test lets them go.
    const held = new Map<string, http.ServerResponse>();
    const rx = await receiver((req, res) => void held.set(String(req.headers['webhook-id']), res));
    open.push(rx);
    const local = new LocalTransport(new TargetGuard(['127.0.0.0/8']), 20_000);
    open.push(local);
    const stop = new AbortController();
    const ids = [1, 2, 3, 4, 5];
    const sends = ids.map((eventId) => local.send({ ...source(rx.url), eventId }, Date.now(), { stop: stop.signal }));
    await rx.waitFor(ids.length);
    expect(local.inFlight).toBe(5);
    // Requests 1, 3 and 5 are answered: the oldest, one between, and the newest in flight.
    for (const eventId of [1, 3, 5]) held.get(webhookId(7, eventId))!.end('ok');
    const answered = await Promise.all([sends[0], sends[2], sends[4]]);
    expect(answered.map((r) => r.ok)).toEqual([true, true, true]);
    expect(local.inFlight).toBe(2);
    stop.abort();
    const cut = await Promise.all([sends[1], sends[3]]);
    expect(cut.map((r) => [r.ok, r.aborted, r.error])).toEqual([
      [false, true, 'stopped before the answer'],
      [false, true, 'stopped before the answer'],
    ]);
    expect(local.inFlight).toBe(0);
    // Sent after the stop: cut at once, never reaching the receiver.
    expect(await local.send({ ...source(rx.url), eventId: 6 }, Date.now(), { stop: stop.signal })).toMatchObject({
      ok: false,
      aborted: true,
    });
    expect(rx.requests).toHaveLength(5);
  });

  it('closing the threads resolves what they had in flight as failed attempts; nothing hangs', async () => {
    const hang = await receiver(() => undefined);
    open.push(hang);
    const t = threads(20_000);
    const pending = t.send(source(hang.url), Date.now());
    await hang.waitFor(1);
    await t.close();
    const r = await pending;
    expect(r).toMatchObject({ ok: false, aborted: false });
    expect(r.error).toMatch(/sender thread stopped/);
    // After close nothing more is sent: handed back, not attempted.
    expect(await t.send(source(hang.url), Date.now())).toMatchObject({ ok: false, aborted: true });
    expect(hang.requests).toHaveLength(1);
  });

  it.each(['main thread', 'sender thread'])(
    'on the %s: keeps the first 20 KB of the answer, NUL as U+FFFD, and Retry-After',
    async (where) => {
      const big = await receiver((_q, res) => {
        res.statusCode = 503;
        res.setHeader('retry-after', '120');
        res.end(Buffer.concat([Buffer.from('a\0b'), Buffer.alloc(50_000, 'x')]));
      });
      open.push(big);
      const t = where === 'main thread' ? new LocalTransport(new TargetGuard(['127.0.0.0/8']), 2_000) : threads();
      if (where === 'main thread') open.push(t);
      const r = await t.send(source(big.url), Date.now());
      expect(r).toMatchObject({ ok: false, statusCode: 503, error: 'HTTP 503', retryAfter: '120', aborted: false });
      expect(r.responseBody).toHaveLength(RESPONSE_KEEP);
      expect(r.responseBody!.startsWith('a\uFFFDbxxx')).toBe(true);
    },
  );

  describe.each(['main thread', 'sender thread'])('capped sends on the %s', (where) => {
    const transport = (timeoutMs = 20_000): Transport => {
      if (where === 'sender thread') return threads(timeoutMs);
      const t = new LocalTransport(new TargetGuard(['127.0.0.0/8']), timeoutMs);
      open.push(t);
      return t;
    };
    /** A hanging receiver, a healthy one, a transport under `caps`, and a stop signal. */
    const hangingAndHealthy = async (caps: Caps) => {
      const hang = await receiver(() => undefined);
      const ok = await receiver();
      open.push(hang, ok);
      const t = transport();
      t.limit(caps);
      return { hang, ok, t, stop: new AbortController() };
    };

    it('hold to the per-hook cap: a hanging hook waits alone, another hook goes out; release() gives back the waiting unsent', async () => {
      const { hang, ok, t, stop } = await hangingAndHealthy({ concurrency: 8, perHook: 2 });
      const stuck = [1, 2, 3, 4].map(() =>
        t.send(source(hang.url, 7), Date.now(), { stop: stop.signal, capped: true }),
      );
      await hang.waitFor(2);
      const healthy = await Promise.all(
        [1, 2, 3].map(() => t.send(source(ok.url, 8), Date.now(), { stop: stop.signal, capped: true })),
      );
      expect(healthy.map((r) => r.ok)).toEqual([true, true, true]);
      expect(hang.requests).toHaveLength(2);
      expect(t.inFlight).toBe(2);
      t.release();
      const [, , third, fourth] = stuck;
      for (const r of [await third, await fourth])
        expect(r).toMatchObject({ ok: false, aborted: true, error: 'given back before it was sent' });
      stop.abort();
      for (const r of await Promise.all(stuck.slice(0, 2))) expect(r).toMatchObject({ ok: false, aborted: true });
      expect(hang.requests).toHaveLength(2);
      expect(t.inFlight).toBe(0);
    });

    it('a send that waited for its slot is stamped when it started (webhook-timestamp), and says how long it waited', async () => {
      const slow = await receiver((_q, res) => setTimeout(() => res.end('ok'), 40));
      open.push(slow);
      const t = transport();
      t.limit({ concurrency: 8, perHook: 1 });
      const justBeforeASecond = Date.parse('2026-11-28T10:00:00Z') - 1;
      const [first, second] = await Promise.all([
        t.send(source(slow.url), justBeforeASecond, { capped: true }),
        t.send(source(slow.url), justBeforeASecond, { capped: true }),
      ]);
      expect(first.waitedMs).toBe(0);
      expect(second.waitedMs).toBeGreaterThanOrEqual(30);
      const stamps = slow.requests.map((q) => Number(q.headers['webhook-timestamp']));
      expect(stamps).toEqual([Math.floor(justBeforeASecond / 1000), Math.floor(justBeforeASecond / 1000) + 1]);
    });

    it('an uncapped send (a manual attempt) does not wait behind the caps', async () => {
      const { hang, ok, t, stop } = await hangingAndHealthy({ concurrency: 1, perHook: 1 });
      const held = t.send(source(hang.url, 7), Date.now(), { stop: stop.signal, capped: true });
      await hang.waitFor(1);
      expect((await t.send(source(ok.url, 7), Date.now())).ok).toBe(true);
      stop.abort();
      expect(await held).toMatchObject({ aborted: true });
    });
  });

  it("a sender thread hands its answers back at once at a hook's refill point (half its cap answered) or at half the overall cap, however long its answer window", async () => {
    // A window of a minute: an answer that waited for it would outlast the test.
    const t = new ThreadTransport({
      threads: 1,
      allowedTargets: ['127.0.0.0/8'],
      timeoutMs: 20_000,
      answerWindowMs: 60_000,
    });
    open.push(t);
    const rx = await receiver();
    open.push(rx);
    // One hook, cap 4: its second answer is half its cap.
    t.limit({ concurrency: 100, perHook: 4 });
    const oneHook = await Promise.all([1, 2].map(() => t.send(source(rx.url, 1), Date.now(), { capped: true })));
    expect(oneHook.map((r) => r.ok)).toEqual([true, true]);
    // Two hooks, one answer each (a quarter of their cap), overall cap 4: two answers are half of it.
    t.limit({ concurrency: 4, perHook: 4 });
    const twoHooks = await Promise.all([2, 3].map((h) => t.send(source(rx.url, h), Date.now(), { capped: true })));
    expect(twoHooks.map((r) => r.ok)).toEqual([true, true]);
    expect(rx.requests).toHaveLength(4);
  });

  it('with several sender threads, each hook is sent from one of them, so its per-hook cap holds exactly', async () => {
    const hang = await receiver(() => undefined);
    open.push(hang);
    const t = new ThreadTransport({ threads: 2, allowedTargets: ['127.0.0.0/8'], timeoutMs: 20_000 });
    open.push(t);
    t.limit({ concurrency: 8, perHook: 1 });
    const stop = new AbortController();
    const sends = [1, 2, 3, 4].map(() => t.send(source(hang.url, 7), Date.now(), { stop: stop.signal, capped: true }));
    await hang.waitFor(1);
    await new Promise((r) => setTimeout(r, 100)); // a second thread would have sent by now
    expect(hang.requests).toHaveLength(1);
    expect(t.inFlight).toBe(1);
    t.release();
    stop.abort();
    expect((await Promise.all(sends)).every((r) => r.aborted)).toBe(true);
  });
});
