// The shapes of relateditems in a create/update body (dialect §2): relateditems/add and relateditems/remove,
// each wrapping its items in `relatedto` — in XML, JSON and form. Every shape the dialect shows is accepted
// (an item as `<id>ID</id>` with a note, as show writes it, or as a bare id); anything else (ids straight
// under add, a missing or misspelt `relatedto` wrapper, stray keys) is refused with 400 naming
// `relateditems`, and nothing changes — not even the other fields of the same request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { makeApp, type TestApp } from '../support/app.js';
import { arr, createItem, dump, ok, refusedOnContacts, send, show, WIRES } from './helpers.js';

const SHAPE =
  '<relateditems><add><relatedto><id>ID</id><note>…</note></relatedto></add></relateditems> ' +
  '(JSON {"relateditems":{"add":{"relatedto":[{"id":ID,"note":"…"}]}}}, ' +
  'form relateditems[add][relatedto][0][id]=ID&relateditems[add][relatedto][0][note]=…; remove likewise)';
const wrap = (op: string, not?: string) =>
  `relateditems/${op} must wrap the item ids in relatedto${not ? ` (not "${not}")` : ''}: ${SHAPE}`;
const noKey = (key: string) => `relateditems has no "${key}": it takes add and remove, ${SHAPE}`;
const eachItem = (op: string) =>
  `each relateditems/${op}/relatedto must be an item id, or <id>ID</id> with an optional <note>: ${SHAPE}`;

describe.each(ENGINES)('related item shapes on %s', (engine) => {
  let t: TestApp;
  let a: number;
  let b: number;
  let c: number;
  beforeAll(async () => {
    t = await makeApp(engine);
    a = await createItem(t, t.adminA, 'companies', { name: 'Alpha' });
    b = await createItem(t, t.adminA, 'contacts', { firstname: 'Beta' });
    c = await createItem(t, t.adminA, 'projectblogs', { title: 'Gamma' });
  });
  afterAll(async () => t.close());

  /** [id, note] of each item related to `id`, in id order. */
  const relationsOf = async (id: number) =>
    arr((await show(t, t.adminA, 'contacts', id)).relateditems.relatedto).map((r: any) => [Number(r.id), r.note]);

  it.each(WIRES)('accepts every shape the dialect shows (%s)', async (wire) => {
    const id = await createItem(t, t.adminA, 'contacts', { firstname: 'Related' });
    const put = async (relateditems: unknown) =>
      ok(await send(t, t.adminA, 'PUT', `/contacts/${id}/`, wire, { relateditems }));
    await put({ add: { relatedto: [{ id: a, note: 'employer' }, { id: b }] } });
    expect(await relationsOf(id)).toEqual([
      [a, 'employer'],
      [b, ''],
    ]);
    await put({ remove: { relatedto: { id: a } } });
    expect(await relationsOf(id)).toEqual([[b, '']]);
    // Bare ids, one or a list, under add and remove.
    await put({ add: { relatedto: c }, remove: { relatedto: [b] } });
    expect(await relationsOf(id)).toEqual([[c, '']]);
    await put({ add: { relatedto: [String(a), String(b)] } });
    expect(await relationsOf(id)).toEqual([
      [a, ''],
      [b, ''],
      [c, ''],
    ]);
    // An item as show writes it (id, name, typeid, note): the note is taken, name and typeid are the item's own.
    const shown = arr((await show(t, t.adminA, 'contacts', id)).relateditems.relatedto);
    await put({ add: { relatedto: { ...shown[0], note: 'partner' } }, remove: { relatedto: shown.slice(1) } });
    expect(await relationsOf(id)).toEqual([[a, 'partner']]);
    await put({ add: { relatedto: { id: c, note: 'blog' } } });
    expect(await relationsOf(id)).toEqual([
      [a, 'partner'],
      [c, 'blog'],
    ]);
    // On create too.
    const created = Number(
      ok(
        await send(t, t.adminA, 'POST', '/contacts/', wire, {
          firstname: 'Born related',
          relateditems: { add: { relatedto: { id: a, note: 'at birth' } } },
        }),
      ).item.id,
    );
    expect(await relationsOf(created)).toEqual([[a, 'at birth']]);
    // Empty relateditems, add or relatedto: nothing to do, no change at all.
    const before = await dump(t, t.adminA.accountId);
    for (const relateditems of ['', { add: '' }, { add: { relatedto: [] } }, { remove: { relatedto: '' } }]) {
      await put(relateditems);
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it.each(WIRES)('refuses every other shape with 400 naming relateditems, and changes nothing (%s)', async (wire) => {
    const id = await createItem(t, t.adminA, 'contacts', { firstname: 'Untouched' });
    ok(
      await send(t, t.adminA, 'PUT', `/contacts/${id}/`, wire, {
        relateditems: { add: { relatedto: { id: a, note: 'kept' } } },
      }),
    );
    const bad: [string, unknown, string][] = [
      // XML writes a list of structures straight under add as one <add><id>…</id></add>.
      ['items straight under add', { add: [{ id: b }] }, wire === 'xml' ? wrap('add', 'id') : wrap('add')],
      ['ids straight under add', { add: [b, c] }, wrap('add')],
      ['one id straight under add', { add: b }, wrap('add')],
      ['ids straight under remove', { remove: [a] }, wrap('remove')],
      ['an item without relatedto', { add: { id: b, note: 'x' } }, wrap('add', 'id')],
      ['a misspelt wrapper', { add: { relatedTo: [{ id: b }] } }, wrap('add', 'relatedTo')],
      ['the show list as the wrapper', { add: { relateditems: { id: b } } }, wrap('add', 'relateditems')],
      ['a stray key beside relatedto', { add: { relatedto: { id: b }, colour: 'red' } }, wrap('add', 'colour')],
      ['no add or remove', { relatedto: { id: b } }, noKey('relatedto')],
      ['a stray key beside add', { add: { relatedto: { id: b } }, replace: { relatedto: c } }, noKey('replace')],
      ['an item without an id', { add: { relatedto: { note: 'no id' } } }, eachItem('add')],
      ['a misspelt note', { add: { relatedto: { id: b, notes: 'typo' } } }, eachItem('add')],
      ['an item with a stray key', { remove: { relatedto: [{ id: a, colour: 'red' }] } }, eachItem('remove')],
      ['a reserved name as the wrapper', { add: { constructor: { id: b } } }, wrap('add', 'constructor')],
      ['a reserved name beside add', { toString: { relatedto: b } }, noKey('toString')],
      ['not an id', { add: { relatedto: 'abc' } }, 'relateditems must list ids'],
      ['an id that is not one', { add: { relatedto: { id: 'abc' } } }, 'relateditems must list ids'],
      ['a note as a structure', { add: { relatedto: { id: b, note: { text: 'x' } } } }, 'a note must be text'],
      ['a list', [b], `relateditems must be ${SHAPE}`],
      ['a bare id', String(b), `relateditems must be ${SHAPE}`],
    ];
    if (wire === 'json') bad.push(['nested lists', { add: { relatedto: [[b]] } }, 'relateditems must list ids']);
    await refusedOnContacts(t, wire, id, 'relateditems', bad);
    const s = await show(t, t.adminA, 'contacts', id);
    expect(s.item.fields.firstname).toBe('Untouched');
    expect(await relationsOf(id)).toEqual([[a, 'kept']]);
    const other = arr((await show(t, t.adminA, 'companies', a)).relateditems.relatedto).find((r: any) => r.id === id);
    expect(other.note).toBe('kept');
  });
});
