// application/x-www-form-urlencoded with PHP-style brackets (categories[add][category][]=7), both ways.
import qs from 'qs';
import { MARK, ownTree, unmark, type Tree, type TreeObject } from './tree.js';
import { ApiError, Errors } from '../errors.js';

/**
 * qs drops a key part named __proto__ even into objects without a prototype (plainObjects), so such a part is
 * marked (tree.ts MARK) in the decoded key and unmarked in the copy (ownTree).
 */
const PROTO_PART = /(^__proto__(?=\[|$))|((?<=\[)__proto__(?=\]))/g;

/** What a form body's percent-encoded bytes are in: ISO-8859-1 when the Content-Type says so, else UTF-8. */
type FormCharset = 'utf-8' | 'iso-8859-1';

const LATIN1 = new Set(['iso-8859-1', 'latin1', 'l1', 'windows-1252', 'cp1252', 'us-ascii', 'ascii']);

function decoder(charset: FormCharset) {
  return (str: string, decode: qs.defaultDecoder, _charset: string, type: 'key' | 'value'): string => {
    let text: string;
    if (charset === 'iso-8859-1') text = decode(str, decode, charset) as string;
    else {
      // qs's own decoder keeps a sequence that is not UTF-8 (%FC) as it was written; that is an error here.
      const plain = str.replace(/\+/g, ' ');
      try {
        text = decodeURIComponent(plain);
      } catch {
        throw Errors.badRequest(
          'request',
          `Form ${type} "${plain.slice(0, 40)}" is not percent-encoded UTF-8 (declare charset=iso-8859-1 if it is Latin-1)`,
        );
      }
    }
    return type === 'key' && text.includes('__proto__') ? text.replace(PROTO_PART, `${MARK}__proto__`) : text;
  };
}

/** Parses a form body; `charset`: the Content-Type's, if it names one. */
export function parseForm(text: string, charset?: string): TreeObject {
  if (text.trim() === '') return Object.create(null) as TreeObject;
  const bytes: FormCharset = charset && LATIN1.has(charset) ? 'iso-8859-1' : 'utf-8';
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
      charset: bytes,
      decoder: decoder(bytes),
    });
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw Errors.badRequest('request', `Malformed form data: ${(e as Error).message}`);
  }
  return ownTree(parsed, unmark) as TreeObject;
}

/** Half a surrogate pair, which encodeURIComponent throws on, is sent as U+FFFD, as UTF-8 encoding would. */
const encodeText = (text: string): string =>
  encodeURIComponent((text as WellFormed).isWellFormed() ? text : (text as WellFormed).toWellFormed());

type WellFormed = string & { isWellFormed(): boolean; toWellFormed(): string };

/** Encodes a tree in PHP bracket notation: $_POST['content']['item']['fields']['lastname'] works. */
export function encodeForm(tree: TreeObject): string {
  const parts: string[] = [];
  const walk = (prefix: string, value: Tree): void => {
    if (value === null || value === undefined) {
      parts.push(`${encodeURIComponent(prefix)}=`);
    } else if (typeof value !== 'object') {
      parts.push(
        `${encodeURIComponent(prefix)}=${typeof value === 'string' ? encodeText(value) : encodeURIComponent(typeof value === 'boolean' ? (value ? 1 : 0) : value)}`,
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
