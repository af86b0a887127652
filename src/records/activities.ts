// Activities (notes, tasks, events, follow-ups, calls, opportunities, time records, …) under a parent
// item: create, update, delete to the trash, restore, and insertion of an activity template.
import type { Engine, Executor } from '../storage/port.js';
import { ApiError, Errors } from '../errors.js';
import { formatDate, type TreeObject } from '../dialect/tree.js';
import {
  activityKindBySegment,
  activityName,
  OPPORTUNITY_STATUSES,
  type ActivityKind,
  type ItemKind,
} from './kinds.js';
import {
  asList,
  fieldErrors,
  isBlank,
  isNameCarrier,
  isObject,
  normaliseValue,
  notAUser,
  parseId,
  ValueError,
  type Value,
} from './values.js';
import { raise, type EventType } from './events.js';
import type { AccountInfo } from './account-cache.js';
import type { Ctx } from './items.js';
import { getItemRow, type ItemRow } from './items.js';

export interface ActivityRow {
  account_id: number;
  id: number;
  parent_id: number;
  segment: string;
  typeid: number;
  fields: string;
  position: number;
  creator_id: number;
  modificator_id: number;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

const ACTIVITY_COLUMNS =
  'account_id, id, parent_id, segment, typeid, fields, position, creator_id, modificator_id, created_at, updated_at, deleted_at';

/** Positions are spaced so that before/after can usually slot an activity in without renumbering. */
const POSITION_STEP = 1024;

function fieldsOut(a: ActivityRow, info: AccountInfo): TreeObject {
  const kind = activityKindBySegment.get(a.segment);
  const values = JSON.parse(a.fields) as Record<string, Value>;
  const out: TreeObject = {};
  for (const def of kind?.fields ?? []) {
    const v = values[def.name];
    if (v === undefined || v === null) continue;
    out[def.name] = v;
    if (def.type === 'user') out[`${def.name}_cn`] = info.directory.users.get(v as number)?.name ?? '';
  }
  for (const [k, v] of Object.entries(values)) if (!Object.hasOwn(out, k) && v !== null) out[k] = v; // upload metadata
  return out;
}

/**
 * An activity on the wire. Inside an item's `show` it names its parent `parent`; as an event's content it
 * names it `item` and adds `parenttypeid` (dialect §6).
 */
export function activityTree(a: ActivityRow, parentTypeid: number, info: AccountInfo, inShow: boolean): TreeObject {
  const values = JSON.parse(a.fields) as Record<string, unknown>;
  const head: TreeObject = { id: a.id, name: activityName(values), typeid: a.typeid };
  if (inShow) head.parent = a.parent_id;
  else {
    head.item = a.parent_id;
    head.parenttypeid = parentTypeid;
  }
  return {
    ...head,
    segment: a.segment,
    created: formatDate(a.created_at),
    updated: formatDate(a.updated_at),
    creatorid: a.creator_id,
    modificatorid: a.modificator_id,
    fields: fieldsOut(a, info),
  };
}

/**
 * The keys an activity body takes at its top level (dialect §3): a create its parent, its data and where
 * to put it (before or after a sibling); an update its data and a new parent; a template insertion its
 * parent and data/templateid (templateid also at the top level, as it always was read there).
 */
const BODY_KEYS = {
  create: ['parent', 'data', 'before', 'after'],
  update: ['parent', 'data'],
  template: ['parent', 'data', 'templateid'],
} as const;

/**
 * Names every key of an activity body that its request does not take (into `errors`): a misspelt <data> or
 * parent is refused, never ignored. A field of the segment written outside data is told where it belongs.
 */
function unknownBodyKeys(
  tree: TreeObject,
  request: keyof typeof BODY_KEYS,
  kind: ActivityKind | undefined,
  errors: Record<string, string>,
): void {
  const known: readonly string[] = BODY_KEYS[request];
  for (const key of Object.keys(tree)) {
    if (known.includes(key)) continue;
    if (request === 'update' && (key === 'before' || key === 'after')) {
      errors[key] = 'Unknown field for an update: before and after only place a new activity';
    } else if (kind?.fields.some((f) => f.name === key)) {
      errors[key] =
        `Unknown field: ${key} is a field of a ${kind.segment}, it goes inside data (<data><${key}>…</${key}></data>)`;
    } else errors[key] = 'Unknown field';
  }
}

/**
 * Checks an activity's data against its segment's fields; collects every error (into `errors`, with any
 * found before) before failing.
 */
export function parseActivityData(
  kind: ActivityKind,
  data: unknown,
  info: AccountInfo,
  errors: Record<string, string> = fieldErrors(),
): Record<string, Value> {
  const out: Record<string, Value> = {};
  const fields = isObject(data) ? data : {};
  if (fields !== data && data !== undefined && data !== null && data !== '') {
    errors.data = 'data must contain the activity fields, e.g. <data><title>…</title></data>';
  }
  const byName = new Map(kind.fields.map((f) => [f.name, f]));
  for (const [key, raw] of Object.entries(fields)) {
    // The name shown beside a user field (assignedto_cn, …) is read-only: ignored, as on records.
    if (isNameCarrier(key, byName)) continue;
    const def = byName.get(key);
    if (!def) {
      errors[key] = `Unknown field for a ${kind.segment}`;
      continue;
    }
    try {
      const v = normaliseValue(def, raw);
      // A task's assignee, a follow-up's or opportunity's responsible, a time record's person: one user of
      // the account. A group is refused by name; any other id (another account's user too) as unknown.
      if (def.type === 'user' && v !== null && !info.directory.users.has(v as number)) {
        throw new ValueError(
          info.directory.groups.has(v as number)
            ? `must be a user, not a group (${v} is a group of this account; see GET /ownership/)`
            : notAUser(v),
        );
      }
      if (kind.segment === 'opportunity' && key === 'status' && v !== null) {
        const match = OPPORTUNITY_STATUSES.find((s) => s.toLowerCase() === String(v).toLowerCase());
        if (!match) throw new ValueError(`must be one of ${OPPORTUNITY_STATUSES.join(', ')}`);
        out[key] = match;
        continue;
      }
      if (
        kind.segment === 'opportunity' &&
        key === 'probability' &&
        v !== null &&
        ((v as number) < 0 || (v as number) > 100)
      ) {
        throw new ValueError('must be between 0 and 100');
      }
      out[key] = v;
    } catch (e) {
      if (!(e instanceof ValueError)) throw e;
      errors[key] = `${def.label} ${e.message}`;
    }
  }
  if (Object.keys(errors).length) throw Errors.invalid(errors);
  return out;
}

/** An activity of a template: its segment and its data, checked as an activity create checks them. */
export interface TemplateActivity {
  segment: string;
  data: Record<string, Value>;
}

/**
 * Checks a template's activities (`<activity><segment>task</segment><data>…</data></activity>`, one or a
 * list) as activity creates: when a template is saved, and again when it is inserted, since the account's
 * users may have changed (and older templates were checked less). Errors go into `errors` as
 * activities.{i}.{field}.
 */
export function parseTemplateActivities(
  node: unknown,
  info: AccountInfo,
  errors: Record<string, string>,
): TemplateActivity[] {
  const out: TemplateActivity[] = [];
  for (const [i, raw] of asList(node).entries()) {
    const obj = isObject(raw) ? raw : {};
    const kind = activityKindBySegment.get(typeof obj.segment === 'string' ? obj.segment : '');
    if (!kind || kind.upload) {
      errors[`activities.${i}.segment`] =
        'segment must be an activity segment (task, note, event, …; not file or photo)';
      continue;
    }
    const own = fieldErrors();
    try {
      out.push({ segment: kind.segment, data: parseActivityData(kind, obj.data, info, own) });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      for (const [k, v] of Object.entries(own)) errors[`activities.${i}.${k}`] = v;
    }
  }
  return out;
}

export async function getActivityRow(
  x: Executor,
  accountId: number,
  id: number,
  opts: { lock?: string; deleted?: boolean } = {},
) {
  return x.get<ActivityRow>(
    `SELECT ${ACTIVITY_COLUMNS} FROM activities WHERE account_id = ? AND id = ? AND deleted_at IS ${opts.deleted ? 'NOT NULL' : 'NULL'} ${opts.lock ?? ''}`,
    [accountId, id],
  );
}

/**
 * Activity `id` of segment `kind` (in the trash when `deleted`) whose parent is an item of `itemKind`, with
 * that parent (in the trash or not). Undefined when there is no such activity: another segment, another
 * account, or a parent of another kind all answer like an id that exists nowhere.
 */
async function activityUnder(
  x: Executor,
  accountId: number,
  itemKind: ItemKind,
  kind: ActivityKind,
  id: number,
  opts: { lock?: string; deleted?: boolean } = {},
): Promise<{ a: ActivityRow; parent: ItemRow } | undefined> {
  const a = await getActivityRow(x, accountId, id, opts);
  if (!a || a.segment !== kind.segment) return undefined;
  const parent =
    (await getItemRow(x, accountId, a.parent_id)) ?? (await getItemRow(x, accountId, a.parent_id, { deleted: true }));
  if (!parent || parent.kind !== itemKind.kind) return undefined;
  return { a, parent };
}

/** Gives the activities of a parent positions POSITION_STEP apart, keeping their order. */
async function respace(x: Executor, acc: number, parentId: number): Promise<void> {
  const rows = await x.all<{ id: number }>(
    'SELECT id FROM activities WHERE account_id = ? AND parent_id = ? ORDER BY position, id',
    [acc, parentId],
  );
  for (const [i, r] of rows.entries()) {
    await x.run('UPDATE activities SET position = ? WHERE account_id = ? AND id = ?', [
      (i + 1) * POSITION_STEP,
      acc,
      r.id,
    ]);
  }
}

async function positionFor(x: Executor, acc: number, parentId: number, tree: TreeObject): Promise<number> {
  for (const side of ['before', 'after'] as const) {
    if (isBlank(tree[side])) continue;
    const refId = parseId(tree[side]);
    const ref = refId === null ? undefined : await getActivityRow(x, acc, refId);
    if (!ref || ref.parent_id !== parentId)
      throw Errors.badRequest(side, `${side} must be the id of an activity of the same parent`);
    const neighbour = await x.get<{ position: number }>(
      side === 'before'
        ? 'SELECT MAX(position) AS position FROM activities WHERE account_id = ? AND parent_id = ? AND position < ?'
        : 'SELECT MIN(position) AS position FROM activities WHERE account_id = ? AND parent_id = ? AND position > ?',
      [acc, parentId, ref.position],
    );
    const other =
      neighbour?.position ?? (side === 'before' ? ref.position - 2 * POSITION_STEP : ref.position + 2 * POSITION_STEP);
    if (Math.abs(other - ref.position) < 2) {
      // Bug fix: once a gap is used up (about ten inserts into the same spot) the midpoint equalled a
      // neighbour's position and the new activity landed out of order. Respace the parent's activities
      // (same order, POSITION_STEP apart) and look again; this terminates because every gap is then wide.
      await respace(x, acc, parentId);
      return positionFor(x, acc, parentId, tree);
    }
    return Math.floor((ref.position + other) / 2);
  }
  const last = await x.get<{ position: number | null }>(
    'SELECT MAX(position) AS position FROM activities WHERE account_id = ? AND parent_id = ?',
    [acc, parentId],
  );
  return (last?.position ?? 0) + POSITION_STEP;
}

const KIND_NOUN: Record<string, string> = { contact: 'contact', company: 'company', projectblog: 'project blog' };

/**
 * The message for a parent that a request needs and does not have (absent or empty: null, "", <parent/>),
 * as distinct from one that is there and not an id: what to send, for the path's kind of item.
 */
export function parentRequired(itemKind: ItemKind, belongs = 'the activity belongs to'): string {
  return `parent is required: the id of the ${KIND_NOUN[itemKind.kind] ?? itemKind.kind} ${belongs}`;
}

const PARENT_NOT_AN_ID = 'parent must be the id of an item';

/**
 * Checks a request's `parent` before anything is read, into `errors` beside the request's other refusals:
 * absent or empty is "required" where the request needs one (`belongs` says what for; an update's empty
 * parent leaves the activity where it is), and one that is there and not an id is refused. Whether the id is
 * an item of the path's kind in the account is for the write to tell (parentRow: 404).
 */
export function checkParent(
  itemKind: ItemKind,
  raw: unknown,
  errors: Record<string, string>,
  belongs: string | null = 'the activity belongs to',
): void {
  if (isBlank(raw)) {
    if (belongs !== null) errors.parent = parentRequired(itemKind, belongs);
  } else if (parseId(raw) === null) errors.parent = PARENT_NOT_AN_ID;
}

async function parentRow(x: Executor, ctx: Ctx, itemKind: ItemKind, rawParent: unknown) {
  const parentId = parseId(rawParent);
  if (parentId === null) throw Errors.badRequest('parent', PARENT_NOT_AN_ID);
  const parent = await getItemRow(x, ctx.actor.accountId, parentId);
  if (!parent || parent.kind !== itemKind.kind)
    throw Errors.notFound('parent', `No ${itemKind.kind} with id ${parentId}`);
  return parent;
}

function reply(a: ActivityRow, values: Record<string, unknown>): TreeObject {
  return { item: { id: a.id, name: activityName(values), typeid: a.typeid, parent: a.parent_id } };
}

async function insertActivity(
  x: Executor,
  ctx: Ctx,
  kind: ActivityKind,
  parent: { id: number; typeid: number },
  fields: Record<string, Value>,
  position: number,
): Promise<ActivityRow> {
  const clean: Record<string, Value> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== null) clean[k] = v;
  // An open task or follow-up says so (dialect §6: fields/{completed,…}): a receiver testing completed == 0
  // must not find it missing until someone ticks and unticks it.
  if (clean.completed === undefined && kind.fields.some((f) => f.name === 'completed')) clean.completed = 0;
  const a: ActivityRow = {
    account_id: ctx.actor.accountId,
    id: await x.nextId(),
    parent_id: parent.id,
    segment: kind.segment,
    typeid: kind.typeid,
    fields: JSON.stringify(clean),
    position,
    creator_id: ctx.actor.userId,
    modificator_id: ctx.actor.userId,
    created_at: ctx.now,
    updated_at: ctx.now,
    deleted_at: null,
  };
  // The insert travels with its event and deliveries: one statement (one round trip) on PostgreSQL.
  const insert = {
    sql: `INSERT INTO activities (${ACTIVITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    params: [
      a.account_id,
      a.id,
      a.parent_id,
      a.segment,
      a.typeid,
      a.fields,
      a.position,
      a.creator_id,
      a.modificator_id,
      a.created_at,
      a.updated_at,
      a.deleted_at,
    ],
  };
  await raise(
    x,
    {
      accountId: a.account_id,
      type: 'activities.create',
      objectId: a.id,
      objectKind: kind.segment,
      content: activityTree(a, parent.typeid, ctx.info, false),
      now: ctx.now,
    },
    insert,
  );
  return a;
}

export async function createActivity(
  engine: Engine,
  ctx: Ctx,
  itemKind: ItemKind,
  kind: ActivityKind,
  tree: TreeObject,
  extraFields: Record<string, Value> = {},
): Promise<TreeObject> {
  const errors = fieldErrors();
  unknownBodyKeys(tree, 'create', kind, errors);
  // A create has nowhere to leave an activity: an absent or empty parent is a missing one.
  checkParent(itemKind, tree.parent, errors);
  const fields = { ...parseActivityData(kind, tree.data, ctx.info, errors), ...extraFields };
  return engine.write(async (x) => {
    const parent = await parentRow(x, ctx, itemKind, tree.parent);
    const position = await positionFor(x, ctx.actor.accountId, parent.id, tree);
    const a = await insertActivity(x, ctx, kind, parent, fields, position);
    return reply(a, fields);
  });
}

export async function updateActivity(
  engine: Engine,
  ctx: Ctx,
  itemKind: ItemKind,
  kind: ActivityKind,
  id: number,
  tree: TreeObject,
): Promise<TreeObject> {
  const errors = fieldErrors();
  unknownBodyKeys(tree, 'update', kind, errors);
  checkParent(itemKind, tree.parent, errors, null);
  const input = parseActivityData(kind, tree.data, ctx.info, errors);
  const acc = ctx.actor.accountId;
  return engine.write(async (x) => {
    const found = await activityUnder(x, acc, itemKind, kind, id, { lock: engine.dialect.forUpdate });
    if (!found) throw Errors.notFound('id', `No ${kind.segment} with id ${id}`);
    const { a } = found;
    let parent = found.parent;
    if (parent.deleted_at !== null) throw Errors.notFound('id', `The parent of ${kind.segment} ${id} is in the trash`);
    let changed = false;
    let parentId = a.parent_id;
    let position = a.position;
    // An empty parent (null, "", <parent/>) leaves the activity where it is, as an absent one does.
    if (!isBlank(tree.parent) && parseId(tree.parent) !== a.parent_id) {
      parent = await parentRow(x, ctx, itemKind, tree.parent);
      parentId = parent.id;
      position = await positionFor(x, acc, parentId, {});
      changed = true;
    }
    const values = JSON.parse(a.fields) as Record<string, Value>;
    for (const [k, v] of Object.entries(input)) {
      if ((values[k] ?? null) === v) continue;
      changed = true;
      if (v === null) delete values[k];
      else values[k] = v;
    }
    if (!changed) return reply(a, values);
    const next: ActivityRow = {
      ...a,
      parent_id: parentId,
      position,
      fields: JSON.stringify(values),
      modificator_id: ctx.actor.userId,
      updated_at: Math.max(ctx.now, a.updated_at),
    };
    await x.run(
      'UPDATE activities SET parent_id = ?, position = ?, fields = ?, modificator_id = ?, updated_at = ? WHERE account_id = ? AND id = ?',
      [next.parent_id, next.position, next.fields, next.modificator_id, next.updated_at, acc, id],
    );
    await raise(x, {
      accountId: acc,
      type: 'activities.update',
      objectId: id,
      objectKind: kind.segment,
      content: activityTree(next, parent.typeid, ctx.info, false),
      now: ctx.now,
    });
    return reply(next, values);
  });
}

export async function trashActivity(
  engine: Engine,
  ctx: Ctx,
  itemKind: ItemKind,
  kind: ActivityKind,
  id: number,
  restore: boolean,
): Promise<TreeObject> {
  const acc = ctx.actor.accountId;
  return engine.write(async (x) => {
    const found = await activityUnder(x, acc, itemKind, kind, id, {
      lock: engine.dialect.forUpdate,
      deleted: restore,
    });
    if (!found) {
      if (await activityUnder(x, acc, itemKind, kind, id, { deleted: !restore })) {
        throw Errors.conflict(
          'id',
          restore ? `${kind.segment} ${id} is not in the trash` : `${kind.segment} ${id} is already in the trash`,
        );
      }
      throw Errors.notFound('id', `No ${kind.segment} with id ${id}`);
    }
    const { a, parent } = found;
    if (parent.deleted_at !== null) throw Errors.notFound('id', `The parent of ${kind.segment} ${id} is in the trash`);
    const next: ActivityRow = {
      ...a,
      deleted_at: restore ? null : ctx.now,
      modificator_id: ctx.actor.userId,
      updated_at: Math.max(ctx.now, a.updated_at),
    };
    await x.run(
      'UPDATE activities SET deleted_at = ?, modificator_id = ?, updated_at = ? WHERE account_id = ? AND id = ?',
      [next.deleted_at, next.modificator_id, next.updated_at, acc, id],
    );
    const type: EventType = restore ? 'activities.restore' : 'activities.delete';
    await raise(x, {
      accountId: acc,
      type,
      objectId: id,
      objectKind: kind.segment,
      content: activityTree(next, parent.typeid, ctx.info, false),
      now: ctx.now,
    });
    return reply(next, JSON.parse(next.fields) as Record<string, unknown>);
  });
}

/** `POST /{kind}/template/`: copies every activity of a template under the parent, one event each. */
export async function insertTemplate(
  engine: Engine,
  ctx: Ctx,
  itemKind: ItemKind,
  tree: TreeObject,
): Promise<TreeObject> {
  const errors = fieldErrors();
  unknownBodyKeys(tree, 'template', undefined, errors);
  checkParent(itemKind, tree.parent, errors, "the template's activities go under");
  const data = isObject(tree.data) ? tree.data : {};
  for (const key of Object.keys(data)) {
    if (key !== 'templateid') errors[key] = 'Unknown field for a template insertion: data takes templateid only';
  }
  // An empty data/templateid (null, "", <templateid/>) is read as an absent one: the top-level templateid counts.
  const templateId = parseId(isBlank(data.templateid) ? tree.templateid : data.templateid);
  if (templateId === null) errors.templateid = 'data/templateid must be the id of an activity template';
  if (Object.keys(errors).length) throw Errors.invalid(errors);
  const acc = ctx.actor.accountId;
  return engine.write(async (x) => {
    const parent = await parentRow(x, ctx, itemKind, tree.parent);
    const template = await x.get<{ activities: string }>(
      'SELECT activities FROM templates WHERE account_id = ? AND id = ?',
      [acc, templateId],
    );
    if (!template) throw Errors.notFound('templateid', `No activity template with id ${templateId}`);
    // Checked again as the activity creates they become: a user named in a template may have left the
    // account since it was saved, and templates saved by older versions were checked less (groups as users).
    const stored = fieldErrors();
    const list = parseTemplateActivities(JSON.parse(template.activities), ctx.info, stored);
    if (Object.keys(stored).length) {
      for (const [k, v] of Object.entries(stored)) {
        stored[k] = `Template ${templateId}: ${v}. Correct the template with PUT /templates/${templateId}/`;
      }
      throw Errors.invalid(stored);
    }
    let position = await positionFor(x, acc, parent.id, {});
    const created: TreeObject[] = [];
    for (const t of list) {
      const kind = activityKindBySegment.get(t.segment)!;
      const a = await insertActivity(x, ctx, kind, parent, t.data, position);
      position += POSITION_STEP;
      created.push(reply(a, t.data).item as TreeObject);
    }
    return { count: created.length, activities: { activity: created } };
  });
}
