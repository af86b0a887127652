// The top level of an activity body (dialect §3): a create takes parent, data, before and after; an update
// data and parent; a template insertion parent and data/templateid. Any other key — a misspelt <data>, a
// field written outside data — is refused with 400 naming it, in XML, JSON and form, and nothing changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { makeApp, type Answer, type TestApp } from '../support/app.js';
import { arr, createItem, dump, failed, ok, send, show, WIRES } from './helpers.js';

const inData = (segment: string, key: string) =>
  `Unknown field: ${key} is a field of a ${segment}, it goes inside data (<data><${key}>…</${key}></data>)`;
const ORDER_ON_UPDATE = 'Unknown field for an update: before and after only place a new activity';
const TEMPLATE_DATA = 'Unknown field for a template insertion: data takes templateid only';
const NO_TEMPLATE = 'data/templateid must be the id of an activity template';

describe.each(ENGINES)('the top-level keys of activity bodies on %s', (engine) => {
  let t: TestApp;
  let parent: number;
  let task: number;
  let template: number;
  let other: number;
  beforeAll(async () => {
    t = await makeApp(engine);
    parent = await createItem(t, t.adminA, 'contacts', { firstname: 'Busy' });
    other = await createItem(t, t.adminA, 'contacts', { firstname: 'Elsewhere' });
    task = Number(
      ok(await send(t, t.adminA, 'POST', '/contacts/task/', 'json', { parent, data: { title: 'Keep me' } })).item.id,
    );
    template = Number(
      ok(
        await send(t, t.adminA, 'POST', '/templates/', 'json', {
          name: 'Checklist',
          activities: { activity: [{ segment: 'note', data: { details: 'From the template' } }] },
        }),
      ).template.id,
    );
  });
  afterAll(async () => t.close());

  const names = async () => arr((await show(t, t.adminA, 'contacts', parent)).activities.activity).map((a) => a.name);
  /** A 400 whose errors are exactly these (field, message) pairs, in this order. */
  const refused = (a: Answer, label: string, ...errors: [string, string][]) => {
    failed(a, 400, ...errors.map(([field]) => field));
    expect(Object.entries(a.body.errors), label).toEqual(errors);
  };

  it.each(WIRES)('refuses unknown keys of a create, writing nothing (%s)', async (wire) => {
    const before = await dump(t, t.adminA.accountId);
    const cases: [string, Record<string, unknown>, [string, string][]][] = [
      ['a misspelt data', { parent, dta: { title: 'Lost' } }, [['dta', 'Unknown field']]],
      [
        'a misspelt parent',
        { prent: parent, data: { title: 'Lost' } },
        [
          ['prent', 'Unknown field'],
          ['parent', 'parent is required: the id of the contact the activity belongs to'],
        ],
      ],
      ['a field outside data', { parent, title: 'Lost' }, [['title', inData('task', 'title')]]],
      [
        'fields outside data',
        { parent, title: 'Lost', duedate: '2026-12-01' },
        [
          ['title', inData('task', 'title')],
          ['duedate', inData('task', 'duedate')],
        ],
      ],
      ['a key of no request', { parent, data: { title: 'Lost' }, position: 1 }, [['position', 'Unknown field']]],
      [
        'an unknown key beside a bad field',
        { parent, data: { title: 'Lost', duedate: 'soon' }, colour: 'red' },
        [
          ['colour', 'Unknown field'],
          ['duedate', 'Due Date must be a date (2026-11-28), got "soon"'],
        ],
      ],
    ];
    for (const [label, body, errors] of cases) {
      refused(await send(t, t.adminA, 'POST', '/contacts/task/', wire, body), label, ...errors);
    }
    // A field of another segment is just unknown: notes have no title.
    refused(await send(t, t.adminA, 'POST', '/contacts/note/', wire, { parent, title: 'x' }), 'note', [
      'title',
      'Unknown field',
    ]);
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it.each(WIRES)('refuses unknown keys of an update, changing nothing (%s)', async (wire) => {
    const before = await dump(t, t.adminA.accountId);
    const cases: [string, Record<string, unknown>, [string, string][]][] = [
      ['a misspelt data', { dta: { title: 'Changed' } }, [['dta', 'Unknown field']]],
      ['a misspelt parent', { data: { title: 'Changed' }, parnet: other }, [['parnet', 'Unknown field']]],
      ['a field outside data', { completed: 1 }, [['completed', inData('task', 'completed')]]],
      ['before', { data: { title: 'Changed' }, before: task }, [['before', ORDER_ON_UPDATE]]],
      ['after', { parent: other, after: task }, [['after', ORDER_ON_UPDATE]]],
    ];
    for (const [label, body, errors] of cases) {
      refused(await send(t, t.adminA, 'PUT', `/contacts/task/${task}/`, wire, body), label, ...errors);
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
    expect(await names()).toEqual(['Keep me']);
  });

  it.each(WIRES)('refuses unknown keys of a template insertion, writing nothing (%s)', async (wire) => {
    const before = await dump(t, t.adminA.accountId);
    const cases: [string, Record<string, unknown>, [string, string][]][] = [
      [
        'a misspelt data',
        { parent, dta: { templateid: template } },
        [
          ['dta', 'Unknown field'],
          ['templateid', NO_TEMPLATE],
        ],
      ],
      ['a field in data', { parent, data: { templateid: template, title: 'x' } }, [['title', TEMPLATE_DATA]]],
      ['after', { parent, data: { templateid: template }, after: task }, [['after', 'Unknown field']]],
    ];
    for (const [label, body, errors] of cases) {
      refused(await send(t, t.adminA, 'POST', '/contacts/template/', wire, body), label, ...errors);
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it.each(WIRES)('still takes every key the dialect shows (%s)', async (wire) => {
    const owner = await createItem(t, t.adminA, 'contacts', { firstname: `Keys ${wire}` });
    const post = async (body: Record<string, unknown>) =>
      Number(ok(await send(t, t.adminA, 'POST', '/contacts/task/', wire, { parent: owner, ...body })).item.id);
    const b = await post({ data: { title: 'B' } });
    await post({ data: { title: 'A' }, before: b });
    await post({ data: { title: 'C' }, after: b });
    const moved = await post({ data: { title: 'moved' } });
    ok(await send(t, t.adminA, 'PUT', `/contacts/task/${moved}/`, wire, { data: { title: 'D' }, parent: owner }));
    // templateid at the top level, as it was always read.
    ok(await send(t, t.adminA, 'POST', '/contacts/template/', wire, { parent: owner, templateid: template }));
    const shown = arr((await show(t, t.adminA, 'contacts', owner)).activities.activity).map((a) => a.name);
    expect(shown).toEqual(['A', 'B', 'C', 'D', 'From the template']);
  });
});
