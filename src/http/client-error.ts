// A request Node's HTTP parser cannot read (a bad header, a raw non-ASCII byte in the request line, headers
// over the limit, a client too slow to send them) never reaches a route. It is answered here in the dialect's
// envelope (XML: the parser never got to an Accept header), and logged by its code alone: Fastify's own
// handler logs the error with the raw bytes it read (`rawPacket`), Authorization header and cookies included.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { render } from '../dialect/respond.js';

interface ParserError extends Error {
  code?: string;
  /** llhttp's words for what was wrong ("Invalid header value char") */
  reason?: string;
}

/** Fastify's `clientErrorHandler` (called with the instance as `this`). */
export function clientErrorHandler(this: { log: FastifyBaseLogger }, err: ParserError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'The request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'The request headers are larger than the limit']
        : [400, `Malformed HTTP request${err.reason ? `: ${err.reason}` : ''} (${err.code ?? 'unknown'})`];
  this.log.debug({ code: err.code, reason: err.reason, status }, 'unreadable request');
  if (socket.writable) {
    const { body, contentType } = render({ format: 'xml' }, false, { errors: { request: message } });
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: ${contentType}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
