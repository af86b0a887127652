// Field values from the wire (XML text, JSON scalars, form strings) checked and normalised by field type.
// Every failure names the field, so the API can answer {errors: {field: message}}.
import type { FieldDef } from './kinds.js';
import { formatDate, type TreeObject } from '../dialect/tree.js';

export const MAX_TEXT = 65_535;

export type Value = string | number | null;

export class ValueError extends Error {}

/**
 * field → message for Errors.invalid. Without a prototype, so that an unknown field named __proto__ is
 * named like any other (`{}['__proto__'] = 'Unknown field'` would be dropped by the prototype setter).
 */
export function fieldErrors(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

/** Accepted on input: 2026-11-28T09:45:00+00:00 (any offset, or Z), "2026-11-28 09:45:00", 2026-11-28. */
export function parseDate(text: string): number | null {
  const t = text.trim();
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t);
  if (m) return checked(Date.UTC(+m[1], +m[2] - 1, +m[3]), m);
  m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(t);
  if (!m) return null;
  const base = checked(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0)), m);
  if (base === null || +m[4] > 23 || +m[5] > 59 || +(m[6] ?? 0) > 59) return null;
  const zone = m[7];
  if (!zone || zone === 'Z') return base;
  const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
  const offset = (+z[2] * 60 + +z[3]) * 60_000;
  return z[1] === '+' ? base - offset : base + offset;
}

function checked(ms: number, m: RegExpExecArray): number | null {
  const d = new Date(ms);
  // Date.UTC rolls 2026-02-31 over into March; refuse such dates instead.
  if (d.getUTCFullYear() !== +m[1] || d.getUTCMonth() !== +m[2] - 1 || d.getUTCDate() !== +m[3]) return null;
  return ms;
}

/** What a field of each type takes, for the message refusing a JSON boolean there. */
const TAKES: Record<Exclude<FieldDef['type'], 'boolean'>, string> = {
  text: 'text',
  email: 'text',
  url: 'text',
  number: 'a number',
  date: 'a date',
  datetime: 'a date and time',
  user: 'a user id',
  company: 'a company id',
};

/**
 * A 0/1 flag (a record's `flagged`, a boolean field such as a task's `completed`, the list and report switches
 * `layout` and `itemsdata`): 1 or 0 as a JSON number or as text, and JSON `true`/`false` as 1/0, one rule for
 * all of them. Answers null for an empty value (isBlank), undefined for anything else (the caller names the
 * field; a boolean field also takes the words true/false, yes/no, see normaliseValue).
 */
export function parseFlag(raw: unknown): 0 | 1 | null | undefined {
  if (raw === true || raw === 1) return 1;
  if (raw === false || raw === 0) return 0;
  if (isBlank(raw)) return null;
  const v = typeof raw === 'string' ? raw.trim() : undefined;
  return v === '1' ? 1 : v === '0' ? 0 : undefined;
}

function scalarText(raw: unknown): string {
  if (raw === null || raw === undefined) return '';
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  throw new ValueError('must be a single value, not a list or a structure');
}

/**
 * Normalises one input value for a field. Empty input clears the field (null). A JSON boolean is a value of a
 * boolean field only (1 or 0): given to any other field it is the wrong type and refused, rather than stored
 * as the text "1"/"0" or the number 1.
 */
export function normaliseValue(def: FieldDef, raw: unknown): Value {
  if (typeof raw === 'boolean' && def.type !== 'boolean') {
    throw new ValueError(`must be ${TAKES[def.type]}, not the JSON boolean ${raw}`);
  }
  if (def.type === 'boolean') {
    const flag = parseFlag(raw);
    if (flag !== undefined) return flag;
  }
  const text = scalarText(raw).trim();
  if (text === '') return null;
  switch (def.type) {
    case 'number': {
      // Exponents too: a number shows as JSON writes it (0.0000001 as 1e-7), and what a record shows must be
      // accepted back as it is.
      const n = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : NaN;
      if (!Number.isFinite(n)) throw new ValueError(`must be a number, got "${clip(text)}"`);
      return n;
    }
    case 'boolean': {
      // parseFlag took 1, 0, true and false above; the words are a boolean field's own.
      const v = text.toLowerCase();
      if (v === 'true' || v === 'yes') return 1;
      if (v === 'false' || v === 'no') return 0;
      throw new ValueError(`must be 0 or 1, got "${clip(text)}"`);
    }
    case 'date': {
      const ms = parseDate(text);
      if (ms === null) throw new ValueError(`must be a date (2026-11-28), got "${clip(text)}"`);
      // A calendar day, as the client wrote it: 2026-11-28T23:30:00-05:00 is the 28th where it was written,
      // though the 29th in UTC. (Every accepted form opens with the day, checked by parseDate.)
      return text.trim().slice(0, 10);
    }
    case 'datetime': {
      const ms = parseDate(text);
      if (ms === null) throw new ValueError(`must be a date and time (2026-11-28T09:45:00+00:00), got "${clip(text)}"`);
      return formatDate(ms);
    }
    case 'user':
    case 'company': {
      if (!/^\d{1,15}$/.test(text))
        throw new ValueError(`must be an id (a positive whole number), got "${clip(text)}"`);
      return Number(text);
    }
    default: {
      const s = scalarText(raw);
      if (s.length > MAX_TEXT) throw new ValueError(`is longer than ${MAX_TEXT} characters`);
      return s;
    }
  }
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * No value: absent, JSON null, or text that is empty once trimmed — an empty value as every wire spells it
 * (XML <ownership/>, form ownership=, JSON null or ""). It clears a field that can be empty (normaliseValue);
 * a value that cannot be empty (a record's ownership and flagged, an activity's new parent, before, after)
 * it leaves as it is, or at its default on a create.
 */
export function isBlank(raw: unknown): boolean {
  return raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '');
}

/** A structure in a request body (XML element with children, JSON object, form brackets): not a list, not a value. */
export const isObject = (v: unknown): v is TreeObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The message of a user field naming no user of the account (ValueError's text, after the field's label): a
 * task's assignee, a record's user field, ….
 */
export const notAUser = (v: unknown): string => `must be a user of this account, and ${v} is not (see GET /ownership/)`;

/**
 * The read-only fields of a record (dialect §2): shown, never written. Input ignores them, as it ignores the
 * name carriers (isNameCarrier), so that what a show answers can be sent back as it is.
 */
export const READ_ONLY_FIELDS: ReadonlySet<string> = new Set([
  'creatorid',
  'creatorname',
  'modificatorid',
  'modificatorname',
]);

/**
 * `x_cn`, the name shown beside user field x (`assignedto_cn`, a task's `responsible_cn`, …) and beside a
 * contact's `company` (`company_cn`): read-only, ignored on input. Any other `…_cn` key stays unknown.
 */
export function isNameCarrier(key: string, defs: ReadonlyMap<string, FieldDef>): boolean {
  if (!key.endsWith('_cn')) return false;
  const type = defs.get(key.slice(0, -3))?.type;
  return type === 'user' || type === 'company';
}

/** Reads a positive integer id from input (XML text, JSON number or string). */
export function parseId(raw: unknown): number | null {
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw > 0) return raw;
  if (typeof raw === 'string' && /^\s*\d{1,15}\s*$/.test(raw) && Number(raw) > 0) return Number(raw);
  return null;
}

/** XML gives one child as a value and several as an array; JSON and form may give either. */
export function asList(raw: unknown): unknown[] {
  if (raw === undefined || raw === null || raw === '') return [];
  return Array.isArray(raw) ? raw : [raw];
}
