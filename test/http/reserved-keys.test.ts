// Keys named like JavaScript's object machinery (__proto__, constructor, prototype, toString, …) are data
// like any other key, in XML, JSON and form alike: they reach the validators, which name them (nothing is
// dropped silently), nothing changes in the database, and Object.prototype is never touched. Values that are
// such words are stored and shown as they are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { basic, call, makeApp, type Answer, type TestApp, type Wire } from '../support/app.js';
import { reportRoutes } from '../../src/http/routes/reports.js';
import { uploadRoutes } from '../../src/http/routes/uploads.js';
import { arr, createItem, dump, failed, ok, show, WIRES } from './helpers.js';

const RESERVED = [
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toString',
  'toLocaleString',
  'valueOf',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
];

/** A body as a list of entries, so that a key such as __proto__ stays a plain key while it is built. */
type Node = string | [string, Node][];

function json(n: Node): string {
  if (typeof n === 'string') return JSON.stringify(n);
  return `{${n.map(([k, v]) => `${JSON.stringify(k)}:${json(v)}`).join(',')}}`;
}
function xml(n: Node): string {
  if (typeof n === 'string') return n.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return n.map(([k, v]) => `<${k}>${xml(v)}</${k}>`).join('');
}
function form(n: Node, prefix = ''): string[] {
  if (typeof n === 'string') return [`${prefix}=${encodeURIComponent(n)}`];
  return n.flatMap(([k, v]) => form(v, prefix ? `${prefix}[${k}]` : k));
}
function encode(wire: Wire, n: Node): { raw: string; contentType: string } {
  if (wire === 'json') return { raw: json(n), contentType: 'application/json' };
  if (wire === 'xml') return { raw: `<request>${xml(n)}</request>`, contentType: 'application/xml' };
  return { raw: form(n).join('&'), contentType: 'application/x-www-form-urlencoded' };
}

/** What must never change: Object.prototype, Array.prototype and what a fresh object inherits. */
function prototypes() {
  return {
    object: Object.getOwnPropertyNames(Object.prototype).sort(),
    array: Object.getOwnPropertyNames(Array.prototype).sort(),
    toString: Object.prototype.toString,
    hasOwnProperty: Object.prototype.hasOwnProperty,
    protoOfPlain: Object.getPrototypeOf({}),
  };
}

function untouched(before: ReturnType<typeof prototypes>): void {
  expect(prototypes()).toEqual(before);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype.toString.call({})).toBe('[object Object]');
}

describe.each(ENGINES)('reserved key names on %s', (engine) => {
  let t: TestApp;
  let contact: number;
  let task: number;
  let before: ReturnType<typeof prototypes>;

  beforeAll(async () => {
    before = prototypes();
    t = await makeApp(engine, { plugins: [reportRoutes, uploadRoutes] });
    contact = await createItem(t, t.adminA, 'contacts', { firstname: 'Stable' });
    task = Number(
      ok(await call(t, t.adminA, 'POST', '/contacts/task/', { body: { parent: contact, data: { title: 'T' } } })).item
        .id,
    );
  });
  afterAll(async () => {
    untouched(before);
    await t.close();
  });

  const send = (wire: Wire, method: string, url: string, n: Node, accept: 'json' | 'xml' = 'json'): Promise<Answer> =>
    call(t, t.adminA, method, url, { ...encode(wire, n), accept });
  /** A 400 whose errors are exactly these (field, message) pairs, in this order. */
  const refused = (a: Answer, ...errors: [string, string][]) => {
    expect(Object.entries(failed(a, 400))).toEqual(errors);
  };

  it.each(WIRES)('names each one as an unknown field of a record, changing nothing (%s)', async (wire) => {
    const snapshot = await dump(t, t.adminA.accountId);
    for (const key of RESERVED) {
      const scalar: Node = [
        ['firstname', 'Changed'],
        [key, 'x'],
      ];
      const nested: Node = [
        ['firstname', 'Changed'],
        [key, [['polluted', 'yes']]],
      ];
      const deeper: Node = [[key, [['prototype', [['polluted', 'yes']]]]]];
      for (const n of [scalar, nested, deeper]) {
        refused(await send(wire, 'POST', '/contacts/', n), [key, 'Unknown field']);
        refused(await send(wire, 'PUT', `/contacts/${contact}/`, n), [key, 'Unknown field']);
      }
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(snapshot);
    untouched(before);
  });

  it.each(WIRES)('names each one as an unknown field of an activity or a template (%s)', async (wire) => {
    const snapshot = await dump(t, t.adminA.accountId);
    for (const key of RESERVED) {
      const data: Node = [
        ['title', 'Changed'],
        [key, [['polluted', 'yes']]],
      ];
      refused(
        await send(wire, 'POST', '/contacts/task/', [
          ['parent', String(contact)],
          ['data', data],
        ]),
        [key, 'Unknown field for a task'],
      );
      refused(await send(wire, 'PUT', `/contacts/task/${task}/`, [['data', data]]), [key, 'Unknown field for a task']);
      // Beside data, at the top level of an activity body.
      refused(
        await send(wire, 'POST', '/contacts/task/', [
          ['parent', String(contact)],
          ['data', [['title', 'Changed']]],
          [key, [['polluted', 'yes']]],
        ]),
        [key, 'Unknown field'],
      );
      refused(
        await send(wire, 'PUT', `/contacts/task/${task}/`, [
          ['data', [['title', 'Changed']]],
          [key, 'x'],
        ]),
        [key, 'Unknown field'],
      );
      refused(
        await send(wire, 'POST', '/contacts/template/', [
          ['parent', String(contact)],
          [
            'data',
            [
              ['templateid', '1'],
              [key, 'x'],
            ],
          ],
        ]),
        [key, 'Unknown field for a template insertion: data takes templateid only'],
      );
      refused(
        await send(wire, 'POST', '/templates/', [
          ['name', 'Onboarding'],
          [key, 'x'],
        ]),
        [key, 'Unknown field'],
      );
      refused(
        await send(wire, 'POST', '/templates/', [
          ['name', 'Onboarding'],
          [
            'activities',
            [
              [
                'activity',
                [
                  ['segment', 'note'],
                  ['data', [[key, 'x']]],
                ],
              ],
            ],
          ],
        ]),
        [`activities.0.${key}`, 'Unknown field for a note'],
      );
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(snapshot);
    untouched(before);
  });

  it('names them in XML answers too, and reads percent-encoded form keys the same way', async () => {
    // (Read as text: a client's parser may refuse an element named __proto__, as fast-xml-parser does.)
    const xmlAnswer = async (body: string) => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/contacts/',
        headers: { authorization: basic(t.adminA), 'content-type': 'application/xml' },
        payload: `<request>${body}</request>`,
      });
      expect(res.statusCode).toBe(400);
      return res.body;
    };
    expect(await xmlAnswer('<__proto__>x</__proto__>')).toContain(
      '<errors><__proto__>Unknown field</__proto__></errors><status>failed</status>',
    );
    expect(await xmlAnswer('<constructor><prototype>x</prototype></constructor>')).toContain(
      '<errors><constructor>Unknown field</constructor></errors>',
    );
    for (const raw of ['%5F%5Fproto%5F%5F=x', '__proto%5F_%5Bpolluted%5D=x', 'firstname=A&__proto__[]=x']) {
      refused(
        await call(t, t.adminA, 'POST', '/contacts/', { raw, contentType: 'application/x-www-form-urlencoded' }),
        ['__proto__', 'Unknown field'],
      );
    }
    untouched(before);
  });

  it.each(WIRES)('keeps such words as values: names, notes and tags (%s)', async (wire) => {
    const id = Number(
      ok(
        await send(wire, 'POST', '/contacts/', [
          ['firstname', 'constructor'],
          ['lastname', '__proto__'],
          ['background', 'toString'],
        ]),
      ).item.id,
    );
    const s = await show(t, t.adminA, 'contacts', id);
    expect(s.item.name).toBe('constructor __proto__');
    expect(s.item.fields).toEqual({ firstname: 'constructor', lastname: '__proto__', background: 'toString' });
    ok(
      await send(wire, 'POST', '/contacts/note/', [
        ['parent', String(id)],
        ['data', [['details', 'hasOwnProperty']]],
      ]),
    );
    expect(arr((await show(t, t.adminA, 'contacts', id)).activities.activity)[0].fields).toEqual({
      details: 'hasOwnProperty',
    });
    const tag = ok(await send(wire, 'POST', '/contacts/categories/', [['name', `__proto__ ${wire}`]])).item;
    expect(tag.name).toBe(`__proto__ ${wire}`);
    untouched(before);
  });

  it.each(WIRES)('refuses a structure where one value belongs, without a fault (%s)', async (wire) => {
    const snapshot = await dump(t, t.adminA.accountId);
    refused(await send(wire, 'PUT', `/contacts/${contact}/`, [['flagged', [['x', '1']]]]), [
      'flagged',
      'flagged must be 0 or 1',
    ]);
    refused(
      await send(wire, 'PUT', `/contacts/${contact}/`, [
        [
          'relateditems',
          [
            [
              'add',
              [
                [
                  'relatedto',
                  [
                    ['id', String(task)],
                    ['note', [['toString', 'x']]],
                  ],
                ],
              ],
            ],
          ],
        ],
      ]),
      ['relateditems', 'a note must be text'],
    );
    refused(
      await send(wire, 'POST', '/contacts/fields/', [
        ['label', 'L'],
        ['type', [['valueOf', 'x']]],
      ]),
      ['type', 'type must be one of text, number, date, datetime, boolean, email, url, user'],
    );
    refused(
      await send(wire, 'POST', '/templates/', [
        ['name', 'N'],
        ['activities', [['activity', [['segment', [['toString', 'note']]]]]]],
      ]),
      ['activities.0.segment', 'segment must be an activity segment (task, note, event, …; not file or photo)'],
    );
    expect(await dump(t, t.adminA.accountId)).toEqual(snapshot);
  });

  it('refuses bodies nested deeper than 100 levels', async () => {
    const deep = `{"firstname":${'{"a":'.repeat(150)}1${'}'.repeat(150)}}`;
    failed(
      await call(t, t.adminA, 'POST', '/contacts/', { raw: deep, contentType: 'application/json' }),
      400,
      'request',
    );
  });

  it('answers such words as report parameters and file extensions with 400, not a fault', async () => {
    for (const last of ['constructor', '__proto__', 'toString']) {
      refused(await call(t, t.adminA, 'GET', `/report/activities/?last=${last}`), [
        'last',
        'last must be created, updated, changed or completed',
      ]);
    }
    const upload = (segment: string, filename: string) =>
      t.app.inject({
        method: 'POST',
        url: `/contacts/${segment}/`,
        headers: {
          authorization: basic(t.adminA),
          accept: 'application/json',
          'content-type': 'multipart/form-data; boundary=XyZ',
        },
        payload:
          `--XyZ\r\nContent-Disposition: form-data; name="parent"\r\n\r\n${contact}\r\n` +
          `--XyZ\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n\r\nbytes\r\n--XyZ--\r\n`,
      });
    const photo = await upload('photo', 'x.constructor');
    expect(photo.statusCode).toBe(400);
    expect(JSON.parse(photo.body).errors).toEqual({
      file: 'A photo must be an image (image/*), not application/octet-stream',
    });
    const file = await upload('file', 'x.constructor');
    expect(file.statusCode).toBe(200);
    const a = arr((await show(t, t.adminA, 'contacts', contact)).activities.activity).find(
      (x: any) => x.id === JSON.parse(file.body).item.id,
    );
    expect(a.fields.mimetype).toBe('application/octet-stream');
    untouched(before);
  });
});
