// XML in and out. Input: DOCTYPE and entity declarations are refused outright (no entity expansion, ever);
// the document must be well formed. Output: the XML declaration first, `id123` element names for numeric
// keys, `cn` attributes.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ApiError, Errors } from '../errors.js';
import { MARK, ownTree, unmark, type Tree, type TreeObject } from './tree.js';
import { NOT_XML_CHAR, xmlSafe } from './text.js';

// Every element name is marked (tree.ts MARK) before fast-xml-parser sees it and unmarked in the copy
// (ownTree): the parser refuses __proto__, constructor and prototype and renames toString, valueOf, … to
// __toString, while here they are element names like any other.

const parser = new XMLParser({
  // fast-xml-parser transforms the name of an empty element <x/> twice: marked once only, <x/> and <x>…</x>
  // are one name, so repeated siblings make one list in document order whether empty or not. (Marked twice,
  // they were two keys that the copy merged into one, keeping only the last spelling's value: the
  // non-empty sibling of an empty one, and the list of a repeated field was lost.)
  transformTagName: (name) => (name.startsWith(MARK) ? name : MARK + name),
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true, // the five predefined entities and character references only: DOCTYPE is refused
  // character references (fast-xml-parser decodes them with its HTML entities; the named HTML ones, &nbsp;,
  // never reach it: see refuseBadReferences)
  htmlEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** Parses a request body; answers the children of the root element (usually <request>). */
export function parseXml(text: string): TreeObject {
  if (text.trim() === '') return Object.create(null) as TreeObject;
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) {
    throw Errors.badRequest('request', 'XML with a DOCTYPE or entity declarations is not accepted');
  }
  // (Not inside CDATA sections or comments, where & is text.)
  if (text.includes('&'))
    refuseBadReferences(text.includes('<!') ? text.replace(/<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->/g, '') : text);
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw Errors.badRequest(
      'request',
      `Malformed XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`,
    );
  }
  let doc: TreeObject;
  try {
    doc = ownTree(parser.parse(text), unmark) as TreeObject;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    // Bug fix: a document the parser refuses itself is bad input (400), not an internal fault (500).
    throw Errors.badRequest('request', `Malformed XML: ${(e as Error).message}`);
  }
  const roots = Object.keys(doc);
  if (roots.length !== 1) throw Errors.badRequest('request', 'XML must have exactly one root element');
  const root = doc[roots[0]];
  if (root === '' || root === null) return Object.create(null) as TreeObject;
  if (typeof root !== 'object' || Array.isArray(root)) {
    throw Errors.badRequest(
      'request',
      'The root element must contain elements, e.g. <request><firstname>…</firstname></request>',
    );
  }
  return root as TreeObject;
}

const PREDEFINED = new Set(['amp', 'lt', 'gt', 'quot', 'apos']);

/**
 * A reference to an entity no DTD declared (&nbsp;, &eacute;: HTML's, not XML's) makes a document malformed,
 * as does a character reference to a character XML does not allow (&#1;); fast-xml-parser would keep the
 * first as text and drop the second silently.
 */
function refuseBadReferences(text: string): void {
  for (const m of text.matchAll(/&(#x[0-9A-Fa-f]+|#[0-9]+|[^\s&;<>"']*);/g)) {
    const ref = m[1];
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      const char = code <= 0x10ffff ? String.fromCodePoint(code) : '';
      if (char && xmlSafe(char)) continue;
      throw Errors.badRequest('request', `Malformed XML: ${m[0]} refers to a character XML does not allow`);
    }
    if (!PREDEFINED.has(ref)) {
      throw Errors.badRequest(
        'request',
        `Malformed XML: ${m[0].slice(0, 40)} is not an entity XML defines (use the character itself, a character reference like &#160;, or &amp; &lt; &gt; &quot; &apos;)`,
      );
    }
  }
}

/** Numeric keys become id123 (Solve360's list shape); anything else not valid as a name is made valid. */
export function xmlName(key: string): string {
  if (/^\d/.test(key)) return `id${key}`;
  if (/^[A-Za-z_][\w.-]*$/.test(key)) return key;
  const safe = key.replace(/[^\w.-]/g, '_');
  return /^[A-Za-z_]/.test(safe) ? safe : `_${safe}`;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
// What needs escaping, and what XML cannot carry at all (C0 controls but tab, LF and CR; U+FFFE, U+FFFF),
// which becomes U+FFFD. Requests cannot store such characters (text.ts), but a query parameter echoed in an
// error, or a value stored before that check, must not make the answer unparseable. (Half a surrogate pair
// becomes U+FFFD when the text is encoded as UTF-8.)
const TO_ESCAPE = new RegExp(`[&<>"'${NOT_XML_CHAR.source.slice(1, -1)}]`);
const TO_ESCAPE_ALL = new RegExp(TO_ESCAPE.source, 'g');
const escapeXml = (text: string) =>
  TO_ESCAPE.test(text) ? text.replace(TO_ESCAPE_ALL, (c) => ESCAPES[c] ?? '\uFFFD') : text;

/** A primitive as element text (booleans as 1/0, null as empty). */
function textOf(value: Tree): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? '1' : '0';
  return escapeXml(String(value));
}

/**
 * `<name>…</name>` for one value: a primitive as text (empty as `<name/>`), a list as the element repeated,
 * an object or Map as its children in order. `cn` is the attribute Solve360 puts on some fields.
 */
function element(name: string, value: Tree, cn?: unknown): string {
  if (Array.isArray(value)) {
    let s = '';
    for (const item of value) s += element(name, item as Tree);
    return s;
  }
  const attr = cn === undefined ? '' : ` cn="${cn === null ? '' : escapeXml(String(cn))}"`;
  if (value === null || typeof value !== 'object') {
    const text = textOf(value);
    return text === '' ? `<${name}${attr}/>` : `<${name}${attr}>${text}</${name}>`;
  }
  const inner = children(value);
  return inner === '' ? `<${name}/>` : `<${name}>${inner}</${name}>`;
}

const PLAIN_NAME = /^[A-Za-z_][\w.-]*$/;

function children(value: TreeObject | Map<string, Tree>): string {
  const entries: [string, Tree][] = value instanceof Map ? [...value.entries()] : Object.entries(value);
  // The common case: no `_cn` companions, and names that cannot collide once made valid XML names.
  let plain = true;
  let renamed = false;
  for (const [key] of entries) {
    if (key.endsWith('_cn')) {
      plain = false;
      break;
    }
    if (!PLAIN_NAME.test(key)) renamed = true;
  }
  if (plain && renamed) {
    const names = new Set<string>();
    for (const [key] of entries) names.add(xmlName(key));
    plain = names.size === entries.length;
  }
  let s = '';
  if (plain) {
    for (const [key, child] of entries) s += element(renamed ? xmlName(key) : key, child);
    return s;
  }
  // Otherwise as an object of the names would be: two keys that make the same name keep the first one's
  // place and the last one's value; `key_cn` becomes the cn attribute of a text `key`.
  const keys = new Set(entries.map(([k]) => k));
  const byName = new Map<string, { child: Tree; cn?: unknown }>();
  for (const [key, child] of entries) {
    if (key.endsWith('_cn') && keys.has(key.slice(0, -3))) continue;
    const cn = value instanceof Map ? undefined : (value as TreeObject)[`${key}_cn`];
    const withCn = cn !== undefined && (child === null || typeof child !== 'object');
    byName.set(xmlName(key), withCn ? { child, cn: cn ?? '' } : { child });
  }
  for (const [name, { child, cn }] of byName) s += element(name, child, cn);
  return s;
}

/** The XML declaration and the tree as the root element's content; written by hand, as fast as it gets. */
export function buildXml(rootName: string, tree: Tree): string {
  return XML_DECLARATION + element(rootName, tree);
}
