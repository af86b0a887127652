// A request Node's HTTP parser cannot read never reaches a route: it is answered in the dialect's XML
// envelope, and logged by its code alone, never with the bytes it carried (Fastify's own handler logs the
// raw packet at trace level: the Authorization header, the login in it, went to the log).
import net from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeApp, type TestApp } from '../support/app.js';
import { rawRequest } from '../support/raw-socket.js';

describe('requests the HTTP parser refuses', () => {
  let t: TestApp;
  let port: number;
  const lines: string[] = [];
  beforeAll(async () => {
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    t = await makeApp('sqlite', { logger });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as net.AddressInfo).port;
  });
  afterAll(async () => t.close());

  const answer = (raw: Buffer) => {
    const text = raw.toString('utf8');
    const split = text.indexOf('\r\n\r\n');
    return { head: text.slice(0, split), body: text.slice(split + 4) };
  };

  it('answers 400 in the XML envelope, with the parser reason, and logs no header of it', async () => {
    const auth = Buffer.from(`${t.adminA.email}:${t.adminA.token}`).toString('base64');
    const cases: [string, Buffer, RegExp][] = [
      [
        'a header with a control character in its name',
        Buffer.from(`GET /contacts/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\nBad Header\x01: y\r\n\r\n`),
        /Malformed HTTP request: .*\(HPE_/,
      ],
      [
        'a raw non-ASCII byte in the request line, as a gateway that does not percent-encode sends it',
        Buffer.concat([
          Buffer.from('GET /contacts/?searchvalue=m'),
          Buffer.from([0xc3, 0xbc]),
          Buffer.from(` HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\n\r\n`),
        ]),
        /Malformed HTTP request/,
      ],
    ];
    for (const [label, request, message] of cases) {
      lines.length = 0;
      const { head, body } = answer(await rawRequest(port, request));
      expect(head, label).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(head, label).toMatch(/\r\nContent-Type: application\/xml; charset=utf-8\r\n/);
      expect(Number(/\r\nContent-Length: (\d+)/.exec(head)?.[1]), label).toBe(Buffer.byteLength(body));
      expect(body, label).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<response><errors><request>/);
      expect(body, label).toMatch(message);
      expect(body, label).toMatch(/<status>failed<\/status><\/response>$/);
      // Logged (at debug), by its code: not the bytes, so not the login.
      const logged = lines.join('\n');
      expect(logged, label).toMatch(/"msg":"unreadable request"/);
      expect(logged, label).not.toContain(auth);
      expect(logged, label).not.toContain('rawPacket');
    }
  });

  it('answers headers over the limit with 431 in the envelope', async () => {
    const { head, body } = answer(
      await rawRequest(port, Buffer.from(`GET /contacts/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)),
    );
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(body).toMatch(/<request>The request headers are larger than the limit<\/request>/);
  });
});
