// Activity templates: named sets of activities declared per account (Hookline's choice of API:
// GET/POST /templates/, GET/PUT/DELETE /templates/{id}/), inserted with the `template` segment.
import type { Engine } from '../storage/port.js';
import { Errors } from '../errors.js';
import { formatDate, type Tree, type TreeObject } from '../dialect/tree.js';
import { parseTemplateActivities, type TemplateActivity } from './activities.js';
import { fieldErrors, isObject } from './values.js';
import type { Ctx } from './items.js';

interface TemplateRow {
  id: number;
  name: string;
  activities: string;
  created_at: number;
  updated_at: number;
}

function parseTemplate(ctx: Ctx, tree: TreeObject, partial: boolean) {
  const errors = fieldErrors();
  let name: string | undefined;
  if (tree.name !== undefined || !partial) {
    name = typeof tree.name === 'string' || typeof tree.name === 'number' ? String(tree.name).trim() : '';
    if (!name) errors.name = 'A template needs a name';
  }
  let activities: TemplateActivity[] | undefined;
  if (tree.activities !== undefined || !partial) {
    const node = isObject(tree.activities) ? tree.activities.activity : tree.activities;
    activities = parseTemplateActivities(node, ctx.info, errors);
    if (activities.length > 200) errors.activities = 'at most 200 activities per template';
  }
  for (const key of Object.keys(tree)) if (key !== 'name' && key !== 'activities') errors[key] = 'Unknown field';
  if (Object.keys(errors).length) throw Errors.invalid(errors);
  return { name, activities };
}

function templateTree(r: TemplateRow): TreeObject {
  const list = JSON.parse(r.activities) as { segment: string; data: TreeObject }[];
  return {
    id: r.id,
    name: r.name,
    created: formatDate(r.created_at),
    updated: formatDate(r.updated_at),
    activities: { activity: list.map((a) => ({ segment: a.segment, data: a.data })) },
  };
}

const COLUMNS = 'id, name, activities, created_at, updated_at';

export async function listTemplates(engine: Engine, ctx: Ctx): Promise<Map<string, Tree>> {
  const rows = await engine.readOne<TemplateRow>(`SELECT ${COLUMNS} FROM templates WHERE account_id = ? ORDER BY id`, [
    ctx.actor.accountId,
  ]);
  const out = new Map<string, Tree>([['count', rows.length]]);
  for (const r of rows) out.set(String(r.id), templateTree(r));
  return out;
}

export async function showTemplate(engine: Engine, ctx: Ctx, id: number): Promise<TreeObject> {
  const [row] = await engine.readOne<TemplateRow>(`SELECT ${COLUMNS} FROM templates WHERE account_id = ? AND id = ?`, [
    ctx.actor.accountId,
    id,
  ]);
  if (!row) throw Errors.notFound('id', `No activity template with id ${id}`);
  return { template: templateTree(row) };
}

export async function createTemplate(engine: Engine, ctx: Ctx, tree: TreeObject): Promise<TreeObject> {
  const t = parseTemplate(ctx, tree, false);
  return engine.write(async (x) => {
    const id = await x.nextId();
    const row: TemplateRow = {
      id,
      name: t.name!,
      activities: JSON.stringify(t.activities),
      created_at: ctx.now,
      updated_at: ctx.now,
    };
    await x.run(
      'INSERT INTO templates (account_id, id, name, activities, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
      [ctx.actor.accountId, id, row.name, row.activities, row.created_at, row.updated_at],
    );
    return { template: templateTree(row) };
  });
}

export async function updateTemplate(engine: Engine, ctx: Ctx, id: number, tree: TreeObject): Promise<TreeObject> {
  const t = parseTemplate(ctx, tree, true);
  return engine.write(async (x) => {
    const row = await x.get<TemplateRow>(`SELECT ${COLUMNS} FROM templates WHERE account_id = ? AND id = ?`, [
      ctx.actor.accountId,
      id,
    ]);
    if (!row) throw Errors.notFound('id', `No activity template with id ${id}`);
    const next = {
      ...row,
      name: t.name ?? row.name,
      activities: t.activities ? JSON.stringify(t.activities) : row.activities,
      updated_at: ctx.now,
    };
    await x.run('UPDATE templates SET name = ?, activities = ?, updated_at = ? WHERE account_id = ? AND id = ?', [
      next.name,
      next.activities,
      next.updated_at,
      ctx.actor.accountId,
      id,
    ]);
    return { template: templateTree(next) };
  });
}

export async function deleteTemplate(engine: Engine, ctx: Ctx, id: number): Promise<TreeObject> {
  return engine.write(async (x) => {
    const r = await x.run('DELETE FROM templates WHERE account_id = ? AND id = ?', [ctx.actor.accountId, id]);
    if (r.changes === 0) throw Errors.notFound('id', `No activity template with id ${id}`);
    return { id };
  });
}
