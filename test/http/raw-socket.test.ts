// A Solve360-style PHP gateway: HTTP/1.1 written byte by byte on a raw TCP socket, Connection: close, an
// XML body with Content-Length (no chunking); it cuts the body out of the raw bytes itself.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { makeApp, type TestApp } from '../support/app.js';
import { rawRequest } from '../support/raw-socket.js';

describe.each(ENGINES)('raw socket client on %s', (engine) => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await makeApp(engine);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as net.AddressInfo).port;
  });
  afterAll(async () => t.close());

  it('gets a complete XML response with Content-Length that starts with the XML declaration', async () => {
    const body = '<request><firstname>Byte</firstname><lastname>By Byte</lastname></request>';
    const auth = Buffer.from(`${t.adminA.email}:${t.adminA.token}`).toString('base64');
    const request = Buffer.from(
      `POST /contacts/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic ${auth}\r\nContent-Type: application/xml\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    const raw = await rawRequest(port, request);
    const text = raw.toString('utf8');
    const split = text.indexOf('\r\n\r\n');
    const head = text.slice(0, split);
    const rest = raw.subarray(Buffer.byteLength(text.slice(0, split)) + 4);
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head.toLowerCase()).not.toContain('transfer-encoding');
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
    expect(length).toBe(rest.length);
    expect(rest.toString('utf8').startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    // What a PHP gateway does: parse from the first '<'.
    const xml = text.slice(text.indexOf('<'));
    expect(xml).toContain('<name>Byte By Byte</name>');
    expect(xml).toMatch(/<status>success<\/status><\/response>$/);
  });

  it('answers a malformed XML body on a raw socket with a complete 400 in the envelope', async () => {
    const body = '<request><firstname>Trunc';
    const auth = Buffer.from(`${t.adminA.email}:${t.adminA.token}`).toString('base64');
    const raw = await rawRequest(
      port,
      Buffer.from(
        `POST /contacts/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      ),
    );
    const text = raw.toString('utf8');
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain('<status>failed</status>');
    expect(text).toMatch(/\r\ncontent-length: \d+/i);
  });
});
