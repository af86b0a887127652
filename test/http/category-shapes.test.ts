// The shapes of categories in a create/update body (dialect §2): categories/add and categories/remove, each
// wrapping its tag ids in `category` — in XML, JSON and form. Every shape the dialect shows is accepted;
// anything else (a missing or misspelt `category` wrapper, ids straight under add, stray keys) is refused
// with 400 naming `categories`, and nothing changes — not even the other fields of the same request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp } from '../support/app.js';
import { arr, createItem, dump, ok, refusedOnContacts, send, show, WIRES } from './helpers.js';

const SHAPE =
  '<categories><add><category>ID</category></add></categories> (JSON {"categories":{"add":{"category":[ID]}}}, ' +
  'form categories[add][category][]=ID; remove likewise)';
const wrap = (op: string, not?: string) =>
  `categories/${op} must wrap the tag ids in category${not ? ` (not "${not}")` : ''}: ${SHAPE}`;
const noKey = (key: string) => `categories has no "${key}": it takes add and remove, ${SHAPE}`;
const eachTag = (op: string) => `each categories/${op}/category must be a tag id, or <id>ID</id>: ${SHAPE}`;

describe.each(ENGINES)('category shapes on %s', (engine) => {
  let t: TestApp;
  let a: number;
  let b: number;
  let c: number;
  beforeAll(async () => {
    t = await makeApp(engine);
    const tag = async (name: string) =>
      Number(ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name } })).item.id);
    a = await tag('alpha');
    b = await tag('beta');
    c = await tag('gamma');
  });
  afterAll(async () => t.close());

  const tagsOf = async (id: number) =>
    arr((await show(t, t.adminA, 'contacts', id)).categories.category).map((x: any) => Number(x.id));

  it.each(WIRES)('accepts every shape the dialect shows (%s)', async (wire) => {
    const id = await createItem(t, t.adminA, 'contacts', { firstname: 'Tagged' });
    const put = async (categories: unknown) =>
      ok(await send(t, t.adminA, 'PUT', `/contacts/${id}/`, wire, { categories }));
    await put({ add: { category: [a, b] } });
    expect(await tagsOf(id)).toEqual([a, b]);
    await put({ remove: { category: a } });
    expect(await tagsOf(id)).toEqual([b]);
    await put({ add: { category: c }, remove: { category: [b] } });
    expect(await tagsOf(id)).toEqual([c]);
    // A tag as show writes it: <category><id>ID</id><name>…</name></category>.
    await put({ add: { category: [{ id: a }, { id: b, name: 'beta' }] }, remove: { category: { id: c } } });
    expect(await tagsOf(id)).toEqual([a, b]);
    await put({ remove: { category: [String(a), String(b)] } });
    expect(await tagsOf(id)).toEqual([]);
    // On create too.
    const created = Number(
      ok(await send(t, t.adminA, 'POST', '/contacts/', wire, { categories: { add: { category: [c] } } })).item.id,
    );
    expect(await tagsOf(created)).toEqual([c]);
    // Empty categories, add or category: nothing to do, no change at all.
    const before = await dump(t, t.adminA.accountId);
    for (const categories of ['', { add: '' }, { add: { category: [] } }, { remove: { category: '' } }]) {
      await put(categories);
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it.each(WIRES)('refuses every other shape with 400 naming categories, and changes nothing (%s)', async (wire) => {
    const id = await createItem(t, t.adminA, 'contacts', { firstname: 'Untouched' });
    ok(await send(t, t.adminA, 'PUT', `/contacts/${id}/`, wire, { categories: { add: { category: [a] } } }));
    const bad: [string, unknown, string][] = [
      ['ids straight under add', { add: [b, c] }, wrap('add')],
      ['one id straight under add', { add: b }, wrap('add')],
      ['ids straight under remove', { remove: [a] }, wrap('remove')],
      ['no add or remove', { category: [b] }, noKey('category')],
      ['a misspelt wrapper', { add: { categories: [b] } }, wrap('add', 'categories')],
      ['a stray key beside category', { add: { category: [b], colour: 'red' } }, wrap('add', 'colour')],
      ['an id instead of category', { add: { id: b } }, wrap('add', 'id')],
      ['a stray key beside add', { add: { category: [b] }, replace: { category: [c] } }, noKey('replace')],
      ['a tag without an id', { add: { category: [{ name: 'beta' }] } }, eachTag('add')],
      ['a tag with a stray key', { remove: { category: [{ id: a, colour: 'red' }] } }, eachTag('remove')],
      ['a reserved name as the wrapper', { add: { constructor: [b] } }, wrap('add', 'constructor')],
      ['a reserved name beside add', { toString: { category: [b] } }, noKey('toString')],
      ['not an id', { add: { category: ['abc'] } }, 'categories must list ids'],
      ['a list', [b], `categories must be ${SHAPE}`],
      ['a bare id', String(b), `categories must be ${SHAPE}`],
    ];
    if (wire === 'json') bad.push(['nested lists', { add: { category: [[b]] } }, 'categories must list ids']);
    await refusedOnContacts(t, wire, id, 'categories', bad);
    const s = await show(t, t.adminA, 'contacts', id);
    expect(s.item.fields.firstname).toBe('Untouched');
    expect(arr(s.categories.category).map((x: any) => Number(x.id))).toEqual([a]);
  });
});
