// Category tags, per item kind: list and create. Adding and removing them on items is part of items.ts.
import type { Engine } from '../storage/port.js';
import { Errors } from '../errors.js';
import type { Tree, TreeObject } from '../dialect/tree.js';
import type { ItemKind } from './kinds.js';
import type { Ctx } from './items.js';
import { fieldErrors } from './values.js';

export async function listCategories(engine: Engine, ctx: Ctx, kind: ItemKind): Promise<TreeObject> {
  const rows = await engine.readOne<{ id: number; name: string }>(
    'SELECT id, name FROM categories WHERE account_id = ? AND kind = ? ORDER BY name, id',
    [ctx.actor.accountId, kind.kind],
  );
  return { count: rows.length, categories: { category: rows.map((r) => ({ id: r.id, name: r.name })) } };
}

/**
 * Creates a tag; creating one whose name exists answers the existing tag (safe for "ensure" scripts). A tag
 * has a name and nothing else: any other key (`colour`, a misspelt `nmae`) is refused as an unknown field, as
 * everywhere else, so that a typo cannot pass as a change that was made.
 */
export async function createCategory(engine: Engine, ctx: Ctx, kind: ItemKind, tree: TreeObject): Promise<TreeObject> {
  const errors = fieldErrors();
  for (const key of Object.keys(tree)) if (key !== 'name') errors[key] = 'Unknown field: a category takes name only';
  const raw = tree.name;
  const name = raw === undefined || raw === null || typeof raw === 'object' ? '' : String(raw).trim();
  if (typeof raw === 'boolean') errors.name = `name must be text, not the JSON boolean ${raw}`;
  else if (name === '') errors.name = 'A category needs a name';
  else if (name.length > 255) errors.name = 'name is longer than 255 characters';
  if (Object.keys(errors).length > 0) throw Errors.invalid(errors);
  return engine.write(async (x) => {
    const acc = ctx.actor.accountId;
    const found = await x.get<{ id: number }>(
      'SELECT id FROM categories WHERE account_id = ? AND kind = ? AND name = ?',
      [acc, kind.kind, name],
    );
    if (found) return { item: { id: found.id, name } as Tree };
    const id = await x.nextId();
    await x.run('INSERT INTO categories (account_id, id, kind, name, created_at) VALUES (?, ?, ?, ?, ?)', [
      acc,
      id,
      kind.kind,
      name,
      ctx.now,
    ]);
    return { item: { id, name } };
  });
}
