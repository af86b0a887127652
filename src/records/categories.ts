// Category tags, per item kind: list and create. Adding and removing them on items is part of items.ts.
import type { Engine } from '../storage/port.js';
import { Errors } from '../errors.js';
import type { Tree, TreeObject } from '../dialect/tree.js';
import type { ItemKind } from './kinds.js';
import type { Ctx } from './items.js';

export async function listCategories(engine: Engine, ctx: Ctx, kind: ItemKind): Promise<TreeObject> {
  const rows = await engine.readOne<{ id: number; name: string }>(
    'SELECT id, name FROM categories WHERE account_id = ? AND kind = ? ORDER BY name, id',
    [ctx.actor.accountId, kind.kind],
  );
  return { count: rows.length, categories: { category: rows.map((r) => ({ id: r.id, name: r.name })) } };
}

/** Creates a tag; creating one whose name exists answers the existing tag (safe for "ensure" scripts). */
export async function createCategory(engine: Engine, ctx: Ctx, kind: ItemKind, tree: TreeObject): Promise<TreeObject> {
  const raw = tree.name;
  if (raw === undefined || raw === null || typeof raw === 'object' || String(raw).trim() === '') {
    throw Errors.badRequest('name', 'A category needs a name');
  }
  const name = String(raw).trim();
  if (name.length > 255) throw Errors.badRequest('name', 'name is longer than 255 characters');
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
