// The delivery portal (Hookline's choice): web pages for an account's admins, in any browser, to see each
// hook's deliveries and attempts and send one again — what GitHub's "Recent Deliveries", Stripe's dashboard
// and Svix's App Portal give their users. Server-rendered HTML, no script: a sign-in page that takes the
// API's e-mail and token and starts a session (accounts/sessions.ts) with a Sign out button, or the API's own
// HTTP Basic login for scripts; every value escaped (a receiver's answer is shown as text, whatever it
// holds), a Content-Security-Policy that runs nothing, and a form token on every button, so another site
// cannot make an admin's browser press one.
//
//   GET  /portal/login?next=                               the sign-in page (no login needed)
//   POST /portal/login                                     signs in: e-mail, API token (a session cookie)
//   POST /portal/logout                                    signs out (form field `token`)
//   GET  /portal/                                          the account's hooks
//   GET  /portal/hooks/{id}/?state=&before=                 a hook's deliveries, newest first, with attempts
//   GET  /portal/hooks/{id}/deliveries/{eventId}/           one delivery: its request and every answer whole
//   POST /portal/hooks/{id}/deliveries/{eventId}/redeliver  a manual attempt now (form field `token`)
//   POST /portal/hooks/{id}/deliveries/recover              failed deliveries since a time: pending again
//   POST /portal/hooks/{id}/deliveries/replay               events since a time the hook never sent: sent now
//   POST /portal/hooks/{id}/test                            a test notification now (nothing recorded)
//   POST /portal/hooks/{id}/active                          Pause (active=0) or Turn on (active=1) the hook
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Handlers } from '../app.js';
import type { Engine } from '../../storage/port.js';
import { pathId } from '../params.js';
import { ApiError, Errors } from '../../errors.js';
import { parseDate, parseId } from '../../records/values.js';
import { recoverFailed } from '../../delivery/recover.js';
import { replayMissing } from '../../delivery/replay.js';
import { getHook, listHooks, setHookActive } from '../../webhooks/hooks.js';
import { DELIVERY_STATES, readDeliveries, readDelivery, type DeliveryView } from '../../delivery/history.js';
import type { DeliveryEngine } from '../../delivery/engine.js';
import { webhookId } from '../../webhooks/signer.js';
import type { Tree, TreeObject } from '../../dialect/tree.js';
import { authenticate, hashToken } from '../../accounts/accounts.js';
import { SESSION_COOKIE, SESSION_TTL_MS, endSession, startSession } from '../../accounts/sessions.js';
import { sameOrigin } from '../origin.js';

const PAGE = 50;
/** Characters of each answer a hook's page shows (the delivery's own page shows it whole). */
const ANSWER_PREVIEW = 1000;

/** Text for HTML: every character that could open markup or end an attribute, escaped. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** UTC, to the second: 2026-11-29 17:30:37Z */
const when = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? '' : `${new Date(Number(ms)).toISOString().slice(0, 19).replace('T', ' ')}Z`;

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // Nothing runs, nothing loads from elsewhere, no one frames it; forms post only here.
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem auto;max-width:72rem;padding:0 1rem;color:#1d2330}
h1{font-size:1.35rem}h2{font-size:1.1rem;margin-top:1.5rem}a{color:#1f5fbf}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #dde1e8;vertical-align:top}
th{font-weight:600;background:#f4f6f9}code,pre{font:12px/1.4 ui-monospace,monospace}pre{white-space:pre-wrap;word-break:break-all;margin:.25rem 0;max-height:16rem;overflow:auto;background:#f7f8fa;padding:.4rem}
.state-succeeded{color:#1e7d32}.state-failed{color:#b3261e}.state-pending{color:#8a5a00}.off{color:#6b7280}
.notice{padding:.6rem .8rem;background:#eef4ff;border:1px solid #c7d7f5}.notice.bad{background:#fdeeee;border-color:#f1c4c4}
nav a{margin-right:.8rem}.who{float:right}form{display:inline}button{font:inherit;cursor:pointer}
.signin{display:block;max-width:24rem}.signin label{display:block;margin:.6rem 0}.signin input{display:block;width:100%;font:inherit;padding:.3rem}`;

/**
 * A page; `req`, when someone is signed in: the header links their hooks and names them, with a Sign out
 * button when they signed in on the sign-in page (an HTTP Basic login has nothing to sign out of: the browser
 * keeps sending it). The sign-in page has no header.
 */
function page(title: string, body: string, req?: FastifyRequest): string {
  const who = req?.actor
    ? `<span class="who">${esc(req.actor.email)}${
        req.session
          ? ` <form method="post" action="/portal/logout"><input type="hidden" name="token" value="${esc(
              formToken(req, SIGN_OUT),
            )}"><button type="submit">Sign out</button></form>`
          : ''
      }</span>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · Hookline</title><style>${STYLE}</style></head>
<body><header>${req?.actor ? `<nav><a href="/portal/">Hooks</a>${who}</nav>` : ''}</header><main>
${body}
</main></body></html>`;
}

/** What the Sign out button's form token is made for (a hook's buttons: `hook:{id}`). */
const SIGN_OUT = 'sign-out';

/**
 * The form token: an HMAC of what the form does (a hook's buttons, or signing out), keyed by the login the
 * page was asked with: the session's cookie, or the Basic login. Another site can neither read it from the
 * page nor make it without the admin's credentials; every node of a cluster and every restart computes the
 * same, and a changed login (a new API token, another session) retires it.
 */
const formToken = (req: FastifyRequest, purpose: number | typeof SIGN_OUT): string =>
  createHmac(
    'sha256',
    createHash('sha256')
      .update(req.session ? `portal-session:${req.session}` : `portal:${req.headers.authorization ?? ''}`)
      .digest(),
  )
    .update(purpose === SIGN_OUT ? SIGN_OUT : `hook:${purpose}`)
    .digest('base64url');

function tokenMatches(req: FastifyRequest, purpose: number | typeof SIGN_OUT, given: unknown): boolean {
  const want = Buffer.from(formToken(req, purpose));
  const got = Buffer.from(typeof given === 'string' ? given : '');
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * When each failing hook of the account started failing (hook id → ms); the others are not in it. With
 * `hookId`, that hook's alone.
 */
async function failingSince(engine: Engine, accountId: number, hookId?: number): Promise<Map<number, number>> {
  const one = hookId === undefined ? '' : ' AND id = ?';
  const rows = await engine.readOne<{ id: number; failing_since: number }>(
    `SELECT id, failing_since FROM hooks WHERE account_id = ?${one} AND failing_since IS NOT NULL`,
    hookId === undefined ? [accountId] : [accountId, hookId],
  );
  return new Map(rows.map((r) => [Number(r.id), Number(r.failing_since)]));
}

/** The hooks, each with when it started failing (`failing`: hook id → ms) and whether it is on. */
function hookRows(hooks: TreeObject[], failing: Map<number, number>): string {
  if (hooks.length === 0) return '<p>This account has no hooks yet (<code>POST /hooks/</code>).</p>';
  const rows = hooks.map(
    (h) => `<tr><td><a href="/portal/hooks/${esc(h.id)}/">${esc(h.id)}</a></td>
<td><a href="/portal/hooks/${esc(h.id)}/">${esc(h.title) || '<span class="off">(untitled)</span>'}</a></td>
<td>${esc(h.event)}</td><td>${esc(h.constrainttype)}</td><td><code>${esc(h.url)}</code></td><td>${esc(h.contenttype)}</td>
<td>${Number(h.active) === 1 ? 'active' : '<span class="off">inactive</span>'}${
      failing.has(Number(h.id))
        ? `<br><span class="state-failed">failing since ${esc(when(failing.get(Number(h.id))))}</span>`
        : ''
    }</td></tr>`,
  );
  return `<table><thead><tr><th>id</th><th>title</th><th>event</th><th>constrainttype</th><th>URL</th><th>format</th><th></th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

/** A delivery's own page. */
const deliveryPath = (hookId: number, eventId: number) => `/portal/hooks/${esc(hookId)}/deliveries/${esc(eventId)}/`;

/**
 * Every attempt of a delivery, each answer shown up to `preview` characters (a hook's page, folded) or whole
 * (the delivery's page: no limit, unfolded).
 */
function attemptList(d: DeliveryView, preview = Infinity): string {
  if (d.attempts.length === 0) return '<span class="off">no attempt yet</span>';
  const answer = (text: string | null) => {
    if (!text) return '<pre><span class="off">(no answer body)</span></pre>';
    if (text.length <= preview) return `<pre>${esc(text)}</pre>`;
    return `<pre>${esc(text.slice(0, preview))}</pre>
<p class="off">… ${text.length} characters in all: <a href="${deliveryPath(d.hook_id, d.event_id)}">the delivery's page</a> shows the whole answer.</p>`;
  };
  return d.attempts
    .map(
      (
        a,
      ) => `<details${preview === Infinity ? ' open' : ''}><summary>${esc(when(a.started_at))} · ${esc(a.trigger)} · ${
        a.status_code === null ? 'no answer' : `HTTP ${esc(a.status_code)}`
      } · ${esc(a.duration_ms)} ms${a.error && a.error !== `HTTP ${a.status_code}` ? ` · ${esc(a.error)}` : ''}</summary>
${answer(a.response_body)}</details>`,
    )
    .join('\n');
}

/** A delivery's Redeliver button; `back`: which page the browser returns to. */
const redeliverForm = (d: DeliveryView, token: string, back: 'hook' | 'delivery') =>
  `<form method="post" action="/portal/hooks/${esc(d.hook_id)}/deliveries/${esc(d.event_id)}/redeliver">
<input type="hidden" name="token" value="${esc(token)}">${
    back === 'delivery' ? '<input type="hidden" name="back" value="delivery">' : ''
  }<button type="submit">Redeliver</button></form>`;

function deliveryRows(list: DeliveryView[], token: string): string {
  if (list.length === 0) return '<p>No deliveries here.</p>';
  const rows = list.map(
    (d) => `<tr id="event-${esc(d.event_id)}">${deliveryCells(d, true)}
<td>${attemptList(d, ANSWER_PREVIEW)}</td>
<td>${redeliverForm(d, token, 'hook')}</td></tr>`,
  );
  return `<table><thead><tr><th>event</th><th>what</th><th>state</th><th>created</th><th>attempts</th><th></th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

/**
 * A delivery's event (linked to the delivery's own page on a hook's page), what it is about, its state (with
 * the next attempt while pending) and when it was made: the cells both pages show.
 */
const deliveryCells = (d: DeliveryView, link: boolean) => {
  const id = link ? `<a href="${deliveryPath(d.hook_id, d.event_id)}">${esc(d.event_id)}</a>` : esc(d.event_id);
  return `<td>${id}<br><code>${esc(webhookId(d.hook_id, d.event_id))}</code></td>
<td>${esc(d.type)}<br>object ${esc(d.object_id)}</td>
<td class="state-${esc(d.state)}">${esc(d.state)}${
    d.state === 'pending' ? `<br><span class="off">next ${esc(when(d.next_attempt_at))}</span>` : ''
  }</td>
<td>${esc(when(d.created_at))}</td>`;
};

/** An answer's status as the notices say it. */
const answered = (status: number | null) => (status === null ? 'no answer' : `HTTP ${status}`);
const is2xx = (status: number | null) => status !== null && status >= 200 && status < 300;

/**
 * What the last button did, from the query its redirect carries. Fixed wording: only numbers are taken
 * from the query, so a link cannot make the page say something else.
 */
function notice(q: Record<string, unknown>): string {
  const line = (ok: boolean, text: string) => `<p class="notice${ok ? '' : ' bad'}" role="status">${esc(text)}</p>`;
  const status = parseId(q.status);
  const eventId = parseId(q.redelivered);
  if (eventId !== null) {
    const ok = is2xx(status);
    return line(ok, `Redelivered event ${eventId}: ${ok ? 'delivered' : 'failed'} (${answered(status)}).`);
  }
  const tested = parseId(q.tested);
  if (tested !== null) {
    const ok = is2xx(status);
    return line(ok, `Test notification of event ${tested}: ${ok ? 'accepted' : 'refused'} (${answered(status)}).`);
  }
  if (q.tested === 'none') return line(false, 'No test notification sent: no recent event of this hook’s kind yet.');
  if (q.turned === 'on')
    return line(true, 'Turned on: its waiting deliveries go out now, and new events reach it again.');
  if (q.turned === 'off')
    return line(
      true,
      'Paused: its deliveries wait until it is turned on, and events raised meanwhile are not sent to it (Replay sends them later).',
    );
  // A count: 0 or a positive whole number (parseId refuses 0).
  const count = (v: unknown) => (v === '0' ? 0 : parseId(v));
  const recovered = count(q.recovered);
  if (recovered !== null)
    return line(true, `${recovered} failed deliver${recovered === 1 ? 'y is' : 'ies are'} pending again.`);
  const replayed = count(q.replayed);
  if (replayed !== null)
    return line(
      true,
      `${replayed} event${replayed === 1 ? '' : 's'} never sent to this hook ${replayed === 1 ? 'is' : 'are'} pending now.`,
    );
  return '';
}

/**
 * The hook's forms: pausing it or turning it on, a test notification, recovering failed deliveries since a
 * time (UTC), and replaying the events since a time that the hook never sent.
 */
function hookForms(hookId: number, token: string, active: boolean): string {
  const t = `<input type="hidden" name="token" value="${esc(token)}">`;
  return `<div><form method="post" action="/portal/hooks/${hookId}/active">${t}<input type="hidden" name="active" value="${
    active ? 0 : 1
  }"><button type="submit">${active ? 'Pause' : 'Turn on'}</button></form>
<form method="post" action="/portal/hooks/${hookId}/test">${t}<button type="submit">Send a test notification</button></form></div>
<form method="post" action="/portal/hooks/${hookId}/deliveries/recover">${t}
<label>Failed deliveries of events since <input type="datetime-local" name="since" required> UTC</label>
<button type="submit">Recover</button></form>
<form method="post" action="/portal/hooks/${hookId}/deliveries/replay">${t}
<label>Events never sent to this hook (raised while it was off) since <input type="datetime-local" name="since" required> UTC</label>
<button type="submit">Replay</button></form>`;
}

/**
 * Where signing in goes on to: a portal page given as `next`, or the hooks. Only a path of the portal
 * (printable, no backslash), so a link cannot send a signed-in browser elsewhere.
 */
function nextPage(next: unknown): string {
  return typeof next === 'string' && /^\/portal(?:[/?][\x21-\x5b\x5d-\x7e]*)?$/.test(next) ? next : '/portal/';
}

/** The sign-in page, with a line saying why it is shown again (fixed wording or a failed sign-in's). */
function signInPage(next: string, note = ''): string {
  return page(
    'Sign in',
    `<h1>Sign in</h1>
${note}
<form method="post" action="/portal/login" class="signin">
<input type="hidden" name="next" value="${esc(next)}">
<label>E-mail <input type="email" name="email" autocomplete="username" required></label>
<label>API token <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>
<p class="off">The portal is for the account's admins: the e-mail and API token the API takes. A session lasts ${
      SESSION_TTL_MS / 3_600_000
    } hours.</p>`,
  );
}

/**
 * The session cookie: only the portal's paths get it, no script reads it, another site's requests carry it
 * only for a link followed (Lax: a form posted from elsewhere does not), and only over HTTPS once the request
 * came over it (or through a proxy that says so).
 */
function sessionCookie(req: FastifyRequest, value: string, maxAgeSeconds: number): string {
  const https = req.protocol === 'https' || /^\s*https\b/i.test(String(req.headers['x-forwarded-proto'] ?? ''));
  return `${SESSION_COOKIE}=${value}; Path=/portal; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${
    https ? '; Secure' : ''
  }`;
}

export function portalRoutes(delivery: Pick<DeliveryEngine, 'redeliver' | 'test'>) {
  return (app: FastifyInstance, h: Handlers): void => {
    void app.register(async (portal) => {
      // Every page takes the sign-in cookie as well as a Basic login (app.ts); the sign-in page none.
      portal.addHook('onRoute', (route) => {
        route.config = { portal: 'session', ...(route.config as object) };
      });

      // Not signed in: a page asked for goes to the sign-in page, which comes back to it; a form posted gets
      // the sign-in page. No WWW-Authenticate: the browser shows the page rather than its own prompt (scripts
      // send their Basic login without being asked). Other errors are pages too.
      portal.setErrorHandler((error: Error, req, reply) => {
        const api = h.errorOf(error, req);
        const status = api.statusCode;
        if (status === 401) {
          if (req.method === 'GET' || req.method === 'HEAD')
            return reply.redirect(`/portal/login?next=${encodeURIComponent(nextPage(req.url))}`, 303);
          return reply.code(401).headers(HEADERS).send(signInPage('/portal/'));
        }
        const text = Object.values(api.errors).join(' ');
        return reply
          .code(status)
          .headers(HEADERS)
          .send(page(`Error ${status}`, `<h1>Error ${status}</h1><p>${esc(text)}</p>`, req));
      });

      const html = (req: FastifyRequest, reply: FastifyReply, title: string, body: string) =>
        reply.headers(HEADERS).send(page(title, body, req));

      portal.get('/portal/login', { config: { portal: 'public' } }, async (req, reply) => {
        const q = req.query as Record<string, unknown>;
        const note = q.signedout === '1' ? '<p class="notice" role="status">Signed out.</p>' : '';
        return reply.headers(HEADERS).send(signInPage(nextPage(q.next), note));
      });

      portal.post('/portal/login', { config: { portal: 'public' } }, async (req, reply) => {
        // A sign-in posted from another site would sign the browser in to someone else's session.
        if (!sameOrigin(req)) throw Errors.forbidden('This form came from another site: sign in on this page');
        const body = h.body(req) as Record<string, Tree>;
        const next = nextPage(body.next);
        const email = typeof body.email === 'string' ? body.email.trim() : '';
        const token = typeof body.token === 'string' ? body.token : '';
        const actor = email && token ? await authenticate(h.engine, email, token) : null;
        const again = (status: number, text: string) =>
          reply
            .code(status)
            .headers(HEADERS)
            .send(signInPage(next, `<p class="notice bad" role="alert">${esc(text)}</p>`));
        if (!actor) return again(401, 'That e-mail and API token do not match a user.');
        if (actor.role !== 'admin') return again(403, 'The portal is for admins of the account.');
        const session = await startSession(
          h.engine,
          { accountId: actor.accountId, userId: actor.userId, tokenHash: hashToken(token) },
          h.clock.now(),
        );
        reply.header('set-cookie', sessionCookie(req, session, SESSION_TTL_MS / 1000));
        return reply.redirect(next, 303);
      });

      portal.post('/portal/logout', async (req, reply) => {
        if (req.session) {
          if (!sameOrigin(req) || !tokenMatches(req, SIGN_OUT, (h.body(req) as Record<string, Tree>).token))
            throw Errors.forbidden('This form has expired or came from another site: reload the page and try again');
          await endSession(h.engine, req.session);
        }
        reply.header('set-cookie', sessionCookie(req, '', 0));
        return reply.redirect('/portal/login?signedout=1', 303);
      });

      portal.get('/portal', async (req, reply) => {
        h.requireAdmin(req);
        const accountId = req.actor!.accountId;
        const hooks = [...(await listHooks(h.engine, accountId)).entries()]
          .filter(([k]) => k !== 'count')
          .map(([, v]) => v as TreeObject);
        const since = await failingSince(h.engine, accountId);
        return html(req, reply, 'Hooks', `<h1>Hooks</h1>\n${hookRows(hooks, since)}`);
      });

      portal.get('/portal/hooks/:id', async (req, reply) => {
        h.requireAdmin(req);
        const hookId = pathId(req, 'id');
        const q = req.query as Record<string, string>;
        const state = (DELIVERY_STATES as readonly string[]).includes(q.state) ? q.state : undefined;
        const before = parseId(q.before) ?? undefined;
        const accountId = req.actor!.accountId;
        const hook = await getHook(h.engine, accountId, hookId); // another account's: 404
        const list = await readDeliveries(h.engine, accountId, hookId, { state, before, limit: PAGE });
        const filter = (s: string | undefined, label: string) =>
          s === state
            ? `<strong>${label}</strong>`
            : `<a href="/portal/hooks/${hookId}/${s ? `?state=${s}` : ''}">${label}</a>`;
        const older =
          list.length === PAGE
            ? `<p><a href="/portal/hooks/${hookId}/?${state ? `state=${state}&amp;` : ''}before=${esc(
                list[list.length - 1].event_id,
              )}">Older deliveries →</a></p>`
            : '';
        const title = String(hook.title || `Hook ${hookId}`);
        const since = (await failingSince(h.engine, accountId, hookId)).get(hookId);
        const token = formToken(req, hookId);
        const body = `<h1>${esc(title)}</h1>
<p>Hook ${hookId} · ${esc(hook.event)} (${esc(hook.constrainttype)}) · ${esc(hook.contenttype)} to <code>${esc(hook.url)}</code> · ${
          Number(hook.active) === 1 ? 'active' : '<span class="off">inactive: deliveries wait</span>'
        }</p>
${since !== undefined ? `<p class="state-failed">Failing since ${esc(when(since))}: every delivery since then has failed for good.</p>` : ''}
${notice(q)}
${hookForms(hookId, token, Number(hook.active) === 1)}
<h2>Deliveries</h2>
<p>${filter(undefined, 'all')} · ${DELIVERY_STATES.map((s) => filter(s, s)).join(' · ')}</p>
${deliveryRows(list, token)}
${older}`;
        return html(req, reply, title, body);
      });

      portal.get('/portal/hooks/:id/deliveries/:eventId', async (req, reply) => {
        h.requireAdmin(req);
        const hookId = pathId(req, 'id');
        const eventId = pathId(req, 'eventId');
        const accountId = req.actor!.accountId;
        const d = await readDelivery(h.engine, accountId, hookId, eventId); // another account's hook: 404
        const { hook } = d;
        const hookTitle = hook.title || `Hook ${hookId}`;
        const title = `Event ${eventId} to ${hookTitle}`;
        const { request } = d;
        const headers = Object.entries(request.headers)
          .map(([k, v]) => `${esc(k)}: ${esc(v)}`)
          .concat(
            request.hookHeaders.map((name) => `${esc(name)}: <span class="off">(the hook's own; not shown)</span>`),
          )
          .join('\n');
        const body = `<h1>${esc(title)}</h1>
<p><a href="/portal/hooks/${hookId}/">← ${esc(hookTitle)}</a></p>
${notice(req.query as Record<string, unknown>)}
<table><thead><tr><th>event</th><th>what</th><th>state</th><th>created</th><th></th></tr></thead>
<tbody><tr>${deliveryCells(d, false)}
<td>${redeliverForm(d, formToken(req, hookId), 'delivery')}</td></tr></tbody></table>
<h2>Request</h2>
<p>POST <code>${esc(request.url)}</code> · ${esc(hook.contenttype)}, as every attempt sends it now. Each attempt also carries
its own <code>webhook-timestamp</code> and signatures.</p>
<pre>${headers}</pre>
<pre>${esc(request.body)}</pre>
<h2>Attempts</h2>
${attemptList(d)}`;
        return html(req, reply, title, body);
      });

      /** A form of the hook's page: an admin's, with its token, from this site; answers the hook's id. */
      const formOf = (req: FastifyRequest): number => {
        h.requireAdmin(req);
        const hookId = pathId(req, 'id');
        const body = h.body(req) as Record<string, Tree>;
        if (!sameOrigin(req) || !tokenMatches(req, hookId, body.token)) {
          throw Errors.forbidden('This form has expired or came from another site: reload the page and try again');
        }
        return hookId;
      };
      const back = (reply: FastifyReply, hookId: number, query: string, anchor = '') =>
        reply.redirect(`/portal/hooks/${hookId}/?${query}${anchor}`, 303);
      const statusOf = (t: TreeObject) => (t.statuscode === null ? '' : `&status=${Number(t.statuscode)}`);

      portal.post('/portal/hooks/:id/deliveries/:eventId/redeliver', async (req, reply) => {
        const hookId = formOf(req);
        const eventId = pathId(req, 'eventId');
        const attempt = await delivery.redeliver(req.actor!.accountId, hookId, eventId);
        const query = `redelivered=${eventId}${statusOf(attempt)}`;
        if ((h.body(req) as Record<string, Tree>).back === 'delivery')
          return reply.redirect(`${deliveryPath(hookId, eventId)}?${query}`, 303);
        return back(reply, hookId, query, `#event-${eventId}`);
      });

      portal.post('/portal/hooks/:id/test', async (req, reply) => {
        const hookId = formOf(req);
        try {
          const test = await delivery.test(req.actor!.accountId, hookId);
          return back(reply, hookId, `tested=${Number(test.eventid)}${statusOf(test)}`);
        } catch (e) {
          // No event of the hook's kind yet: said on the page rather than as an error.
          if (e instanceof ApiError && e.statusCode === 404 && 'eventid' in e.errors)
            return back(reply, hookId, 'tested=none');
          throw e;
        }
      });

      portal.post('/portal/hooks/:id/active', async (req, reply) => {
        const hookId = formOf(req);
        const active = (h.body(req) as Record<string, Tree>).active;
        if (active !== '0' && active !== '1')
          throw Errors.badRequest('active', 'active must be 0 (pause) or 1 (turn on)');
        await setHookActive(h.engine, req.actor!.accountId, hookId, active === '1', h.clock.now()); // another account's: 404
        return back(reply, hookId, `turned=${active === '1' ? 'on' : 'off'}`);
      });

      /** A recover or replay form: its hook (another account's: 404) and `since`. */
      const sinceForm = async (req: FastifyRequest) => {
        const hookId = formOf(req);
        const raw = (h.body(req) as Record<string, Tree>).since;
        const since = typeof raw === 'string' ? parseDate(raw) : null;
        if (since === null) throw Errors.badRequest('since', 'since must be a date or date-time (UTC)');
        const accountId = req.actor!.accountId;
        await getHook(h.engine, accountId, hookId);
        return { accountId, hookId, since };
      };
      portal.post('/portal/hooks/:id/deliveries/recover', async (req, reply) => {
        const { accountId, hookId, since } = await sinceForm(req);
        const n = await recoverFailed(h.engine, accountId, hookId, { since }, h.clock.now());
        return back(reply, hookId, `recovered=${n}`);
      });
      portal.post('/portal/hooks/:id/deliveries/replay', async (req, reply) => {
        const { accountId, hookId, since } = await sinceForm(req);
        const n = await replayMissing(h.engine, accountId, hookId, { since }, h.clock.now());
        return back(reply, hookId, `replayed=${n}`);
      });
    });
  };
}
