// The delivery portal: its pages over HTTP on both engines (login, admins only, per account, everything
// escaped, a form token on the redeliver), then the same pages driven in a real browser (Chromium).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { ENGINES } from '../support/engines.js';
import { basic, makeApp, type TestApp, type User } from '../support/app.js';
import { portalRoutes } from '../../src/http/routes/portal.js';
import { buildApp } from '../../src/http/app.js';
import { DeliveryEngine } from '../../src/delivery/engine.js';
import { TargetGuard } from '../../src/delivery/ssrf.js';
import { Mailer } from '../../src/delivery/mailer.js';
import { systemClock } from '../../src/delivery/clock.js';
import { deliveryOf, hookState, insertHook, raiseEvent, receiver, type Receiver } from '../delivery/helpers.js';
import { insertAttempt } from '../../src/delivery/record.js';
import { ensureAdmin, hashToken } from '../../src/accounts/accounts.js';
import { SESSION_TTL_MS, startSession, sweepSessions } from '../../src/accounts/sessions.js';

/** A receiver's answer that would run script if the page took it for markup. */
const HOSTILE = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>`;

interface Fixture {
  t: TestApp;
  rx: Receiver;
  delivery: DeliveryEngine;
  hookId: number;
  /** events whose deliveries failed once with HOSTILE as the answer */
  events: number[];
  /** the receiver answers 500 with HOSTILE while true, 200 after */
  failing: { on: boolean };
}

async function fixture(engineName: (typeof ENGINES)[number]): Promise<Fixture> {
  const failing = { on: true };
  const rx = await receiver((_q, res) => {
    res.statusCode = failing.on ? 500 : 200;
    res.end(failing.on ? HOSTILE : 'thanks');
  });
  // The portal is built before the delivery engine that it asks to redeliver (which needs the app's database).
  const late: { delivery?: DeliveryEngine } = {};
  const t = await makeApp(engineName, {
    plugins: [
      portalRoutes({
        redeliver: (...a) => late.delivery!.redeliver(...a),
        test: (...a) => late.delivery!.test(...a),
      }),
    ],
  });
  const delivery = (late.delivery = new DeliveryEngine({
    engine: t.db.engine,
    guard: new TargetGuard(['127.0.0.0/8']),
    mailer: new Mailer(t.db.engine, { smtpUrl: '', from: 'hookline@test.example', clock: systemClock }),
    timeoutMs: 2_000,
    retrySchedule: [60_000],
    concurrency: 8,
    concurrencyPerHook: 4,
    handOff: false,
  }));
  const hookId = await insertHook(t.db.engine, t.adminA.accountId, {
    url: rx.url,
    title: `<b>Sales & "CRM"</b>`,
  });
  const events = [];
  for (const objectId of [101, 102, 103]) {
    events.push(await raiseEvent(t.db.engine, t.adminA.accountId, { now: Date.now(), objectId }));
  }
  expect(await delivery.runDue()).toBe(3);
  return { t, rx, delivery, hookId, events, failing };
}

async function closeFixture(f: Fixture): Promise<void> {
  await f.delivery.stop({ graceMs: 0 });
  await f.rx.close();
  await f.t.close();
}

async function get(t: TestApp, url: string, user?: User, headers: Record<string, string> = {}) {
  const r = await t.app.inject({
    method: 'GET',
    url,
    headers: { ...(user ? { authorization: basic(user) } : {}), accept: 'text/html', ...headers },
  });
  return { status: r.statusCode, headers: r.headers, text: r.body };
}

/** A form posted as a browser posts it from the portal's own page (Fetch metadata: same-origin), unless `headers` say otherwise. */
function postForm(
  app: TestApp['app'],
  user: User,
  url: string,
  body: string,
  headers: Record<string, string> = { 'sec-fetch-site': 'same-origin' },
) {
  return app.inject({
    method: 'POST',
    url,
    headers: { authorization: basic(user), 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: body,
  });
}

const tokenIn = (html: string) => /name="token" value="([^"]+)"/.exec(html)?.[1] ?? '';

describe.each(ENGINES)('delivery portal on %s', (engineName) => {
  let f: Fixture;
  beforeAll(async () => void (f = await fixture(engineName)));
  afterAll(() => closeFixture(f));

  it('sends a browser that has not signed in to the sign-in page, which comes back; errors are pages too', async () => {
    const r = await get(f.t, `/portal/hooks/${f.hookId}/?state=failed`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe(
      `/portal/login?next=${encodeURIComponent(`/portal/hooks/${f.hookId}/?state=failed`)}`,
    );
    // No WWW-Authenticate: the browser shows the sign-in page, not its own prompt.
    expect(r.headers['www-authenticate']).toBeUndefined();
    const signIn = await get(f.t, String(r.headers.location));
    expect(signIn.status).toBe(200);
    expect(signIn.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(signIn.headers['content-security-policy']).toContain("default-src 'none'");
    expect(signIn.text).toContain('<h1>Sign in</h1>');
    expect(signIn.text).not.toContain('<nav>'); // nothing to go to before signing in
    expect(signIn.text).toContain(`name="next" value="/portal/hooks/${f.hookId}/?state=failed"`);
    // A wrong Basic login is not signed in either; a form posted without one gets the sign-in page.
    expect((await get(f.t, '/portal/', { ...f.t.adminA, token: 'wrong' })).status).toBe(303);
    const posted = await f.t.app.inject({ method: 'POST', url: `/portal/hooks/${f.hookId}/test`, payload: '' });
    expect(posted.statusCode).toBe(401);
    expect(posted.body).toContain('<h1>Sign in</h1>');
    const missing = await get(f.t, '/portal/hooks/999999999/', f.t.adminA);
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('<h1>Error 404</h1>');
  });

  it('is for admins, and each admin sees only the hooks of their own account', async () => {
    const member = await get(f.t, '/portal/', f.t.memberA);
    expect(member.status).toBe(403);
    expect(member.text).toContain('Only an admin of the account');
    expect((await get(f.t, `/portal/hooks/${f.hookId}/`, f.t.adminB)).status).toBe(404);
    const other = await get(f.t, '/portal/', f.t.adminB);
    expect(other.status).toBe(200);
    expect(other.text).not.toContain(`/portal/hooks/${f.hookId}/`);
    expect((await get(f.t, '/portal/hooks/abc/', f.t.adminA)).status).toBe(404);
  });

  it('lists the hooks, every value escaped, under a policy that runs no script', async () => {
    const r = await get(f.t, '/portal/', f.t.adminA);
    expect(r.status).toBe(200);
    expect(r.headers['content-security-policy']).toContain("default-src 'none'");
    expect(r.headers['content-security-policy']).toContain("form-action 'self'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.text).toContain('&lt;b&gt;Sales &amp; &quot;CRM&quot;&lt;/b&gt;');
    expect(r.text).not.toContain('<b>Sales');
    expect(r.text).toContain(f.rx.url);
  });

  it('shows a hook’s deliveries newest first with their attempts, the receiver’s answer as text', async () => {
    const r = await get(f.t, `/portal/hooks/${f.hookId}/`, f.t.adminA);
    expect(r.status).toBe(200);
    const order = f.events.map((e) => r.text.indexOf(`id="event-${e}"`));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => b - a)).toEqual(order); // newest first
    expect(r.text).toContain(`dlv_${f.hookId}_${f.events[0]}`);
    expect(r.text).toContain('HTTP 500');
    expect(r.text).toContain('&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;');
    expect(r.text).not.toContain('<img');
    expect(r.text).not.toContain('<script');
    // Filtered by state: none has succeeded yet.
    const ok = await get(f.t, `/portal/hooks/${f.hookId}/?state=succeeded`, f.t.adminA);
    expect(ok.text).toContain('No deliveries here.');
    const pending = await get(f.t, `/portal/hooks/${f.hookId}/?state=pending`, f.t.adminA);
    for (const e of f.events) expect(pending.text).toContain(`id="event-${e}"`);
    // Paging: older than the second event leaves only the first.
    const older = await get(f.t, `/portal/hooks/${f.hookId}/?before=${f.events[1]}`, f.t.adminA);
    expect(older.text).toContain(`id="event-${f.events[0]}"`);
    expect(older.text).not.toContain(`id="event-${f.events[2]}"`);
  });

  it('a delivery’s own page shows the request it sends and every answer whole; a hook’s page cuts long answers short', async () => {
    const eventId = f.events[0];
    const long = `${'A'.repeat(1500)}${HOSTILE}`;
    await f.t.db.engine.write((x) =>
      insertAttempt(x, {
        accountId: f.t.adminA.accountId,
        hookId: f.hookId,
        eventId,
        trigger: 'scheduled',
        startedAt: Date.now(),
        durationMs: 3,
        statusCode: 502,
        error: 'HTTP 502',
        responseBody: long,
      }),
    );
    const hookPage = await get(f.t, `/portal/hooks/${f.hookId}/`, f.t.adminA);
    const path = `/portal/hooks/${f.hookId}/deliveries/${eventId}/`;
    const row = hookPage.text.slice(hookPage.text.indexOf(`id="event-${eventId}"`));
    expect(row).toContain(`<a href="${path}">${eventId}</a>`);
    expect(row).toContain(`${'A'.repeat(1000)}</pre>`);
    expect(row).not.toContain('A'.repeat(1001));
    expect(row).toContain(`${long.length} characters in all`);

    const d = await get(f.t, path, f.t.adminA);
    expect(d.status).toBe(200);
    expect(d.headers['content-security-policy']).toContain("default-src 'none'");
    expect(d.text).toContain(`dlv_${f.hookId}_${eventId}`);
    // The request: the body as the receiver got it (escaped on the page), and the headers every attempt sends.
    const sent = f.rx.requests.find((q) => q.headers['webhook-id'] === `dlv_${f.hookId}_${eventId}`);
    expect(sent).toBeDefined();
    const escaped = sent!.body.toString('utf8').replaceAll('"', '&quot;');
    expect(d.text).toContain(`<pre>${escaped}</pre>`);
    expect(d.text).toContain(`webhook-id: dlv_${f.hookId}_${eventId}`);
    // Every answer whole, as text.
    expect(d.text).toContain('A'.repeat(1500));
    expect(d.text).toContain('&lt;img src=x onerror=');
    expect(d.text).not.toMatch(/<img|<script/);
    // Admins of the account only; a delivery that does not exist is a 404 page.
    expect((await get(f.t, path, f.t.adminB)).status).toBe(404);
    expect((await get(f.t, path, f.t.memberA)).status).toBe(403);
    const none = await get(f.t, `/portal/hooks/${f.hookId}/deliveries/${eventId + 1000}/`, f.t.adminA);
    expect(none.status).toBe(404);
    expect(none.text).toContain(`No delivery of event ${eventId + 1000}`);
    // Its Redeliver button comes back to it.
    const sentBefore = f.rx.requests.length;
    const r = await postForm(
      f.t.app,
      f.t.adminA,
      `/portal/hooks/${f.hookId}/deliveries/${eventId}/redeliver`,
      `token=${tokenIn(d.text)}&back=delivery`,
    );
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe(`${path}?redelivered=${eventId}&status=500`);
    expect(f.rx.requests.length).toBe(sentBefore + 1);
    const after = await get(f.t, String(r.headers.location), f.t.adminA);
    expect(after.text).toContain(`Redelivered event ${eventId}: failed (HTTP 500).`);
    expect(after.text).toContain('manual · HTTP 500');
  });

  it('redelivers only with the page’s form token, from this site: otherwise nothing is sent', async () => {
    const page = await get(f.t, `/portal/hooks/${f.hookId}/`, f.t.adminA);
    const token = tokenIn(page.text);
    expect(token).not.toBe('');
    const eventId = f.events[2];
    const post = (body: string, user: User, headers: Record<string, string> = {}) =>
      postForm(f.t.app, user, `/portal/hooks/${f.hookId}/deliveries/${eventId}/redeliver`, body, headers);
    const sent = f.rx.requests.length;
    for (const refused of [
      await post('', f.t.adminA),
      await post('token=forged', f.t.adminA),
      await post(`token=${token}`, f.t.adminA, { origin: 'https://evil.example' }),
      await post(`token=${token}`, f.t.adminA, { 'sec-fetch-site': 'cross-site' }),
    ]) {
      expect(refused.statusCode).toBe(403);
      expect(refused.body).toContain('came from another site');
    }
    // Another account's admin: the token is not theirs, and the hook is not either.
    expect((await post(`token=${token}`, f.t.adminB)).statusCode).toBe(403);
    expect(f.rx.requests.length).toBe(sent);

    // Behind a proxy that ends TLS, the browser's Origin is https and names the host the proxy passes on.
    f.failing.on = false;
    const ok = await post(`token=${token}`, f.t.adminA, { origin: 'https://crm.example', host: 'crm.example' });
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe(`/portal/hooks/${f.hookId}/?redelivered=${eventId}&status=200#event-${eventId}`);
    expect(f.rx.requests.length).toBe(sent + 1);
    const after = await get(f.t, String(ok.headers.location), f.t.adminA);
    expect(after.text).toContain(`Redelivered event ${eventId}: delivered (HTTP 200).`);
    const row = after.text.slice(after.text.indexOf(`id="event-${eventId}"`));
    expect(row).toMatch(/class="state-succeeded">succeeded/);
    expect(row).toContain('manual · HTTP 200');
    f.failing.on = true;
  });

  it('a page’s token works on another node of the same database, and not for another login', async () => {
    const token = tokenIn((await get(f.t, `/portal/hooks/${f.hookId}/`, f.t.adminA)).text);
    const other = await buildApp({
      engine: f.t.db.engine,
      bodyLimit: 1024 * 1024,
      plugins: [
        portalRoutes({ redeliver: (...a) => f.delivery.redeliver(...a), test: (...a) => f.delivery.test(...a) }),
      ],
    });
    try {
      const post = (user: User) =>
        postForm(other, user, `/portal/hooks/${f.hookId}/deliveries/recover`, `token=${token}&since=2999-01-01`);
      expect((await post(f.t.adminA)).statusCode).toBe(303);
      // The same account's member is refused for not being an admin; another admin's login, for the token.
      expect((await post(f.t.memberA)).statusCode).toBe(403);
      const b = await post(f.t.adminB);
      expect(b.statusCode).toBe(403);
      expect(b.body).toContain('came from another site');
    } finally {
      await other.close();
    }
  });

  it('sends a test notification, and says so when there is no event to send yet', async () => {
    const page = await get(f.t, `/portal/hooks/${f.hookId}/`, f.t.adminA);
    const token = tokenIn(page.text);
    const form = (url: string, body: string) => postForm(f.t.app, f.t.adminA, url, body);
    const sent = f.rx.requests.length;
    expect((await form(`/portal/hooks/${f.hookId}/test`, 'token=forged')).statusCode).toBe(403);
    expect(f.rx.requests.length).toBe(sent);
    const r = await form(`/portal/hooks/${f.hookId}/test`, `token=${token}`);
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe(`/portal/hooks/${f.hookId}/?tested=${f.events[2]}&status=500`);
    expect(f.rx.requests.length).toBe(sent + 1);
    expect(f.rx.requests.at(-1)?.headers['webhook-id']).toMatch(new RegExp(`^test_${f.hookId}_${f.events[2]}_`));
    const after = await get(f.t, String(r.headers.location), f.t.adminA);
    expect(after.text).toContain(`Test notification of event ${f.events[2]}: refused (HTTP 500).`);
    // A hook with no event of its kind yet.
    const quiet = await insertHook(f.t.db.engine, f.t.adminA.accountId, { url: f.rx.url, event: 'items.delete' });
    const quietToken = tokenIn((await get(f.t, `/portal/hooks/${quiet}/`, f.t.adminA)).text);
    const none = await form(`/portal/hooks/${quiet}/test`, `token=${quietToken}`);
    expect(none.headers.location).toBe(`/portal/hooks/${quiet}/?tested=none`);
    expect((await get(f.t, String(none.headers.location), f.t.adminA)).text).toContain('no recent event');
    expect(f.rx.requests.length).toBe(sent + 1);
  });

  it('recovers the failed deliveries of events since a time (UTC), and shows the hook failing', async () => {
    const failedAt = Date.now() + 60_000;
    const failed = await raiseEvent(f.t.db.engine, f.t.adminA.accountId, { now: failedAt, objectId: 104 });
    await f.t.db.engine.write(async (x) => {
      await x.run(`UPDATE deliveries SET state = 'failed' WHERE account_id = ? AND hook_id = ? AND event_id = ?`, [
        f.t.adminA.accountId,
        f.hookId,
        failed,
      ]);
      await x.run('UPDATE hooks SET failing_since = ? WHERE id = ?', [failedAt, f.hookId]);
    });
    const page = await get(f.t, `/portal/hooks/${f.hookId}/?state=failed`, f.t.adminA);
    const stamp = `${new Date(failedAt).toISOString().slice(0, 19).replace('T', ' ')}Z`;
    expect(page.text).toContain(`Failing since ${stamp}`);
    expect((await get(f.t, '/portal/', f.t.adminA)).text).toContain(`failing since ${stamp}`);
    // Another hook of the account is not failing: its page says nothing of the first one's streak.
    const other = await insertHook(f.t.db.engine, f.t.adminA.accountId, { url: f.rx.url, event: 'items.update' });
    expect((await get(f.t, `/portal/hooks/${other}/`, f.t.adminA)).text).not.toContain('Failing since');
    expect(page.text).toContain(`id="event-${failed}"`);
    const token = tokenIn(page.text);
    const recover = (since: string) =>
      postForm(
        f.t.app,
        f.t.adminA,
        `/portal/hooks/${f.hookId}/deliveries/recover`,
        `token=${token}&since=${encodeURIComponent(since)}`,
      );
    const bad = await recover('yesterday');
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('since must be a date');
    // As a browser's datetime-local sends it: minutes, no zone.
    const later = new Date(failedAt + 60_000).toISOString().slice(0, 16);
    expect((await recover(later)).headers.location).toBe(`/portal/hooks/${f.hookId}/?recovered=0`);
    const r = await recover(new Date(failedAt - 60_000).toISOString().slice(0, 16));
    expect(r.headers.location).toBe(`/portal/hooks/${f.hookId}/?recovered=1`);
    expect((await get(f.t, String(r.headers.location), f.t.adminA)).text).toContain(
      '1 failed delivery is pending again.',
    );
    expect(await deliveryOf(f.t.db.engine, f.t.adminA.accountId, f.hookId, failed)).toMatchObject({
      state: 'pending',
      attempt_count: 0,
    });
  });

  it('replays the events since a time (UTC) that the hook never sent, once', async () => {
    const setActive = (on: number) =>
      f.t.db.engine.write((x) => x.run('UPDATE hooks SET active = ? WHERE id = ?', [on, f.hookId]));
    await setActive(0);
    const at = Date.now() + 120_000;
    const missed = await raiseEvent(f.t.db.engine, f.t.adminA.accountId, { now: at, objectId: 105 });
    await setActive(1);
    expect(await deliveryOf(f.t.db.engine, f.t.adminA.accountId, f.hookId, missed)).toBeUndefined();
    const page = await get(f.t, `/portal/hooks/${f.hookId}/`, f.t.adminA);
    const action = `/portal/hooks/${f.hookId}/deliveries/replay`;
    expect(page.text).toContain(`action="${action}"`);
    const replay = (since: string) =>
      postForm(f.t.app, f.t.adminA, action, `token=${tokenIn(page.text)}&since=${encodeURIComponent(since)}`);
    expect((await replay('soon')).statusCode).toBe(400);
    const since = new Date(at - 60_000).toISOString().slice(0, 16);
    const r = await replay(since);
    expect(r.headers.location).toBe(`/portal/hooks/${f.hookId}/?replayed=1`);
    expect((await get(f.t, String(r.headers.location), f.t.adminA)).text).toContain(
      '1 event never sent to this hook is pending now.',
    );
    expect(await deliveryOf(f.t.db.engine, f.t.adminA.accountId, f.hookId, missed)).toBeDefined();
    expect((await replay(since)).headers.location).toBe(`/portal/hooks/${f.hookId}/?replayed=0`);
  });

  it('pauses a hook and turns it on again: events raised meanwhile are not sent to it, a failing streak starts over', async () => {
    const acc = f.t.adminA.accountId;
    const action = `/portal/hooks/${f.hookId}/active`;
    const page = await get(f.t, `/portal/hooks/${f.hookId}/`, f.t.adminA);
    expect(page.text).toContain(`action="${action}"`);
    expect(page.text).toContain('>Pause</button>');
    const press = (active: string, token = tokenIn(page.text), headers?: Record<string, string>) =>
      postForm(f.t.app, f.t.adminA, action, `token=${token}&active=${active}`, headers);
    // Without the page's token, from another site, with a value that is not 0 or 1, by another account's
    // admin: refused, and the hook stays on.
    expect((await press('0', 'forged')).statusCode).toBe(403);
    expect((await press('0', tokenIn(page.text), { 'sec-fetch-site': 'cross-site' })).statusCode).toBe(403);
    expect((await press('maybe')).statusCode).toBe(400);
    const other = await postForm(f.t.app, f.t.adminB, action, `token=${tokenIn(page.text)}&active=0`);
    expect([403, 404]).toContain(other.statusCode);
    expect(await hookState(f.t.db.engine, acc, f.hookId)).toMatchObject({ active: 1 });

    const off = await press('0');
    expect(off.headers.location).toBe(`/portal/hooks/${f.hookId}/?turned=off`);
    const paused = await get(f.t, String(off.headers.location), f.t.adminA);
    expect(paused.text).toContain('Paused: its deliveries wait until it is turned on');
    expect(paused.text).toContain('inactive: deliveries wait');
    expect(paused.text).toContain('>Turn on</button>');
    expect((await get(f.t, '/portal/', f.t.adminA)).text).toContain('<span class="off">inactive</span>');
    const missed = await raiseEvent(f.t.db.engine, acc, { now: Date.now(), objectId: 106 });
    expect(await deliveryOf(f.t.db.engine, acc, f.hookId, missed)).toBeUndefined();

    await f.t.db.engine.write((x) => x.run('UPDATE hooks SET failing_since = ? WHERE id = ?', [Date.now(), f.hookId]));
    const on = await press('1', tokenIn(paused.text));
    expect(on.headers.location).toBe(`/portal/hooks/${f.hookId}/?turned=on`);
    const back = await get(f.t, String(on.headers.location), f.t.adminA);
    expect(back.text).toContain('Turned on: its waiting deliveries go out now');
    expect(back.text).not.toContain('Failing since');
    expect(await hookState(f.t.db.engine, acc, f.hookId)).toEqual({ active: 1, failing_since: null });
    const next = await raiseEvent(f.t.db.engine, acc, { now: Date.now(), objectId: 107 });
    expect(await deliveryOf(f.t.db.engine, acc, f.hookId, next)).toMatchObject({ state: 'pending' });
  });

  it('notices take only numbers from the query: a crafted link shows nothing', async () => {
    const r = await get(
      f.t,
      `/portal/hooks/${f.hookId}/?recovered=%3Cscript%3E&replayed=-1&tested=%3Cb%3Ex&redelivered=1x&status=%3Ci%3E`,
      f.t.adminA,
    );
    expect(r.status).toBe(200);
    expect(r.text).not.toContain('role="status"');
    expect(r.text).not.toMatch(/<script|<b>x|<i>/);
  });
});

/** Signs in on the sign-in page as a browser on the portal's own page does; `headers` override. */
function signIn(
  t: TestApp,
  email: string,
  token: string,
  extra: { next?: string; headers?: Record<string, string> } = {},
) {
  const form = new URLSearchParams({ email, token, ...(extra.next === undefined ? {} : { next: extra.next }) });
  return t.app.inject({
    method: 'POST',
    url: '/portal/login',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(extra.headers ?? { 'sec-fetch-site': 'same-origin' }),
    },
    payload: form.toString(),
  });
}

/** The session cookie a sign-in set ('' for none). */
const sessionOf = (r: { headers: Record<string, unknown> }) =>
  /^hookline_session=([^;]*)/.exec(String(r.headers['set-cookie'] ?? ''))?.[1] ?? '';

/** A page or form with the session cookie (and no Basic login). */
function withSession(t: TestApp, cookie: string, method: 'GET' | 'POST', url: string, body = '') {
  return t.app.inject({
    method,
    url,
    headers: {
      cookie: `other=1; hookline_session=${cookie}`,
      accept: 'text/html',
      ...(method === 'POST'
        ? { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' }
        : {}),
    },
    payload: body,
  });
}

/** The form token of the form posting to `action` on a page. */
const tokenOf = (html: string, action: string) =>
  new RegExp(
    `action="${action.replace(/[/?]/g, '\\$&')}"[^>]*>\\s*<input type="hidden" name="token" value="([^"]+)"`,
  ).exec(html)?.[1] ?? '';

describe.each(ENGINES)('delivery portal sessions on %s', (engineName) => {
  let f: Fixture;
  beforeAll(async () => void (f = await fixture(engineName)));
  afterAll(() => closeFixture(f));

  it('signs an admin in with the API’s e-mail and token: an HttpOnly cookie for the portal only, its secret not stored', async () => {
    const r = await signIn(f.t, f.t.adminA.email.toUpperCase(), f.t.adminA.token, {
      next: `/portal/hooks/${f.hookId}/`,
    });
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe(`/portal/hooks/${f.hookId}/`);
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toMatch(
      /^hookline_session=[0-9]+\.[A-Za-z0-9_-]{43}; Path=\/portal; Max-Age=43200; HttpOnly; SameSite=Lax$/,
    );
    const value = sessionOf(r);
    expect(value.startsWith(`${f.t.adminA.accountId}.`)).toBe(true);
    // Only the secret's hash is kept.
    const rows = await f.t.db.engine.readOne<{ id_hash: string; user_id: number }>(
      'SELECT id_hash, user_id FROM portal_sessions WHERE account_id = ?',
      [f.t.adminA.accountId],
    );
    expect(rows.map((x) => Number(x.user_id))).toContain(f.t.adminA.userId);
    for (const row of rows) expect(value).not.toContain(row.id_hash);

    const page = await withSession(f.t, value, 'GET', `/portal/hooks/${f.hookId}/`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(`<span class="who">${f.t.adminA.email}`);
    expect(page.body).toContain('<button type="submit">Sign out</button>');
    // A session's page is another account's 404 like a Basic login's.
    const b = sessionOf(await signIn(f.t, f.t.adminB.email, f.t.adminB.token));
    expect((await withSession(f.t, b, 'GET', `/portal/hooks/${f.hookId}/`)).statusCode).toBe(404);
    // Account A's id with account B's secret is not a session.
    const forged = `${f.t.adminA.accountId}.${b.split('.')[1]}`;
    expect((await withSession(f.t, forged, 'GET', '/portal/')).statusCode).toBe(303);
    // Behind a proxy that ends TLS, the cookie is for HTTPS only.
    const secure = await signIn(f.t, f.t.adminA.email, f.t.adminA.token, {
      headers: { 'sec-fetch-site': 'same-origin', 'x-forwarded-proto': 'https' },
    });
    expect(String(secure.headers['set-cookie'])).toMatch(/; Secure$/);
  });

  it('refuses a wrong token, an unknown e-mail, a member and a sign-in posted from another site: no session', async () => {
    const before = await f.t.db.engine.readOne<{ n: number }>('SELECT COUNT(*) AS n FROM portal_sessions');
    for (const [email, token] of [
      [f.t.adminA.email, 'hl_wrong'],
      ['nobody@example.org', f.t.adminA.token],
      [f.t.adminA.email, ''],
    ]) {
      const r = await signIn(f.t, email, token);
      expect(r.statusCode).toBe(401);
      expect(r.headers['set-cookie']).toBeUndefined();
      expect(r.body).toContain('That e-mail and API token do not match a user.');
      expect(r.body).not.toContain(token || 'hl_never');
    }
    const member = await signIn(f.t, f.t.memberA.email, f.t.memberA.token);
    expect(member.statusCode).toBe(403);
    expect(member.headers['set-cookie']).toBeUndefined();
    expect(member.body).toContain('The portal is for admins of the account.');
    for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { origin: 'https://evil.example' }] as Record<
      string,
      string
    >[]) {
      const r = await signIn(f.t, f.t.adminA.email, f.t.adminA.token, { headers });
      expect(r.statusCode).toBe(403);
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    const after = await f.t.db.engine.readOne<{ n: number }>('SELECT COUNT(*) AS n FROM portal_sessions');
    expect(Number(after[0].n)).toBe(Number(before[0].n));
  });

  it('goes on only to a page of the portal', async () => {
    for (const [next, to] of [
      [`/portal/hooks/${f.hookId}/?state=failed`, `/portal/hooks/${f.hookId}/?state=failed`],
      ['//evil.example/portal/', '/portal/'],
      ['https://evil.example/', '/portal/'],
      ['/portal\\@evil.example', '/portal/'],
      ['/portalx', '/portal/'],
      ['/metrics', '/portal/'],
    ]) {
      const r = await signIn(f.t, f.t.adminA.email, f.t.adminA.token, { next });
      expect(r.headers.location, next).toBe(to);
    }
    const page = await get(f.t, `/portal/login?next=${encodeURIComponent('//evil.example/')}`);
    expect(page.text).toContain('name="next" value="/portal/"');
  });

  it('a session’s form token works for its buttons, and not for a Basic login or another session', async () => {
    const one = sessionOf(await signIn(f.t, f.t.adminA.email, f.t.adminA.token));
    const two = sessionOf(await signIn(f.t, f.t.adminA.email, f.t.adminA.token));
    const page = (await withSession(f.t, one, 'GET', `/portal/hooks/${f.hookId}/`)).body;
    const action = `/portal/hooks/${f.hookId}/deliveries/recover`;
    const token = tokenOf(page, action);
    expect(token).not.toBe('');
    const body = `token=${token}&since=2999-01-01`;
    expect((await withSession(f.t, one, 'POST', action, body)).headers.location).toBe(
      `/portal/hooks/${f.hookId}/?recovered=0`,
    );
    expect((await withSession(f.t, two, 'POST', action, body)).statusCode).toBe(403);
    expect((await postForm(f.t.app, f.t.adminA, action, body)).statusCode).toBe(403);
  });

  it('signs out: the session ends at once (on every node), the cookie is cleared; only with the page’s token, from this site', async () => {
    const value = sessionOf(await signIn(f.t, f.t.adminA.email, f.t.adminA.token));
    const page = (await withSession(f.t, value, 'GET', '/portal/')).body;
    const token = tokenOf(page, '/portal/logout');
    expect(token).not.toBe('');
    // Forged, missing or cross-site: refused, still signed in.
    expect((await withSession(f.t, value, 'POST', '/portal/logout', 'token=forged')).statusCode).toBe(403);
    const cross = await f.t.app.inject({
      method: 'POST',
      url: '/portal/logout',
      headers: {
        cookie: `hookline_session=${value}`,
        'content-type': 'application/x-www-form-urlencoded',
        'sec-fetch-site': 'cross-site',
      },
      payload: `token=${token}`,
    });
    expect(cross.statusCode).toBe(403);
    expect((await withSession(f.t, value, 'GET', '/portal/')).statusCode).toBe(200);

    const out = await withSession(f.t, value, 'POST', '/portal/logout', `token=${token}`);
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/portal/login?signedout=1');
    expect(String(out.headers['set-cookie'])).toMatch(/^hookline_session=; Path=\/portal; Max-Age=0; HttpOnly/);
    // Gone here and on another node of the same database.
    const other = await buildApp({
      engine: f.t.db.engine,
      bodyLimit: 1024 * 1024,
      plugins: [portalRoutes(f.delivery)],
    });
    try {
      for (const app of [f.t.app, other]) {
        const r = await app.inject({
          method: 'GET',
          url: '/portal/',
          headers: { cookie: `hookline_session=${value}` },
        });
        expect(r.statusCode).toBe(303);
        expect(r.headers.location).toBe('/portal/login?next=%2Fportal%2F');
      }
    } finally {
      await other.close();
    }
    expect((await get(f.t, '/portal/login?signedout=1')).text).toContain('Signed out.');
  });

  it('ends when it expires and when the user’s API token changes', async () => {
    const old = await startSession(
      f.t.db.engine,
      { accountId: f.t.adminA.accountId, userId: f.t.adminA.userId, tokenHash: hashToken(f.t.adminA.token) },
      Date.now() - SESSION_TTL_MS - 1000,
    );
    expect((await withSession(f.t, old, 'GET', '/portal/')).statusCode).toBe(303);
    // A sign-in clears the account's expired sessions.
    const live = sessionOf(await signIn(f.t, f.t.adminA.email, f.t.adminA.token));
    const left = await f.t.db.engine.readOne<{ n: number }>(
      'SELECT COUNT(*) AS n FROM portal_sessions WHERE account_id = ? AND expires_at <= ?',
      [f.t.adminA.accountId, Date.now()],
    );
    expect(Number(left[0].n)).toBe(0);
    expect((await withSession(f.t, live, 'GET', '/portal/')).statusCode).toBe(200);
    // A new API token for the admin (as a restart with another HOOKLINE_ADMIN_TOKEN gives).
    await ensureAdmin(f.t.db.engine, f.t.adminA.email, 'hl_a-new-token-for-the-admin');
    expect((await withSession(f.t, live, 'GET', '/portal/')).statusCode).toBe(303);
    const again = await signIn(f.t, f.t.adminA.email, 'hl_a-new-token-for-the-admin');
    expect((await withSession(f.t, sessionOf(again), 'GET', '/portal/')).statusCode).toBe(200);
    await ensureAdmin(f.t.db.engine, f.t.adminA.email, f.t.adminA.token);
  });

  it('sweeps every account’s expired sessions, and only those', async () => {
    const now = Date.now();
    const as = (u: User) => ({ accountId: u.accountId, userId: u.userId, tokenHash: hashToken(u.token) });
    // The live one first: a sign-in deletes its own account's expired sessions.
    const liveB = await startSession(f.t.db.engine, as(f.t.adminB), now);
    const expiredA = await startSession(f.t.db.engine, as(f.t.adminA), now - SESSION_TTL_MS - 1000);
    const expiredB = await startSession(f.t.db.engine, as(f.t.adminB), now - SESSION_TTL_MS - 1000);
    const count = async () =>
      Number((await f.t.db.engine.readOne<{ n: number }>('SELECT COUNT(*) AS n FROM portal_sessions'))[0].n);
    const before = await count();
    expect(await sweepSessions(f.t.db.engine, now)).toBeGreaterThanOrEqual(2);
    expect(await count()).toBeLessThanOrEqual(before - 2);
    const left = await f.t.db.engine.readOne<{ n: number }>(
      'SELECT COUNT(*) AS n FROM portal_sessions WHERE expires_at <= ?',
      [now],
    );
    expect(Number(left[0].n)).toBe(0);
    expect(await sweepSessions(f.t.db.engine, now)).toBe(0);
    for (const gone of [expiredA, expiredB]) {
      expect((await withSession(f.t, gone, 'GET', '/portal/')).statusCode).toBe(303);
    }
    expect((await withSession(f.t, liveB, 'GET', '/portal/')).statusCode).toBe(200);
  });

  it('takes no cookie but its own: anything else in it is not a session', async () => {
    for (const cookie of ['', 'abc', '0.x', `${f.t.adminA.accountId}.${'A'.repeat(43)}`, `${'9'.repeat(30)}.x`]) {
      const r = await withSession(f.t, cookie, 'GET', '/portal/');
      expect(r.statusCode, cookie).toBe(303);
    }
  });
});

const browserPath = inject('chromium');

describe.runIf(browserPath)('delivery portal in Chromium', () => {
  let f: Fixture;
  let browser: Browser;
  let base: string;
  beforeAll(async () => {
    f = await fixture('sqlite');
    await f.t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(f.t.app.server.address() as AddressInfo).port}`;
    browser = await launchChromium(browserPath);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await closeFixture(f);
  });

  it('an admin signs in, opens a hook, reads the failed attempts as text, redelivers one, pauses the hook and turns it on, and signs out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      // Not signed in: the sign-in page, which comes back to the page asked for.
      await page.goto(`${base}/portal/`);
      await page.waitForURL(`${base}/portal/login?next=%2Fportal%2F`);
      await page.getByLabel('E-mail').fill(f.t.adminA.email);
      await page.getByLabel('API token').fill('hl_not-the-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      expect(await page.getByRole('alert').textContent()).toBe('That e-mail and API token do not match a user.');
      await page.getByLabel('E-mail').fill(f.t.adminA.email);
      await page.getByLabel('API token').fill(f.t.adminA.token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${base}/portal/`);
      expect(await page.locator('.who').textContent()).toContain(f.t.adminA.email);
      // The session's cookie is not for scripts.
      expect(await page.evaluate(() => document.cookie)).toBe('');
      await page.getByRole('link', { name: '<b>Sales & "CRM"</b>' }).click();
      await page.waitForURL(`${base}/portal/hooks/${f.hookId}/`);
      expect(await page.locator('h1').textContent()).toBe('<b>Sales & "CRM"</b>');
      // The receiver's hostile answer is text on the page: no element made of it, no script run.
      const row = page.locator(`#event-${f.events[1]}`);
      await row.locator('summary').first().click();
      expect(await row.locator('pre').first().textContent()).toBe(HOSTILE);
      expect(await page.locator('main img, main script').count()).toBe(0);
      expect(await page.title()).not.toContain('pwned');

      f.failing.on = false;
      await row.getByRole('button', { name: 'Redeliver' }).click();
      await page.waitForURL(/redelivered=/);
      expect(await page.getByRole('status').textContent()).toBe(
        `Redelivered event ${f.events[1]}: delivered (HTTP 200).`,
      );
      const again = page.locator(`#event-${f.events[1]}`);
      expect(await again.locator('td.state-succeeded').textContent()).toBe('succeeded');
      expect(await again.locator('summary').last().textContent()).toContain('manual · HTTP 200');
      expect(f.rx.requests.at(-1)?.headers['webhook-id']).toBe(`dlv_${f.hookId}_${f.events[1]}`);

      // The delivery's own page: the request body as the receiver got it, byte for byte.
      await again.getByRole('link', { name: String(f.events[1]) }).click();
      await page.waitForURL(`${base}/portal/hooks/${f.hookId}/deliveries/${f.events[1]}/`);
      const received = f.rx.requests.at(-1)!.body.toString('utf8');
      expect(await page.locator('pre', { hasText: '"objectid"' }).textContent()).toBe(received);
      await page.getByRole('link', { name: /←/ }).click();
      await page.waitForURL(`${base}/portal/hooks/${f.hookId}/`);

      // Recover, with the time as the browser's own date-time field sends it.
      await page.getByLabel(/Failed deliveries of events since/).fill('2026-01-01T00:00');
      await page.getByRole('button', { name: 'Recover' }).click();
      await page.waitForURL(/recovered=/);
      expect(await page.getByRole('status').textContent()).toBe('0 failed deliveries are pending again.');
      // Replay: every event since then was sent to this hook already.
      await page.getByLabel(/Events never sent to this hook/).fill('2026-01-01T00:00');
      await page.getByRole('button', { name: 'Replay' }).click();
      await page.waitForURL(/replayed=/);
      expect(await page.getByRole('status').textContent()).toBe('0 events never sent to this hook are pending now.');

      // Paused and turned on again from its page.
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.waitForURL(/turned=off/);
      expect(await page.getByRole('status').textContent()).toContain('Paused: its deliveries wait');
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.waitForURL(/turned=on/);
      expect(await page.getByRole('status').textContent()).toContain('Turned on');
      expect(await page.getByRole('button', { name: 'Pause' }).count()).toBe(1);

      // Signing out ends it: the portal asks to sign in again.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${base}/portal/login?signedout=1`);
      expect(await page.getByRole('status').textContent()).toBe('Signed out.');
      await page.goto(`${base}/portal/hooks/${f.hookId}/`);
      await page.waitForURL(/\/portal\/login\?next=/);
      expect(await page.locator('h1').textContent()).toBe('Sign in');
    } finally {
      f.failing.on = true;
      await context.close();
    }
  }, 60_000);
});
