// A PHP-style gateway sending /batch on a raw TCP socket: HTTP/1.1 written byte by byte, Connection: close,
// Content-Length (no chunking), the `====NNN===` boundary unquoted; it cuts the answer out of the raw bytes.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import type { TestApp } from '../support/app.js';
import { boundaryOf } from '../../src/dialect/multipart.js';
import { batchAnswerPart, makeCompatApp, multipartParts, parseRawResponse, XML_DECL } from '../compat/helpers.js';
import { rawRequest } from '../support/raw-socket.js';

describe.each(ENGINES)('raw-socket batch client on %s', (engine) => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await makeCompatApp(engine);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as net.AddressInfo).port;
  });
  afterAll(async () => t.close());

  it('sends a ====NNN=== batch byte by byte and reads every part out of the raw answer', async () => {
    const boundary = `====${Date.now() % 10_000_000_000}===`;
    const create = '<request><firstname>Raw</firstname><lastname>Batch</lastname></request>';
    const body =
      `--${boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <1>\r\n\r\n` +
      `POST /contacts/ HTTP/1.1\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(create)}\r\n\r\n${create}\r\n` +
      `--${boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <2>\r\n\r\n` +
      `GET /contacts/?searchvalue=Raw HTTP/1.1\r\n\r\n\r\n` +
      `--${boundary}--\r\n`;
    const auth = Buffer.from(`${t.adminA.email}:${t.adminA.token}`).toString('base64');
    const request = Buffer.from(
      `POST /batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic ${auth}\r\n` +
        `Content-Type: multipart/mixed; boundary=${boundary}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
    const res = parseRawResponse(await rawRequest(port, request));
    expect(res.status).toBe(200);
    expect(res.headers.has('transfer-encoding')).toBe(false);
    expect(Number(res.headers.get('content-length'))).toBe(res.body.length);
    const outBoundary = boundaryOf(res.headers.get('content-type'));
    expect(res.headers.get('content-type')).toMatch(/^multipart\/mixed; boundary=/);
    expect(outBoundary).not.toBeNull();

    const parts = multipartParts(res.body, outBoundary!).map(batchAnswerPart);
    expect(parts.map((p) => p.mime.get('content-id'))).toEqual(['<response-1>', '<response-2>']);
    for (const p of parts) {
      expect(p.response.status).toBe(200);
      expect(Number(p.response.headers.get('content-length'))).toBe(p.response.body.length);
      const xml = p.response.body.toString('utf8');
      expect(xml.startsWith(XML_DECL)).toBe(true);
      expect(xml).toMatch(/<status>success<\/status><\/response>$/);
    }
    const created = parts[0].response.body.toString('utf8');
    const id = /<item><id>(\d+)<\/id>/.exec(created)?.[1];
    expect(created).toContain('<name>Raw Batch</name>');
    // What a PHP gateway does with the list: parse from the first '<' and find the new record.
    const list = parts[1].response.body.toString('utf8');
    expect(list.slice(list.indexOf('<'))).toContain(`<id${id}>`);
    expect(list).toContain('<count>1</count>');
  });
});
