// The compatibility matrix: every endpoint, called the ways existing Solve360 clients call it — an XML body
// with an XML answer (the default), form data (PHP gateways), JSON with `Accept: application/json`, JSON
// with the old `Accepts:` header, and JSONP — and every answer checked for the envelope, the XML
// declaration, the status position, and a Content-Length that matches the bytes.
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { basic, encode, type TestApp } from '../support/app.js';
import { arr, createActivity, createItem, makeCompatApp, ok, XML_DECL } from './helpers.js';
import { call } from '../support/app.js';

type Variant = 'xml' | 'form' | 'json' | 'accepts' | 'jsonp';
const VARIANTS: Variant[] = ['xml', 'form', 'json', 'accepts', 'jsonp'];

const xmlParser = new XMLParser({ parseTagValue: false, ignoreAttributes: false, attributeNamePrefix: '@_' });

interface Answer {
  status: number;
  format: 'xml' | 'json';
  body: any;
  text: string;
}

interface Case {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** the path; may create what the call consumes (a record to delete, …) */
  path: () => Promise<string> | string;
  body?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** checks of the answer's own shape, on the parsed body (XML: the children of <response>) */
  check: (b: any, format: 'xml' | 'json') => void;
}

let seq = 0;
const unique = (s: string) => `${s} ${++seq}`;

describe.each(ENGINES)('every endpoint in every client shape on %s', (engine) => {
  let t: TestApp;
  const f: Record<string, number> = {};

  async function send(v: Variant, method: string, path: string, tree?: Record<string, unknown>): Promise<Answer> {
    const headers: Record<string, string> = { authorization: basic(t.adminA) };
    let payload: string | undefined;
    if (tree !== undefined) {
      const e = encode(v === 'xml' ? 'xml' : v === 'form' ? 'form' : 'json', tree);
      payload = e.payload;
      headers['content-type'] = e.contentType;
    }
    if (v === 'json') headers.accept = 'application/json';
    if (v === 'accepts') headers.accepts = 'application/json';
    const url = v === 'jsonp' ? `${path}${path.includes('?') ? '&' : '?'}callback=jQuery_17.2<x>` : path;
    const res = await t.app.inject({ method: method as 'GET', url, headers, payload });
    const text = res.body;
    // Every answer carries a Content-Length that is the byte length (raw-socket clients rely on it).
    expect(Number(res.headers['content-length']), `${method} ${path} (${v})`).toBe(Buffer.byteLength(text));
    expect(res.headers['transfer-encoding']).toBeUndefined();
    const type = String(res.headers['content-type']);
    if (v === 'xml' || v === 'form') {
      expect(type).toMatch(/^application\/xml/);
      expect(text.startsWith(`${XML_DECL}\n<response>`), text.slice(0, 200)).toBe(true);
      expect(text).toMatch(/<status>(success|failed)<\/status><\/response>$/);
      return { status: res.statusCode, format: 'xml', body: xmlParser.parse(text).response, text };
    }
    let json = text;
    if (v === 'jsonp') {
      expect(type).toMatch(/^application\/javascript/);
      // Only [A-Za-z0-9_] survive in the callback name.
      expect(text.startsWith('jQuery_172x(')).toBe(true);
      expect(text.endsWith(');')).toBe(true);
      json = text.slice('jQuery_172x('.length, -2);
    } else {
      expect(type).toMatch(/^application\/json/);
    }
    expect(json).toMatch(/^\{"status":"(success|failed)"/);
    return { status: res.statusCode, format: 'json', body: JSON.parse(json), text: json };
  }

  /** A record list: count plus one child per record keyed by its id (JSON "123", XML <id123>). */
  const listShape = (b: any, format: 'xml' | 'json', atLeast = 1) => {
    expect(Number(b.count)).toBeGreaterThanOrEqual(atLeast);
    const keys = Object.keys(b).filter((k) => k !== 'count' && k !== 'status');
    expect(keys.length).toBeGreaterThanOrEqual(Math.min(atLeast, 1));
    for (const k of keys) {
      expect(k).toMatch(format === 'json' ? /^\d+$/ : /^id\d+$/);
      expect(String(b[k].id)).toBe(k.replace(/^id/, ''));
    }
  };
  const itemShape = (b: any) => {
    expect(Number(b.item.id)).toBeGreaterThan(0);
    expect(b.item).toHaveProperty('name');
  };
  const activityShape = (typeid: number) => (b: any) => {
    expect(Number(b.item.id)).toBeGreaterThan(0);
    expect(Number(b.item.typeid)).toBe(typeid);
    expect(Number(b.item.parent)).toBe(f.contact);
  };
  const reportShape = (container: string, row: string) => (b: any, format: 'xml' | 'json') => {
    expect(Number(b.count)).toBeGreaterThanOrEqual(1);
    const rows =
      format === 'json'
        ? Object.keys(b)
            .filter((k) => /^\d+$/.test(k))
            .map((k) => b[k])
        : arr(b[container][row]);
    expect(rows.length).toBe(Number(b.count));
    for (const r of rows) {
      for (const key of ['id', 'typeid', 'parent', 'parenttypeid', 'created', 'updated', 'fields']) {
        expect(r, key).toHaveProperty(key);
      }
    }
  };

  const cases: Case[] = [
    { name: 'list contacts', method: 'GET', path: () => '/contacts/?layout=1', check: (b, fm) => listShape(b, fm) },
    {
      name: 'create a contact (the spec body)',
      method: 'POST',
      path: () => '/contacts/',
      body: () => ({
        firstname: 'Aaron',
        lastname: 'Baileys',
        ownership: t.adminA.userId,
        categories: { add: { category: [f.category] } },
        relateditems: { add: { relatedto: { id: f.company, note: 'partner' } } },
      }),
      check: (b) => {
        itemShape(b);
        expect(b.item.name).toBe('Aaron Baileys');
      },
    },
    {
      name: 'show a contact',
      method: 'GET',
      path: () => `/contacts/${f.contact}/`,
      check: (b) => {
        for (const k of ['id', 'name', 'typeid', 'created', 'updated', 'viewed', 'ownership', 'flagged', 'fields']) {
          expect(b.item, k).toHaveProperty(k);
        }
        for (const k of ['relateditems', 'categories', 'activities']) expect(b, k).toHaveProperty(k);
      },
    },
    {
      name: 'update a contact',
      method: 'PUT',
      path: () => `/contacts/${f.contact}/`,
      body: () => ({ jobtitle: unique('Buyer') }),
      check: itemShape,
    },
    {
      name: 'delete a contact',
      method: 'DELETE',
      path: async () => `/contacts/${await createItem(t, t.adminA, 'contacts', { firstname: 'Doomed' })}/`,
      check: itemShape,
    },
    {
      name: 'restore a contact',
      method: 'POST',
      path: async () => {
        const id = await createItem(t, t.adminA, 'contacts', { firstname: 'Back' });
        ok(await call(t, t.adminA, 'DELETE', `/contacts/${id}/`));
        return `/contacts/${id}/restore/`;
      },
      check: itemShape,
    },
    { name: 'list companies', method: 'GET', path: () => '/companies/', check: (b, fm) => listShape(b, fm) },
    {
      name: 'create a company',
      method: 'POST',
      path: () => '/companies/',
      body: () => ({ name: unique('Norada') }),
      check: itemShape,
    },
    { name: 'list project blogs', method: 'GET', path: () => '/projectblogs/', check: (b, fm) => listShape(b, fm) },
    {
      name: 'create a project blog',
      method: 'POST',
      path: () => '/projectblogs/',
      body: () => ({ title: unique('Launch') }),
      check: itemShape,
    },
    {
      name: 'list categories',
      method: 'GET',
      path: () => '/contacts/categories/',
      check: (b) => expect(JSON.stringify(b)).toContain(String(f.category)),
    },
    {
      name: 'create a category',
      method: 'POST',
      path: () => '/contacts/categories/',
      body: () => ({ name: unique('VIP') }),
      check: itemShape,
    },
    {
      name: 'list fields',
      method: 'GET',
      path: () => '/contacts/fields/',
      check: (b) => expect(arr(b.fields.field).map((x: any) => x.name)).toContain('firstname'),
    },
    {
      name: 'declare a custom field',
      method: 'POST',
      path: () => '/contacts/fields/',
      body: () => ({ label: unique('Score'), type: 'number' }),
      check: (b) => expect(b.field.name).toMatch(/^custom\d+$/),
    },
    {
      name: 'ownership',
      method: 'GET',
      path: () => '/ownership/',
      check: (b) => expect(arr(b.users.user).map((u: any) => Number(u.id))).toContain(t.adminA.userId),
    },
    {
      name: 'create a task',
      method: 'POST',
      path: () => '/contacts/task/',
      body: () => ({ parent: f.contact, data: { title: 'Send contract', duedate: '2026-12-01', completed: 0 } }),
      check: activityShape(14),
    },
    {
      name: 'create a note',
      method: 'POST',
      path: () => '/contacts/note/',
      body: () => ({ parent: f.contact, data: { details: 'Met at the fair' } }),
      check: activityShape(3),
    },
    {
      name: 'update a task',
      method: 'PUT',
      path: () => `/contacts/task/${f.task}/`,
      body: () => ({ data: { title: unique('Send contract') } }),
      check: activityShape(14),
    },
    {
      name: 'delete a note',
      method: 'DELETE',
      path: async () =>
        `/contacts/note/${await createActivity(t, t.adminA, 'contacts', 'note', f.contact, { details: 'x' })}/`,
      check: activityShape(3),
    },
    {
      name: 'restore a note',
      method: 'POST',
      path: async () => {
        const id = await createActivity(t, t.adminA, 'contacts', 'note', f.contact, { details: 'y' });
        ok(await call(t, t.adminA, 'DELETE', `/contacts/note/${id}/`));
        return `/contacts/note/${id}/restore/`;
      },
      check: activityShape(3),
    },
    {
      name: 'insert a template',
      method: 'POST',
      path: () => '/contacts/template/',
      body: () => ({ parent: f.contact, data: { templateid: f.template } }),
      check: (b) => expect(Number(b.count)).toBe(2),
    },
    { name: 'list templates', method: 'GET', path: () => '/templates/', check: (b, fm) => listShape(b, fm) },
    {
      name: 'create a template',
      method: 'POST',
      path: () => '/templates/',
      body: () => ({
        name: unique('Onboarding'),
        activities: { activity: [{ segment: 'task', data: { title: 'Receive contract' } }] },
      }),
      check: (b) => expect(Number(b.template.id)).toBeGreaterThan(0),
    },
    {
      name: 'show a template',
      method: 'GET',
      path: () => `/templates/${f.template}/`,
      check: (b) => expect(Number(b.template.id)).toBe(f.template),
    },
    {
      name: 'update a template',
      method: 'PUT',
      path: () => `/templates/${f.template}/`,
      body: () => ({ name: unique('Onboarding') }),
      check: (b) => expect(Number(b.template.id)).toBe(f.template),
    },
    {
      name: 'delete a template',
      method: 'DELETE',
      path: async () => {
        const a = ok(await call(t, t.adminA, 'POST', '/templates/', { body: { name: unique('Temp') } }));
        return `/templates/${a.template.id}/`;
      },
      check: (b) => expect(Number(b.id)).toBeGreaterThan(0),
    },
    ...(
      [
        ['nextactions', 'activities', 'activity'],
        ['calendar', 'activities', 'activity'],
        ['followups', 'followups', 'followup'],
        ['opportunities', 'opportunities', 'opportunity'],
        ['activities', 'activities', 'activity'],
        ['timetracking', 'timerecords', 'timerecord'],
      ] as const
    ).map(([name, container, row]): Case => ({
      name: `report ${name}`,
      method: 'GET',
      path: () => `/report/${name}/?itemsdata=1`,
      check: reportShape(container, row),
    })),
  ];

  beforeAll(async () => {
    t = await makeCompatApp(engine);
    f.company = await createItem(t, t.adminA, 'companies', { name: 'Acme' });
    await createItem(t, t.adminA, 'projectblogs', { title: 'Blog' });
    f.category = Number(
      ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: 'Leads' } })).item.id,
    );
    f.contact = await createItem(t, t.adminA, 'contacts', { firstname: 'Main', lastname: 'Contact' });
    f.task = await createActivity(t, t.adminA, 'contacts', 'task', f.contact, { title: 'Call', duedate: '2026-12-01' });
    await createActivity(t, t.adminA, 'contacts', 'followup', f.contact, { title: 'Follow', duedate: '2026-12-02' });
    await createActivity(t, t.adminA, 'contacts', 'opportunity', f.contact, {
      description: 'Deal',
      closingdate: '2026-12-03',
    });
    const today = new Date().toISOString().slice(0, 10);
    await createActivity(t, t.adminA, 'contacts', 'event', f.contact, {
      title: 'Meet',
      timestart: `${today}T09:00:00Z`,
    });
    await createActivity(t, t.adminA, 'contacts', 'timerecord', f.contact, { hours: 1, date: today });
    f.template = Number(
      ok(
        await call(t, t.adminA, 'POST', '/templates/', {
          body: {
            name: 'Kit',
            activities: {
              activity: [
                { segment: 'task', data: { title: 'One' } },
                { segment: 'note', data: { details: 'Two' } },
              ],
            },
          },
        }),
      ).template.id,
    );
  });
  afterAll(async () => t.close());

  describe.each(VARIANTS)('as %s', (variant) => {
    it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const path = await c.path();
      const body = c.body ? await c.body() : undefined;
      const a = await send(variant, c.method, path, body);
      expect(a.status, a.text.slice(0, 300)).toBe(200);
      expect(a.body.status).toBe('success');
      c.check(a.body, a.format);
    });
  });

  describe('GET parameters', () => {
    const xmlBody =
      '<?xml version="1.0" encoding="UTF-8"?>\n<request><limit>1</limit><sortdir>desc</sortdir></request>';
    const get = (payload: string, contentType: string, query = '') =>
      t.app.inject({
        method: 'GET',
        url: `/contacts/${query}`,
        headers: { authorization: basic(t.adminA), accept: 'application/json', 'content-type': contentType },
        payload,
      });
    it('come from an XML body, a JSON body or the query string, and the query string wins', async () => {
      const all = ok(await call(t, t.adminA, 'GET', '/contacts/?sortdir=desc'));
      const newest = Object.keys(all).filter((k) => /^\d+$/.test(k));
      for (const res of [
        await get(xmlBody, 'application/xml'),
        await get('{"limit":1,"sortdir":"desc"}', 'application/json'),
      ]) {
        const b = JSON.parse(res.body);
        expect(b.status).toBe('success');
        const keys = Object.keys(b).filter((k) => /^\d+$/.test(k));
        expect(keys).toHaveLength(1);
        expect(Math.max(...newest.map(Number))).toBe(Number(keys[0]));
      }
      const overridden = JSON.parse((await get(xmlBody, 'application/xml', '?limit=2')).body);
      expect(Object.keys(overridden).filter((k) => /^\d+$/.test(k))).toHaveLength(2);
    });
  });

  describe('failures in the envelope', () => {
    it('XML: errors and status failed, with the declaration and Content-Length', async () => {
      const a = await send('xml', 'GET', '/contacts/999999999/');
      expect(a.status).toBe(404);
      expect(a.body.status).toBe('failed');
      expect(a.body.errors).toHaveProperty('id');
    });
    it('JSON, Accepts and JSONP alike', async () => {
      for (const v of ['json', 'accepts', 'jsonp'] as const) {
        const a = await send(v, 'POST', '/contacts/', { nosuchfield: 'x' });
        expect(a.status).toBe(400);
        expect(a.body).toMatchObject({ status: 'failed', errors: { nosuchfield: expect.any(String) } });
      }
      const r = await send('json', 'GET', '/report/nosuch/');
      expect(r.status).toBe(404);
      expect(r.body.errors).toHaveProperty('report');
    });
  });
});
