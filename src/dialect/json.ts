// JSON in and out. Output keeps the order of Maps even for numeric keys (plain objects would put
// "12345" before "status"), so lists stay in their sort order for clients that read the text in order.
import { Errors } from '../errors.js';
import { ownTree, type Tree, type TreeObject } from './tree.js';

export function parseJson(text: string): TreeObject {
  if (text.trim() === '') return Object.create(null) as TreeObject;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw Errors.badRequest('request', `Malformed JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw Errors.badRequest('request', 'The JSON body must be an object');
  }
  // JSON.parse keeps "__proto__" as an own key; the copy keeps it as data, in an object without a prototype.
  const obj = ownTree(value) as TreeObject;
  const keys = Object.keys(obj);
  // {"request": {...}} mirrors the XML envelope; accept it too.
  if (keys.length === 1 && keys[0] === 'request' && obj.request && typeof obj.request === 'object') {
    return obj.request as TreeObject;
  }
  return obj;
}

/** Maps nested inside plain objects still serialise (as objects), without the order guarantee. */
function replacer(_key: string, value: unknown): unknown {
  return value instanceof Map ? Object.fromEntries(value) : value;
}

/**
 * The JSON text of trees serialised whole once already and never changed after (an event's content, which a
 * create also answers): render() reuses it instead of serialising the same tree a second time.
 */
const kept = new WeakMap<object, string>();

/** stringifyJson(value), remembered for render() (the tree must not change afterwards). */
export function stringifyJsonKept(value: TreeObject): string {
  const text = stringifyJson(value);
  kept.set(value, text);
  return text;
}

/** The text stringifyJsonKept made of this very tree, if it did. */
export function keptJson(value: object): string | undefined {
  return kept.get(value);
}

/** Whether a Map lies anywhere inside: only then does the serialiser need the replacer. */
function holdsMap(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (v instanceof Map) return true;
  if (Array.isArray(v)) {
    for (const x of v) if (holdsMap(x)) return true;
    return false;
  }
  for (const k in v) if (holdsMap((v as Record<string, unknown>)[k])) return true;
  return false;
}

export function stringifyJson(value: Tree): string {
  // Only Maps need the hand-made path; everything else is the native serialiser, which is much faster, and
  // faster still without a replacer (a replacer function puts V8 on its slow path: an event's content, which
  // holds no Map, serialises in about half the time without one, walk included).
  if (!(value instanceof Map)) return holdsMap(value) ? JSON.stringify(value, replacer) : JSON.stringify(value ?? null);
  const parts: string[] = [];
  for (const [k, v] of value) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${stringifyJson(v)}`);
  return `{${parts.join(',')}}`;
}
