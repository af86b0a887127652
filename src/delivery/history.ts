// The delivery log of a hook for the API: its deliveries, newest first, each with every attempt — the
// Svix model (delivery = current state of event × hook, attempts = the append-only log of HTTP tries).
import type { Engine } from '../storage/port.js';
import { Errors } from '../errors.js';
import { formatDate, type Tree, type TreeObject } from '../dialect/tree.js';
import { webhookId } from '../webhooks/signer.js';
import { buildNotification } from './notification.js';
import { attemptsOf, type AttemptRow } from './record.js';
import { storedPairs } from '../webhooks/headers.js';

export const DELIVERY_STATES = ['pending', 'succeeded', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface ListOptions {
  state?: string;
  /** 1…500, default 50 */
  limit?: number;
  /** event id: only deliveries of older events (the cursor of the next page) */
  before?: number;
}

interface DeliveryRow {
  hook_id: number;
  event_id: number;
  state: string;
  attempt_count: number;
  next_attempt_at: number;
  created_at: number;
  updated_at: number;
  type: string;
  object_id: number;
}

export function attemptTree(a: AttemptRow): TreeObject {
  return {
    id: a.id,
    trigger: a.trigger,
    started: formatDate(a.started_at),
    durationms: a.duration_ms,
    statuscode: a.status_code,
    error: a.error,
    responsebody: a.response_body,
  };
}

/** A delivery with its event's type and object (DeliveryRow), from `deliveries d` joined to `events e`. */
const DELIVERY_COLUMNS = `d.hook_id, d.event_id, d.state, d.attempt_count, d.next_attempt_at, d.created_at, d.updated_at,
              e.type, e.object_id`;
const DELIVERIES_WITH_EVENTS = 'deliveries d JOIN events e ON e.account_id = d.account_id AND e.id = d.event_id';

/** One delivery of a page, with every attempt in the order made. */
export interface DeliveryView extends DeliveryRow {
  attempts: AttemptRow[];
}

/**
 * A page of a hook's deliveries, newest first, each with its attempts (the API's list and the portal both
 * read it). A hook of another account, or none: 404.
 */
export async function readDeliveries(
  engine: Engine,
  accountId: number,
  hookId: number,
  options: ListOptions = {},
): Promise<DeliveryView[]> {
  if (options.state !== undefined && !(DELIVERY_STATES as readonly string[]).includes(options.state)) {
    throw Errors.badRequest('state', `Unknown state "${options.state}" (pending, succeeded, failed)`);
  }
  const limit = Math.max(1, Math.min(Math.trunc(options.limit ?? 50) || 50, 500));
  const where = ['d.account_id = ?', 'd.hook_id = ?'];
  const args: unknown[] = [accountId, hookId];
  if (options.state) {
    where.push('d.state = ?');
    args.push(options.state);
  }
  if (options.before !== undefined) {
    where.push('d.event_id < ?');
    args.push(options.before);
  }
  return engine.read(async (x) => {
    const hook = await x.get('SELECT id FROM hooks WHERE account_id = ? AND id = ?', [accountId, hookId]);
    if (!hook) throw Errors.notFound('id', `No hook ${hookId}`);
    const rows = await x.all<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM ${DELIVERIES_WITH_EVENTS}
        WHERE ${where.join(' AND ')}
        ORDER BY d.event_id DESC LIMIT CAST(? AS INTEGER)`,
      [...args, limit],
    );
    const views = rows.map((r) => ({ ...r, attempts: [] as AttemptRow[] }));
    if (rows.length > 0) {
      // The page's event-id range (one fixed statement, on the attempts index); rows of deliveries left
      // out by the state filter are dropped below.
      const list = await x.all<AttemptRow & { event_id: number }>(
        `SELECT event_id, id, trigger, started_at, duration_ms, status_code, error, response_body
           FROM attempts WHERE account_id = ? AND hook_id = ? AND event_id BETWEEN ? AND ?
          ORDER BY started_at, id`,
        [accountId, hookId, rows[rows.length - 1].event_id, rows[0].event_id],
      );
      const byEvent = new Map(views.map((v) => [Number(v.event_id), v]));
      for (const a of list) byEvent.get(Number(a.event_id))?.attempts.push(a);
    }
    return views;
  });
}

/**
 * The request a delivery sends: its body, byte for byte (built from the stored event in the hook's format,
 * as every attempt builds it), and the headers that are the same on every attempt. Left out: the signatures
 * and webhook-timestamp (made per attempt) and the values of the hook's own headers (often a receiver's
 * credentials; their names are shown).
 */
export interface DeliveryRequest {
  url: string;
  headers: Record<string, string>;
  /** the hook's own headers, by name */
  hookHeaders: string[];
  body: string;
}

/** A delivery with every attempt and the request it sends (the API's and the portal's one-delivery view). */
export interface DeliveryDetail extends DeliveryView {
  request: DeliveryRequest;
  /** the hook it goes to, as its page names it */
  hook: { title: string; contenttype: string };
}

/**
 * One delivery of a hook, with its attempts and its request. A hook of another account, or none, or no
 * delivery of that event to it: 404.
 */
export async function readDelivery(
  engine: Engine,
  accountId: number,
  hookId: number,
  eventId: number,
): Promise<DeliveryDetail> {
  return engine.read(async (x) => {
    const hook = await x.get<{ title: string; url: string; contenttype: string; headers: string | null }>(
      'SELECT title, url, contenttype, headers FROM hooks WHERE account_id = ? AND id = ?',
      [accountId, hookId],
    );
    if (!hook) throw Errors.notFound('id', `No hook ${hookId}`);
    const row = await x.get<DeliveryRow & { content: string }>(
      `SELECT ${DELIVERY_COLUMNS}, e.content FROM ${DELIVERIES_WITH_EVENTS}
        WHERE d.account_id = ? AND d.hook_id = ? AND d.event_id = ?`,
      [accountId, hookId, eventId],
    );
    if (!row) throw Errors.notFound('eventid', `No delivery of event ${eventId} to hook ${hookId}`);
    const attempts = await attemptsOf(x, { accountId, hookId, eventId });
    const { content, ...delivery } = row;
    // Built as every attempt builds it, unsigned and without the hook's own headers; of what that makes,
    // only webhook-timestamp differs from attempt to attempt.
    const n = buildNotification(
      {
        hookId,
        eventId,
        hook: { url: hook.url, contenttype: hook.contenttype, secret: '' },
        event: { type: row.type, objectId: Number(row.object_id), content },
      },
      0,
    );
    delete n.headers['webhook-timestamp'];
    const request: DeliveryRequest = {
      url: n.url,
      headers: n.headers,
      hookHeaders: storedPairs(hook.headers ?? '').map(([name]) => name),
      body: n.body.toString('utf8'),
    };
    return { ...delivery, attempts, request, hook: { title: hook.title, contenttype: hook.contenttype } };
  });
}

/** A delivery as the API answers it, in a list or alone. */
function deliveryTree(r: DeliveryView): TreeObject {
  return {
    hookid: r.hook_id,
    eventid: r.event_id,
    webhookid: webhookId(r.hook_id, r.event_id),
    state: r.state,
    attemptcount: r.attempt_count,
    nextattempt: r.state === 'pending' ? formatDate(r.next_attempt_at) : null,
    created: formatDate(r.created_at),
    updated: formatDate(r.updated_at),
    event: { type: r.type, objectid: r.object_id },
    attempts: { attempt: r.attempts.map(attemptTree) },
  };
}

/** Answers a Map: 'count' first (deliveries in this page), then one entry per delivery keyed by event id. */
export async function listDeliveries(
  engine: Engine,
  accountId: number,
  hookId: number,
  options: ListOptions = {},
): Promise<Map<string, Tree>> {
  const rows = await readDeliveries(engine, accountId, hookId, options);
  const out = new Map<string, Tree>();
  out.set('count', rows.length);
  for (const r of rows) out.set(String(r.event_id), deliveryTree(r));
  return out;
}

/** One delivery as the API answers it: its attempts, then the request it sends. */
export async function showDelivery(
  engine: Engine,
  accountId: number,
  hookId: number,
  eventId: number,
): Promise<TreeObject> {
  const d = await readDelivery(engine, accountId, hookId, eventId);
  const { url, headers, hookHeaders, body } = d.request;
  return {
    delivery: {
      ...deliveryTree(d),
      request: { url, headers, hookheaders: { name: hookHeaders }, body },
    },
  };
}
