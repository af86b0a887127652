// File and photo activities (typeids 23, 24): the uploaded bytes go to the `blobs` table, addressed by their
// SHA-256 (the same bytes uploaded twice are kept once); the activity's fields carry filename, filesize,
// mimetype and sha256, so show, lists, reports and the activities.create event describe the file without
// carrying it. Downloads are scoped to the account like every other read.
import { createHash } from 'node:crypto';
import { oneStatement, type Engine } from '../storage/port.js';
import { ApiError, Errors } from '../errors.js';
import type { TreeObject } from '../dialect/tree.js';
import type { ActivityKind, ItemKind } from './kinds.js';
import { checkParent, createActivity, getActivityRow, parseActivityData } from './activities.js';
import { getItemRow, type Ctx } from './items.js';
import { fieldErrors, parseId } from './values.js';

export interface UploadedFile {
  filename: string;
  /** the Content-Type the client gave the file part, if any */
  contentType?: string;
  data: Buffer;
}

export interface UploadInput {
  parent: string;
  data: TreeObject;
  before?: string;
  after?: string;
  file: UploadedFile;
}

const BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  heic: 'image/heic',
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  zip: 'application/zip',
};

/** The last path component (browsers once sent C:\fakepath\x.png), without control characters. */
export function cleanFilename(raw: string): string {
  const base = raw.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return (clean || 'upload').slice(0, 255);
}

function mimetypeOf(file: UploadedFile, filename: string): string {
  const declared = (file.contentType ?? '').split(';')[0].trim().toLowerCase();
  if (/^[a-z0-9][\w.+-]*\/[\w.+-]+$/.test(declared) && declared !== 'application/octet-stream') return declared;
  const ext = /\.([A-Za-z0-9]+)$/.exec(filename)?.[1]?.toLowerCase() ?? '';
  return Object.hasOwn(BY_EXTENSION, ext) ? BY_EXTENSION[ext] : 'application/octet-stream';
}

export async function createUpload(
  engine: Engine,
  ctx: Ctx,
  itemKind: ItemKind,
  kind: ActivityKind,
  input: UploadInput,
  maxBytes: number,
): Promise<TreeObject> {
  const { file } = input;
  if (file.data.length > maxBytes) {
    throw new ApiError(413, 'HL_TOO_LARGE', { file: `The file is larger than the upload limit of ${maxBytes} bytes` });
  }
  const filename = cleanFilename(file.filename);
  const mimetype = mimetypeOf(file, filename);
  if (kind.segment === 'photo' && !mimetype.startsWith('image/')) {
    throw Errors.badRequest('file', `A photo must be an image (image/*), not ${mimetype}`);
  }
  const data: TreeObject = { ...input.data };
  if (data.title === undefined || data.title === '') data.title = filename;
  // Everything that can be refused is checked before the bytes are stored, the parent beside the data.
  const errors = fieldErrors();
  checkParent(itemKind, input.parent, errors, `the ${kind.segment} belongs to`);
  parseActivityData(kind, data, ctx.info, errors);
  const parentId = parseId(input.parent) ?? 0; // checked above: an id
  const parent = await engine.read(oneStatement((x) => getItemRow(x, ctx.actor.accountId, parentId)));
  if (!parent || parent.kind !== itemKind.kind)
    throw Errors.notFound('parent', `No ${itemKind.kind} with id ${parentId}`);

  const sha256 = createHash('sha256').update(file.data).digest('hex');
  await engine.write((x) =>
    // Content-addressed: a second upload of the same bytes finds them already there.
    x.run(
      'INSERT INTO blobs (account_id, sha256, size, content, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, sha256) DO NOTHING',
      [ctx.actor.accountId, sha256, file.data.length, file.data, ctx.now],
    ),
  );
  const tree: TreeObject = { parent: input.parent, data };
  if (input.before !== undefined) tree.before = input.before;
  if (input.after !== undefined) tree.after = input.after;
  const out = await createActivity(engine, ctx, itemKind, kind, tree, {
    filename,
    filesize: file.data.length,
    mimetype,
    sha256,
  });
  const item = out.item as TreeObject;
  return { item: { ...item, download: downloadPath(itemKind, kind, item.id as number) } };
}

/** Where the account's users fetch an upload's bytes. */
export function downloadPath(itemKind: ItemKind, kind: ActivityKind, id: number): string {
  return `/${itemKind.segment}/${kind.segment}/${id}/download/`;
}

export interface Download {
  filename: string;
  mimetype: string;
  content: Buffer;
}

export async function readUpload(
  engine: Engine,
  ctx: Ctx,
  itemKind: ItemKind,
  kind: ActivityKind,
  id: number,
): Promise<Download> {
  const acc = ctx.actor.accountId;
  return engine.read(async (x) => {
    const a = await getActivityRow(x, acc, id);
    const parent = a ? await getItemRow(x, acc, a.parent_id) : undefined;
    if (!a || a.segment !== kind.segment || !parent || parent.kind !== itemKind.kind) {
      throw Errors.notFound('id', `No ${kind.segment} with id ${id}`);
    }
    const fields = JSON.parse(a.fields) as Record<string, unknown>;
    const blob =
      typeof fields.sha256 === 'string'
        ? await x.get<{ content: Buffer }>('SELECT content FROM blobs WHERE account_id = ? AND sha256 = ?', [
            acc,
            fields.sha256,
          ])
        : undefined;
    if (!blob) throw Errors.notFound('id', `The content of ${kind.segment} ${id} is missing`);
    return {
      filename: typeof fields.filename === 'string' ? fields.filename : `${kind.segment}-${id}`,
      mimetype: typeof fields.mimetype === 'string' ? fields.mimetype : 'application/octet-stream',
      content: Buffer.from(blob.content),
    };
  });
}
