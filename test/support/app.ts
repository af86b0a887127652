// An in-process Hookline app on a real database, with two accounts (A with an admin and a member, B with
// an admin), and a small client that speaks XML, JSON or form to it through Fastify's inject().
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/http/app.js';
import { addUser, createAccount } from '../../src/accounts/accounts.js';
import { makeEngine, type EngineName, type TestEngine } from './engines.js';
import { XMLParser } from 'fast-xml-parser';

export interface User {
  accountId: number;
  userId: number;
  email: string;
  token: string;
}

export interface TestApp {
  app: FastifyInstance;
  db: TestEngine;
  adminA: User;
  memberA: User;
  adminB: User;
  close(): Promise<void>;
}

let seq = 0;

export async function makeApp(engineName: EngineName, extra: Partial<AppDeps> = {}): Promise<TestApp> {
  const db = await makeEngine(engineName);
  const tag = `${process.pid}-${++seq}-${Date.now()}`;
  const a = await createAccount(db.engine, { name: 'Account A', adminEmail: `admin-a-${tag}@example.org` });
  const m = await addUser(db.engine, { accountId: a.accountId, email: `member-a-${tag}@example.org`, role: 'member' });
  const b = await createAccount(db.engine, { name: 'Account B', adminEmail: `admin-b-${tag}@example.org` });
  const app = await buildApp({ engine: db.engine, bodyLimit: 1024 * 1024, ...extra });
  return {
    app,
    db,
    adminA: { accountId: a.accountId, userId: a.userId, email: `admin-a-${tag}@example.org`, token: a.token },
    memberA: { accountId: a.accountId, userId: m.userId, email: `member-a-${tag}@example.org`, token: m.token },
    adminB: { accountId: b.accountId, userId: b.userId, email: `admin-b-${tag}@example.org`, token: b.token },
    async close() {
      await app.close();
      await db.destroy();
    },
  };
}

export function basic(u: User): string {
  return `Basic ${Buffer.from(`${u.email}:${u.token}`).toString('base64')}`;
}

export type Wire = 'xml' | 'json' | 'form';

const xmlParser = new XMLParser({ parseTagValue: false, ignoreAttributes: false, attributeNamePrefix: '@_' });

export interface Answer {
  status: number;
  headers: Record<string, unknown>;
  text: string;
  /** the parsed body: JSON as is; XML as the children of <response> */
  body: any;
}

/** Encodes a request tree for the wire; for XML it nests under <request>. */
export function encode(wire: Wire, tree: unknown): { payload: string; contentType: string } {
  if (wire === 'json') return { payload: JSON.stringify(tree), contentType: 'application/json' };
  if (wire === 'form') {
    const parts: string[] = [];
    const walk = (prefix: string, v: unknown): void => {
      if (Array.isArray(v)) v.forEach((x) => walk(`${prefix}[]`, x));
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) walk(prefix ? `${prefix}[${k}]` : k, x);
      else parts.push(`${encodeURIComponent(prefix)}=${encodeURIComponent(String(v ?? ''))}`);
    };
    walk('', tree);
    return { payload: parts.join('&'), contentType: 'application/x-www-form-urlencoded' };
  }
  const xml = (v: unknown, name: string): string => {
    if (Array.isArray(v)) return v.map((x) => xml(x, name)).join('');
    if (v && typeof v === 'object')
      return `<${name}>${Object.entries(v)
        .map(([k, x]) => xml(x, k))
        .join('')}</${name}>`;
    const s = String(v ?? '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;');
    return `<${name}>${s}</${name}>`;
  };
  return { payload: `<?xml version="1.0" encoding="UTF-8"?>\n${xml(tree, 'request')}`, contentType: 'application/xml' };
}

export async function call(
  t: TestApp,
  user: User | null,
  method: string,
  url: string,
  options: {
    wire?: Wire;
    body?: unknown;
    raw?: string;
    contentType?: string;
    accept?: 'xml' | 'json';
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const wire = options.wire ?? 'json';
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (user) headers.authorization = basic(user);
  const accept = options.accept ?? (wire === 'xml' ? 'xml' : 'json');
  if (accept === 'json') headers.accept = 'application/json';
  let payload: string | undefined;
  if (options.raw !== undefined) {
    payload = options.raw;
    if (options.contentType) headers['content-type'] = options.contentType;
  } else if (options.body !== undefined) {
    const e = encode(wire, options.body);
    payload = e.payload;
    headers['content-type'] = options.contentType ?? e.contentType;
  }
  const res = await t.app.inject({ method: method as 'GET', url, headers, payload });
  let body: any = undefined;
  if (res.headers['content-type']?.toString().includes('json')) body = JSON.parse(res.body);
  else if (res.body.startsWith('<?xml')) body = xmlParser.parse(res.body).response;
  return { status: res.statusCode, headers: res.headers, text: res.body, body };
}
