// Uploads of file and photo activities: POST /{kind}/file/ and /{kind}/photo/ as multipart/form-data with
// parts `parent` and `file` (optional `title`, `details` or `data[title]`, `data[details]`, `before`,
// `after`; any other part is refused with 400 naming it), and GET /{kind}/{file|photo}/{id}/download/ for
// the account's users. The upload limit is the file's size; the request may be a little larger for the
// other parts and the multipart framing.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Handlers } from '../app.js';
import { pathId } from '../params.js';
import { ApiError, Errors } from '../../errors.js';
import { boundaryOf, MultipartError, parseFormData, type FormEntry } from '../../dialect/multipart.js';
import { activityKindBySegment, ITEM_KINDS, type ActivityKind, type ItemKind } from '../../records/kinds.js';
import { createUpload, readUpload, type UploadInput } from '../../records/uploads.js';
import type { TreeObject } from '../../dialect/tree.js';
import { fieldErrors } from '../../records/values.js';
import { checkText, decodeBody } from '../../dialect/text.js';

export const DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024;
/** Room for the text parts and the multipart framing around the file. */
const FORM_OVERHEAD = 64 * 1024;

export interface UploadOptions {
  /** Largest accepted file, bytes (413 above). */
  maxBytes?: number;
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, 'HL_TOO_LARGE', { file: `The file is larger than the upload limit of ${maxBytes} bytes` });
}

/**
 * The text parts an upload takes beside its `file` (docs/dialect-extras.md): `data[title]` and `data[details]`
 * are read like `title` and `details`. Any other part is refused by name, never ignored.
 */
const TEXT_PARTS = ['parent', 'title', 'details', 'data[title]', 'data[details]', 'before', 'after'];

function readForm(req: FastifyRequest): UploadInput {
  const type = String(req.headers['content-type'] ?? '');
  const boundary = /^\s*multipart\/form-data\b/i.test(type) ? boundaryOf(type) : null;
  if (!boundary || !Buffer.isBuffer(req.body)) {
    throw Errors.badRequest(
      'file',
      'Upload as multipart/form-data (with a boundary) with parts parent and file, e.g. curl -F parent=ID -F file=@x.pdf',
    );
  }
  let entries: FormEntry[];
  try {
    entries = parseFormData(req.body, boundary, 100);
  } catch (e) {
    if (!(e instanceof MultipartError)) throw e;
    throw Errors.badRequest('request', `Malformed multipart/form-data: ${e.message}`);
  }
  // Every part is read or refused, the refusals collected before failing.
  const errors = fieldErrors();
  const texts = new Map<string, string>();
  const files: FormEntry[] = [];
  for (const e of entries) {
    if (e.name === 'file') {
      if (e.filename === undefined)
        errors.file = 'file must be sent as a file (a part with a filename), e.g. -F file=@x.pdf';
      // A browser form with no file chosen sends an empty part with filename="".
      else if (e.filename !== '' || e.data.length > 0) {
        checkText('file', e.filename);
        files.push(e);
      }
    } else if (!TEXT_PARTS.includes(e.name)) errors[e.name] = 'Unknown field';
    else if (e.filename !== undefined) errors[e.name] = `${e.name} must be a text part, not a file`;
    else if (texts.has(e.name)) errors[e.name] = `${e.name} is sent more than once: send one ${e.name} part`;
    else {
      const text = decodeBody(e.data, e.contentType, false);
      checkText(e.name, text);
      texts.set(e.name, text);
    }
  }
  if (files.length === 0) errors.file ??= 'The file part is missing (a part named file with a filename)';
  else if (files.length > 1) errors.file = 'One file per request';
  const data: TreeObject = {};
  for (const key of ['title', 'details']) {
    const [plain, nested] = [texts.get(key), texts.get(`data[${key}]`)];
    if (plain !== undefined && nested !== undefined) {
      errors[`data[${key}]`] = `${key} is sent twice, as ${key} and data[${key}]: send one of them`;
    }
    const v = nested ?? plain;
    if (v !== undefined) data[key] = v;
  }
  const parent = texts.get('parent');
  if (parent === undefined) errors.parent ??= 'The parent part is missing (the id of an item)';
  if (Object.keys(errors).length > 0 || parent === undefined) throw Errors.invalid(errors);
  const file = files[0];
  return {
    parent,
    data,
    before: texts.get('before'),
    after: texts.get('after'),
    file: { filename: file.filename ?? '', contentType: file.contentType, data: file.data },
  };
}

/** attachment; filename="ascii fallback"; filename*=UTF-8''percent-encoded (RFC 6266). */
function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

export function makeUploadRoutes(options: UploadOptions = {}): (app: FastifyInstance, h: Handlers) => void {
  const maxBytes = options.maxBytes ?? DEFAULT_UPLOAD_LIMIT;
  return function uploadRoutes(app: FastifyInstance, h: Handlers): void {
    // A body over the route's limit is refused while it is read, before the handler: say which limit.
    const errorHandler = (error: FastifyError, req: FastifyRequest, reply: FastifyReply) =>
      app.errorHandler(error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? tooLarge(maxBytes) : error, req, reply);
    for (const itemKind of ITEM_KINDS) {
      for (const kind of [activityKindBySegment.get('file')!, activityKindBySegment.get('photo')!]) {
        const base = `/${itemKind.segment}/${kind.segment}`;
        app.post(base, { bodyLimit: maxBytes + FORM_OVERHEAD, errorHandler }, async (req, reply) => {
          const out = await createUpload(h.engine, await h.ctx(req), itemKind, kind, readForm(req), maxBytes);
          return h.send(req, reply, out);
        });
        app.get(`${base}/:aid/download`, async (req, reply) => download(h, req, reply, itemKind, kind));
      }
    }
  };
}

async function download(h: Handlers, req: FastifyRequest, reply: FastifyReply, itemKind: ItemKind, kind: ActivityKind) {
  const id = pathId(req, 'aid', 'id');
  const file = await readUpload(h.engine, await h.ctx(req), itemKind, kind, id);
  return (
    reply
      .code(200)
      .header('content-type', file.mimetype)
      .header('content-disposition', contentDisposition(file.filename))
      // Served bytes are the uploader's: never sniffed, never run as a page of this origin.
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "sandbox; default-src 'none'")
      .header('cache-control', 'private, no-store')
      .send(file.content)
  );
}

/** The upload routes with the default limit (DEFAULT_UPLOAD_LIMIT). */
export const uploadRoutes = makeUploadRoutes();
