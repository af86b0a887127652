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

export function stringifyJson(value: Tree): string {
  // Only Maps need the hand-made path; everything else is the native serialiser, which is much faster.
  if (!(value instanceof Map)) return JSON.stringify(value ?? null, replacer);
  const parts: string[] = [];
  for (const [k, v] of value) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${stringifyJson(v)}`);
  return `{${parts.join(',')}}`;
}
