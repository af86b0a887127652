// The transport side of the dialect (§1) on the records API: response formats (XML declaration, envelope
// order, Content-Length), Accept and the old Accepts header, JSONP, request bodies in every labelling,
// GET parameters in a body, and paths with and without the trailing slash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { basic, call, makeApp, type TestApp } from '../support/app.js';
import { createItem, failed, listedIds, ok, show, XML_DECL } from './helpers.js';

describe.each(ENGINES)('dialect transport on %s', (engine) => {
  let t: TestApp;
  let contact: number;
  beforeAll(async () => {
    t = await makeApp(engine);
    contact = await createItem(t, t.adminA, 'contacts', { firstname: 'Dia', lastname: 'Lect' });
  });
  afterAll(async () => t.close());

  it('answers XML by default: the declaration first, status last, with Content-Length', async () => {
    const answers = [
      await t.app.inject({ method: 'GET', url: `/contacts/${contact}/`, headers: { authorization: basic(t.adminA) } }),
      await t.app.inject({ method: 'GET', url: '/contacts/', headers: { authorization: basic(t.adminA) } }),
      await t.app.inject({
        method: 'POST',
        url: '/contacts/',
        headers: { authorization: basic(t.adminA) },
        payload: '<request><firstname>X</firstname></request>',
      }),
      await t.app.inject({ method: 'GET', url: '/ownership/', headers: { authorization: basic(t.adminA) } }),
      await t.app.inject({ method: 'GET', url: '/contacts/fields/', headers: { authorization: basic(t.adminA) } }),
    ];
    for (const r of answers) {
      expect(r.statusCode).toBe(200);
      expect(r.body.startsWith(`${XML_DECL}\n<response>`)).toBe(true);
      expect(r.body.endsWith('<status>success</status></response>')).toBe(true);
      expect(String(r.headers['content-type'])).toMatch(/^application\/xml/);
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
      expect(r.headers['x-request-id']).toMatch(/^req-/);
    }
    // Failures too.
    for (const r of [
      await t.app.inject({ method: 'GET', url: '/contacts/abc/', headers: { authorization: basic(t.adminA) } }),
      await t.app.inject({ method: 'GET', url: '/widgets/', headers: { authorization: basic(t.adminA) } }),
      await t.app.inject({ method: 'GET', url: '/contacts/' }),
      await t.app.inject({
        method: 'POST',
        url: '/contacts/',
        headers: { authorization: basic(t.adminA) },
        payload: '<request>',
      }),
    ]) {
      expect(r.statusCode).toBeGreaterThanOrEqual(400);
      expect(r.body.startsWith(XML_DECL)).toBe(true);
      expect(r.body).toMatch(/<errors>.*<\/errors><status>failed<\/status><\/response>$/s);
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
    }
  });

  it('answers JSON with Accept: application/json or the old Accepts: header, status first', async () => {
    for (const headers of <Record<string, string>[]>[
      { accept: 'application/json' },
      { accepts: 'application/json' },
      { accept: 'text/html, application/json;q=0.9' },
      { accepts: 'application/json', accept: '*/*' },
    ]) {
      const r = await call(t, t.adminA, 'GET', `/contacts/${contact}/`, { wire: 'xml', headers });
      expect(r.text.startsWith('{"status":"success",')).toBe(true);
      expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
      expect(r.body.item.name).toBe('Dia Lect');
      const e = await call(t, t.adminA, 'GET', '/contacts/999999999/', { wire: 'xml', headers });
      expect(e.text.startsWith('{"status":"failed","errors":{')).toBe(true);
      expect(e.status).toBe(404);
    }
    const x = await call(t, t.adminA, 'GET', `/contacts/${contact}/`, { wire: 'xml', headers: { accept: 'text/xml' } });
    expect(x.text.startsWith(XML_DECL)).toBe(true);
  });

  it('wraps JSON as JSONP with ?callback=, keeping only [A-Za-z0-9_] of the name', async () => {
    const cases: [string, string][] = [
      ['cb', 'cb'],
      ['cb()', 'cb'],
      ['my_Callback2', 'my_Callback2'],
      ['alert(1);evil.x', 'alert1evilx'],
      ['%3Cscript%3E', 'script'],
    ];
    for (const [given, name] of cases) {
      // Whatever Accept says: a callback means JSON.
      const r = await t.app.inject({
        method: 'GET',
        url: `/contacts/${contact}/?callback=${given}`,
        headers: { authorization: basic(t.adminA) },
      });
      expect(r.statusCode).toBe(200);
      expect(String(r.headers['content-type'])).toMatch(/^application\/javascript/);
      expect(r.body.startsWith(`${name}({"status":"success",`)).toBe(true);
      expect(r.body.endsWith('});')).toBe(true);
      const inner = JSON.parse(r.body.slice(name.length + 1, -2));
      expect(inner.item.id).toBe(contact);
    }
    // Lists and failures are wrapped the same way.
    const list = await t.app.inject({
      method: 'GET',
      url: '/contacts/?callback=cb',
      headers: { authorization: basic(t.adminA) },
    });
    expect(list.body).toMatch(/^cb\(\{"status":"success","count":\d+,"\d+":\{.*\}\);$/s);
    const missing = await t.app.inject({
      method: 'GET',
      url: '/contacts/999999999/?callback=cb()',
      headers: { authorization: basic(t.adminA) },
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.body.startsWith('cb({"status":"failed"')).toBe(true);
    // A name with nothing left is no callback at all.
    const none = await t.app.inject({
      method: 'GET',
      url: `/contacts/${contact}/?callback=()`,
      headers: { authorization: basic(t.adminA) },
    });
    expect(none.body.startsWith(XML_DECL)).toBe(true);
  });

  it('reads XML whatever the body is labelled, JSON with or without a {"request": …} wrapper, and form data', async () => {
    const bodies: [string, string | undefined, string][] = [
      ['<request><firstname>Untyped</firstname></request>', undefined, 'Untyped'],
      ['<request><firstname>TextPlain</firstname></request>', 'text/plain', 'TextPlain'],
      [
        '<?xml version="1.0" encoding="UTF-8"?>\n<request><firstname>TextXml</firstname></request>',
        'text/xml; charset=utf-8',
        'TextXml',
      ],
      ['<request><firstname>FormLabelled</firstname></request>', 'application/x-www-form-urlencoded', 'FormLabelled'],
      ['{"firstname":"Json"}', 'application/json', 'Json'],
      ['{"request":{"firstname":"Wrapped"}}', 'application/json', 'Wrapped'],
      ['{"firstname":"Vendor"}', 'application/vnd.api+json', 'Vendor'],
      ['firstname=Form&lastname=Data%20Here', 'application/x-www-form-urlencoded; charset=UTF-8', 'Form'],
    ];
    for (const [payload, contentType, firstname] of bodies) {
      const r = ok(await call(t, t.adminA, 'POST', '/contacts/', { raw: payload, contentType, accept: 'json' }));
      expect(r.item.fields.firstname).toBe(firstname);
    }
    const last = await call(t, t.adminA, 'GET', '/contacts/?searchvalue=Form%20Data', { accept: 'json' });
    expect(ok(last).count).toBe(1);
  });

  it('takes GET parameters from a body on a GET, for shows as well as lists', async () => {
    const xml = await call(t, t.adminA, 'GET', '/contacts/', {
      raw: '<request><layout>1</layout><fieldlist>lastname</fieldlist></request>',
      contentType: 'application/xml',
      accept: 'json',
    });
    const rec = ok(xml)[String(contact)];
    expect(rec.lastname).toBe('Lect');
    expect(rec).not.toHaveProperty('firstname');
    const json = await call(t, t.adminA, 'GET', '/contacts/', { wire: 'json', body: { searchvalue: 'Lect' } });
    expect(listedIds(json)).toEqual([contact]);
    // A show with an (ignored) parameter body still shows.
    const s = await call(t, t.adminA, 'GET', `/contacts/${contact}/`, {
      raw: '<request><layout>1</layout></request>',
      accept: 'json',
    });
    expect(ok(s).item.id).toBe(contact);
  });

  it('serves every path with and without the trailing slash (and with doubled slashes)', async () => {
    const id = contact;
    const paths = [
      '/contacts',
      '/contacts/',
      `/contacts/${id}`,
      `/contacts/${id}/`,
      `//contacts//${id}//`,
      '/contacts/categories',
      '/contacts/categories/',
      '/companies/fields',
      '/projectblogs/fields/',
      '/ownership',
      '/ownership/',
      '/templates',
      '/templates/',
    ];
    for (const p of paths) ok(await call(t, t.adminA, 'GET', p));
    const other = await createItem(t, t.adminA, 'contacts', { firstname: 'Slash' });
    ok(await call(t, t.adminA, 'PUT', `/contacts/${other}`, { body: { lastname: 'NoSlash' } }));
    const note = Number(
      ok(await call(t, t.adminA, 'POST', '/contacts/note', { body: { parent: other, data: { details: 'n' } } })).item
        .id,
    );
    ok(await call(t, t.adminA, 'PUT', `/contacts/note/${note}`, { body: { data: { details: 'm' } } }));
    ok(await call(t, t.adminA, 'DELETE', `/contacts/note/${note}`));
    ok(await call(t, t.adminA, 'POST', `/contacts/note/${note}/restore`));
    ok(await call(t, t.adminA, 'DELETE', `/contacts/${other}`));
    ok(await call(t, t.adminA, 'POST', `/contacts/${other}/restore`));
    const s = await show(t, t.adminA, 'contacts', other);
    expect(s.item.name).toBe('Slash NoSlash');
    expect(s.activities.activity[0].fields.details).toBe('m');
    failed(await call(t, t.adminA, 'GET', '/contactsx/'), 404);
  });

  it('writes dates in UTC ISO 8601 with +00:00 and reads the three accepted input forms', async () => {
    const parent = contact;
    for (const [input, out] of [
      ['2026-11-28T09:45:00+00:00', '2026-11-28T09:45:00+00:00'],
      ['2026-11-28T10:45:00+01:00', '2026-11-28T09:45:00+00:00'],
      ['2026-11-28T09:45:00Z', '2026-11-28T09:45:00+00:00'],
      ['2026-11-28 09:45:00', '2026-11-28T09:45:00+00:00'],
      ['2026-11-28', '2026-11-28T00:00:00+00:00'],
    ]) {
      const id = Number(
        ok(
          await call(t, t.adminA, 'POST', '/contacts/event/', {
            wire: 'xml',
            body: { parent, data: { title: input, timestart: input } },
          }),
        ).item.id,
      );
      const a = (await show(t, t.adminA, 'contacts', parent)).activities.activity.find((x: any) => x.id === id);
      expect(a.fields.timestart).toBe(out);
    }
  });
});
