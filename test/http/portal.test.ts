// The delivery portal: its pages over HTTP on both engines (login, admins only, per account, everything
// escaped, a form token on the redeliver), then the same pages driven in a real browser (Chromium).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { ENGINES } from '../support/engines.js';
import { basic, makeApp, type TestApp, type User } from '../support/app.js';
import { portalRoutes } from '../../src/http/routes/portal.js';
import { buildApp } from '../../src/http/app.js';
import { DeliveryEngine } from '../../src/delivery/engine.js';
import { TargetGuard } from '../../src/delivery/ssrf.js';
import { Mailer } from '../../src/delivery/mailer.js';
import { systemClock } from '../../src/delivery/clock.js';
import { deliveryOf, insertHook, raiseEvent, receiver, type Receiver } from '../delivery/helpers.js';
import { insertAttempt } from '../../src/delivery/record.js';

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
  beforeAll(async () => {
    f = await fixture(engineName);
  });
  afterAll(async () => {
    await f.delivery.stop({ graceMs: 0 });
    await f.rx.close();
    await f.t.close();
  });

  it('asks a browser to log in, and shows an error as a page', async () => {
    const r = await get(f.t, '/portal/');
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Basic realm="Hookline"');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.text).toContain('<h1>Error 401</h1>');
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

  it('notices take only numbers from the query: a crafted link shows nothing', async () => {
    const r = await get(
      f.t,
      `/portal/hooks/${f.hookId}/?recovered=%3Cscript%3E&tested=%3Cb%3Ex&redelivered=1x&status=%3Ci%3E`,
      f.t.adminA,
    );
    expect(r.status).toBe(200);
    expect(r.text).not.toContain('role="status"');
    expect(r.text).not.toMatch(/<script|<b>x|<i>/);
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
    browser = await chromium.launch({
      executablePath: browserPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await f.delivery.stop({ graceMs: 0 });
    await f.rx.close();
    await f.t.close();
  });

  it('an admin logs in, opens a hook, reads the failed attempts as text and redelivers one', async () => {
    const context = await browser.newContext({
      httpCredentials: { username: f.t.adminA.email, password: f.t.adminA.token },
    });
    const page = await context.newPage();
    try {
      await page.goto(`${base}/portal/`);
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
      await page.locator('input[name="since"]').fill('2026-01-01T00:00');
      await page.getByRole('button', { name: 'Recover' }).click();
      await page.waitForURL(/recovered=/);
      expect(await page.getByRole('status').textContent()).toBe('0 failed deliveries are pending again.');
    } finally {
      f.failing.on = true;
      await context.close();
    }
  }, 60_000);
});
