// The outbox: every change raises its events here, inside the change's own transaction, and each event
// fans out to one delivery per matching active hook in the same transaction (one INSERT … SELECT whose cost
// follows the hooks that match, thanks to the hooks_match index). A dispatcher never scans for "new"
// events, so there is no high-water mark that a late-committing transaction could slip under.
import type { Executor } from '../storage/port.js';
import type { TreeObject } from '../dialect/tree.js';
import { stringifyJsonKept } from '../dialect/json.js';
import {
  HOOKS_MATCHING,
  fanOutHandingOff,
  fanOutLeasingSql,
  handOverLeased,
  type MatchedHook,
} from '../delivery/handoff.js';

export const ITEM_EVENTS = [
  'items.create',
  'items.update',
  'items.delete',
  'items.restore',
  'items.categorize',
  'items.uncategorize',
] as const;
export const ACTIVITY_EVENTS = [
  'activities.create',
  'activities.update',
  'activities.delete',
  'activities.restore',
] as const;
export const EVENT_TYPES: readonly string[] = [...ITEM_EVENTS, ...ACTIVITY_EVENTS];
export type EventType = (typeof ITEM_EVENTS)[number] | (typeof ACTIVITY_EVENTS)[number];

export interface RaisedEvent {
  id: number;
  type: EventType;
  objectId: number;
}

/**
 * Which events one create raises (the rule of dialect §6): *.create, then items.categorize when the create
 * added tags — a hook on items.categorize (the spec's Lead router) hears of records created already tagged,
 * as it would had the tags come in a PUT right after. Each carries the record after the whole create.
 */
export function eventsForCreate(family: 'items' | 'activities', change: { added: number }): EventType[] {
  const out: EventType[] = [`${family}.create` as EventType];
  if (family === 'items' && change.added > 0) out.push('items.categorize');
  return out;
}

/**
 * Which events one PUT raises (the rule of dialect §6): field changes → *.update, then tags added →
 * categorize, then tags removed → uncategorize. Nothing changed → nothing raised.
 */
export function eventsForUpdate(
  family: 'items' | 'activities',
  change: { changed: boolean; added: number; removed: number },
): EventType[] {
  const out: EventType[] = [];
  if (change.changed) out.push(`${family}.update` as EventType);
  if (family === 'items' && change.added > 0) out.push('items.categorize');
  if (family === 'items' && change.removed > 0) out.push('items.uncategorize');
  return out;
}

const INSERT_EVENT =
  'INSERT INTO events (account_id, id, type, object_id, object_kind, content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)';

/**
 * Fan-out: one delivery per hook the event goes to (HOOKS_MATCHING). Params: event id, now × 3, account
 * id, event type, object kind.
 */
export const FAN_OUT = `INSERT INTO deliveries (account_id, hook_id, event_id, state, attempt_count, next_attempt_at, created_at, updated_at)
     SELECT account_id, id, ?, 'pending', 0, ?, ?, ?
       FROM hooks
      WHERE ${HOOKS_MATCHING}`;

/**
 * Writes one event and its deliveries. Must run inside the write transaction of the change. Where WITH
 * clauses can write (PostgreSQL), the change, the event and its deliveries are one statement; `last`: the
 * caller runs no statement after it (Executor.last).
 */
export async function raise(
  x: Executor,
  e: { accountId: number; type: EventType; objectId: number; objectKind: string; content: TreeObject; now: number },
  /** the change's own statement, if the caller has not run it yet: sent in the same round trip where possible */
  change?: { sql: string; params: unknown[] },
  options: { last?: boolean } = {},
): Promise<RaisedEvent> {
  const id = await x.nextId();
  const content = stringifyJsonKept(e.content);
  const event = [e.accountId, id, e.type, e.objectId, e.objectKind, content, e.now];
  const fanOut = FAN_OUT;
  const fanOutArgs = [id, e.now, e.now, e.now, e.accountId, e.type, e.objectKind];
  let deliveries: number;
  if (x.dialect.writableCte) {
    // One round trip for the change, its event and its deliveries (PostgreSQL runs every data-modifying
    // WITH clause, referenced or not, within the one statement).
    const c = change ? `c AS (${change.sql}), ` : '';
    const before = [...(change?.params ?? []), ...event];
    if (options.last) x.last?.();
    if (x.handoff?.takesAll()) {
      // A delivery engine here takes them all, leased by the same statement (delivery/handoff.ts).
      const { owner, leaseMs } = x.handoff;
      const rows = await x.all<MatchedHook & { leased: boolean }>(fanOutLeasingSql(`${c}e AS (${INSERT_EVENT}), `), [
        ...before,
        ...[id, e.now, e.now + leaseMs, owner, e.now, e.now],
        ...[e.accountId, e.type, e.objectKind, e.now],
      ]);
      deliveries = handOverLeased(x.handoff, rows, { ...e, eventId: id, content });
    } else {
      // The statement's row count is the outer INSERT's: the deliveries.
      deliveries = (await x.run(`WITH ${c}e AS (${INSERT_EVENT}) ${fanOut}`, [...before, ...fanOutArgs])).changes;
    }
  } else {
    if (change) await x.run(change.sql, change.params);
    await x.run(INSERT_EVENT, event);
    // A delivery engine of this process takes what it can straight from here (delivery/handoff.ts); only
    // the rest is left for a claim.
    deliveries = x.handoff
      ? await fanOutHandingOff(x, x.handoff, { ...e, eventId: id, content })
      : (await x.run(fanOut, fanOutArgs)).changes;
  }
  if (deliveries > 0) x.deliveriesDue();
  return { id, type: e.type, objectId: e.objectId };
}
