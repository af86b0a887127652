// Activity reports (dialect §4): nextactions, calendar, followups, opportunities, activities, timetracking.
// Each report turns its parameters into conditions on the activities table that one of the migration-2
// indexes answers (created_at, updated_at, or typeid + completed + due, or responsible_id), then one query
// joins the parent item (which must not be in the trash) and gives the rows in the report's order.
//
// Terminology: `due` is the generated column holding an activity's one date that matters (task/follow-up
// due date, opportunity closing date, event start, time record date, call date); `completed` is 0/1;
// `responsible_id` is the user a task, follow-up, opportunity or time record is for (a group only in rows
// written before activities refused groups).
import type { Engine } from '../storage/port.js';
import { Errors } from '../errors.js';
import { formatDate, type Tree, type TreeObject } from '../dialect/tree.js';
import { activityKindByTypeid, activityName, itemKindByTypeid, OPPORTUNITY_STATUSES, type FieldDef } from './kinds.js';
import { fieldDefsFor, type Ctx } from './items.js';
import { parseDate, parseFlag, parseId, type Value } from './values.js';

export const REPORT_NAMES = ['nextactions', 'calendar', 'followups', 'opportunities', 'activities', 'timetracking'];

/** How each report nests its rows in XML: container and row element. JSON keys rows by id instead. */
export const REPORT_XML: Record<string, { container: string; row: string }> = {
  nextactions: { container: 'activities', row: 'activity' },
  calendar: { container: 'activities', row: 'activity' },
  followups: { container: 'followups', row: 'followup' },
  opportunities: { container: 'opportunities', row: 'opportunity' },
  activities: { container: 'activities', row: 'activity' },
  timetracking: { container: 'timerecords', row: 'timerecord' },
};

export const MAX_REPORT_ROWS = 5000;
const DAY = 86_400_000;

const T = { event: 4, followup: 6, task: 14, timerecord: 15, opportunity: 32 };

interface Query {
  where: string[];
  args: unknown[];
  order: string;
}

/** Only what a row shows: each selected column costs time on a report of thousands of rows. */
interface ReportRow {
  id: number;
  parent_id: number;
  typeid: number;
  fields: string;
  creator_id: number;
  modificator_id: number;
  created_at: number;
  updated_at: number;
  item_typeid: number;
  /** the item columns below only with itemsdata=1 */
  item_name?: string;
  item_fields?: string;
  item_ownership?: number;
  item_created_at?: number;
  item_updated_at?: number;
}

export interface Report {
  name: string;
  count: number;
  /** rows keyed by activity id, in the report's order */
  rows: Map<string, TreeObject>;
}

// ------------------------------------------------------------------------------------------ parameters

function param(p: TreeObject, key: string): string {
  const v = p[key];
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') throw Errors.badRequest(key, `${key} must be a single value`);
  return String(v).trim();
}

function csv(p: TreeObject, key: string): string[] {
  return param(p, key)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function idList(p: TreeObject, key: string, what: string): number[] {
  return csv(p, key).map((s) => {
    const id = parseId(s);
    if (id === null) throw Errors.badRequest(key, `${key} must be a comma-separated list of ${what}`);
    return id;
  });
}

/** A day as yyyy-mm-dd (a full date-time is cut to its UTC day). */
function day(p: TreeObject, key: string, text: string): string {
  const ms = parseDate(text);
  if (ms === null) throw Errors.badRequest(key, `${key} must be a date (yyyy-mm-dd), got "${text.slice(0, 40)}"`);
  return dayOf(ms);
}

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function addDays(d: string, n: number): string {
  return dayOf(Date.parse(`${d}T00:00:00Z`) + n * DAY);
}

/**
 * start/end as a half-open day range [from, to): end is inclusive on the wire. Without either, the window
 * is `days` long and ends today (looking back) or starts today (looking ahead); with start only, it is
 * `days` long from start (ahead) or runs to today (back).
 */
function dayRange(p: TreeObject, ctx: Ctx, days: number, direction: 'back' | 'ahead'): [string, string] {
  const today = dayOf(ctx.now);
  const s = param(p, 'start');
  const e = param(p, 'end');
  let start: string;
  let end: string;
  if (e) {
    end = day(p, 'end', e);
    start = s ? day(p, 'start', s) : addDays(end, -(days - 1));
  } else if (s) {
    start = day(p, 'start', s);
    end = direction === 'ahead' ? addDays(start, days - 1) : start > today ? start : today;
  } else {
    start = direction === 'ahead' ? today : addDays(today, -(days - 1));
    end = direction === 'ahead' ? addDays(today, days - 1) : today;
  }
  if (end < start) throw Errors.badRequest('end', 'end must not be before start');
  return [start, addDays(end, 1)];
}

const msOf = (d: string) => Date.parse(`${d}T00:00:00Z`);

/**
 * `due`: now (due today or overdue), next7 / next30 (due within that many days from today, overdue
 * included), nodate (no date), `from,to` (days, inclusive; either side may be empty), empty = any.
 */
function dueCondition(q: Query, p: TreeObject, ctx: Ctx): void {
  const due = param(p, 'due').toLowerCase();
  if (due === '' || due === 'all' || due === 'any') return;
  const today = dayOf(ctx.now);
  const upTo = (days: number) => {
    q.where.push('a.due < ?');
    q.args.push(addDays(today, days + 1));
  };
  if (due === 'now') upTo(0);
  else if (due === 'next7') upTo(7);
  else if (due === 'next30') upTo(30);
  else if (due === 'nodate') q.where.push('a.due IS NULL');
  else if (due.includes(',')) {
    const [from, to] = due.split(',').map((s) => s.trim());
    if (from) {
      q.where.push('a.due >= ?');
      q.args.push(day(p, 'due', from));
    }
    if (to) {
      q.where.push('a.due < ?');
      q.args.push(addDays(day(p, 'due', to), 1));
    }
    if (!from && !to) throw Errors.badRequest('due', 'due range needs a start or an end: from,to');
    if (!from) q.where.push('a.due IS NOT NULL');
  } else {
    throw Errors.badRequest('due', 'due must be now, next7, next30, nodate or from,to (yyyy-mm-dd)');
  }
}

/**
 * Who an activity is for: empty = anyone; 0 = no one; a user id = that user; a group id = the group and
 * each of its members.
 */
function responsibleCondition(q: Query, p: TreeObject, key: string, ctx: Ctx, column = 'a.responsible_id'): void {
  const text = param(p, key);
  if (text === '') return;
  if (text === '0') {
    q.where.push(`${column} IS NULL`);
    return;
  }
  const id = parseId(text);
  const { users, groups } = ctx.info.directory;
  if (id === null || (!users.has(id) && !groups.has(id))) {
    throw Errors.badRequest(key, `${key} must be the id of a user or group of this account (or 0 for no one)`);
  }
  const ids = [id, ...(groups.get(id)?.members ?? [])];
  q.where.push(`${column} IN (${ids.map(() => '?').join(',')})`);
  q.args.push(...ids);
}

function typeCondition(q: Query, typeids: number[]): void {
  q.where.push(`a.typeid IN (${typeids.map(() => '?').join(',')})`);
  q.args.push(...typeids);
}

function itemTypesCondition(q: Query, p: TreeObject): void {
  const types = idList(p, 'itemtypes', 'item typeids (1, 2, 40)');
  if (types.length === 0) return;
  for (const t of types) {
    if (!itemKindByTypeid.has(t)) throw Errors.badRequest('itemtypes', `${t} is not an item typeid (1, 2, 40)`);
  }
  q.where.push(`i.typeid IN (${types.map(() => '?').join(',')})`);
  q.args.push(...types);
}

/** A created_at / updated_at range; `changed` = created or updated in the range, which updated_at says. */
function timeRange(q: Query, column: string, range: [string, string]): void {
  q.where.push(`${column} >= ?`, `${column} < ?`);
  q.args.push(msOf(range[0]), msOf(range[1]));
}

const LAST: Record<string, string> = {
  created: 'a.created_at',
  updated: 'a.updated_at',
  changed: 'a.updated_at',
  completed: 'a.updated_at',
};

function lastParam(p: TreeObject, dflt: string | undefined): string | undefined {
  const last = param(p, 'last').toLowerCase() || dflt;
  if (last !== undefined && !Object.hasOwn(LAST, last)) {
    throw Errors.badRequest('last', 'last must be created, updated, changed or completed');
  }
  return last;
}

function applyLast(q: Query, last: string, range: [string, string]): void {
  timeRange(q, LAST[last], range);
  // updated = changed in the range but created before it; completed = done, last changed in the range.
  if (last === 'updated') {
    q.where.push('a.created_at < ?');
    q.args.push(msOf(range[0]));
  }
  if (last === 'completed') q.where.push('a.completed = 1');
}

// ------------------------------------------------------------------------------------------ the reports

type Builder = (p: TreeObject, ctx: ReportCtx) => Query;

const q0 = (): Query => ({ where: [], args: [], order: '' });

const builders: Record<string, Builder> = {
  /** Open tasks and follow-ups, soonest first; no date last. */
  nextactions(p, ctx) {
    const q = q0();
    typeCondition(q, [T.task, T.followup]);
    q.where.push('a.completed = 0');
    responsibleCondition(q, p, 'filter', ctx);
    dueCondition(q, p, ctx);
    q.order = 'a.due IS NULL, a.due, a.id';
    return q;
  },
  /** Events starting, and tasks and follow-ups due, between start and end (default: today and 6 more days). */
  calendar(p, ctx) {
    const q = q0();
    typeCondition(q, [T.event, T.task, T.followup]);
    // Both values of completed are named so that the (typeid, completed, due) index serves the date range.
    q.where.push('a.completed IN (0, 1)');
    const [from, to] = dayRange(p, ctx, 7, 'ahead');
    q.where.push('a.due >= ?', 'a.due < ?');
    q.args.push(from, to);
    const filter = param(p, 'filter');
    if (filter !== '') {
      // Events have no responsible user: their creator stands in.
      const sub = q0();
      responsibleCondition(
        sub,
        p,
        'filter',
        ctx,
        `CASE WHEN a.typeid = ${T.event} THEN a.creator_id ELSE a.responsible_id END`,
      );
      q.where.push(...sub.where);
      q.args.push(...sub.args);
    }
    q.order = 'a.due, a.id';
    return q;
  },
  /** Open follow-ups, soonest first. */
  followups(p, ctx) {
    const q = q0();
    typeCondition(q, [T.followup]);
    q.where.push('a.completed = 0');
    responsibleCondition(q, p, 'responsible', ctx);
    dueCondition(q, p, ctx);
    q.order = 'a.due IS NULL, a.due, a.id';
    return q;
  },
  /** Opportunities by closing date, optionally of some statuses. */
  opportunities(p, ctx) {
    const q = q0();
    typeCondition(q, [T.opportunity]);
    q.where.push('a.completed = 0'); // always 0 for opportunities: lets the due index serve the query
    responsibleCondition(q, p, 'filter', ctx);
    const statuses = csv(p, 'status').map((s) => {
      const match = OPPORTUNITY_STATUSES.find((x) => x.toLowerCase() === s.toLowerCase());
      if (!match) throw Errors.badRequest('status', `status must list ${OPPORTUNITY_STATUSES.join(', ')}`);
      return match;
    });
    if (statuses.length > 0) {
      q.where.push(
        `CAST(${ctx.dialect.jsonText('a.fields', 'status')} AS TEXT) IN (${statuses.map(() => '?').join(',')})`,
      );
      q.args.push(...statuses);
    }
    dueCondition(q, p, ctx);
    q.order = 'a.due IS NULL, a.due, a.id';
    return q;
  },
  /** Activities created / changed / completed between start and end (default: the last 7 days). */
  activities(p, ctx) {
    const q = q0();
    const last = lastParam(p, 'created')!;
    applyLast(q, last, dayRange(p, ctx, 7, 'back'));
    const types = idList(p, 'types', 'activity typeids');
    if (types.length > 0) typeCondition(q, types);
    // Whose change: the creator for created, else the last modifier.
    const users = idList(p, 'users', 'user ids');
    if (users.length > 0) {
      q.where.push(
        `${last === 'created' ? 'a.creator_id' : 'a.modificator_id'} IN (${users.map(() => '?').join(',')})`,
      );
      q.args.push(...users);
    }
    const categories = idList(p, 'categories', 'category ids');
    if (categories.length > 0) {
      q.where.push(
        `EXISTS (SELECT 1 FROM item_categories ic WHERE ic.account_id = a.account_id AND ic.item_id = a.parent_id AND ic.category_id IN (${categories.map(() => '?').join(',')}))`,
      );
      q.args.push(...categories);
    }
    itemTypesCondition(q, p);
    q.order = `${LAST[last]}, a.id`;
    return q;
  },
  /** Time records dated between start and end (or created/changed then, with `last`). */
  timetracking(p, ctx) {
    const q = q0();
    typeCondition(q, [T.timerecord]);
    const range = dayRange(p, ctx, 7, 'back');
    const last = lastParam(p, undefined);
    if (last) {
      applyLast(q, last, range);
      q.order = `${LAST[last]}, a.id`;
    } else {
      q.where.push('a.completed = 0', 'a.due >= ?', 'a.due < ?'); // completed: see opportunities
      q.args.push(range[0], range[1]);
      q.order = 'a.due, a.id';
    }
    const flag = (key: string) => `COALESCE(CAST(${ctx.dialect.jsonText('a.fields', key)} AS TEXT), '0') = '1'`;
    const filter = param(p, 'filter').toLowerCase();
    if (filter === 'invoiced') q.where.push(flag('invoiced'));
    else if (filter === 'billable') q.where.push(flag('billable'));
    else if (filter === 'non-billable' || filter === 'nonbillable') q.where.push(`NOT ${flag('billable')}`);
    else if (filter !== '' && filter !== 'all') {
      throw Errors.badRequest('filter', 'filter must be invoiced, billable or non-billable');
    }
    itemTypesCondition(q, p);
    return q;
  },
};

// ------------------------------------------------------------------------------------------ running

const ROW_COLUMNS =
  'a.id, a.parent_id, a.typeid, a.fields, a.creator_id, a.modificator_id, a.created_at, a.updated_at, i.typeid AS item_typeid';
const ITEM_COLUMNS =
  'i.name AS item_name, i.fields AS item_fields, i.ownership AS item_ownership, i.created_at AS item_created_at, i.updated_at AS item_updated_at';

function userName(ctx: Ctx, id: Value): string {
  const dir = ctx.info.directory;
  return dir.users.get(id as number)?.name ?? dir.groups.get(id as number)?.name ?? '';
}

/** The values of the given fields in their order, each user id with its name beside it (`x_cn`). */
function fieldValues(values: Record<string, Value>, defs: readonly FieldDef[], ctx: Ctx): TreeObject {
  const out: TreeObject = {};
  for (const def of defs) {
    const v = values[def.name];
    if (v === undefined || v === null) continue;
    out[def.name] = v;
    if (def.type === 'user') out[`${def.name}_cn`] = userName(ctx, v);
  }
  return out;
}

function itemData(r: ReportRow, ctx: Ctx): TreeObject {
  const kind = itemKindByTypeid.get(r.item_typeid);
  const values = JSON.parse(r.item_fields ?? '{}') as Record<string, Value>;
  return {
    id: r.parent_id,
    name: r.item_name ?? '',
    typeid: r.item_typeid,
    created: formatDate(r.item_created_at),
    updated: formatDate(r.item_updated_at),
    ownership: r.item_ownership ?? null,
    fields: kind ? fieldValues(values, fieldDefsFor(kind, ctx.info), ctx) : {},
  };
}

/**
 * One row: the activity as an item's `show` lists it (same fields, same `_cn` names, upload metadata after
 * the kind's fields), plus parenttypeid. Built here rather than with activityTree so that the fields JSON
 * is parsed once per row.
 */
function rowTree(r: ReportRow, ctx: Ctx, withItem: boolean): TreeObject {
  const kind = activityKindByTypeid.get(r.typeid);
  const values = JSON.parse(r.fields) as Record<string, Value>;
  const fields = fieldValues(values, kind?.fields ?? [], ctx);
  for (const [k, v] of Object.entries(values)) if (!Object.hasOwn(fields, k) && v !== null) fields[k] = v;
  const out: TreeObject = {
    id: r.id,
    name: activityName(values),
    typeid: r.typeid,
    segment: kind?.segment ?? '',
    parent: r.parent_id,
    parenttypeid: r.item_typeid,
    created: formatDate(r.created_at),
    updated: formatDate(r.updated_at),
    creatorid: r.creator_id,
    modificatorid: r.modificator_id,
    fields,
  };
  if (withItem) out.item = itemData(r, ctx);
  return out;
}

export interface ReportCtx extends Ctx {
  dialect: Engine['dialect'];
}

export interface ReportQuery {
  name: string;
  /** the page of rows; its last two parameters are LIMIT and OFFSET */
  sql: string;
  countSql: string;
  args: unknown[];
  limit: number;
  offset: number;
  withItem: boolean;
}

/** The SQL of report `name` with parameters `p`: pure, so tests can ask the planner about it. */
export function reportQuery(dialect: Engine['dialect'], ctx: Ctx, name: string, p: TreeObject): ReportQuery {
  const build = Object.hasOwn(builders, name) ? builders[name] : undefined;
  if (!build) throw Errors.notFound('report', `Unknown report "${name}" (${REPORT_NAMES.join(', ')})`);
  const q = build(p, { ...ctx, dialect });
  const limitText = param(p, 'limit');
  const offsetText = param(p, 'offset');
  for (const [k, v] of [
    ['limit', limitText],
    ['offset', offsetText],
  ]) {
    if (v !== '' && !/^\d{1,9}$/.test(v)) throw Errors.badRequest(k, `${k} must be a whole number`);
  }
  const where = ['a.account_id = ?', 'a.deleted_at IS NULL', ...q.where].join(' AND ');
  // The parent must exist and not be in the trash: its activities are out of sight with it.
  param(p, 'itemsdata'); // one value, not a list or a structure
  const withItem = parseFlag(p.itemsdata) === 1; // 1 or JSON true
  const columns = withItem ? `${ROW_COLUMNS}, ${ITEM_COLUMNS}` : ROW_COLUMNS;
  const from = `FROM activities a JOIN items i ON i.account_id = a.account_id AND i.id = a.parent_id AND i.deleted_at IS NULL`;
  return {
    name,
    sql: `SELECT ${columns} ${from} WHERE ${where} ORDER BY ${q.order} LIMIT CAST(? AS INTEGER) OFFSET CAST(? AS INTEGER)`,
    countSql: `SELECT COUNT(*) AS n ${from} WHERE ${where}`,
    args: [ctx.actor.accountId, ...q.args],
    limit: Math.min(Math.max(Number(limitText || MAX_REPORT_ROWS), 1), MAX_REPORT_ROWS),
    offset: Number(offsetText || 0),
    withItem,
  };
}

/** Runs report `name` with parameters `p` (query string merged over the body). */
export async function runReport(engine: Engine, ctx: Ctx, name: string, p: TreeObject): Promise<Report> {
  const q = reportQuery(engine.dialect, ctx, name, p);
  return engine.read(async (x) => {
    const rows = await x.all<ReportRow>(q.sql, [...q.args, q.limit, q.offset]);
    // The count costs a second pass only when the page is not the whole answer.
    const count =
      q.offset === 0 && rows.length < q.limit
        ? rows.length
        : Number((await x.get<{ n: number }>(q.countSql, q.args))?.n ?? 0);
    const out = new Map<string, TreeObject>();
    for (const r of rows) out.set(String(r.id), rowTree(r, ctx, q.withItem));
    return { name, count, rows: out };
  });
}

/** The report as the wire shows it: JSON keys rows by id; XML nests them in the report's container. */
export function reportBody(report: Report, format: 'xml' | 'json'): Map<string, Tree> {
  const body = new Map<string, Tree>([['count', report.count]]);
  if (format === 'json') {
    for (const [id, row] of report.rows) body.set(id, row);
  } else {
    const names = REPORT_XML[report.name];
    body.set(names.container, { [names.row]: [...report.rows.values()] });
  }
  return body;
}
