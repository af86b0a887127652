// Records ("items": contacts, companies, project blogs): create, show, list, partial update, delete to the
// trash, restore, tags and related items — each change with its events, in one transaction.
import type { Actor } from '../accounts/accounts.js';
import type { Engine, Executor } from '../storage/port.js';
import { Errors } from '../errors.js';
import { formatDate, type Tree, type TreeObject } from '../dialect/tree.js';
import type { FieldDef, ItemKind } from './kinds.js';
import { itemKindByName } from './kinds.js';
import {
  asList,
  fieldErrors,
  isBlank,
  isNameCarrier,
  isObject,
  normaliseValue,
  notAUser,
  parseFlag,
  parseId,
  READ_ONLY_FIELDS,
  ValueError,
  type Value,
} from './values.js';
import { eventsForCreate, eventsForUpdate, raise, type EventType } from './events.js';
import type { AccountInfo } from './account-cache.js';
import { activityTree, type ActivityRow } from './activities.js';

export interface Ctx {
  actor: Actor;
  info: AccountInfo;
  now: number;
}

export interface ItemRow {
  account_id: number;
  id: number;
  kind: string;
  typeid: number;
  name: string;
  fields: string;
  ownership: number;
  assignedto: number | null;
  creator_id: number;
  modificator_id: number;
  created_at: number;
  updated_at: number;
  viewed_at: number | null;
  flagged: number;
  deleted_at: number | null;
}

const ITEM_COLUMNS =
  'account_id, id, kind, typeid, name, fields, ownership, assignedto, creator_id, modificator_id, created_at, updated_at, viewed_at, flagged, deleted_at';

interface KindFields {
  list: readonly FieldDef[];
  byName: ReadonlyMap<string, FieldDef>;
}

/**
 * A kind's fields for an account (the kind's own, then the account's custom ones), with their index by name:
 * built once per AccountInfo — the account cache renews it when the definitions may have changed — instead
 * of on every request (the index alone was a few µs of every create).
 */
const kindFields = new WeakMap<AccountInfo, Map<string, KindFields>>();

function fieldsOf(kind: ItemKind, info: AccountInfo): KindFields {
  let byKind = kindFields.get(info);
  if (!byKind) kindFields.set(info, (byKind = new Map()));
  let f = byKind.get(kind.kind);
  if (!f) {
    const list = [...kind.fields, ...(info.customFields.get(kind.kind) ?? [])];
    f = { list, byName: new Map(list.map((d) => [d.name, d])) };
    byKind.set(kind.kind, f);
  }
  return f;
}

export function fieldDefsFor(kind: ItemKind, info: AccountInfo): readonly FieldDef[] {
  return fieldsOf(kind, info).list;
}

interface ItemInput {
  fields: Record<string, Value>;
  ownership?: number;
  flagged?: number;
  addCategories: number[];
  removeCategories: number[];
  addRelated: { id: number; note: string }[];
  removeRelated: number[];
}

const STRUCTURAL = new Set(['ownership', 'flagged', 'categories', 'relateditems']);

/**
 * One of a body's add/remove lists (dialect §2): categories/add/category and relateditems/add/relatedto,
 * remove likewise. Described once, so that both are read, and refused, the same way.
 */
interface ListShape {
  /** the body's key: categories, relateditems */
  name: string;
  /** the element around each entry: category, relatedto */
  child: string;
  /** what the entries are, for messages */
  ids: string;
  /** how one entry may be written, for messages */
  entry: string;
  /** the keys an entry written as a structure may have beside its id (as show writes it) */
  beside: readonly string[];
  /** the accepted shape in every wire format, for messages */
  shape: string;
}

const CATEGORIES: ListShape = {
  name: 'categories',
  child: 'category',
  ids: 'tag ids',
  entry: 'a tag id, or <id>ID</id>',
  beside: ['name'],
  shape:
    '<categories><add><category>ID</category></add></categories> (JSON {"categories":{"add":{"category":[ID]}}}, ' +
    'form categories[add][category][]=ID; remove likewise)',
};

const RELATED: ListShape = {
  name: 'relateditems',
  child: 'relatedto',
  ids: 'item ids',
  entry: 'an item id, or <id>ID</id> with an optional <note>',
  beside: ['note', 'name', 'typeid'],
  shape:
    '<relateditems><add><relatedto><id>ID</id><note>…</note></relatedto></add></relateditems> ' +
    '(JSON {"relateditems":{"add":{"relatedto":[{"id":ID,"note":"…"}]}}}, ' +
    'form relateditems[add][relatedto][0][id]=ID&relateditems[add][relatedto][0][note]=…; remove likewise)',
};

/**
 * Nothing to do: absent, or empty in any wire's spelling — XML <categories/>, form categories=, JSON null,
 * "" (blanks too, as for every value: isBlank), {} or [] (PHP's json_encode writes an empty array as []).
 */
const isEmpty = (v: unknown): boolean =>
  isBlank(v) || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
const quoted = (key: string) => JSON.stringify(key.length > 40 ? `${key.slice(0, 37)}...` : key);

/** One entry of an add/remove list: its id, and the structure it was written as (none for a bare id). */
interface ListEntry {
  id: number;
  node?: TreeObject;
}

/**
 * The entries a body adds and removes under `raw`, in the shapes of dialect §2 only: add and remove, each
 * wrapping its entries in the shape's child element (one or a list; an id, or `<id>ID</id>` with the keys
 * show writes beside it). An empty (or null) list, add, remove or entry is nothing to do; any other shape is
 * an error, never ignored.
 */
function listChanges(raw: unknown, s: ListShape): { add: ListEntry[]; remove: ListEntry[]; error?: string } {
  const out: { add: ListEntry[]; remove: ListEntry[]; error?: string } = { add: [], remove: [] };
  if (isEmpty(raw)) return out;
  if (!isObject(raw)) return { ...out, error: `${s.name} must be ${s.shape}` };
  for (const key of Object.keys(raw)) {
    if (key !== 'add' && key !== 'remove') {
      return { ...out, error: `${s.name} has no ${quoted(key)}: it takes add and remove, ${s.shape}` };
    }
  }
  for (const op of ['add', 'remove'] as const) {
    const wrapper = raw[op];
    if (isEmpty(wrapper)) continue;
    const extra = isObject(wrapper) ? Object.keys(wrapper).find((k) => k !== s.child) : undefined;
    if (!isObject(wrapper) || !Object.hasOwn(wrapper, s.child) || extra !== undefined) {
      const what = extra === undefined ? '' : ` (not ${quoted(extra)})`;
      return { ...out, error: `${s.name}/${op} must wrap the ${s.ids} in ${s.child}${what}: ${s.shape}` };
    }
    for (const v of asList(wrapper[s.child])) {
      // An empty entry is nothing to do, as an empty list is: form category[]= (a select's "none"), XML
      // <category/>, JSON null or "" in a list, and a structure with nothing in it (a form's blank row).
      if (isEmpty(v)) continue;
      let node: TreeObject | undefined;
      if (isObject(v)) {
        const other = Object.keys(v).find((k) => k !== 'id' && !s.beside.includes(k));
        if (other !== undefined || !Object.hasOwn(v, 'id')) {
          return { ...out, error: `each ${s.name}/${op}/${s.child} must be ${s.entry}: ${s.shape}` };
        }
        if (Object.values(v).every(isEmpty)) continue;
        node = v;
      }
      const id = parseId(node === undefined ? v : node.id);
      if (id === null) return { ...out, error: `${s.name} must list ids` };
      out[op].push(node === undefined ? { id } : { id, node });
    }
  }
  return out;
}

/** Checks a create/update body against the kind's fields; collects every error before failing. */
export function parseItemInput(kind: ItemKind, tree: TreeObject, info: AccountInfo): ItemInput {
  const { byName } = fieldsOf(kind, info);
  const errors = fieldErrors();
  const input: ItemInput = { fields: {}, addCategories: [], removeCategories: [], addRelated: [], removeRelated: [] };
  for (const [key, raw] of Object.entries(tree)) {
    if (STRUCTURAL.has(key)) continue;
    // What show answers and input cannot change (creatorid, assignedto_cn, …): ignored, so a shown record can
    // be sent back as it is.
    if (READ_ONLY_FIELDS.has(key) || isNameCarrier(key, byName)) continue;
    const def = byName.get(key);
    if (!def) {
      errors[key] = 'Unknown field';
      continue;
    }
    try {
      const v = normaliseValue(def, raw);
      if (def.type === 'user' && v !== null && !info.directory.users.has(v as number)) {
        throw new ValueError(notAUser(v));
      }
      input.fields[key] = v;
    } catch (e) {
      if (!(e instanceof ValueError)) throw e;
      errors[key] = `${def.label} ${e.message}`;
    }
  }
  // Neither can be empty: an empty value leaves them as they are (on a create, the caller and 0).
  if (!isBlank(tree.ownership)) {
    const id = parseId(tree.ownership);
    if (id === null || (!info.directory.users.has(id) && !info.directory.groups.has(id))) {
      errors.ownership = 'ownership must be the id of a user or group of this account (see GET /ownership/)';
    } else input.ownership = id;
  }
  if (!isBlank(tree.flagged)) {
    // 1 or 0, JSON true or false (parseFlag: the one rule of 0/1 flags).
    const v = parseFlag(tree.flagged);
    if (v === undefined || v === null) errors.flagged = 'flagged must be 0 or 1';
    else input.flagged = v;
  }
  const cats = listChanges(tree.categories, CATEGORIES);
  if (cats.error !== undefined) errors.categories = cats.error;
  input.addCategories = cats.add.map((e) => e.id);
  input.removeCategories = cats.remove.map((e) => e.id);
  const rel = listChanges(tree.relateditems, RELATED);
  if (rel.error !== undefined) errors.relateditems = rel.error;
  else if ([...rel.add, ...rel.remove].some((e) => !['string', 'number'].includes(typeof (e.node?.note ?? '')))) {
    errors.relateditems = 'a note must be text';
  } else {
    input.addRelated = rel.add.map((e) => ({ id: e.id, note: String(e.node?.note ?? '') }));
    input.removeRelated = rel.remove.map((e) => e.id);
  }
  if (Object.keys(errors).length > 0) throw Errors.invalid(errors);
  return input;
}

// ---------------------------------------------------------------------------------------------- reading

export async function getItemRow(
  x: Executor,
  accountId: number,
  id: number,
  opts: { lock?: string; deleted?: boolean } = {},
): Promise<ItemRow | undefined> {
  return x.get<ItemRow>(
    `SELECT ${ITEM_COLUMNS} FROM items WHERE account_id = ? AND id = ? AND deleted_at IS ${opts.deleted ? 'NOT NULL' : 'NULL'} ${opts.lock ?? ''}`,
    [accountId, id],
  );
}

async function itemCategories(x: Executor, accountId: number, itemId: number): Promise<{ id: number; name: string }[]> {
  return x.all(
    `SELECT c.id, c.name FROM item_categories ic JOIN categories c ON c.account_id = ic.account_id AND c.id = ic.category_id
      WHERE ic.account_id = ? AND ic.item_id = ? ORDER BY c.name, c.id`,
    [accountId, itemId],
  );
}

async function relatedItems(
  x: Executor,
  accountId: number,
  itemId: number,
): Promise<{ id: number; name: string; typeid: number; note: string }[]> {
  return x.all(
    `SELECT i.id, i.name, i.typeid, r.note FROM related_items r JOIN items i ON i.account_id = r.account_id AND i.id = r.related_id
      WHERE r.account_id = ? AND r.item_id = ? AND i.deleted_at IS NULL ORDER BY i.id`,
    [accountId, itemId],
  );
}

function userName(info: AccountInfo, id: number | null | undefined): string {
  if (id === null || id === undefined) return '';
  return info.directory.users.get(id)?.name ?? info.directory.groups.get(id)?.name ?? '';
}

/**
 * The fields of an item as the wire shows them, with `x_cn` names beside user and company ids. `values`: the
 * record's fields as stored (its `fields` column, parsed).
 */
function fieldsTree(
  values: Record<string, Value>,
  defs: readonly FieldDef[],
  info: AccountInfo,
  companyNames: Map<number, string>,
  only?: Set<string>,
): TreeObject {
  const out: TreeObject = {};
  for (const def of defs) {
    if (only && !only.has(def.name)) continue;
    const v = values[def.name];
    if (v === undefined || v === null) continue;
    out[def.name] = v;
    if (def.type === 'user') out[`${def.name}_cn`] = userName(info, v as number);
    if (def.type === 'company') out[`${def.name}_cn`] = companyNames.get(v as number) ?? '';
  }
  return out;
}

const storedFields = (row: ItemRow) => JSON.parse(row.fields) as Record<string, Value>;

function itemHead(row: ItemRow, info: AccountInfo): TreeObject {
  return {
    id: row.id,
    name: row.name,
    typeid: row.typeid,
    created: formatDate(row.created_at),
    updated: formatDate(row.updated_at),
    viewed: formatDate(row.viewed_at),
    ownership: row.ownership,
    flagged: row.flagged,
    creatorid: row.creator_id,
    creatorname: userName(info, row.creator_id),
    modificatorid: row.modificator_id,
    modificatorname: userName(info, row.modificator_id),
  };
}

async function companyNamesFor(x: Executor, accountId: number, rows: ItemRow[]): Promise<Map<number, string>> {
  const ids = new Set<number>();
  for (const r of rows) {
    if (r.kind !== 'contact') continue;
    const c = (JSON.parse(r.fields) as Record<string, Value>).company;
    if (typeof c === 'number') ids.add(c);
  }
  if (ids.size === 0) return new Map();
  const list = [...ids];
  const found = await x.all<{ id: number; name: string }>(
    `SELECT id, name FROM items WHERE account_id = ? AND id IN (${list.map(() => '?').join(',')})`,
    [accountId, ...list],
  );
  return new Map(found.map((r) => [r.id, r.name]));
}

/** The full record: what `show` answers (without activities) and what every items.* event carries. */
export async function itemContent(x: Executor, ctx: Ctx, row: ItemRow): Promise<TreeObject> {
  const kind = itemKindByName.get(row.kind)!;
  // One after another: a transaction's connection runs one query at a time.
  const cats = await itemCategories(x, row.account_id, row.id);
  const related = await relatedItems(x, row.account_id, row.id);
  const companies = await companyNamesFor(x, row.account_id, [row]);
  return {
    item: {
      ...itemHead(row, ctx.info),
      fields: fieldsTree(storedFields(row), fieldDefsFor(kind, ctx.info), ctx.info, companies),
    },
    relateditems: { relatedto: related.map((r) => ({ id: r.id, name: r.name, typeid: r.typeid, note: r.note })) },
    categories: { category: cats.map((c) => ({ id: c.id, name: c.name })) },
  };
}

export async function showItem(engine: Engine, ctx: Ctx, kind: ItemKind, id: number): Promise<TreeObject> {
  return engine.read(async (x) => {
    const row = await getItemRow(x, ctx.actor.accountId, id);
    if (!row || row.kind !== kind.kind) throw Errors.notFound('id', `No ${kind.kind} with id ${id}`);
    const content = await itemContent(x, ctx, row);
    const activities = await x.all<ActivityRow>(
      `SELECT account_id, id, parent_id, segment, typeid, fields, position, creator_id, modificator_id, created_at, updated_at, deleted_at
         FROM activities WHERE account_id = ? AND parent_id = ? AND deleted_at IS NULL ORDER BY position, id`,
      [ctx.actor.accountId, id],
    );
    return {
      ...content,
      activities: { activity: activities.map((a) => activityTree(a, row.typeid, ctx.info, true)) },
    };
  });
}

// ---------------------------------------------------------------------------------------------- writing

async function checkReferences(
  x: Executor,
  ctx: Ctx,
  kind: ItemKind,
  input: ItemInput,
  selfId?: number,
): Promise<void> {
  const acc = ctx.actor.accountId;
  const errors = fieldErrors();
  const company = input.fields.company;
  if (typeof company === 'number') {
    const row = await getItemRow(x, acc, company);
    if (!row || row.kind !== 'company') errors.company = `No company with id ${company} in this account`;
  }
  const cats = [...new Set([...input.addCategories, ...input.removeCategories])];
  if (cats.length > 0) {
    const found = await x.all<{ id: number }>(
      `SELECT id FROM categories WHERE account_id = ? AND kind = ? AND id IN (${cats.map(() => '?').join(',')})`,
      [acc, kind.kind, ...cats],
    );
    const ok = new Set(found.map((r) => r.id));
    const missing = cats.filter((c) => !ok.has(c));
    if (missing.length) errors.categories = `No ${kind.kind} category with id ${missing.join(', ')} in this account`;
  }
  for (const r of input.addRelated) {
    if (r.id === selfId) errors.relateditems = 'An item cannot be related to itself';
    else if (!(await getItemRow(x, acc, r.id))) errors.relateditems = `No item with id ${r.id} in this account`;
  }
  if (Object.keys(errors).length) throw Errors.invalid(errors);
}

async function applyCategories(
  x: Executor,
  acc: number,
  itemId: number,
  input: ItemInput,
): Promise<{ added: number; removed: number }> {
  let added = 0;
  let removed = 0;
  for (const c of input.addCategories) {
    const exists = await x.get(
      'SELECT 1 AS one FROM item_categories WHERE account_id = ? AND item_id = ? AND category_id = ?',
      [acc, itemId, c],
    );
    if (exists) continue;
    await x.run('INSERT INTO item_categories (account_id, item_id, category_id) VALUES (?, ?, ?)', [acc, itemId, c]);
    added++;
  }
  for (const c of input.removeCategories) {
    if (input.addCategories.includes(c)) continue;
    const r = await x.run('DELETE FROM item_categories WHERE account_id = ? AND item_id = ? AND category_id = ?', [
      acc,
      itemId,
      c,
    ]);
    removed += r.changes;
  }
  return { added, removed };
}

async function applyRelated(x: Executor, acc: number, itemId: number, input: ItemInput): Promise<boolean> {
  let changed = false;
  for (const r of input.addRelated) {
    // Relations are symmetric: both items list each other.
    for (const [a, b] of [
      [itemId, r.id],
      [r.id, itemId],
    ]) {
      const cur = await x.get<{ note: string }>(
        'SELECT note FROM related_items WHERE account_id = ? AND item_id = ? AND related_id = ?',
        [acc, a, b],
      );
      if (!cur) {
        await x.run('INSERT INTO related_items (account_id, item_id, related_id, note) VALUES (?, ?, ?, ?)', [
          acc,
          a,
          b,
          r.note,
        ]);
        changed = true;
      } else if (cur.note !== r.note) {
        await x.run('UPDATE related_items SET note = ? WHERE account_id = ? AND item_id = ? AND related_id = ?', [
          r.note,
          acc,
          a,
          b,
        ]);
        changed = true;
      }
    }
  }
  for (const id of input.removeRelated) {
    const a = await x.run('DELETE FROM related_items WHERE account_id = ? AND item_id = ? AND related_id = ?', [
      acc,
      itemId,
      id,
    ]);
    await x.run('DELETE FROM related_items WHERE account_id = ? AND item_id = ? AND related_id = ?', [acc, id, itemId]);
    if (a.changes > 0) changed = true;
  }
  return changed;
}

function computeName(kind: ItemKind, fields: Record<string, Value>): string {
  return kind.name(fields);
}

export async function createItem(engine: Engine, ctx: Ctx, kind: ItemKind, tree: TreeObject): Promise<TreeObject> {
  const defs = fieldDefsFor(kind, ctx.info);
  const input = parseItemInput(kind, tree, ctx.info);
  const acc = ctx.actor.accountId;
  const fields: Record<string, Value> = {};
  for (const [k, v] of Object.entries(input.fields)) if (v !== null) fields[k] = v;
  return engine.write(async (x) => {
    await checkReferences(x, ctx, kind, input);
    const id = await x.nextId();
    const row: ItemRow = {
      account_id: acc,
      id,
      kind: kind.kind,
      typeid: kind.typeid,
      name: computeName(kind, fields),
      fields: JSON.stringify(fields),
      ownership: input.ownership ?? ctx.actor.userId,
      assignedto: typeof fields.assignedto === 'number' ? fields.assignedto : null,
      creator_id: ctx.actor.userId,
      modificator_id: ctx.actor.userId,
      created_at: ctx.now,
      updated_at: ctx.now,
      viewed_at: null,
      flagged: input.flagged ?? 0,
      deleted_at: null,
    };
    const insert = {
      sql: `INSERT INTO items (${ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      params: [
        row.account_id,
        row.id,
        row.kind,
        row.typeid,
        row.name,
        row.fields,
        row.ownership,
        row.assignedto,
        row.creator_id,
        row.modificator_id,
        row.created_at,
        row.updated_at,
        row.viewed_at,
        row.flagged,
        row.deleted_at,
      ],
    };
    const plain =
      input.addCategories.length === 0 && input.addRelated.length === 0 && typeof fields.company !== 'number';
    const event = { accountId: acc, objectId: id, objectKind: kind.kind, now: ctx.now };
    if (plain) {
      // A plain create needs no read-back: its content is known here, and the insert travels with its event
      // and deliveries (one round trip on PostgreSQL).
      const content: TreeObject = {
        item: { ...itemHead(row, ctx.info), fields: fieldsTree(fields, defs, ctx.info, new Map()) },
        relateditems: { relatedto: [] },
        categories: { category: [] },
      };
      // …and is the unit's last: on PostgreSQL, a create that commits alone is one round trip.
      await raise(x, { ...event, type: 'items.create', content }, insert, { last: true });
      return content;
    }
    await x.run(insert.sql, insert.params);
    const tags = await applyCategories(x, acc, id, input);
    await applyRelated(x, acc, id, input);
    const content = await itemContent(x, ctx, row);
    // items.create, then items.categorize when tags came with it (dialect §6), both with the record as created.
    for (const type of eventsForCreate('items', tags)) await raise(x, { ...event, type, content });
    return content;
  });
}

export async function updateItem(
  engine: Engine,
  ctx: Ctx,
  kind: ItemKind,
  id: number,
  tree: TreeObject,
): Promise<TreeObject> {
  const input = parseItemInput(kind, tree, ctx.info);
  const acc = ctx.actor.accountId;
  return engine.write(async (x) => {
    const row = await getItemRow(x, acc, id, { lock: engine.dialect.forUpdate });
    if (!row || row.kind !== kind.kind) throw Errors.notFound('id', `No ${kind.kind} with id ${id}`);
    await checkReferences(x, ctx, kind, input, id);
    const fields = JSON.parse(row.fields) as Record<string, Value>;
    let changed = false;
    for (const [k, v] of Object.entries(input.fields)) {
      const cur = fields[k] ?? null;
      if (cur === v) continue;
      changed = true;
      if (v === null) delete fields[k];
      else fields[k] = v;
    }
    if (input.ownership !== undefined && input.ownership !== row.ownership) changed = true;
    if (input.flagged !== undefined && input.flagged !== row.flagged) changed = true;
    if (await applyRelated(x, acc, id, input)) changed = true;
    const tags = await applyCategories(x, acc, id, input);
    const events = eventsForUpdate('items', { changed, ...tags });
    if (events.length === 0) return itemContent(x, ctx, row);
    const next: ItemRow = {
      ...row,
      name: computeName(kind, fields),
      fields: JSON.stringify(fields),
      ownership: input.ownership ?? row.ownership,
      flagged: input.flagged ?? row.flagged,
      assignedto: typeof fields.assignedto === 'number' ? fields.assignedto : null,
      modificator_id: ctx.actor.userId,
      updated_at: Math.max(ctx.now, row.updated_at),
    };
    await x.run(
      `UPDATE items SET name = ?, fields = ?, ownership = ?, flagged = ?, assignedto = ?, modificator_id = ?, updated_at = ?
        WHERE account_id = ? AND id = ?`,
      [
        next.name,
        next.fields,
        next.ownership,
        next.flagged,
        next.assignedto,
        next.modificator_id,
        next.updated_at,
        acc,
        id,
      ],
    );
    const content = await itemContent(x, ctx, next);
    for (const type of events) {
      await raise(x, { accountId: acc, type, objectId: id, objectKind: kind.kind, content, now: ctx.now });
    }
    return content;
  });
}

/** Moves an item to the trash (delete) or back (restore), raising items.delete / items.restore. */
export async function trashItem(
  engine: Engine,
  ctx: Ctx,
  kind: ItemKind,
  id: number,
  restore: boolean,
): Promise<TreeObject> {
  const acc = ctx.actor.accountId;
  return engine.write(async (x) => {
    const row = await getItemRow(x, acc, id, { lock: engine.dialect.forUpdate, deleted: restore });
    if (!row || row.kind !== kind.kind) {
      const other = await getItemRow(x, acc, id, { deleted: !restore });
      if (other && other.kind === kind.kind) {
        throw Errors.conflict(
          'id',
          restore ? `${kind.kind} ${id} is not in the trash` : `${kind.kind} ${id} is already in the trash`,
        );
      }
      throw Errors.notFound('id', `No ${kind.kind} with id ${id}`);
    }
    const next: ItemRow = {
      ...row,
      deleted_at: restore ? null : ctx.now,
      modificator_id: ctx.actor.userId,
      updated_at: Math.max(ctx.now, row.updated_at),
    };
    await x.run('UPDATE items SET deleted_at = ?, modificator_id = ?, updated_at = ? WHERE account_id = ? AND id = ?', [
      next.deleted_at,
      next.modificator_id,
      next.updated_at,
      acc,
      id,
    ]);
    const content = await itemContent(x, ctx, next);
    const type: EventType = restore ? 'items.restore' : 'items.delete';
    await raise(x, { accountId: acc, type, objectId: id, objectKind: kind.kind, content, now: ctx.now });
    return content;
  });
}

// ---------------------------------------------------------------------------------------------- listing

export interface ListParams {
  layout: boolean;
  fieldlist?: Set<string>;
  start: number;
  limit: number;
  filtermode?: string;
  filtervalue?: string;
  searchmode?: string;
  searchvalue?: string;
  sortfield: string;
  sortdir: 'asc' | 'desc';
  categories: number[];
}

const MAX_LIMIT = 5000;

function param(p: TreeObject, key: string): string | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') throw Errors.badRequest(key, `${key} must be a single value`);
  return String(v).trim();
}

/** A 0/1 switch of a list: on for 1 (or JSON true); anything else leaves it off. */
function flagParam(p: TreeObject, key: string): boolean {
  param(p, key); // one value, not a list or a structure
  return parseFlag(p[key]) === 1;
}

function intParam(p: TreeObject, key: string, dflt: number, min: number, max: number): number {
  const v = param(p, key);
  if (v === undefined || v === '') return dflt;
  if (!/^\d+$/.test(v)) throw Errors.badRequest(key, `${key} must be a whole number`);
  return Math.min(Math.max(Number(v), min), max);
}

export function parseListParams(kind: ItemKind, defs: readonly FieldDef[], p: TreeObject): ListParams {
  const sortfield = param(p, 'sortfield') || 'id';
  const known = new Set(['id', 'name', 'created', 'updated', 'viewed', ...defs.map((d) => d.name)]);
  if (!known.has(sortfield)) throw Errors.badRequest('sortfield', `Cannot sort ${kind.segment} by "${sortfield}"`);
  const dir = (param(p, 'sortdir') || 'asc').toLowerCase();
  if (dir !== 'asc' && dir !== 'desc') throw Errors.badRequest('sortdir', 'sortdir must be asc or desc');
  const fieldlistText = param(p, 'fieldlist');
  const categories = (param(p, 'categories') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const id = parseId(s);
      if (id === null) throw Errors.badRequest('categories', 'categories must be a comma-separated list of ids');
      return id;
    });
  return {
    layout: flagParam(p, 'layout'),
    fieldlist: fieldlistText ? new Set(fieldlistText.split(',').map((s) => s.trim())) : undefined,
    start: intParam(p, 'start', 0, 0, Number.MAX_SAFE_INTEGER),
    limit: intParam(p, 'limit', 100, 1, MAX_LIMIT),
    filtermode: param(p, 'filtermode') || undefined,
    filtervalue: param(p, 'filtervalue'),
    searchmode: param(p, 'searchmode') || undefined,
    searchvalue: param(p, 'searchvalue') || undefined,
    sortfield,
    sortdir: dir,
    categories,
  };
}

const EMAIL_FIELDS = ['businessemail', 'personalemail', 'otheremail'];

export async function listItems(
  engine: Engine,
  ctx: Ctx,
  kind: ItemKind,
  params: TreeObject,
): Promise<Map<string, Tree>> {
  const defs = fieldDefsFor(kind, ctx.info);
  const p = parseListParams(kind, defs, params);
  const d = engine.dialect;
  const where: string[] = ['i.account_id = ?', 'i.kind = ?', 'i.deleted_at IS NULL'];
  const args: unknown[] = [ctx.actor.accountId, kind.kind];
  const defByName = new Map(defs.map((x) => [x.name, x]));

  switch (p.filtermode) {
    case undefined:
    case 'all':
      break;
    case 'byemail': {
      if (!p.filtervalue) throw Errors.badRequest('filtervalue', 'filtermode byemail needs a filtervalue');
      if (kind.kind !== 'contact') throw Errors.badRequest('filtermode', 'byemail applies to contacts');
      where.push(`(${EMAIL_FIELDS.map((f) => `LOWER(${d.jsonText('i.fields', f)}) = ?`).join(' OR ')})`);
      args.push(...EMAIL_FIELDS.map(() => p.filtervalue!.toLowerCase()));
      break;
    }
    case 'category': {
      const id = parseId(p.filtervalue);
      if (id === null) throw Errors.badRequest('filtervalue', 'filtermode category needs a category id');
      where.push(
        'EXISTS (SELECT 1 FROM item_categories ic WHERE ic.account_id = i.account_id AND ic.item_id = i.id AND ic.category_id = ?)',
      );
      args.push(id);
      break;
    }
    case 'byowner':
    case 'byassignee': {
      const id = parseId(p.filtervalue);
      if (id === null) throw Errors.badRequest('filtervalue', `filtermode ${p.filtermode} needs a user id`);
      where.push(p.filtermode === 'byowner' ? 'i.ownership = ?' : 'i.assignedto = ?');
      args.push(id);
      break;
    }
    case 'bycompany': {
      const id = parseId(p.filtervalue);
      if (id === null || kind.kind !== 'contact')
        throw Errors.badRequest('filtervalue', 'filtermode bycompany needs a company id (contacts only)');
      // Compared as text on both engines: SQLite's json_extract answers the stored number, which never
      // equals a bound text parameter (bug fix: bycompany found nothing on SQLite).
      where.push(`CAST(${d.jsonText('i.fields', 'company')} AS TEXT) = ?`);
      args.push(String(id));
      break;
    }
    default:
      throw Errors.badRequest(
        'filtermode',
        `Unknown filtermode "${p.filtermode}" (byemail, category, byowner, byassignee, bycompany)`,
      );
  }
  if (p.categories.length > 0) {
    where.push(
      `EXISTS (SELECT 1 FROM item_categories ic WHERE ic.account_id = i.account_id AND ic.item_id = i.id AND ic.category_id IN (${p.categories.map(() => '?').join(',')}))`,
    );
    args.push(...p.categories);
  }
  if (p.searchvalue) {
    const pattern = `%${p.searchvalue.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const mode = p.searchmode ?? 'name';
    if (mode === 'name') {
      where.push(`i.name ${d.ilike} ? ESCAPE '\\'`);
      args.push(pattern);
    } else if (mode === 'all') {
      // The name and the value of every field; not the raw JSON text, whose keys ("firstname", …) made a
      // search for a field's name match every record (bug fix).
      const each = defs.map((f) => `CAST(${d.jsonText('i.fields', f.name)} AS TEXT) ${d.ilike} ? ESCAPE '\\'`);
      where.push(`(i.name ${d.ilike} ? ESCAPE '\\' OR ${each.join(' OR ')})`);
      args.push(pattern, ...defs.map(() => pattern));
    } else if (defByName.has(mode)) {
      where.push(`${d.jsonText('i.fields', mode)} ${d.ilike} ? ESCAPE '\\'`);
      args.push(pattern);
    } else {
      throw Errors.badRequest('searchmode', `Unknown searchmode "${mode}" (name, all, or a field name)`);
    }
  }
  const columns: Record<string, string> = {
    id: 'i.id',
    name: 'LOWER(i.name)',
    created: 'i.created_at',
    updated: 'i.updated_at',
    viewed: 'i.viewed_at',
  };
  // Number fields sort as numbers, not as text (9 < 10 < 100); records without the field come last in both
  // directions (NULLS LAST below), where SQLite put them first and PostgreSQL last (bug fixes).
  const sortExpr =
    columns[p.sortfield] ??
    (defByName.get(p.sortfield)?.type === 'number'
      ? `CAST(${d.jsonText('i.fields', p.sortfield)} AS DOUBLE PRECISION)`
      : `LOWER(${d.jsonText('i.fields', p.sortfield)})`);
  const dir = p.sortdir.toUpperCase();
  const whereSql = where.join(' AND ');
  return engine.read(async (x) => {
    const count = await x.get<{ n: number }>(`SELECT COUNT(*) AS n FROM items i WHERE ${whereSql}`, args);
    const rows = await x.all<ItemRow>(
      `SELECT ${ITEM_COLUMNS.split(', ')
        .map((c) => `i.${c}`)
        .join(', ')} FROM items i WHERE ${whereSql}
        ORDER BY ${sortExpr} ${dir} NULLS LAST, i.id ${dir} LIMIT CAST(? AS INTEGER) OFFSET CAST(? AS INTEGER)`,
      [...args, p.limit, p.start],
    );
    const companies = p.layout ? await companyNamesFor(x, ctx.actor.accountId, rows) : new Map<number, string>();
    const out = new Map<string, Tree>();
    out.set('count', Number(count?.n ?? 0));
    for (const row of rows) {
      const head = itemHead(row, ctx.info);
      out.set(
        String(row.id),
        p.layout ? { ...head, ...fieldsTree(storedFields(row), defs, ctx.info, companies, p.fieldlist) } : head,
      );
    }
    return out;
  });
}
