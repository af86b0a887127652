// Shared helpers of the records API acceptance suite: envelope checks, row counts for "nothing changed",
// the outbox as rows, and small converters for the XML side (where every value is a string and a single
// child is not an array).
import { expect } from 'vitest';
import type { Answer, TestApp, User, Wire } from '../support/app.js';
import { call } from '../support/app.js';

export const WIRES: Wire[] = ['xml', 'json', 'form'];

export const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>';

/** A repeated element: XML gives one child as a value, none as '' or undefined. */
export function arr<T = any>(x: unknown): T[] {
  if (x === undefined || x === null || x === '') return [];
  return (Array.isArray(x) ? x : [x]) as T[];
}

/** A scalar as the XML side shows it (everything is text there); `{#text, @_cn}` gives its text. */
export function text(x: unknown): string {
  if (x !== null && typeof x === 'object' && '#text' in (x as object)) return String((x as any)['#text']);
  if (x === undefined || x === null) return '';
  return String(x);
}

/** Asserts a successful answer in the envelope and gives its body. */
export function ok(a: Answer): any {
  if (a.status !== 200 || a.body?.status !== 'success') {
    throw new Error(`expected success, got ${a.status}: ${a.text.slice(0, 400)}`);
  }
  return a.body;
}

/** Asserts a failure in the envelope with this status; when fields are given, errors names each of them. */
export function failed(a: Answer, status: number, ...fields: string[]): Record<string, string> {
  expect(a.status, a.text.slice(0, 400)).toBe(status);
  expect(a.body?.status).toBe('failed');
  const errors = a.body.errors as Record<string, string>;
  expect(errors && typeof errors === 'object').toBe(true);
  for (const f of fields) expect(Object.keys(errors), a.text).toContain(f);
  return errors;
}

/**
 * PHP bracket form data with indexed arrays of structures (`relatedto[0][id]=1&relatedto[0][note]=x`),
 * which stay apart where `relatedto[][id]=…` would merge; lists of values keep the dialect's `[]`.
 */
export function phpForm(tree: unknown): string {
  const parts: string[] = [];
  const walk = (prefix: string, v: unknown): void => {
    if (Array.isArray(v)) {
      const nested = v.some((x) => x !== null && typeof x === 'object');
      v.forEach((x, i) => walk(nested ? `${prefix}[${i}]` : `${prefix}[]`, x));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(prefix ? `${prefix}[${k}]` : k, x);
    } else parts.push(`${encodeURIComponent(prefix)}=${encodeURIComponent(String(v ?? ''))}`);
  };
  walk('', tree);
  return parts.join('&');
}

/** call() with a body tree on a wire; form bodies go through phpForm(). */
export function send(
  t: TestApp,
  user: User | null,
  method: string,
  url: string,
  wire: Wire,
  tree: unknown,
): Promise<Answer> {
  if (wire === 'form') {
    return call(t, user, method, url, { wire, raw: phpForm(tree), contentType: 'application/x-www-form-urlencoded' });
  }
  return call(t, user, method, url, { wire, body: tree });
}

export async function createItem(
  t: TestApp,
  user: User,
  segment: string,
  body: Record<string, unknown>,
  wire: Wire = 'json',
): Promise<number> {
  const b = ok(await call(t, user, 'POST', `/${segment}/`, { wire, body }));
  return Number(b.item.id);
}

export async function show(t: TestApp, user: User, segment: string, id: number, wire: Wire = 'json'): Promise<any> {
  return ok(await call(t, user, 'GET', `/${segment}/${id}/`, { wire }));
}

export const TABLES = [
  'items',
  'activities',
  'events',
  'deliveries',
  'categories',
  'item_categories',
  'related_items',
  'templates',
  'field_defs',
] as const;

/** The number of rows of every table of account data (all accounts): "nothing changed" in one value. */
export async function counts(t: TestApp): Promise<Record<string, number>> {
  return t.db.engine.read(async (x) => {
    const out: Record<string, number> = {};
    for (const table of TABLES) {
      const r = await x.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`);
      out[table] = Number(r?.n ?? 0);
    }
    return out;
  });
}

/** Every row of the account's data, for "nothing changed in A" down to the last column. */
export async function dump(t: TestApp, accountId: number): Promise<Record<string, unknown[]>> {
  return t.db.engine.read(async (x) => {
    const out: Record<string, unknown[]> = {};
    for (const table of TABLES) {
      const order =
        table === 'item_categories'
          ? 'item_id, category_id'
          : table === 'related_items'
            ? 'item_id, related_id'
            : table === 'field_defs'
              ? 'name'
              : table === 'deliveries'
                ? 'event_id'
                : 'id';
      out[table] = await x.all(`SELECT * FROM ${table} WHERE account_id = ? ORDER BY ${order}`, [accountId]);
    }
    return out;
  });
}

export interface EventRow {
  id: number;
  type: string;
  objectId: number;
  objectKind: string;
  content: any;
}

/** The account's events after event id `after`, in order. */
export async function events(t: TestApp, accountId: number, after = 0): Promise<EventRow[]> {
  const rows = await t.db.engine.read((x) =>
    x.all<{ id: number; type: string; object_id: number; object_kind: string; content: string }>(
      'SELECT id, type, object_id, object_kind, content FROM events WHERE account_id = ? AND id > ? ORDER BY id',
      [accountId, after],
    ),
  );
  return rows.map((r) => ({
    id: Number(r.id),
    type: r.type,
    objectId: Number(r.object_id),
    objectKind: r.object_kind,
    content: JSON.parse(r.content),
  }));
}

/** The id of the account's newest event (0 when none): "events since" starts here. */
export async function lastEventId(t: TestApp, accountId: number): Promise<number> {
  const r = await t.db.engine.read((x) =>
    x.get<{ id: number | null }>('SELECT MAX(id) AS id FROM events WHERE account_id = ?', [accountId]),
  );
  return Number(r?.id ?? 0);
}

/** The record keys of a list answer in the order of the text (JSON "123": keys, XML <id123> elements). */
export function listedIds(a: Answer): number[] {
  const re = a.text.trimStart().startsWith('<') ? /<id(\d+)>/g : /"(\d+)":\{/g;
  return [...a.text.matchAll(re)].map((m) => Number(m[1]));
}

export const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/;

/**
 * Each bad value of a contact's `field`, in a PUT of contact `id` (beside a change of firstname) and in a
 * create: refused with exactly `message`, naming `field` alone, and the account's rows unchanged.
 */
export async function refusedOnContacts(
  t: TestApp,
  wire: Wire,
  id: number,
  field: string,
  bad: [label: string, value: unknown, message: string][],
): Promise<void> {
  const before = await dump(t, t.adminA.accountId);
  const refused = (answer: Answer, message: string, label: string) => {
    failed(answer, 400, field);
    expect(Object.entries(answer.body.errors), label).toEqual([[field, message]]);
  };
  for (const [label, value, message] of bad) {
    const put = await send(t, t.adminA, 'PUT', `/contacts/${id}/`, wire, { firstname: 'Changed', [field]: value });
    refused(put, message, label);
    refused(await send(t, t.adminA, 'POST', '/contacts/', wire, { firstname: 'New', [field]: value }), message, label);
  }
  expect(await dump(t, t.adminA.accountId)).toEqual(before);
}
