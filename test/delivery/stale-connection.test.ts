// A kept-alive connection the receiver closes as a request goes out (its idle timeout, with no Keep-Alive
// hint: uvicorn, gunicorn): the request is sent once more at once, on another connection, within the same
// attempt. Everything else that closes a connection without an answer stays a failed attempt. The receiver
// here is a raw TCP server, so that when and how it closes is exact; the last test puts 20 ms of latency
// (a TCP relay) between it and the sender, and times a notification to cross its idle timeout's close.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Sender } from '../../src/delivery/send.js';
import { TargetGuard } from '../../src/delivery/ssrf.js';
import { buildNotification } from '../../src/delivery/notification.js';

/** What the receiver does with the n-th request (from 0) on the c-th connection (from 0). */
type Act = 'answer' | 'close' | 'headers-then-close';

interface Seen {
  connection: number;
  webhookId: string;
  body: string;
}

/**
 * An HTTP/1.1 receiver on a raw socket: keep-alive without a Keep-Alive hint, as uvicorn answers;
 * `idleCloseMs`: it closes a connection that long after its last answer (or its opening), as uvicorn does.
 */
async function rawReceiver(act: (connection: number, request: number) => Act, o: { idleCloseMs?: number } = {}) {
  const seen: Seen[] = [];
  let connections = 0;
  const server = net.createServer((socket) => {
    const connection = connections++;
    let request = 0;
    let buffered = Buffer.alloc(0);
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      if (o.idleCloseMs !== undefined) idle = setTimeout(() => socket.end(), o.idleCloseMs);
    };
    armIdle();
    socket.on('close', () => clearTimeout(idle));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const body = buffered.subarray(end + 4, end + 4 + length).toString('utf8');
        buffered = buffered.subarray(end + 4 + length);
        seen.push({ connection, webhookId: /\r\nwebhook-id: *(\S+)/i.exec(head)?.[1] ?? '', body });
        const what = act(connection, request++);
        if (what === 'close') return void socket.end();
        if (what === 'headers-then-close') {
          socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart');
          return void socket.end();
        }
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        armIdle();
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    seen,
    connections: () => connections,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * The first request, answered; then a pause, so that its connection is idle and checked (undici checks an
 * idle connection before reusing it, and opens another meanwhile), as it is when an idle timeout closes it.
 */
async function firstAnswered(sender: Sender, url: string) {
  expect((await sender.send(notification(url, 1))).ok).toBe(true);
  await new Promise((r) => setTimeout(r, 20));
}

const notification = (url: string, eventId: number) =>
  buildNotification(
    {
      hookId: 7,
      eventId,
      hook: { url, contenttype: 'json', secret: 'k3y' },
      event: { type: 'items.create', objectId: eventId, content: `{"item":{"id":${eventId}}}` },
    },
    Date.now(),
  );

describe('a connection closed by the receiver with no answer', () => {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((o) => o.close()));
  });
  const setUp = async (act: (connection: number, request: number) => Act) => {
    const rx = await rawReceiver(act);
    const sender = new Sender(new TargetGuard(['127.0.0.0/8']), 2_000);
    open.push(rx, sender);
    return { rx, sender };
  };

  it('after it had answered before: the request goes once more on a new connection, one successful attempt', async () => {
    // The first connection answers its first request and closes as the second arrives.
    const { rx, sender } = await setUp((c, n) => (c === 0 && n === 1 ? 'close' : 'answer'));
    await firstAnswered(sender, rx.url);
    const second = notification(rx.url, 2);
    const r = await sender.send(second);
    expect(r).toMatchObject({ ok: true, statusCode: 200, error: null, responseBody: 'ok' });
    expect(rx.connections()).toBe(2);
    // The same request twice, the second time on the new connection.
    expect(rx.seen.slice(1)).toEqual([
      { connection: 0, webhookId: second.webhookId, body: second.body.toString() },
      { connection: 1, webhookId: second.webhookId, body: second.body.toString() },
    ]);
  });

  it('only once: when the second connection closes too, the attempt fails', async () => {
    const { rx, sender } = await setUp((c, n) => (c === 0 && n === 0 ? 'answer' : 'close'));
    await firstAnswered(sender, rx.url);
    const r = await sender.send(notification(rx.url, 2));
    expect(r).toMatchObject({ ok: false, statusCode: null });
    expect(r.error).toMatch(/^connection closed by the receiver/);
    expect(rx.seen.map((s) => s.connection)).toEqual([0, 0, 1]);
  });

  it('on a new connection: not sent again (the receiver got it and said nothing)', async () => {
    const { rx, sender } = await setUp(() => 'close');
    const r = await sender.send(notification(rx.url, 1));
    expect(r).toMatchObject({ ok: false, statusCode: null });
    expect(r.error).toMatch(/^connection closed by the receiver/);
    expect(rx.seen).toHaveLength(1);
  });

  it('after the answer began: not sent again (cut off mid-answer is a failed attempt)', async () => {
    const { rx, sender } = await setUp((c, n) => (c === 0 && n === 1 ? 'headers-then-close' : 'answer'));
    await firstAnswered(sender, rx.url);
    const r = await sender.send(notification(rx.url, 2));
    expect(r).toMatchObject({ ok: false, statusCode: 200 });
    expect(rx.seen).toHaveLength(2);
  });
});

/** A TCP relay that holds every chunk and every close `delay` ms each way: a network's latency, on loopback. */
async function latency(targetPort: number, delay: number) {
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pipe = (from: net.Socket, to: net.Socket) => {
      from.on('data', (d: Buffer) => setTimeout(() => (to.writable ? to.write(d) : from.destroy()), delay));
      from.on('end', () => setTimeout(() => to.end(), delay));
      from.on('error', () => undefined);
      from.on('close', () => setTimeout(() => to.destroy(), delay + 1));
    };
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('the race itself: an idle timeout whose close is still on its way', () => {
  it('a receiver 20 ms away that closes idle connections after 100 ms: a notification sent just after, before the close arrives, is delivered', async () => {
    // The receiver closes a connection 100 ms after its last answer, without saying so (no Keep-Alive hint).
    const rx = await rawReceiver(() => 'answer', { idleCloseMs: 100 });
    const far = await latency(Number(new URL(rx.url).port), 20);
    const sender = new Sender(new TargetGuard(['127.0.0.0/8']), 2_000);
    try {
      const url = `http://127.0.0.1:${far.port}/hook`;
      for (let i = 1; i <= 3; i++) {
        const r = await sender.send(notification(url, i));
        expect(r).toMatchObject({ ok: true, statusCode: 200 });
        // The answer left the receiver 20 ms ago; its close will leave 100 ms after it and arrive 20 ms
        // later. Sent 90 ms from now, the next notification goes out after the close and before it arrives.
        await new Promise((res) => setTimeout(res, 90));
      }
      // Every notification after the first crossed a close: it went out on the closing connection, where the
      // receiver never read it (as a closed socket's data is answered with a reset), then on a new one.
      expect(rx.seen.map((s) => s.webhookId)).toEqual(['dlv_7_1', 'dlv_7_2', 'dlv_7_3']);
      expect(rx.connections()).toBe(3);
    } finally {
      await sender.close();
      await far.close();
      await rx.close();
    }
  });
});
