// The hand-written XML writer against fast-xml-parser's builder (the writer it replaced) on thousands of
// random trees: the same bytes, so clients and receivers see no difference; plus what no tree may break.
import { describe, expect, it } from 'vitest';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { XML_DECLARATION, buildXml, parseXml, xmlName } from '../../src/dialect/xml.js';
import type { Tree, TreeObject } from '../../src/dialect/tree.js';

/** The writer this one replaced: the tree turned into fast-xml-parser's builder input, then its builder. */
const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: true,
  processEntities: true,
});

function toBuilder(value: Tree): unknown {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(toBuilder);
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  const out: Record<string, unknown> = {};
  const keys = new Set(entries.map(([k]) => k));
  for (const [key, child] of entries) {
    if (key.endsWith('_cn') && keys.has(key.slice(0, -3))) continue;
    const cn = value instanceof Map ? undefined : (value as TreeObject)[`${key}_cn`];
    if (cn !== undefined && (child === null || typeof child !== 'object')) {
      out[xmlName(key)] = { '#text': toBuilder(child), '@_cn': cn ?? '' };
    } else {
      out[xmlName(key)] = toBuilder(child);
    }
  }
  return out;
}

function buildXmlReference(rootName: string, tree: Tree): string {
  return XML_DECLARATION + (builder.build({ [rootName]: toBuilder(tree) }) as string);
}

/** A small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = [
  'id',
  'name',
  'fields',
  '12345',
  '7',
  'first name',
  'x-y',
  '9lives',
  'status',
  'note',
  'a_cn',
  'a',
  'id7',
];
const TEXTS = ['', 'plain', 'a & b', '<tag>', '"quoted"', "it's", 'Müller', '  spaced ', 'line\nbreak', '0', '12.5'];

function randomTree(r: () => number, depth: number, inList = false): Tree {
  const pick = <T>(list: T[]) => list[Math.floor(r() * list.length)];
  const roll = r();
  if (depth <= 0 || roll < 0.35) {
    const p = r();
    if (p < 0.5) return pick(TEXTS);
    if (p < 0.7) return Math.floor(r() * 2000) - 1000;
    if (p < 0.8) return r() < 0.5;
    if (p < 0.9) return null;
    return r() * 100;
  }
  // No list directly inside a list: the old builder wrote those as <0>…</0>, which is not XML (see below).
  if (roll < 0.5 && !inList) return Array.from({ length: Math.floor(r() * 4) }, () => randomTree(r, depth - 1, true));
  const n = Math.floor(r() * 5);
  if (roll < 0.7) {
    const m = new Map<string, Tree>();
    for (let i = 0; i < n; i++) m.set(pick(KEYS), randomTree(r, depth - 1));
    return m;
  }
  const o: Record<string, Tree> = {};
  for (let i = 0; i < n; i++) {
    const key = pick(KEYS);
    // A `cn` attribute is text (a boolean one, the old builder wrote HTML-style as `cn` alone: not XML).
    o[key] = key.endsWith('_cn') ? pick(TEXTS) : randomTree(r, depth - 1);
  }
  return o;
}

describe('XML writer', () => {
  it('writes the same bytes as fast-xml-parser’s builder for 5,000 random trees', () => {
    for (let seed = 1; seed <= 5_000; seed++) {
      const tree = randomTree(rng(seed), 4);
      const root = seed % 2 ? 'response' : 'notification';
      const ours = buildXml(root, tree);
      const ref = buildXmlReference(root, tree);
      if (ours !== ref) expect({ seed, ours }).toEqual({ seed, ours: ref });
    }
  });

  it('produces well-formed XML that reads back to the same text values', () => {
    const parser = new XMLParser({ ignoreAttributes: false, parseTagValue: false, trimValues: false });
    for (let seed = 1; seed <= 500; seed++) {
      // Answers and notifications always have an object at the root.
      const xml = buildXml('response', { status: 'success', value: randomTree(rng(seed), 4) });
      expect(() => parser.parse(xml, true)).not.toThrow();
    }
    // A list inside a list repeats the element for each item (the old builder wrote <0>, <1>: not XML).
    expect(buildXml('r', { a: [['x', 'y'], 'z'] })).toBe(
      `${'<?xml version="1.0" encoding="UTF-8"?>\n'}<r><a>x</a><a>y</a><a>z</a></r>`,
    );
    const back = parseXml(buildXml('request', { name: 'a & <b> "c"', list: ['x', 'y'], n: 5 }));
    expect(back).toEqual({ name: 'a & <b> "c"', list: ['x', 'y'], n: '5' });
  });
});
