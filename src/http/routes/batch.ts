// POST /batch (dialect §7): a multipart/mixed body of up to 100 whole HTTP requests. Each runs as its own
// call through the same app (routes, auth, limits, hooks) with inject(), with the outer request's headers
// unless the part overrides them. The answer is multipart/mixed with one application/http part per
// request, in request order. A batch that cannot be read runs nothing: 400.
//
// Order of execution (Hookline's choice): a run of consecutive creates (POST /{kind}/, POST
// /{kind}/{segment}/) runs concurrently, so that the creates share group commits; every other part runs
// alone, after everything before it has finished. A create cannot name a record made earlier in the same
// batch (its id is not known yet), so creates do not depend on each other; reads, updates and deletes see
// the effect of every earlier part.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Handlers } from '../app.js';
import { Errors } from '../../errors.js';
import {
  boundaryOf,
  MultipartError,
  parseHeaderLines,
  parseHeaderValue,
  splitHead,
  splitParts,
} from '../../dialect/multipart.js';
import {
  isRequestLine,
  parseHttpRequest,
  serialiseHttpResponse,
  type HttpRequestMessage,
  type HttpResponseMessage,
} from '../../dialect/http-message.js';
import { negotiate, render } from '../../dialect/respond.js';
import { activityKindBySegment, itemKindBySegment } from '../../records/kinds.js';

export const MAX_BATCH_PARTS = 100;

export interface BatchPart {
  /** the part's Content-ID without angle brackets, if it had one */
  contentId?: string;
  request: HttpRequestMessage;
}

/** Outer headers that describe the outer body or connection, never a part's. */
const NOT_INHERITED = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'host',
  'expect',
  'upgrade',
  'te',
  'trailer',
]);

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

function bad(message: string): Error {
  return Errors.badRequest('batch', message);
}

const CREATE_SEGMENTS = new Set([...activityKindBySegment.keys(), 'template']);

/** POST /{kind}/ or POST /{kind}/{segment}/: a create, independent of the other creates of its batch. */
export function isCreate(r: HttpRequestMessage): boolean {
  if (r.method !== 'POST') return false;
  const [kind, segment, ...rest] = r.target.split('?')[0].split('/').filter(Boolean);
  if (rest.length > 0 || !itemKindBySegment.has(kind)) return false;
  return segment === undefined || CREATE_SEGMENTS.has(segment);
}

function isBatchPath(target: string): boolean {
  return /^\/+batch\/*$/i.test(target.split('?')[0]);
}

/** Reads every part of a batch, or fails the whole batch with 400 before anything runs. */
export function parseBatch(body: Buffer, boundary: string): BatchPart[] {
  let raws: Buffer[];
  try {
    raws = splitParts(body, boundary, MAX_BATCH_PARTS);
  } catch (e) {
    if (!(e instanceof MultipartError)) throw e;
    throw bad(`Malformed batch: ${e.message} (at most ${MAX_BATCH_PARTS} parts)`);
  }
  if (raws.length === 0) throw bad('The batch has no parts');
  return raws.map((raw, i) => {
    const n = i + 1;
    try {
      const nl = raw.indexOf(0x0a);
      const first = raw.toString('utf8', 0, nl < 0 ? raw.length : nl).replace(/\r$/, '');
      let request: HttpRequestMessage;
      let contentId: string | undefined;
      if (isRequestLine(first)) {
        // A part without MIME headers that starts with the request line: taken as is.
        request = parseHttpRequest(raw);
      } else {
        const head = splitHead(raw);
        const mime = parseHeaderLines(head.lines);
        const type = parseHeaderValue(mime.get('content-type') ?? 'application/http').value.toLowerCase();
        if (type.startsWith('multipart/')) throw new MultipartError('a batch cannot contain a batch');
        if (type !== 'application/http') {
          throw new MultipartError(`Content-Type must be application/http, not ${type}`);
        }
        if (!head.terminated || head.rest.toString('utf8').trim() === '') {
          throw new MultipartError('there is no HTTP request after the part headers');
        }
        request = parseHttpRequest(head.rest);
        contentId = mime.get('content-id')?.replace(/^<|>$/g, '') || undefined;
      }
      if (isBatchPath(request.target) || /^multipart\/mixed/i.test(request.headers.get('content-type') ?? '')) {
        throw new MultipartError('a batch cannot contain a batch');
      }
      return { contentId, request };
    } catch (e) {
      if (!(e instanceof MultipartError)) throw e;
      throw bad(`Part ${n}: ${e.message}`);
    }
  });
}

function inheritedHeaders(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || NOT_INHERITED.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function errorAnswer(headers: Record<string, string>, status: number, field: string, message: string) {
  const r = render(negotiate(headers, {}), false, { errors: { [field]: message } });
  return {
    status,
    headers: [['Content-Type', r.contentType]] as [string, string][],
    body: Buffer.from(r.body, 'utf8'),
  };
}

async function runPart(app: FastifyInstance, req: FastifyRequest, part: BatchPart): Promise<HttpResponseMessage> {
  const { request } = part;
  const headers = inheritedHeaders(req);
  for (const [name, value] of request.headers) headers[name] = value;
  if (!METHODS.has(request.method)) {
    return errorAnswer(headers, 405, 'method', `${request.method} is not an HTTP method Hookline answers`);
  }
  try {
    const res = await app.inject({
      method: request.method as 'GET',
      url: request.target,
      headers,
      payload: request.body.length > 0 ? request.body : undefined,
      // Limits keyed by the client's address see the real client, not the loopback of inject().
      remoteAddress: req.ip,
    });
    const out: [string, string][] = [];
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) out.push([name, String(v)]);
    }
    return { status: res.statusCode, headers: out, body: res.rawPayload };
  } catch (e) {
    req.log.error({ err: e, reqId: req.id, part: part.contentId }, 'batch part failed');
    return errorAnswer(headers, 500, 'server', `Internal error in this part (request id ${req.id})`);
  }
}

/** The multipart/mixed answer: one application/http part per request, in order. */
export function buildBatchAnswer(boundary: string, answers: { contentId: string; message: Buffer }[]): Buffer {
  const chunks: Buffer[] = [];
  for (const a of answers) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n` +
          `Content-ID: <response-${a.contentId}>\r\n\r\n`,
        'utf8',
      ),
      a.message,
      Buffer.from('\r\n', 'utf8'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'utf8'));
  return Buffer.concat(chunks);
}

export function batchRoutes(app: FastifyInstance, _h: Handlers): void {
  app.post('/batch', async (req, reply) => {
    const contentType = String(req.headers['content-type'] ?? '');
    if (!/^\s*multipart\/mixed\b/i.test(contentType)) {
      throw bad('POST /batch needs Content-Type: multipart/mixed; boundary=…');
    }
    const boundary = boundaryOf(contentType);
    if (!boundary) throw bad('The Content-Type multipart/mixed has no boundary parameter');
    const body = req.body;
    if (!Buffer.isBuffer(body) || body.length === 0) throw bad('The batch is empty');
    const parts = parseBatch(body, boundary);
    const responses: HttpResponseMessage[] = [];
    for (let i = 0; i < parts.length;) {
      let end = i + 1;
      if (isCreate(parts[i].request)) while (end < parts.length && isCreate(parts[end].request)) end++;
      responses.push(...(await Promise.all(parts.slice(i, end).map((part) => runPart(app, req, part)))));
      i = end;
    }
    const answers = parts.map((part, i) => ({
      contentId: part.contentId ?? String(i + 1),
      message: serialiseHttpResponse(responses[i]),
    }));
    let out = `batch_${randomBytes(12).toString('hex')}`;
    while (answers.some((a) => a.message.includes(out))) out = `batch_${randomBytes(12).toString('hex')}`;
    return reply
      .code(200)
      .header('content-type', `multipart/mixed; boundary=${out}`)
      .send(buildBatchAnswer(out, answers));
  });
}
