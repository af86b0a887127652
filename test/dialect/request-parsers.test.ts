// The three request parsers give the same tree for the same body: objects without a prototype, in which a
// key named __proto__, constructor, toString, … is an own key like any other, and nothing they read can
// reach Object.prototype.
import { describe, expect, it } from 'vitest';
import { parseForm } from '../../src/dialect/form.js';
import { parseJson } from '../../src/dialect/json.js';
import { parseXml } from '../../src/dialect/xml.js';
import type { Tree } from '../../src/dialect/tree.js';

const NAMES = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__'];

/** Every object in the tree, as [path, object]. */
function objects(tree: Tree, path = '$'): [string, object][] {
  if (tree === null || typeof tree !== 'object') return [];
  if (Array.isArray(tree)) return tree.flatMap((v, i) => objects(v, `${path}[${i}]`));
  return [[path, tree], ...Object.entries(tree).flatMap(([k, v]) => objects(v, `${path}.${k}`))];
}

const bodies = (name: string) => ({
  json: `{"firstname":"A","${name}":{"polluted":"yes","list":["1","2"]},"data":{"${name}":"x"}}`,
  xml: `<request><firstname>A</firstname><${name}><polluted>yes</polluted><list>1</list><list>2</list></${name}><data><${name}>x</${name}></data></request>`,
  form: `firstname=A&${name}[polluted]=yes&${name}[list][]=1&${name}[list][]=2&data[${name}]=x`,
});

describe('request parsers and reserved key names', () => {
  it.each(NAMES)('keep %s as an own key in XML, JSON and form alike', (name) => {
    const b = bodies(name);
    const trees = { json: parseJson(b.json), xml: parseXml(b.xml), form: parseForm(b.form) };
    for (const [wire, tree] of Object.entries(trees)) {
      expect(Object.keys(tree), wire).toEqual(['firstname', name, 'data']);
      const inner = Object.getOwnPropertyDescriptor(tree, name)?.value;
      expect(Object.entries(inner), wire).toEqual([
        ['polluted', 'yes'],
        ['list', ['1', '2']],
      ]);
      expect(Object.entries(tree.data as object), wire).toEqual([[name, 'x']]);
      for (const [path, o] of objects(tree)) expect(Object.getPrototypeOf(o), `${wire} ${path}`).toBeNull();
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  });

  it('reads __proto__ in form keys however it is written', () => {
    for (const body of [
      '__proto__=1',
      '%5F%5Fproto%5F%5F=1',
      '__proto%5F%5F=1',
      'a[__proto__]=1',
      'a%5B__proto__%5D=1',
      'a[b][__proto__][]=1',
    ]) {
      const tree = parseForm(body);
      const flat = JSON.stringify(tree);
      expect(flat, body).toContain('"__proto__"');
      expect(flat, body).not.toMatch(/\\ud/i);
    }
    // A key that merely contains the word is left as it is.
    expect(Object.keys(parseForm('x__proto__=1&__proto__x=2&a[__proto__x]=3'))).toEqual([
      'x__proto__',
      '__proto__x',
      'a',
    ]);
    expect(Object.keys(parseForm('a[__proto__x]=3').a as object)).toEqual(['__proto__x']);
  });

  it('keeps the shapes it had: lists, indexed structures, empty elements', () => {
    expect(
      JSON.parse(JSON.stringify(parseForm('categories[add][category][]=7&categories[add][category][]=8'))),
    ).toEqual({
      categories: { add: { category: ['7', '8'] } },
    });
    expect(JSON.parse(JSON.stringify(parseForm('r[0][id]=1&r[0][note]=a&r[1][id]=2')))).toEqual({
      r: [{ id: '1', note: 'a' }, { id: '2' }],
    });
    expect(JSON.parse(JSON.stringify(parseXml('<request><a/><b><c/></b><toString/></request>')))).toEqual({
      a: '',
      b: { c: '' },
      toString: '',
    });
    expect(Object.getPrototypeOf(parseJson(''))).toBeNull();
    expect(Object.getPrototypeOf(parseXml('<request/>'))).toBeNull();
    expect(Object.getPrototypeOf(parseForm(''))).toBeNull();
  });

  it('reads repeated XML siblings as one list in document order, empty ones included, as form does', () => {
    const xml = (body: string) => JSON.parse(JSON.stringify(parseXml(`<request>${body}</request>`)));
    const form = (body: string) => JSON.parse(JSON.stringify(parseForm(body)));
    expect(xml('<a/><a>1</a>')).toEqual({ a: ['', '1'] });
    expect(xml('<a>1</a><a></a>')).toEqual({ a: ['1', ''] });
    expect(xml('<a>1</a><a/><a>2</a>')).toEqual({ a: ['1', '', '2'] });
    expect(xml('<a/><a/>')).toEqual({ a: ['', ''] });
    expect(xml('<b><c>1</c><c/></b><b/>')).toEqual({ b: [{ c: ['1', ''] }, ''] });
    expect(form('a=&a=1')).toEqual(xml('<a/><a>1</a>'));
    expect(form('a=1&a=&a=2')).toEqual(xml('<a>1</a><a/><a>2</a>'));
  });

  it('refuses a JSON body nested deeper than 100 levels, and reads one of 99', () => {
    const nest = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    expect(() => parseJson(nest(150))).toThrow(/nested deeper than 100/);
    expect(() => parseJson(nest(99))).not.toThrow();
  });
});
