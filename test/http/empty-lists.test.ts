// An empty categories or relateditems — or an empty add or remove inside one — is nothing to do, in every
// wire's spelling: XML <categories/>, form categories=, JSON null, "", {} or [] (PHP's json_encode writes
// an empty array as []). Such a request succeeds, changes no tag and no relation, raises no event, and the
// request's other fields are written as usual.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp, type Wire } from '../support/app.js';
import { arr, createItem, dump, ok, show } from './helpers.js';

const CONTENT_TYPE: Record<Wire, string> = {
  xml: 'application/xml',
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
};

/** Raw bodies per wire: each an empty categories, relateditems, add or remove, spelt as clients do. */
const EMPTY: Record<Wire, string[]> = {
  json: [
    '{"categories":null}',
    '{"relateditems":null}',
    '{"categories":null,"relateditems":null}',
    '{"categories":""}',
    '{"categories":{}}',
    '{"categories":[]}',
    '{"relateditems":[]}',
    '{"categories":{"add":null,"remove":null}}',
    '{"categories":{"add":[],"remove":{}}}',
    '{"categories":{"add":{"category":null}}}',
    '{"categories":{"add":{"category":[]}}}',
    '{"relateditems":{"add":null}}',
    '{"relateditems":{"add":{},"remove":[]}}',
    '{"relateditems":{"remove":{"relatedto":null}}}',
    '{"request":{"categories":null}}',
  ],
  xml: [
    '<request><categories/></request>',
    '<request><categories></categories></request>',
    '<request><categories>\n  </categories></request>',
    '<request><categories><add/><remove></remove></categories></request>',
    '<request><categories><add><category/></add></categories></request>',
    '<request><relateditems/></request>',
    '<request><relateditems><add/></relateditems></request>',
    '<request><relateditems><remove><relatedto></relatedto></remove></relateditems></request>',
  ],
  form: [
    'categories=',
    'categories',
    'categories[add]=',
    'categories[add]=&categories[remove]=',
    'categories[add][category]=',
    'relateditems=',
    'relateditems[add]=',
    'relateditems[remove][relatedto]=',
  ],
};
const WIRE_CASES = (Object.keys(EMPTY) as Wire[]).flatMap((wire) => EMPTY[wire].map((raw) => ({ wire, raw })));

/** The same body with a first name beside the empty list, in the wire's own spelling. */
function withName(wire: Wire, raw: string, name: string): string {
  if (wire === 'json') {
    const inner = raw.startsWith('{"request":') ? raw.slice('{"request":'.length, -1) : raw;
    return `{"firstname":${JSON.stringify(name)},${inner.slice(1)}`;
  }
  if (wire === 'xml') return raw.replace('<request>', `<request><firstname>${name}</firstname>`);
  return `firstname=${encodeURIComponent(name)}&${raw}`;
}

describe.each(ENGINES)('empty categories and related items on %s', (engine) => {
  let t: TestApp;
  let tag: number;
  let company: number;
  let contact: number;
  beforeAll(async () => {
    t = await makeApp(engine);
    tag = Number(ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: 'kept' } })).item.id);
    company = await createItem(t, t.adminA, 'companies', { name: 'Kept Co' });
    contact = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Kept',
      categories: { add: { category: tag } },
      relateditems: { add: { relatedto: { id: company, note: 'kept' } } },
    });
  });
  afterAll(async () => t.close());

  const raw = (method: string, url: string, wire: Wire, body: string) =>
    call(t, t.adminA, method, url, { wire, raw: body, contentType: CONTENT_TYPE[wire] });
  const listsOf = async (id: number) => {
    const s = await show(t, t.adminA, 'contacts', id);
    return {
      tags: arr(s.categories.category).map((c: any) => c.id),
      related: arr(s.relateditems.relatedto).map((r: any) => [r.id, r.note]),
    };
  };

  it.each(WIRE_CASES)('a PUT with $raw ($wire) changes nothing', async ({ wire, raw: body }) => {
    const before = await dump(t, t.adminA.accountId);
    ok(await raw('PUT', `/contacts/${contact}/`, wire, body));
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it.each(WIRE_CASES)('the other fields of the request are written with $raw ($wire)', async ({ wire, raw: body }) => {
    ok(await raw('PUT', `/contacts/${contact}/`, wire, withName(wire, body, 'Renamed')));
    expect((await show(t, t.adminA, 'contacts', contact)).item.fields.firstname).toBe('Renamed');
    expect(await listsOf(contact)).toEqual({ tags: [tag], related: [[company, 'kept']] });
    ok(await raw('PUT', `/contacts/${contact}/`, wire, withName(wire, body, 'Kept')));
    expect((await show(t, t.adminA, 'contacts', contact)).item.fields.firstname).toBe('Kept');
    // A create with it makes a record with no tags and no relations.
    const id = Number(ok(await raw('POST', '/contacts/', wire, withName(wire, body, 'Fresh'))).item.id);
    expect((await show(t, t.adminA, 'contacts', id)).item.fields.firstname).toBe('Fresh');
    expect(await listsOf(id)).toEqual({ tags: [], related: [] });
  });
});
