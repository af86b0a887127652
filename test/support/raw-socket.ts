// A PHP-gateway-style client: writes a whole HTTP/1.1 request byte by byte on a raw TCP socket and reads
// every byte until the server closes (the request says Connection: close).
import net from 'node:net';

export async function rawRequest(port: number, request: Buffer): Promise<Buffer> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const chunks: Buffer[] = [];
  socket.on('data', (d) => chunks.push(d));
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  for (const byte of request) socket.write(Buffer.from([byte]));
  await closed;
  return Buffer.concat(chunks);
}
