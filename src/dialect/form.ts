// application/x-www-form-urlencoded with PHP-style brackets (categories[add][category][]=7), both ways.
import qs from 'qs';
import { MARK, ownTree, unmark, type Tree, type TreeObject } from './tree.js';
import { Errors } from '../errors.js';

/**
 * qs drops a key part named __proto__ even into objects without a prototype (plainObjects), so such a part is
 * marked (tree.ts MARK) in the decoded key and unmarked in the copy (ownTree).
 */
const PROTO_PART = /(^__proto__(?=\[|$))|((?<=\[)__proto__(?=\]))/g;

function decoder(str: string, decode: qs.defaultDecoder, charset: string, type: 'key' | 'value'): string {
  const text = decode(str, decode, charset) as string;
  return type === 'key' && text.includes('__proto__') ? text.replace(PROTO_PART, `${MARK}__proto__`) : text;
}

export function parseForm(text: string): TreeObject {
  if (text.trim() === '') return Object.create(null) as TreeObject;
  let parsed: unknown;
  try {
    parsed = qs.parse(text, {
      depth: 10,
      parameterLimit: 5000,
      arrayLimit: 5000,
      allowDots: false,
      strictDepth: true,
      // Keys named like Object.prototype's members (constructor, toString, …) are kept as data.
      plainObjects: true,
      decoder,
    });
  } catch (e) {
    throw Errors.badRequest('request', `Malformed form data: ${(e as Error).message}`);
  }
  return ownTree(parsed, unmark) as TreeObject;
}

/** Encodes a tree in PHP bracket notation: $_POST['content']['item']['fields']['lastname'] works. */
export function encodeForm(tree: TreeObject): string {
  const parts: string[] = [];
  const walk = (prefix: string, value: Tree): void => {
    if (value === null || value === undefined) {
      parts.push(`${encodeURIComponent(prefix)}=`);
    } else if (typeof value !== 'object') {
      parts.push(
        `${encodeURIComponent(prefix)}=${encodeURIComponent(typeof value === 'boolean' ? (value ? 1 : 0) : value)}`,
      );
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => walk(`${prefix}[${i}]`, v));
    } else {
      const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
      for (const [k, v] of entries) walk(prefix ? `${prefix}[${k}]` : k, v);
    }
  };
  walk('', tree);
  return parts.join('&');
}
