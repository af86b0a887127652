// Whole HTTP/1.1 messages inside a batch part (application/http): a request in, a response out. Pure
// functions on bytes. Requests are read leniently (CRLF or LF, no blank line after a body-less request,
// no HTTP version) because batches are often written by hand; what cannot be read is a MultipartError.
import { STATUS_CODES } from 'node:http';
import { MultipartError, parseHeaderLines, splitHead } from './multipart.js';

export interface HttpRequestMessage {
  method: string;
  /** origin form: path and query string */
  target: string;
  /** header names in lower case */
  headers: Map<string, string>;
  body: Buffer;
}

const REQUEST_LINE = /^([A-Za-z]+)\s+(\S+)(?:\s+HTTP\/(\d)\.(\d))?\s*$/;

/** Whether a line is an HTTP request line (`POST /contacts/ HTTP/1.1`). */
export function isRequestLine(line: string): boolean {
  return REQUEST_LINE.test(line);
}

function decodeChunked(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw new MultipartError('chunked body ends inside a chunk size line');
    const sizeText = buf.toString('latin1', pos, nl).replace(/\r$/, '').split(';')[0].trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new MultipartError(`bad chunk size "${sizeText.slice(0, 20)}"`);
    const size = parseInt(sizeText, 16);
    pos = nl + 1;
    if (size === 0) return Buffer.concat(out);
    if (pos + size > buf.length) throw new MultipartError('chunked body is shorter than its chunk sizes say');
    out.push(buf.subarray(pos, pos + size));
    pos += size;
    if (buf[pos] === 0x0d) pos++;
    if (buf[pos] === 0x0a) pos++;
  }
}

export function parseHttpRequest(raw: Buffer): HttpRequestMessage {
  const head = splitHead(raw);
  const [requestLine, ...headerLines] = head.lines;
  const m = REQUEST_LINE.exec(requestLine ?? '');
  if (!m) {
    throw new MultipartError(
      `"${(requestLine ?? '').slice(0, 60)}" is not an HTTP request line (e.g. POST /contacts/ HTTP/1.1)`,
    );
  }
  const headers = parseHeaderLines(headerLines);
  let target = m[2];
  const absolute = /^https?:\/\/[^/?#]*(.*)$/i.exec(target);
  if (absolute) target = absolute[1] || '/';
  if (!target.startsWith('/')) throw new MultipartError(`"${target.slice(0, 60)}" is not a path`);
  let body = head.rest;
  const te = headers.get('transfer-encoding');
  if (te) {
    if (te.toLowerCase() !== 'chunked') throw new MultipartError(`Transfer-Encoding ${te} is not supported`);
    body = decodeChunked(body);
  } else if (headers.has('content-length')) {
    const text = headers.get('content-length')!;
    if (!/^\d{1,12}$/.test(text)) throw new MultipartError(`Content-Length "${text.slice(0, 20)}" is not a number`);
    const length = Number(text);
    if (length > body.length) {
      throw new MultipartError(`the body is ${body.length} bytes, shorter than its Content-Length ${length}`);
    }
    body = body.subarray(0, length);
  } else if (body.toString('utf8').trim() === '') {
    body = Buffer.alloc(0);
  }
  headers.delete('transfer-encoding');
  headers.delete('content-length');
  return { method: m[1].toUpperCase(), target, headers, body };
}

export interface HttpResponseMessage {
  status: number;
  headers: [string, string][];
  body: Buffer;
}

/** Headers that describe one hop or the framing; the part's own framing replaces them. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'trailer', 'upgrade']);

/** content-type → Content-Type: naive clients match header names case-sensitively. */
function canonical(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** Status line, headers (Content-Length always, from the body), blank line, body. */
export function serialiseHttpResponse(r: HttpResponseMessage): Buffer {
  const lines = [`HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? 'Unknown'}`];
  for (const [name, value] of r.headers) {
    if (HOP_BY_HOP.has(name.toLowerCase())) continue;
    lines.push(`${canonical(name)}: ${value.replace(/[\r\n]+/g, ' ')}`);
  }
  lines.push(`Content-Length: ${r.body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), r.body]);
}
