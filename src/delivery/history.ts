// The delivery log of a hook for the API: its deliveries, newest first, each with every attempt — the
// Svix model (delivery = current state of event × hook, attempts = the append-only log of HTTP tries).
import type { Engine } from '../storage/port.js';
import { Errors } from '../errors.js';
import { formatDate, type Tree, type TreeObject } from '../dialect/tree.js';
import { webhookId } from '../webhooks/signer.js';
import type { AttemptRow } from './record.js';

export const DELIVERY_STATES = ['pending', 'succeeded', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface ListOptions {
  state?: string;
  /** 1…500, default 50 */
  limit?: number;
  /** event id: only deliveries of older events (the cursor of the next page) */
  before?: number;
}

export interface DeliveryRow {
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
      `SELECT d.hook_id, d.event_id, d.state, d.attempt_count, d.next_attempt_at, d.created_at, d.updated_at,
              e.type, e.object_id
         FROM deliveries d JOIN events e ON e.account_id = d.account_id AND e.id = d.event_id
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
  for (const r of rows) {
    out.set(String(r.event_id), {
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
    });
  }
  return out;
}
