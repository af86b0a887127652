// The neutral document tree that every wire format is made from: plain objects (fields in order), arrays
// (repeated elements in XML), Maps (ordered collections whose keys may be numeric: records keyed by id),
// and scalars. `x_cn` beside `x` becomes the XML attribute cn="…" on <x> (Solve360's assignee name).
// Request bodies are trees of objects without a prototype (ownTree), whatever their wire format.
import { Errors } from '../errors.js';
import { checkText } from './text.js';

export type Scalar = string | number | boolean | null;
export type Tree = Scalar | Tree[] | TreeObject | Map<string, Tree>;
export interface TreeObject {
  [key: string]: Tree;
}

/** Dates on the wire: UTC ISO 8601 with an explicit +00:00 offset, as Solve360 writes them. */
let lastMs = NaN;
let lastDate = '';

/** A time as the dialect writes it; the last one is remembered (a record's created and updated, a busy second). */
export function formatDate(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined) return null;
  if (ms !== lastMs) {
    lastDate = `${new Date(ms).toISOString().slice(0, 19)}+00:00`;
    lastMs = ms;
  }
  return lastDate;
}

/**
 * A mark for keys that a parser would drop or rename (`__proto__`, `constructor`, …): put on before parsing,
 * taken off in the copy (`ownTree(parsed, unmark)`). A lone surrogate: it cannot come out of decoding a
 * body (it is not UTF-8), so it never occurs in a client's key.
 */
export const MARK = '\uDBFF';
export const unmark = (key: string): string => (key.includes(MARK) ? key.replaceAll(MARK, '') : key);

/** The deepest nesting a request body may have (fast-xml-parser's own limit for XML is the same). */
export const MAX_DEPTH = 100;

/**
 * Copies a parsed request body into the tree's own shape: every object without a prototype, so that a key
 * named __proto__, constructor or toString is data like any other key (the validators name it as an
 * unknown field) and nothing in the tree can lead to Object.prototype. `key` maps the parser's key to the
 * one on the wire, for the parsers that would drop or rename such keys unless they are marked. A value or
 * a name holding a character XML cannot carry is refused here (text.ts), for every parser at once.
 */
export function ownTree(value: unknown, key: (k: string) => string = (k) => k, depth = 0, field = 'request'): Tree {
  if (typeof value === 'string') {
    checkText(field, value);
    return value;
  }
  if (value === null || typeof value !== 'object') return value as Scalar;
  if (depth >= MAX_DEPTH) {
    throw Errors.badRequest('request', `The body is nested deeper than ${MAX_DEPTH} levels`);
  }
  if (Array.isArray(value)) return value.map((v) => ownTree(v, key, depth + 1, field));
  const out = Object.create(null) as TreeObject;
  for (const k of Object.keys(value)) {
    const name = key(k);
    checkText('request', name);
    // On an object without a prototype, `out['__proto__'] = …` makes an own property: there is no setter.
    out[name] = ownTree((value as Record<string, unknown>)[k], key, depth + 1, name);
  }
  return out;
}
