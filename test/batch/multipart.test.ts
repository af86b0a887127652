// The pure readers and writers behind /batch and uploads, with fixed inputs: multipart splitting (CRLF, bare
// LF, PHP-style boundaries, look-alike lines), HTTP request parts, response serialising, form-data parts.
import { describe, expect, it } from 'vitest';
import {
  boundaryOf,
  MultipartError,
  parseFormData,
  parseHeaderValue,
  splitParts,
} from '../../src/dialect/multipart.js';
import { parseHttpRequest, serialiseHttpResponse } from '../../src/dialect/http-message.js';
import { isCreate, parseBatch } from '../../src/http/routes/batch.js';
import { ApiError } from '../../src/errors.js';

const B = '====1340674896===';
const text = (b: Buffer) => b.toString('utf8');

describe('boundaryOf', () => {
  it('reads quoted, unquoted and PHP-style boundaries', () => {
    expect(boundaryOf(`multipart/mixed; boundary=${B}`)).toBe(B);
    expect(boundaryOf(`multipart/mixed; boundary="${B}"`)).toBe(B);
    expect(boundaryOf(`Multipart/Mixed;charset=utf-8;  BOUNDARY=abc ; x=y`)).toBe('abc');
    expect(boundaryOf('multipart/form-data; boundary="a;b c"')).toBe('a;b c');
  });
  it('answers null without a boundary', () => {
    expect(boundaryOf('multipart/mixed')).toBeNull();
    expect(boundaryOf('multipart/mixed; boundary=')).toBeNull();
    expect(boundaryOf(undefined)).toBeNull();
  });
  it('parses header parameters with escapes', () => {
    const v = parseHeaderValue('form-data; name="file"; filename="a \\"b\\".txt"');
    expect(v.value).toBe('form-data');
    expect(v.params.get('filename')).toBe('a "b".txt');
  });
});

describe('splitParts', () => {
  it('splits CRLF parts and drops preamble and epilogue', () => {
    const body = Buffer.from(`preamble\r\n--${B}\r\none\r\n--${B}\r\ntwo\r\nlines\r\n--${B}--\r\nepilogue`);
    expect(splitParts(body, B).map(text)).toEqual(['one', 'two\r\nlines']);
  });
  it('splits bare-LF parts', () => {
    const body = Buffer.from(`--${B}\none\n--${B}\ntwo\n--${B}--\n`);
    expect(splitParts(body, B).map(text)).toEqual(['one', 'two']);
  });
  it('does not split on the boundary inside a line or as a prefix of a longer word', () => {
    const body = Buffer.from(`--${B}\r\nsee --${B} here\r\n--${B}X is not it\r\n--${B}--`);
    expect(splitParts(body, B).map(text)).toEqual([`see --${B} here\r\n--${B}X is not it`]);
  });
  it('accepts transport padding after a delimiter and a missing close delimiter', () => {
    const body = Buffer.from(`--${B}  \r\none\r\n--${B}\r\ntwo\r\n`);
    expect(splitParts(body, B).map(text)).toEqual(['one', 'two']);
  });
  it('keeps binary bytes as they are', () => {
    const bytes = Buffer.from([0, 1, 2, 0x0d, 0x0a, 0xff, 0x2d, 0x2d]);
    const body = Buffer.concat([Buffer.from(`--${B}\r\n`), bytes, Buffer.from(`\r\n--${B}--\r\n`)]);
    expect(splitParts(body, B)[0].equals(bytes)).toBe(true);
  });
  it('fails without any delimiter, and above the part limit', () => {
    expect(() => splitParts(Buffer.from('no parts here'), B)).toThrow(MultipartError);
    const many = Buffer.from(`${Array.from({ length: 4 }, (_, i) => `--${B}\r\n${i}\r\n`).join('')}--${B}--`);
    expect(splitParts(many, B, 4)).toHaveLength(4);
    expect(() => splitParts(many, B, 3)).toThrow(/more than 3 parts/);
  });
});

describe('parseHttpRequest', () => {
  it('reads the request line, headers and a Content-Length body', () => {
    const r = parseHttpRequest(
      Buffer.from(
        'post /contacts/?x=1 HTTP/1.1\r\nContent-Type: application/xml\r\nContent-Length: 5\r\n\r\nhello world',
      ),
    );
    expect(r.method).toBe('POST');
    expect(r.target).toBe('/contacts/?x=1');
    expect(r.headers.get('content-type')).toBe('application/xml');
    expect(r.headers.has('content-length')).toBe(false);
    expect(text(r.body)).toBe('hello');
  });
  it('takes a body-less request without the blank line, LF line ends and no version', () => {
    const r = parseHttpRequest(Buffer.from('GET /contacts/\nAccept: application/json'));
    expect(r).toMatchObject({ method: 'GET', target: '/contacts/' });
    expect(r.headers.get('accept')).toBe('application/json');
    expect(r.body.length).toBe(0);
  });
  it('cuts an absolute URI down to its path, decodes chunked bodies, joins folded headers', () => {
    const r = parseHttpRequest(
      Buffer.from(
        'PUT https://crm.example.org/contacts/5/ HTTP/1.1\r\nX-Long: a\r\n  b\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
      ),
    );
    expect(r.target).toBe('/contacts/5/');
    expect(r.headers.get('x-long')).toBe('a b');
    expect(text(r.body)).toBe('abcde');
  });
  it('refuses what is not a request', () => {
    expect(() => parseHttpRequest(Buffer.from('hello there'))).toThrow(MultipartError);
    expect(() => parseHttpRequest(Buffer.from('GET contacts HTTP/1.1'))).toThrow(/not a path/);
    expect(() => parseHttpRequest(Buffer.from('POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort'))).toThrow(
      /shorter than its Content-Length/,
    );
    expect(() => parseHttpRequest(Buffer.from('GET / HTTP/1.1\r\nno colon here\r\n\r\n'))).toThrow(/not a header/);
  });
});

describe('serialiseHttpResponse', () => {
  it('writes status line, canonical headers, its own Content-Length, blank line, body', () => {
    const out = serialiseHttpResponse({
      status: 404,
      headers: [
        ['content-type', 'application/xml'],
        ['x-request-id', 'r1'],
        ['connection', 'keep-alive'],
        ['content-length', '999'],
      ],
      body: Buffer.from('<x/>'),
    });
    expect(text(out)).toBe(
      'HTTP/1.1 404 Not Found\r\nContent-Type: application/xml\r\nX-Request-Id: r1\r\nContent-Length: 4\r\n\r\n<x/>',
    );
  });
});

describe('parseBatch', () => {
  const part = (inner: string, headers = 'Content-Type: application/http\r\nContent-ID: <p1>') =>
    `--${B}\r\n${headers}\r\n\r\n${inner}\r\n`;
  const batch = (...parts: string[]) => Buffer.from(`${parts.join('')}--${B}--\r\n`);
  const fails = (body: Buffer, message: RegExp) => {
    try {
      parseBatch(body, B);
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).statusCode).toBe(400);
      expect((e as ApiError).errors.batch).toMatch(message);
      return;
    }
    throw new Error('expected the batch to be refused');
  };
  it('reads parts with MIME headers, and parts that start with the request line', () => {
    const parts = parseBatch(batch(part('GET /contacts/ HTTP/1.1'), `--${B}\r\nDELETE /contacts/7/ HTTP/1.1\r\n`), B);
    expect(parts.map((p) => [p.contentId, p.request.method, p.request.target])).toEqual([
      ['p1', 'GET', '/contacts/'],
      [undefined, 'DELETE', '/contacts/7/'],
    ]);
  });
  it('refuses nested batches, non-HTTP parts, empty parts and other part types', () => {
    fails(batch(part('POST /batch HTTP/1.1\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n')), /Part 1: .*batch/);
    fails(batch(part('GET /contacts/ HTTP/1.1'), part('POST /Batch/ HTTP/1.1')), /Part 2: a batch cannot contain/);
    fails(batch(part('GET /contacts/ HTTP/1.1', 'Content-Type: multipart/mixed; boundary=z')), /Part 1/);
    fails(batch(part('this is not http')), /Part 1: .*not an HTTP request line/);
    fails(batch(part('GET / HTTP/1.1', 'Content-Type: text/plain')), /application\/http/);
    fails(batch(`--${B}\r\nContent-Type: application/http\r\n`), /no HTTP request/);
    fails(Buffer.from(`--${B}--\r\n`), /no parts/);
    fails(batch(...Array.from({ length: 101 }, () => part('GET / HTTP/1.1'))), /more than 100 parts/);
  });
});

describe('isCreate', () => {
  const req = (method: string, target: string) => ({ method, target, headers: new Map(), body: Buffer.alloc(0) });
  it('names the creates that may run together, and nothing else', () => {
    for (const target of [
      '/contacts/',
      '/companies',
      '/projectblogs/?x=1',
      '/contacts/task/',
      '/contacts/template/',
      '/companies/file',
    ]) {
      expect(isCreate(req('POST', target)), target).toBe(true);
    }
    for (const [method, target] of [
      ['GET', '/contacts/'],
      ['PUT', '/contacts/5/'],
      ['POST', '/contacts/5/restore/'],
      ['POST', '/contacts/task/5/restore/'],
      ['POST', '/contacts/categories/'],
      ['POST', '/contacts/fields/'],
      ['POST', '/templates/'],
      ['POST', '/hooks/'],
      ['DELETE', '/contacts/task/5/'],
    ]) {
      expect(isCreate(req(method, target)), `${method} ${target}`).toBe(false);
    }
  });
});

describe('parseFormData', () => {
  it('names fields and files, with RFC 5987 file names', () => {
    const body = Buffer.from(
      `--x\r\nContent-Disposition: form-data; name="parent"\r\n\r\n42\r\n` +
        `--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"; filename*=UTF-8''%C3%A9t%C3%A9.txt\r\n` +
        `Content-Type: text/plain\r\n\r\nhi\r\n--x--\r\n`,
    );
    const entries = parseFormData(body, 'x');
    expect(entries.map((e) => [e.name, e.filename, e.contentType, text(e.data)])).toEqual([
      ['parent', undefined, undefined, '42'],
      ['file', 'été.txt', 'text/plain', 'hi'],
    ]);
  });
  it('refuses a part without Content-Disposition', () => {
    expect(() => parseFormData(Buffer.from('--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--'), 'x')).toThrow(
      /Content-Disposition/,
    );
  });
});
