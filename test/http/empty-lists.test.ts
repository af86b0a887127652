// An empty categories or relateditems — or an empty add or remove inside one, or an empty entry in one of
// their lists — is nothing to do, in every wire's spelling: XML <categories/>, form categories= (and
// category[]=), JSON null, "", {} or [] (PHP's json_encode writes an empty array as []). Such a request
// succeeds, changes no tag and no relation, raises no event, and the request's other fields are written as
// usual. An entry that is not empty and not an id is still refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp, type Wire } from '../support/app.js';
import { arr, createItem, dump, failed, ok, send, show, WIRES } from './helpers.js';

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
    '{"categories":" "}',
    '{"categories":{"add":{"category":[""]}}}',
    '{"categories":{"add":{"category":[null," ",{},[]]},"remove":{"category":""}}}',
    '{"categories":{"remove":{"category":[{"id":"","name":""}]}}}',
    '{"relateditems":{"add":{"relatedto":[""]}}}',
    '{"relateditems":{"add":{"relatedto":[{"id":null,"note":""}]},"remove":{"relatedto":[null]}}}',
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
    '<request><categories><add><category/><category></category></add></categories></request>',
    '<request><categories><remove><category><id/></category></remove></categories></request>',
    '<request><relateditems><add><relatedto/><relatedto> </relatedto></add></relateditems></request>',
    '<request><relateditems><add><relatedto><id/><note/></relatedto></add></relateditems></request>',
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
    'categories=%20',
    'categories[add][category][]=',
    'categories[add][category][]=&categories[remove][category][]=%20',
    'relateditems[add][relatedto][]=',
    'relateditems[add][relatedto][0][id]=&relateditems[add][relatedto][0][note]=',
    'relateditems[remove][relatedto][][id]=',
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
  let tag2: number;
  let company2: number;
  beforeAll(async () => {
    t = await makeApp(engine);
    tag = Number(ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: 'kept' } })).item.id);
    tag2 = Number(ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: 'new' } })).item.id);
    company = await createItem(t, t.adminA, 'companies', { name: 'Kept Co' });
    company2 = await createItem(t, t.adminA, 'companies', { name: 'New Co' });
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

  /** Empty entries beside a real one in each list, in each wire's own spelling. */
  const MIXED: Record<Wire, () => string> = {
    json: () =>
      `{"categories":{"add":{"category":[null,"",${tag2}," "]},"remove":{"category":[""]}},` +
      `"relateditems":{"add":{"relatedto":["",{"id":${company2},"note":"new"},{"id":"","note":""}]}}}`,
    xml: () =>
      `<request><categories><add><category/><category>${tag2}</category><category></category></add></categories>` +
      `<relateditems><add><relatedto/><relatedto><id>${company2}</id><note>new</note></relatedto>` +
      '<relatedto><id/><note/></relatedto></add></relateditems></request>',
    form: () =>
      `categories[add][category][]=&categories[add][category][]=${tag2}&categories[remove][category][]=` +
      '&relateditems[add][relatedto][0][id]=&relateditems[add][relatedto][0][note]=' +
      `&relateditems[add][relatedto][1][id]=${company2}&relateditems[add][relatedto][1][note]=new`,
  };

  it.each(WIRES)('skips empty entries beside real ones (%s)', async (wire) => {
    const id = Number(ok(await raw('POST', '/contacts/', wire, MIXED[wire]())).item.id);
    expect(await listsOf(id)).toEqual({ tags: [tag2], related: [[company2, 'new']] });
    ok(await raw('PUT', `/contacts/${contact}/`, wire, MIXED[wire]()));
    expect(await listsOf(contact)).toEqual({
      tags: [tag, tag2],
      related: [
        [company, 'kept'],
        [company2, 'new'],
      ],
    });
    ok(
      await send(t, t.adminA, 'PUT', `/contacts/${contact}/`, wire, {
        categories: { remove: { category: ['', tag2] } },
        relateditems: { remove: { relatedto: [company2, ''] } },
      }),
    );
    expect(await listsOf(contact)).toEqual({ tags: [tag], related: [[company, 'kept']] });
  });

  it.each(WIRES)('still refuses entries that are not empty and not ids, changing nothing (%s)', async (wire) => {
    const before = await dump(t, t.adminA.accountId);
    const cases: [string, Record<string, unknown>, [string, string]][] = [
      [
        'a word beside an empty entry',
        { categories: { add: { category: ['', 'abc'] } } },
        ['categories', 'categories must list ids'],
      ],
      [
        'a note without an id',
        { relateditems: { add: { relatedto: [{ id: '', note: 'partner' }] } } },
        ['relateditems', 'relateditems must list ids'],
      ],
      [
        'an empty entry with a misspelt key',
        { relateditems: { add: { relatedto: [{ idd: '', note: '' }] } } },
        [
          'relateditems',
          'each relateditems/add/relatedto must be an item id, or <id>ID</id> with an optional <note>: ' +
            '<relateditems><add><relatedto><id>ID</id><note>…</note></relatedto></add></relateditems> ' +
            '(JSON {"relateditems":{"add":{"relatedto":[{"id":ID,"note":"…"}]}}}, ' +
            'form relateditems[add][relatedto][0][id]=ID&relateditems[add][relatedto][0][note]=…; remove likewise)',
        ],
      ],
    ];
    for (const [label, body, error] of cases) {
      for (const [method, url] of [
        ['PUT', `/contacts/${contact}/`],
        ['POST', '/contacts/'],
      ]) {
        const a = await send(t, t.adminA, method, url, wire, { firstname: 'Lost', ...body });
        failed(a, 400, error[0]);
        expect(Object.entries(a.body.errors), label).toEqual([error]);
      }
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });
});
