// A hook's own request headers (Hookline's choice, as Svix and Convoy offer): sent with every notification to
// the hook, for a receiver behind a gateway that wants a key of its own. Hookline's headers — the signatures,
// webhook-id and -timestamp, the content type, the User-Agent — and those of HTTP itself cannot be set.
import type { TreeObject } from '../dialect/tree.js';
import { isObject } from '../records/values.js';

/** Headers a hook may have at most. */
export const MAX_HEADERS = 20;
const MAX_VALUE = 1024;
/**
 * A name: an HTTP token that is also an XML element name, so every wire can send it and every answer can show
 * it (`<headers><X-Api-Key>…</X-Api-Key></headers>`).
 */
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
/** Visible ASCII, spaces and tabs: nothing that could end the header or start another. */
const VALUE = /^[\t\x20-\x7e]*$/;
/** Set by Hookline or by HTTP itself (lower case). */
const RESERVED = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'host',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'user-agent',
]);
const RESERVED_PREFIXES = ['webhook-', 'x-solve360-', 'proxy-'];

/** The stored form: [[name, value], …] as JSON, '' for none. */
export type StoredHeaders = string;

/**
 * Checks a hook's `headers` (an object of name → value in every wire; empty in any spelling is none) into
 * `errors` (as `headers` or `headers.{name}`); answers the stored form, or undefined when refused.
 */
export function parseHookHeaders(raw: unknown, errors: Record<string, string>): StoredHeaders | undefined {
  if (raw === null || (typeof raw === 'string' && raw.trim() === '')) return '';
  if (!isObject(raw)) {
    errors.headers = 'must be a list of headers by name, e.g. <headers><X-Api-Key>…</X-Api-Key></headers>';
    return undefined;
  }
  const pairs: [string, string][] = [];
  const seen = new Set<string>();
  let refused = false;
  for (const [name, value] of Object.entries(raw)) {
    const problem = headerProblem(name, value, seen);
    seen.add(name.toLowerCase());
    if (problem) {
      errors[`headers.${name}`] = problem;
      refused = true;
      continue;
    }
    // An empty value is no such header, as empty entries are skipped elsewhere.
    const text = value === null || value === undefined ? '' : String(value).trim();
    if (text !== '') pairs.push([name, text]);
  }
  if (pairs.length > MAX_HEADERS) {
    errors.headers = `at most ${MAX_HEADERS} headers`;
    refused = true;
  }
  if (refused) return undefined;
  return pairs.length === 0 ? '' : JSON.stringify(pairs);
}

/** Whether a hook may set this header at all. */
export function settable(name: string): boolean {
  const lower = name.toLowerCase();
  return NAME.test(name) && !RESERVED.has(lower) && !RESERVED_PREFIXES.some((p) => lower.startsWith(p));
}

function headerProblem(name: string, value: unknown, seen: ReadonlySet<string>): string | null {
  if (!NAME.test(name)) return 'must be a header name: a letter, then letters, digits, - _ or . (64 at most)';
  if (!settable(name)) return 'is set by Hookline or by HTTP itself, not by a hook';
  if (seen.has(name.toLowerCase())) return 'is given twice (header names are case-insensitive)';
  if (value !== null && typeof value === 'object') return 'must be a single value';
  const text = value === null || value === undefined ? '' : String(value).trim();
  if (text.length > MAX_VALUE) return `must be at most ${MAX_VALUE} characters`;
  if (!VALUE.test(text)) return 'must be printable ASCII (no line breaks or control characters)';
  return null;
}

/** The stored headers as a hook answer shows them: name → value, in the order given. */
export function hookHeadersTree(stored: StoredHeaders): TreeObject {
  const out = Object.create(null) as TreeObject;
  for (const [name, value] of storedPairs(stored)) out[name] = value;
  return out;
}

/** The stored headers as pairs ([] for none, or for anything not written by parseHookHeaders). */
export function storedPairs(stored: StoredHeaders | undefined): [string, string][] {
  if (!stored) return [];
  try {
    const v = JSON.parse(stored) as unknown;
    return Array.isArray(v) ? (v as [string, string][]) : [];
  } catch {
    return [];
  }
}
