// XML in and out. Input: DOCTYPE and entity declarations are refused outright (no entity expansion, ever);
// the document must be well formed. Output: the XML declaration first, `id123` element names for numeric
// keys, `cn` attributes.
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { Errors } from '../errors.js';
import type { Tree, TreeObject } from './tree.js';

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true, // the five predefined entities and character references only: DOCTYPE is refused
  htmlEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: true,
  processEntities: true,
});

export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** Parses a request body; answers the children of the root element (usually <request>). */
export function parseXml(text: string): TreeObject {
  if (text.trim() === '') return {};
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) {
    throw Errors.badRequest('request', 'XML with a DOCTYPE or entity declarations is not accepted');
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw Errors.badRequest(
      'request',
      `Malformed XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`,
    );
  }
  let doc: TreeObject;
  try {
    doc = parser.parse(text) as TreeObject;
  } catch (e) {
    // Bug fix: the parser refuses some well-formed documents itself (element names such as __proto__ or
    // constructor, "[SECURITY] Invalid name"); that is bad input (400), not an internal fault (500).
    throw Errors.badRequest('request', `Malformed XML: ${(e as Error).message}`);
  }
  const roots = Object.keys(doc);
  if (roots.length !== 1) throw Errors.badRequest('request', 'XML must have exactly one root element');
  const root = doc[roots[0]];
  if (root === '' || root === null) return {};
  if (typeof root !== 'object' || Array.isArray(root)) {
    throw Errors.badRequest(
      'request',
      'The root element must contain elements, e.g. <request><firstname>…</firstname></request>',
    );
  }
  return root as TreeObject;
}

/** Numeric keys become id123 (Solve360's list shape); anything else not valid as a name is made valid. */
function xmlName(key: string): string {
  if (/^\d/.test(key)) return `id${key}`;
  if (/^[A-Za-z_][\w.-]*$/.test(key)) return key;
  const safe = key.replace(/[^\w.-]/g, '_');
  return /^[A-Za-z_]/.test(safe) ? safe : `_${safe}`;
}

/** Converts the neutral tree into fast-xml-parser's builder input. */
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

export function buildXml(rootName: string, tree: Tree): string {
  return XML_DECLARATION + (builder.build({ [rootName]: toBuilder(tree) }) as string);
}
