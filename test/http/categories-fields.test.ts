// Category tags (list, create, add/remove on records), field definitions and custom fields, and related
// items — in XML, JSON and form, on every engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp, type Wire } from '../support/app.js';
import { arr, counts, createItem, dump, failed, ok, send, show, text, WIRES } from './helpers.js';

const KINDS = ['contacts', 'companies', 'projectblogs'] as const;
const KIND_WIRES = KINDS.flatMap((segment) => WIRES.map((wire) => ({ segment, wire })));

describe.each(ENGINES)('categories, fields and related items on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp(engine);
  });
  afterAll(async () => t.close());

  const newCategory = async (segment: string, name: string, wire: Wire = 'json') =>
    Number(ok(await call(t, t.adminA, 'POST', `/${segment}/categories/`, { wire, body: { name } })).item.id);
  const tagsOf = async (segment: string, id: number, wire: Wire = 'json') =>
    arr((await show(t, t.adminA, segment, id, wire)).categories?.category).map((c: any) => ({
      id: Number(c.id),
      name: text(c.name),
    }));

  it.each(KIND_WIRES)(
    'creates and lists $segment categories in $wire; the same name gives the same id',
    async ({ segment, wire }) => {
      const name = `VIP ${segment} ${wire}`;
      const first = ok(await call(t, t.adminA, 'POST', `/${segment}/categories/`, { wire, body: { name } }));
      const id = Number(first.item.id);
      expect(id).toBeGreaterThan(0);
      expect(text(first.item.name)).toBe(name);
      const again = ok(await call(t, t.adminA, 'POST', `/${segment}/categories/`, { wire, body: { name } }));
      expect(Number(again.item.id)).toBe(id);

      const list = ok(await call(t, t.adminA, 'GET', `/${segment}/categories/`, { wire }));
      const cats = arr(list.categories?.category).map((c: any) => ({ id: Number(c.id), name: text(c.name) }));
      expect(cats.filter((c) => c.name === name)).toEqual([{ id, name }]);
      expect(Number(list.count)).toBe(cats.length);
      // Tags belong to one kind: another kind's list does not show it.
      const other = KINDS.find((k) => k !== segment)!;
      const otherList = ok(await call(t, t.adminA, 'GET', `/${other}/categories/`));
      expect(arr(otherList.categories?.category).map((c: any) => c.id)).not.toContain(id);
    },
  );

  it('answers one id to concurrent creates of the same category name', async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call(t, i % 2 ? t.adminA : t.memberA, 'POST', '/companies/categories/', {
          wire: WIRES[i % 3],
          body: { name: 'Race' },
        }),
      ),
    );
    const ids = answers.map((a) => Number(ok(a).item.id));
    expect(new Set(ids).size).toBe(1);
    const list = ok(await call(t, t.adminA, 'GET', '/companies/categories/')).categories.category;
    expect(list.filter((c: any) => c.name === 'Race')).toEqual([{ id: ids[0], name: 'Race' }]);
  });

  it('refuses a category without a name', async () => {
    const before = await counts(t);
    for (const wire of WIRES) {
      failed(await call(t, t.adminA, 'POST', '/contacts/categories/', { wire, body: { name: '' } }), 400, 'name');
      failed(await call(t, t.adminA, 'POST', '/contacts/categories/', { wire, body: { label: 'x' } }), 400, 'name');
      failed(
        await call(t, t.adminA, 'POST', '/contacts/categories/', { wire, body: { name: { a: 'b' } } }),
        400,
        'name',
      );
    }
    expect(await counts(t)).toEqual(before);
  });

  it.each(KIND_WIRES)(
    'refuses unknown fields in a $segment category create ($wire), naming each, and changes nothing',
    async ({ segment, wire }) => {
      const url = `/${segment}/categories/`;
      const existing = await newCategory(segment, `Known ${wire}`);
      const before = await dump(t, t.adminA.accountId);
      // Beside a valid name (new or existing: an "ensure" does not hide the typo either), and beside a bad one.
      for (const name of [`Red ${wire}`, `Known ${wire}`]) {
        const errors = failed(await send(t, t.adminA, 'POST', url, wire, { name, colour: 'red' }), 400, 'colour');
        expect(Object.keys(errors)).toEqual(['colour']);
        expect(errors.colour).toMatch(/^Unknown field/);
      }
      const misspelt = failed(await send(t, t.adminA, 'POST', url, wire, { nmae: 'Typo' }), 400, 'nmae', 'name');
      expect(Object.keys(misspelt).sort()).toEqual(['name', 'nmae']);
      failed(await send(t, t.adminA, 'POST', url, wire, { name: 'x', id: existing }), 400, 'id');
      expect(await dump(t, t.adminA.accountId)).toEqual(before);
    },
  );

  it.each(WIRES)(
    'refuses unknown fields in a custom field declaration (%s), naming each, and changes nothing',
    async (wire) => {
      const before = await dump(t, t.adminA.accountId);
      for (const segment of KINDS) {
        const url = `/${segment}/fields/`;
        const errors = failed(
          await send(t, t.adminA, 'POST', url, wire, { label: 'Size', type: 'number', required: 1 }),
          400,
          'required',
        );
        expect(Object.keys(errors)).toEqual(['required']);
        expect(errors.required).toMatch(/^Unknown field/);
        const several = failed(
          await send(t, t.adminA, 'POST', url, wire, { lable: 'Size', type: 'colour', name: 'custom1' }),
          400,
          'lable',
          'name',
          'label',
          'type',
        );
        expect(Object.keys(several).sort()).toEqual(['label', 'lable', 'name', 'type']);
      }
      expect(await dump(t, t.adminA.accountId)).toEqual(before);
      // A member is still told 403 first (the permission is checked before the body).
      failed(
        await send(t, t.memberA, 'POST', '/contacts/fields/', wire, { label: 'x', required: 1 }),
        403,
        'permission',
      );
    },
  );

  it.each(KIND_WIRES)('adds and removes tags of $segment with PUT in $wire', async ({ segment, wire }) => {
    const a = await newCategory(segment, `alpha ${wire}`);
    const b = await newCategory(segment, `beta ${wire}`);
    const c = await newCategory(segment, `gamma ${wire}`);
    const id = await createItem(t, t.adminA, segment, {}, wire);
    ok(
      await call(t, t.adminA, 'PUT', `/${segment}/${id}/`, {
        wire,
        body: { categories: { add: { category: [a, b] } } },
      }),
    );
    expect((await tagsOf(segment, id, wire)).map((x) => x.id)).toEqual([a, b]);
    ok(
      await call(t, t.adminA, 'PUT', `/${segment}/${id}/`, {
        wire,
        body: { categories: { add: { category: [c] }, remove: { category: [a] } } },
      }),
    );
    expect(await tagsOf(segment, id)).toEqual([
      { id: b, name: `beta ${wire}` },
      { id: c, name: `gamma ${wire}` },
    ]);
    // Tags given on create are set too.
    const id2 = await createItem(t, t.adminA, segment, { categories: { add: { category: [c] } } }, wire);
    expect((await tagsOf(segment, id2)).map((x) => x.id)).toEqual([c]);
  });

  it('accepts the XML shapes <category>ID</category> and <category><id>ID</id></category>', async () => {
    const a = await newCategory('contacts', 'xml-a');
    const b = await newCategory('contacts', 'xml-b');
    const id = await createItem(t, t.adminA, 'contacts', { firstname: 'X' });
    const put = (xml: string) =>
      call(t, t.adminA, 'PUT', `/contacts/${id}/`, {
        raw: `<request>${xml}</request>`,
        contentType: 'application/xml',
      });
    ok(await put(`<categories><add><category>${a}</category></add></categories>`));
    ok(await put(`<categories><add><category><id>${b}</id></category></add></categories>`));
    expect((await tagsOf('contacts', id)).map((x) => x.id)).toEqual([a, b]);
    ok(await put(`<categories><remove><category>${a}</category><category>${b}</category></remove></categories>`));
    expect(await tagsOf('contacts', id)).toEqual([]);
    // PHP bracket form, exactly as the dialect writes it.
    ok(
      await call(t, t.adminA, 'PUT', `/contacts/${id}/`, {
        raw: `categories[add][category][]=${a}&categories[add][category][]=${b}`,
        contentType: 'application/x-www-form-urlencoded',
      }),
    );
    expect((await tagsOf('contacts', id)).map((x) => x.id)).toEqual([a, b]);
  });

  it('refuses tags that do not exist, belong to another kind or are not ids — and changes nothing', async () => {
    const companyTag = await newCategory('companies', 'company only');
    const id = await createItem(t, t.adminA, 'contacts', { firstname: 'Tagless' });
    const before = await counts(t);
    for (const wire of WIRES) {
      for (const category of [companyTag, 99999999, 'abc']) {
        const a = await call(t, t.adminA, 'PUT', `/contacts/${id}/`, {
          wire,
          body: { firstname: 'Changed', categories: { add: { category: [category] } } },
        });
        failed(a, 400, 'categories');
        failed(
          await call(t, t.adminA, 'POST', '/contacts/', {
            wire,
            body: { categories: { add: { category: [category] } } },
          }),
          400,
          'categories',
        );
      }
      failed(
        await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { wire, body: { categories: 'abc' } }),
        400,
        'categories',
      );
    }
    expect(await counts(t)).toEqual(before);
    const s = await show(t, t.adminA, 'contacts', id);
    expect(s.item.fields.firstname).toBe('Tagless');
    expect(arr(s.categories.category)).toEqual([]);
  });

  it('lists the field definitions of every kind with name, label and type', async () => {
    for (const wire of ['xml', 'json'] as const) {
      const contacts = ok(await call(t, t.adminA, 'GET', '/contacts/fields/', { wire }));
      const defs = arr(contacts.fields.field).map((f: any) => ({
        name: text(f.name),
        label: text(f.label),
        type: text(f.type),
      }));
      expect(defs).toContainEqual({ name: 'firstname', label: 'First Name', type: 'text' });
      expect(defs).toContainEqual({ name: 'businessemail', label: 'Business Email', type: 'email' });
      expect(defs).toContainEqual({ name: 'assignedto', label: 'Assigned To', type: 'user' });
      expect(defs).toContainEqual({ name: 'company', label: 'Company', type: 'company' });
      expect(Number(contacts.count)).toBe(defs.length);
      const companies = ok(await call(t, t.adminA, 'GET', '/companies/fields/', { wire }));
      expect(arr(companies.fields.field).map((f: any) => text(f.name))).toEqual(
        expect.arrayContaining(['name', 'mainaddress', 'billingaddress', 'shippingaddress', 'phone', 'assignedto']),
      );
      const blogs = ok(await call(t, t.adminA, 'GET', '/projectblogs/fields/', { wire }));
      expect(arr(blogs.fields.field).map((f: any) => text(f.name))).toEqual(
        expect.arrayContaining(['title', 'background', 'assignedto', 'logo']),
      );
    }
    // A member may read them.
    ok(await call(t, t.memberA, 'GET', '/contacts/fields/'));
  });

  it.each(WIRES)('declares custom fields in %s and uses them right away', async (wire) => {
    const declare = async (label: string, type: string) => {
      const a = ok(await call(t, t.adminA, 'POST', '/contacts/fields/', { wire, body: { label, type } }));
      expect(text(a.field.label)).toBe(label);
      expect(text(a.field.type)).toBe(type);
      expect(text(a.field.name)).toMatch(/^custom\d+$/);
      return text(a.field.name);
    };
    const size = await declare(`Size ${wire}`, 'number');
    const since = await declare(`Since ${wire}`, 'date');
    const note = await declare(`Note ${wire}`, 'text');
    const defs = ok(await call(t, t.adminA, 'GET', '/contacts/fields/')).fields.field;
    expect(defs).toContainEqual({ name: size, label: `Size ${wire}`, type: 'number' });
    expect(defs).toContainEqual({ name: since, label: `Since ${wire}`, type: 'date' });

    const id = await createItem(
      t,
      t.adminA,
      'contacts',
      { firstname: 'Custom', [size]: '42', [since]: '2026-11-28', [note]: 'n' },
      wire,
    );
    let s = await show(t, t.adminA, 'contacts', id);
    expect(s.item.fields[size]).toBe(42);
    expect(s.item.fields[since]).toBe('2026-11-28');
    expect(s.item.fields[note]).toBe('n');
    ok(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { wire, body: { [size]: '7.5', [note]: '' } }));
    s = await show(t, t.adminA, 'contacts', id);
    expect(s.item.fields[size]).toBe(7.5);
    expect(s.item.fields).not.toHaveProperty(note);

    // Typed: text in a number field, garbage in a date field, a structure in a text field.
    const before = await counts(t);
    failed(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { wire, body: { [size]: 'lots' } }), 400, size);
    failed(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { wire, body: { [since]: 'yesterday' } }), 400, since);
    failed(await call(t, t.adminA, 'POST', '/contacts/', { wire, body: { [since]: '2026-13-01' } }), 400, since);
    failed(await call(t, t.adminA, 'POST', '/contacts/', { wire, body: { [note]: { a: '1' } } }), 400, note);
    // A contact's custom field is not a company's.
    failed(await call(t, t.adminA, 'POST', '/companies/', { wire, body: { [size]: '1' } }), 400, size);
    // Not a finite number, in any spelling.
    for (const bad of ['1e999', 'Infinity', 'NaN', '1e', '0x10', '1,5'])
      failed(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { wire, body: { [size]: bad } }), 400, size);
    expect(await counts(t)).toEqual(before);
    expect((await show(t, t.adminA, 'contacts', id)).item.fields[size]).toBe(7.5);

    // A number shows as JSON writes it (1e-7), and what a record shows is accepted back as it is.
    ok(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { wire, body: { [size]: '0.0000001' } }));
    const shown = (await show(t, t.adminA, 'contacts', id, wire)).item.fields[size];
    expect(String(shown)).toBe('1e-7');
    ok(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { wire, body: { [size]: String(shown) } }));
    ok(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { wire, body: { [size]: '2.5E3' } }));
    expect((await show(t, t.adminA, 'contacts', id)).item.fields[size]).toBe(2500);
  });

  it('lets only admins declare custom fields and refuses bad declarations', async () => {
    const before = await counts(t);
    for (const wire of WIRES) {
      failed(
        await call(t, t.memberA, 'POST', '/contacts/fields/', { wire, body: { label: 'Nope', type: 'text' } }),
        403,
        'permission',
      );
      failed(
        await call(t, t.adminA, 'POST', '/contacts/fields/', { wire, body: { label: 'Bad', type: 'colour' } }),
        400,
        'type',
      );
      failed(await call(t, t.adminA, 'POST', '/contacts/fields/', { wire, body: { type: 'text' } }), 400, 'label');
    }
    expect(await counts(t)).toEqual(before);
    const defs = ok(await call(t, t.adminA, 'GET', '/contacts/fields/')).fields.field.map((f: any) => f.label);
    expect(defs).not.toContain('Nope');
    expect(defs).not.toContain('Bad');
  });

  it.each(WIRES)('relates records to each other symmetrically and unrelates them (%s)', async (wire) => {
    const contact = await createItem(t, t.adminA, 'contacts', { firstname: 'Rel', lastname: wire });
    const company = await createItem(t, t.adminA, 'companies', { name: `Rel Co ${wire}` });
    const blog = await createItem(t, t.adminA, 'projectblogs', { title: `Rel Pb ${wire}` });
    ok(
      await send(t, t.adminA, 'PUT', `/contacts/${contact}/`, wire, {
        relateditems: {
          add: {
            relatedto: [
              { id: company, note: 'employer' },
              { id: blog, note: '' },
            ],
          },
        },
      }),
    );
    const related = async (segment: string, id: number, w: Wire = 'json') =>
      arr((await show(t, t.adminA, segment, id, w)).relateditems?.relatedto).map((r: any) => ({
        id: Number(r.id),
        name: text(r.name),
        typeid: Number(r.typeid),
        note: text(r.note),
      }));
    expect(await related('contacts', contact)).toEqual([
      { id: company, name: `Rel Co ${wire}`, typeid: 40, note: 'employer' },
      { id: blog, name: `Rel Pb ${wire}`, typeid: 2, note: '' },
    ]);
    expect(await related('companies', company, 'xml')).toEqual([
      { id: contact, name: `Rel ${wire}`, typeid: 1, note: 'employer' },
    ]);
    expect((await related('projectblogs', blog)).map((r) => r.id)).toEqual([contact]);

    // A record in the trash drops out of its relations until it is restored.
    ok(await call(t, t.adminA, 'DELETE', `/companies/${company}/`));
    expect((await related('contacts', contact)).map((r) => r.id)).toEqual([blog]);
    ok(await call(t, t.adminA, 'POST', `/companies/${company}/restore/`));
    expect((await related('contacts', contact)).map((r) => r.id)).toEqual([company, blog]);

    // Removing works from either side.
    ok(
      await call(t, t.adminA, 'PUT', `/companies/${company}/`, {
        wire,
        body: { relateditems: { remove: { relatedto: [contact] } } },
      }),
    );
    expect((await related('contacts', contact)).map((r) => r.id)).toEqual([blog]);
    expect(await related('companies', company)).toEqual([]);

    // Created with a relation.
    const other = await createItem(
      t,
      t.adminA,
      'contacts',
      { firstname: 'New', relateditems: { add: { relatedto: { id: contact, note: 'friend' } } } },
      wire,
    );
    expect(await related('contacts', other)).toEqual([{ id: contact, name: `Rel ${wire}`, typeid: 1, note: 'friend' }]);
    expect((await related('contacts', contact)).map((r) => r.id)).toEqual([blog, other]);
  });

  it('refuses relations to itself, to missing records and without ids — and changes nothing', async () => {
    const id = await createItem(t, t.adminA, 'contacts', { firstname: 'Lonely' });
    const gone = await createItem(t, t.adminA, 'contacts', { firstname: 'Gone' });
    ok(await call(t, t.adminA, 'DELETE', `/contacts/${gone}/`));
    const before = await counts(t);
    for (const wire of WIRES) {
      for (const target of [id, 99999999, gone]) {
        failed(
          await call(t, t.adminA, 'PUT', `/contacts/${id}/`, {
            wire,
            body: { relateditems: { add: { relatedto: { id: target } } } },
          }),
          400,
          'relateditems',
        );
      }
      failed(
        await call(t, t.adminA, 'PUT', `/contacts/${id}/`, {
          wire,
          body: { relateditems: { add: { relatedto: { note: 'no id' } } } },
        }),
        400,
        'relateditems',
      );
      failed(
        await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { wire, body: { relateditems: 'x' } }),
        400,
        'relateditems',
      );
    }
    expect(await counts(t)).toEqual(before);
    expect(arr((await show(t, t.adminA, 'contacts', id)).relateditems.relatedto)).toEqual([]);
  });

  it('refuses a contact company that is not a company of the account', async () => {
    const contact = await createItem(t, t.adminA, 'contacts', { firstname: 'Not a company' });
    const before = await counts(t);
    for (const wire of WIRES) {
      failed(await call(t, t.adminA, 'POST', '/contacts/', { wire, body: { company: contact } }), 400, 'company');
      failed(await call(t, t.adminA, 'POST', '/contacts/', { wire, body: { company: 99999999 } }), 400, 'company');
      failed(await call(t, t.adminA, 'POST', '/contacts/', { wire, body: { company: 'Acme' } }), 400, 'company');
    }
    expect(await counts(t)).toEqual(before);
  });
});
