import { describe, expect, it } from 'vitest';
import { render } from '../../src/dialect/respond.js';
import { stringifyJson, stringifyJsonKept } from '../../src/dialect/json.js';
import type { Tree, TreeObject } from '../../src/dialect/tree.js';

const json = { format: 'json' as const };
/** What render answers for a body it has never seen serialised. */
const fresh = (ok: boolean, body: TreeObject) =>
  stringifyJson(new Map<string, Tree>([['status', ok ? 'success' : 'failed'], ...Object.entries(body)]));

describe('render (JSON) of a tree already serialised as an event content', () => {
  it.each([
    ['a record', { item: { id: 7, name: 'A "quoted" name', fields: { n: 1e-7 } }, categories: { category: [] } }],
    ['an empty body', {}],
    [
      'a body with an ordered list inside',
      {
        list: new Map<string, Tree>([
          ['2', 'b'],
          ['1', 'a'],
        ]),
        count: 2,
      },
    ],
  ])('%s: the same text as serialising it afresh, status first', (_name, body: TreeObject) => {
    const expected = fresh(true, body);
    stringifyJsonKept(body);
    expect(render(json, true, body).body).toBe(expected);
    expect(render(json, false, body).body).toBe(fresh(false, body));
    expect(JSON.parse(render(json, true, body).body)).toMatchObject({ status: 'success' });
  });

  it('reuses the kept text rather than serialising the tree again', () => {
    const body: TreeObject = { item: { id: 1 } };
    stringifyJsonKept(body);
    body.added = 'after'; // a kept tree must not change: this shows the text is the kept one
    expect(render(json, true, body).body).toBe('{"status":"success","item":{"id":1}}');
  });

  it('a JSONP answer wraps the same text', () => {
    const body = { item: { id: 1 } };
    stringifyJsonKept(body);
    expect(render({ format: 'json', callback: 'cb' }, true, body).body).toBe(`cb(${fresh(true, body)});`);
  });

  it('XML answers are not affected', () => {
    const body = { item: { id: 1 } };
    stringifyJsonKept(body);
    expect(render({ format: 'xml' }, true, body).body).toContain('<item><id>1</id></item>');
  });
});

describe('stringifyJson', () => {
  it('a tree without Maps: the native serialiser’s text', () => {
    const tree = { item: { id: 7, name: 'A "quoted" name', fields: { n: 1e-7, list: [1, 'two', null] } }, none: [] };
    expect(stringifyJson(tree)).toBe(JSON.stringify(tree));
  });

  it('a Map at the top keeps its order, numeric keys included', () => {
    const tree = new Map<string, Tree>([
      ['status', 'success'],
      ['12', 'b'],
      ['3', 'a'],
    ]);
    expect(stringifyJson(tree)).toBe('{"status":"success","12":"b","3":"a"}');
  });

  it('a Map inside objects or arrays, however deep, still serialises as an object', () => {
    const deep = new Map<string, Tree>([['k', 'v']]);
    expect(stringifyJson({ a: { b: [{ c: deep }] } })).toBe('{"a":{"b":[{"c":{"k":"v"}}]}}');
    expect(stringifyJson([1, [deep]] as unknown as Tree)).toBe('[1,[{"k":"v"}]]');
  });
});
