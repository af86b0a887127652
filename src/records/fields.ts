// Field definitions per item kind: the standard ones plus custom{N} fields declared per account
// (Hookline's choice: POST /{kind}/fields/ with label and type).
import type { Engine } from '../storage/port.js';
import { Errors } from '../errors.js';
import type { TreeObject } from '../dialect/tree.js';
import type { FieldType, ItemKind } from './kinds.js';
import { fieldDefsFor, type Ctx } from './items.js';
import { fieldErrors } from './values.js';

const CUSTOM_TYPES: FieldType[] = ['text', 'number', 'date', 'datetime', 'boolean', 'email', 'url', 'user'];

export function listFields(ctx: Ctx, kind: ItemKind): TreeObject {
  const defs = fieldDefsFor(kind, ctx.info);
  return { count: defs.length, fields: { field: defs.map((d) => ({ name: d.name, label: d.label, type: d.type })) } };
}

/**
 * Declares a custom field from `label` and `type`; any other key (`required`, a misspelt `lable`) is refused as
 * an unknown field, as everywhere else: a declaration cannot take a setting it does not keep.
 */
export async function createField(engine: Engine, ctx: Ctx, kind: ItemKind, tree: TreeObject): Promise<TreeObject> {
  const errors = fieldErrors();
  for (const key of Object.keys(tree)) {
    if (key !== 'label' && key !== 'type') errors[key] = 'Unknown field: a custom field takes label and type only';
  }
  const label = typeof tree.label === 'string' || typeof tree.label === 'number' ? String(tree.label).trim() : '';
  const raw = tree.type ?? 'text';
  const type = (typeof raw === 'object' ? '' : String(raw)).trim() as FieldType;
  if (!label) errors.label = 'A custom field needs a label';
  else if (label.length > 255) errors.label = 'label is longer than 255 characters';
  if (!CUSTOM_TYPES.includes(type)) errors.type = `type must be one of ${CUSTOM_TYPES.join(', ')}`;
  if (Object.keys(errors).length) throw Errors.invalid(errors);
  return engine.write(async (x) => {
    const n = await x.nextId();
    const name = `custom${n}`;
    await x.run('INSERT INTO field_defs (account_id, kind, name, label, type, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
      ctx.actor.accountId,
      kind.kind,
      name,
      label,
      type,
      ctx.now,
    ]);
    return { field: { name, label, type } };
  });
}
