// Records (contacts, companies, project blogs): create, show, partial update, delete to the trash,
// restore — in XML, JSON and form, on every engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp, type Wire } from '../support/app.js';
import { arr, createItem, failed, ISO_DATE, ok, show, text, WIRES, XML_DECL } from './helpers.js';

interface KindCase {
  segment: string;
  typeid: number;
  create: Record<string, string>;
  name: string;
  /** one field changed by a partial update, one left alone */
  change: [string, string];
  keep: string;
  /** a field that an empty value clears */
  clear: string;
  nameAfterRename: [Record<string, string>, string];
}

const KINDS: KindCase[] = [
  {
    segment: 'contacts',
    typeid: 1,
    create: { firstname: 'Aaron', lastname: 'Baileys', jobtitle: 'CTO', businessemail: 'aaron@example.org' },
    name: 'Aaron Baileys',
    change: ['jobtitle', 'CEO'],
    keep: 'businessemail',
    clear: 'jobtitle',
    nameAfterRename: [{ lastname: 'Carter' }, 'Aaron Carter'],
  },
  {
    segment: 'companies',
    typeid: 40,
    create: { name: 'Acme Ltd', phone: '555-0100', website: 'https://acme.example' },
    name: 'Acme Ltd',
    change: ['phone', '555-0199'],
    keep: 'website',
    clear: 'phone',
    nameAfterRename: [{ name: 'Acme Group' }, 'Acme Group'],
  },
  {
    segment: 'projectblogs',
    typeid: 2,
    create: { title: 'Launch', background: 'Spring launch', logo: 'logo.png' },
    name: 'Launch',
    change: ['background', 'Autumn launch'],
    keep: 'logo',
    clear: 'background',
    nameAfterRename: [{ title: 'Relaunch' }, 'Relaunch'],
  },
];

const CASES = KINDS.flatMap((k) => WIRES.map((wire) => ({ ...k, wire, label: `${k.segment} in ${wire}` })));

describe.each(ENGINES)('records API on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp(engine);
  });
  afterAll(async () => t.close());

  it.each(CASES)('creates and shows $label', async (k) => {
    const created = ok(await call(t, t.adminA, 'POST', `/${k.segment}/`, { wire: k.wire, body: k.create }));
    const id = Number(created.item.id);
    expect(id).toBeGreaterThan(0);
    expect(text(created.item.name)).toBe(k.name);
    expect(Number(created.item.typeid)).toBe(k.typeid);

    const s = await show(t, t.adminA, k.segment, id, k.wire);
    expect(Number(s.item.id)).toBe(id);
    expect(text(s.item.name)).toBe(k.name);
    expect(Number(s.item.typeid)).toBe(k.typeid);
    expect(text(s.item.created)).toMatch(ISO_DATE);
    expect(text(s.item.updated)).toMatch(ISO_DATE);
    expect(Number(s.item.ownership)).toBe(t.adminA.userId);
    expect(Number(s.item.flagged)).toBe(0);
    expect(Number(s.item.creatorid)).toBe(t.adminA.userId);
    expect(text(s.item.creatorname)).toBe(t.adminA.email.split('@')[0]);
    expect(Number(s.item.modificatorid)).toBe(t.adminA.userId);
    for (const [key, value] of Object.entries(k.create)) expect(text(s.item.fields[key])).toBe(value);
    expect(arr(s.relateditems?.relatedto)).toEqual([]);
    expect(arr(s.categories?.category)).toEqual([]);
    expect(arr(s.activities?.activity)).toEqual([]);
    if (k.wire === 'xml') {
      const raw = await call(t, t.adminA, 'GET', `/${k.segment}/${id}/`, { wire: 'xml' });
      expect(raw.text.startsWith(XML_DECL)).toBe(true);
      expect(raw.text).toMatch(/<response><item><id>\d+<\/id><name>/);
      expect(raw.text).toMatch(/<\/activities>|<activities\/>/);
      expect(raw.text.endsWith('<status>success</status></response>')).toBe(true);
    }
  });

  it.each(CASES)('updates only the given fields of $label; an empty value clears', async (k) => {
    const id = await createItem(t, t.adminA, k.segment, k.create);
    const [field, value] = k.change;
    const u = ok(await call(t, t.adminA, 'PUT', `/${k.segment}/${id}/`, { wire: k.wire, body: { [field]: value } }));
    expect(Number(u.item.id)).toBe(id);
    let s = await show(t, t.adminA, k.segment, id, 'json');
    expect(s.item.fields[field]).toBe(value);
    expect(s.item.fields[k.keep]).toBe(k.create[k.keep]);
    expect(s.item.name).toBe(k.name);

    const [rename, newName] = k.nameAfterRename;
    const r = ok(await call(t, t.adminA, 'PUT', `/${k.segment}/${id}/`, { wire: k.wire, body: rename }));
    expect(text(r.item.name)).toBe(newName);

    ok(await call(t, t.adminA, 'PUT', `/${k.segment}/${id}/`, { wire: k.wire, body: { [k.clear]: '' } }));
    s = await show(t, t.adminA, k.segment, id, 'json');
    expect(s.item.fields).not.toHaveProperty(k.clear);
    expect(s.item.fields[k.keep]).toBe(k.create[k.keep]);
    expect(s.item.name).toBe(newName);
    expect(s.item.modificatorid).toBe(t.adminA.userId);
  });

  it.each(CASES)('deletes $label to the trash and restores it', async (k) => {
    const id = await createItem(t, t.adminA, k.segment, k.create);
    const base = `/${k.segment}/${id}/`;
    const listed = async () =>
      Object.keys(ok(await call(t, t.adminA, 'GET', `/${k.segment}/?limit=5000`, { wire: 'json' }))).map(Number);
    expect(await listed()).toContain(id);

    const d = ok(await call(t, t.adminA, 'DELETE', base, { wire: k.wire }));
    expect(Number(d.item.id)).toBe(id);
    failed(await call(t, t.adminA, 'GET', base, { wire: k.wire }), 404, 'id');
    expect(await listed()).not.toContain(id);
    // Deleted once is deleted: a second delete is a conflict, not a success.
    failed(await call(t, t.adminA, 'DELETE', base, { wire: k.wire }), 409, 'id');
    // A record in the trash cannot be changed.
    failed(await call(t, t.adminA, 'PUT', base, { wire: k.wire, body: { [k.change[0]]: 'x' } }), 404, 'id');

    const r = ok(await call(t, t.adminA, 'POST', `${base}restore/`, { wire: k.wire }));
    expect(Number(r.item.id)).toBe(id);
    const s = await show(t, t.adminA, k.segment, id, 'json');
    expect(s.item.name).toBe(k.name);
    expect(await listed()).toContain(id);
    failed(await call(t, t.adminA, 'POST', `${base}restore/`, { wire: k.wire }), 409, 'id');
  });

  it('answers 404 for a missing record and for an id of another kind', async () => {
    const contact = await createItem(t, t.adminA, 'contacts', { firstname: 'Kind' });
    const company = await createItem(t, t.adminA, 'companies', { name: 'Kind Co' });
    for (const wire of ['xml', 'json'] as const) {
      failed(await call(t, t.adminA, 'GET', `/companies/${contact}/`, { wire }), 404, 'id');
      failed(await call(t, t.adminA, 'GET', `/contacts/${company}/`, { wire }), 404, 'id');
      failed(await call(t, t.adminA, 'PUT', `/projectblogs/${contact}/`, { wire, body: { title: 'x' } }), 404, 'id');
      failed(await call(t, t.adminA, 'DELETE', `/companies/${contact}/`, { wire }), 404, 'id');
      failed(await call(t, t.adminA, 'POST', `/companies/${contact}/restore/`, { wire }), 404, 'id');
      failed(await call(t, t.adminA, 'GET', `/contacts/999999999/`, { wire }), 404, 'id');
    }
    // Nothing of that touched the contact.
    expect((await show(t, t.adminA, 'contacts', contact)).item.name).toBe('Kind');
  });

  it.each(WIRES)('shows assignedto and company with their names (%s)', async (wire: Wire) => {
    const company = await createItem(t, t.adminA, 'companies', { name: 'Northwind' });
    const id = await createItem(
      t,
      t.adminA,
      'contacts',
      { firstname: 'Sam', assignedto: String(t.memberA.userId), company: String(company) },
      wire,
    );
    const memberName = t.memberA.email.split('@')[0];
    const json = await show(t, t.adminA, 'contacts', id, 'json');
    expect(json.item.fields.assignedto).toBe(t.memberA.userId);
    expect(json.item.fields.assignedto_cn).toBe(memberName);
    expect(json.item.fields.company).toBe(company);
    expect(json.item.fields.company_cn).toBe('Northwind');

    const xml = await call(t, t.adminA, 'GET', `/contacts/${id}/`, { wire: 'xml' });
    expect(xml.text).toContain(`<assignedto cn="${memberName}">${t.memberA.userId}</assignedto>`);
    expect(xml.text).toContain(`<company cn="Northwind">${company}</company>`);
    expect(xml.text).not.toContain('assignedto_cn');
    expect(xml.body.item.fields.assignedto['@_cn']).toBe(memberName);

    // The assignee can be changed and cleared like any field.
    ok(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { wire, body: { assignedto: String(t.adminA.userId) } }));
    expect((await show(t, t.adminA, 'contacts', id)).item.fields.assignedto_cn).toBe(t.adminA.email.split('@')[0]);
    ok(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { wire, body: { assignedto: '' } }));
    const cleared = await show(t, t.adminA, 'contacts', id);
    expect(cleared.item.fields).not.toHaveProperty('assignedto');
    expect(cleared.item.fields).not.toHaveProperty('assignedto_cn');
  });

  it.each(WIRES)('keeps text with markup, quotes and non-ASCII characters intact (%s)', async (wire: Wire) => {
    const value = `Ça & <b>"Straße"</b> 'ü' 日本`;
    const id = await createItem(t, t.adminA, 'contacts', { firstname: value, background: 'line 1\nline 2' }, wire);
    for (const w of ['xml', 'json'] as const) {
      const s = await show(t, t.adminA, 'contacts', id, w);
      expect(text(s.item.fields.firstname)).toBe(value);
      expect(text(s.item.name)).toBe(value);
      expect(text(s.item.fields.background)).toBe('line 1\nline 2');
    }
  });

  it.each(WIRES)('sets ownership and flagged on create and update (%s)', async (wire: Wire) => {
    const id = await createItem(
      t,
      t.adminA,
      'contacts',
      { firstname: 'Owned', ownership: String(t.memberA.userId), flagged: '1' },
      wire,
    );
    let s = await show(t, t.adminA, 'contacts', id);
    expect(s.item.ownership).toBe(t.memberA.userId);
    expect(s.item.flagged).toBe(1);
    ok(
      await call(t, t.adminA, 'PUT', `/contacts/${id}/`, {
        wire,
        body: { ownership: String(t.adminA.userId), flagged: '0' },
      }),
    );
    s = await show(t, t.adminA, 'contacts', id);
    expect(s.item.ownership).toBe(t.adminA.userId);
    expect(s.item.flagged).toBe(0);
    expect(s.item.fields.firstname).toBe('Owned');
  });

  it('lets a member create, change and delete records of the account', async () => {
    const id = await createItem(t, t.memberA, 'contacts', { firstname: 'By Member' });
    let s = await show(t, t.adminA, 'contacts', id);
    expect(s.item.creatorid).toBe(t.memberA.userId);
    expect(s.item.ownership).toBe(t.memberA.userId);
    ok(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { body: { lastname: 'Edited' } }));
    s = await show(t, t.memberA, 'contacts', id);
    expect(s.item.name).toBe('By Member Edited');
    expect(s.item.modificatorid).toBe(t.adminA.userId);
    ok(await call(t, t.memberA, 'DELETE', `/contacts/${id}/`));
    failed(await call(t, t.adminA, 'GET', `/contacts/${id}/`), 404);
  });

  it('creates a record from an empty body (no field is required)', async () => {
    for (const wire of WIRES) {
      const a = await call(t, t.adminA, 'POST', '/contacts/', { wire, body: {} });
      const b = ok(a);
      expect(Number(b.item.id)).toBeGreaterThan(0);
      expect(text(b.item.name)).toBe('');
    }
    // An XML request with an empty <request/> creates one too.
    const x = ok(
      await call(t, t.adminA, 'POST', '/companies/', {
        raw: '<request/>',
        contentType: 'application/xml',
        accept: 'json',
      }),
    );
    expect(x.item.typeid).toBe(40);
  });
});
