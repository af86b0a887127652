// Shared helpers of the compatibility, batch, report and upload suites: the extra route plugins, a movable
// clock, and readers for the shapes on the wire (ids in text order, XML children, raw HTTP messages).
import { expect } from 'vitest';
import type { AppDeps } from '../../src/http/app.js';
import { batchRoutes } from '../../src/http/routes/batch.js';
import { reportRoutes } from '../../src/http/routes/reports.js';
import { uploadRoutes } from '../../src/http/routes/uploads.js';
import { call, makeApp, type Answer, type TestApp, type User } from '../support/app.js';
import type { EngineName } from '../support/engines.js';

export const PLUGINS: NonNullable<AppDeps['plugins']> = [batchRoutes, reportRoutes, uploadRoutes];

export const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>';
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/;
export const DAY = 86_400_000;

/** A clock the test moves; starts at a fixed noon so that "today" is stable. */
export class TestClock {
  constructor(public ms = Date.UTC(2026, 10, 28, 12, 0, 0)) {}
  now(): number {
    return this.ms;
  }
  today(offsetDays = 0): string {
    return new Date(this.ms + offsetDays * DAY).toISOString().slice(0, 10);
  }
}

export function makeCompatApp(engine: EngineName, extra: Partial<AppDeps> = {}): Promise<TestApp> {
  return makeApp(engine, { plugins: PLUGINS, ...extra });
}

/** A repeated XML element: one child is a value, none is '' or undefined. */
export function arr<T = any>(x: unknown): T[] {
  if (x === undefined || x === null || x === '') return [];
  return (Array.isArray(x) ? x : [x]) as T[];
}

/** The ids a JSON answer keys its rows by, in text order (JSON.parse would sort numeric keys). */
export function jsonIds(text: string): number[] {
  return [...text.matchAll(/"(\d+)":\{/g)].map((m) => Number(m[1]));
}

export function ok(a: Answer): any {
  if (a.status !== 200 || a.body?.status !== 'success') {
    throw new Error(`expected success, got ${a.status}: ${a.text.slice(0, 500)}`);
  }
  return a.body;
}

export function failed(a: Answer, status: number, field?: string): Record<string, string> {
  expect(a.status, a.text.slice(0, 400)).toBe(status);
  expect(a.body?.status).toBe('failed');
  if (field) expect(Object.keys(a.body.errors ?? {}), a.text).toContain(field);
  return a.body.errors;
}

export async function createItem(t: TestApp, u: User, segment: string, body: Record<string, unknown>) {
  return Number(ok(await call(t, u, 'POST', `/${segment}/`, { body })).item.id);
}

export async function createActivity(
  t: TestApp,
  u: User,
  segment: string,
  activity: string,
  parent: number,
  data: Record<string, unknown>,
): Promise<number> {
  return Number(ok(await call(t, u, 'POST', `/${segment}/${activity}/`, { body: { parent, data } })).item.id);
}

/** A raw HTTP response: status, headers (lower-case names), body bytes. */
export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Reads a whole HTTP/1.1 response from bytes, the way a socket client does. */
export function parseRawResponse(raw: Buffer): RawResponse {
  const split = raw.indexOf('\r\n\r\n');
  expect(split, 'no end of head in the response').toBeGreaterThan(0);
  const [statusLine, ...lines] = raw.toString('latin1', 0, split).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
  expect(m, `bad status line ${statusLine}`).not.toBeNull();
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(m![1]), headers, body: raw.subarray(split + 4) };
}

/** Splits a multipart answer into its parts' raw contents (CRLF framing, as Hookline writes it). */
export function multipartParts(body: Buffer, boundary: string): Buffer[] {
  const text = body.toString('latin1');
  const delimiter = `--${boundary}`;
  expect(text.startsWith(delimiter)).toBe(true);
  expect(text.trimEnd().endsWith(`${delimiter}--`)).toBe(true);
  const pieces = text.split(`\r\n${delimiter}`);
  // pieces[0] = '--b\r\n<part1>', then '\r\n<part2>', …, last '--\r\n'
  const out: Buffer[] = [];
  for (let i = 0; i < pieces.length - 1; i++) {
    const p = i === 0 ? pieces[0].slice(delimiter.length + 2) : pieces[i].slice(2);
    out.push(Buffer.from(p, 'latin1'));
  }
  return out;
}

/** A part of a batch answer: its MIME headers and the HTTP response inside. */
export function batchAnswerPart(part: Buffer): { mime: Map<string, string>; response: RawResponse } {
  const split = part.indexOf('\r\n\r\n');
  const mime = new Map<string, string>();
  for (const line of part.toString('latin1', 0, split).split('\r\n')) {
    const colon = line.indexOf(':');
    mime.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { mime, response: parseRawResponse(part.subarray(split + 4)) };
}
