// Cross-site request forgery against the API: a browser that has answered the Basic prompt once sends the
// login again with any request to Hookline, including one another site's page makes. What a browser marks
// as coming from elsewhere (Fetch metadata, else Origin) is refused with 403 and changes nothing; clients
// that are not browsers, and the user's own navigation, are not affected. Then the attack itself, in Chromium.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { ENGINES } from '../support/engines.js';
import { basic, makeApp, type TestApp } from '../support/app.js';
import { dump } from './helpers.js';

const HOOK_FORM = 'type=web&title=forged&active=1&event=items.update&constrainttype=all&url=https%3A%2F%2F8.8.8.8%2F';

describe.each(ENGINES)('cross-site requests on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp(engine);
  });
  afterAll(async () => t.close());

  const send = (method: string, url: string, headers: Record<string, string>, payload?: string) =>
    t.app.inject({ method: method as 'GET', url, headers: { authorization: basic(t.adminA), ...headers }, payload });

  it("refuses a browser's write from another site, however it says so, and changes nothing", async () => {
    const before = await dump(t, t.adminA.accountId);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const cases: [string, string, string, Record<string, string>, string][] = [
      ['a form posted from another site', 'POST', '/hooks/', { ...form, 'sec-fetch-site': 'cross-site' }, HOOK_FORM],
      ['…from a sibling subdomain', 'POST', '/hooks/', { ...form, 'sec-fetch-site': 'same-site' }, HOOK_FORM],
      [
        'a text/plain form read as XML (an old browser: Origin only)',
        'POST',
        '/contacts/',
        { 'content-type': 'text/plain', origin: 'http://evil.example' },
        '<request><firstname>forged=x</firstname></request>',
      ],
      ['a sandboxed frame (Origin: null)', 'POST', '/contacts/', { ...form, origin: 'null' }, 'firstname=forged'],
      ['a DELETE by fetch', 'DELETE', '/contacts/1/', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' }, ''],
    ];
    for (const [label, method, url, headers, payload] of cases) {
      const r = await send(method, url, headers, payload);
      expect(r.statusCode, label).toBe(403);
      expect(r.body, label).toMatch(/<permission>A browser request from another site is refused/);
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it("refuses another site's page reading the API through a script or an image (JSONP), but follows a link", async () => {
    const script = await send('GET', '/contacts/?callback=steal', {
      'sec-fetch-site': 'cross-site',
      'sec-fetch-mode': 'no-cors',
      'sec-fetch-dest': 'script',
      accept: 'application/json',
    });
    expect(script.statusCode).toBe(403);
    expect(script.body).toMatch(/^steal\(\{"status":"failed","errors":\{"permission"/); // the refusal, no data
    expect(script.body).not.toMatch(/"count"/);
    const link = await send('GET', '/contacts/', {
      'sec-fetch-site': 'cross-site',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
    });
    expect(link.statusCode).toBe(200);
  });

  it('serves clients that are not browsers, the same origin, and what the user typed', async () => {
    const host = 'hookline.example:8360';
    const allowed: [string, Record<string, string>][] = [
      ['no browser headers at all (curl, every Solve360 integration)', {}],
      ['Fetch metadata: same-origin', { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' }],
      ['an old browser: Origin matching Host', { origin: `http://${host}`, host }],
      [
        '…or the host a proxy says it forwarded',
        { origin: 'https://crm.example', host, 'x-forwarded-host': 'crm.example' },
      ],
    ];
    for (const [label, headers] of allowed) {
      const r = await send(
        'POST',
        '/contacts/',
        { 'content-type': 'application/json', ...headers },
        '{"firstname":"Own"}',
      );
      expect(r.statusCode, `${label}: ${r.body}`).toBe(200);
    }
    const typed = await send('GET', '/contacts/', { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate' });
    expect(typed.statusCode).toBe(200);
  });
});

const browserPath = inject('chromium');

describe.runIf(browserPath)('cross-site request forgery in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let attacker: http.Server;
  let api: string;
  let evil: string;
  beforeAll(async () => {
    t = await makeApp('sqlite');
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    api = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    // Another site: localhost is not the same site as 127.0.0.1. Its page posts a hook and a contact to the
    // API as soon as it loads, into frames, the way a forging page would.
    attacker = http.createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><body>
<iframe name=a></iframe><iframe name=b></iframe>
<form id=h method=post target=a action="${api}/hooks/">${HOOK_FORM.split('&')
        .map((kv) => kv.split('=').map(decodeURIComponent))
        .map(([k, v]) => `<input name="${k}" value="${v}">`)
        .join('')}</form>
<form id=c method=post target=b enctype=text/plain action="${api}/contacts/"><input name="<request><firstname>forged" value="x</firstname></request>"></form>
<script>document.getElementById('h').submit(); document.getElementById('c').submit();</script></body>`);
    });
    await new Promise<void>((ok) => attacker.listen(0, '127.0.0.1', ok));
    evil = `http://localhost:${(attacker.address() as AddressInfo).port}/`;
    browser = await launchChromium(browserPath);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((ok) => attacker?.close(ok));
    await t.close();
  });

  it('an admin who signed in to the API in this browser visits another site: its forms reach Hookline and are refused', async () => {
    const before = await dump(t, t.adminA.accountId);
    const context = await browser.newContext({
      httpCredentials: { username: t.adminA.email, password: t.adminA.token, origin: api },
    });
    const page = await context.newPage();
    // The admin uses the API in the browser: it answers, with the saved login.
    const own = await page.goto(`${api}/contacts/`);
    expect(own?.status()).toBe(200);
    // Then visits the other site, whose page posts to the API at once.
    const refused: number[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(api) && r.request().method() === 'POST') refused.push(r.status());
    });
    await page.goto(evil);
    await expect.poll(() => refused.length, { timeout: 10_000 }).toBe(2);
    expect(refused).toEqual([403, 403]);
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
    await context.close();
  });
});
