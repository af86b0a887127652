// A TCP relay on loopback between the engine and PostgreSQL, for tests of what crosses the connection: it
// can cut every connection, refuse new ones, cut a connection just after it has passed a COMMIT on (so the
// transaction commits and its answer never comes), go silent (a network partition), and it counts the
// connections made and the chunks the clients wrote.
import net from 'node:net';
import { PG_URL } from './engines.js';

/** A TCP relay to PostgreSQL. */
export async function relay() {
  const target = new URL(PG_URL);
  const open = new Set<net.Socket>();
  // silent: every byte either way is dropped and no connection is ended (a network partition)
  // fromClient: the chunks the relay has read from clients (on loopback, one a write of theirs)
  const state = { refuse: false, cutOnCommit: false, commitsCut: 0, connections: 0, silent: false, fromClient: 0 };
  const server = net.createServer((client) => {
    state.connections++;
    if (state.refuse) return client.destroy();
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    open.add(client).add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      state.fromClient++;
      if (state.silent) return;
      upstream.write(chunk);
      // A simple-protocol COMMIT ('Q' message): let it reach the server, then end the connection before
      // the answer can come back.
      if (state.cutOnCommit && chunk.includes('COMMIT\0')) {
        state.cutOnCommit = false;
        state.commitsCut++;
        upstream.prependOnceListener('data', () => {
          upstream.pause();
          cut();
        });
      }
    });
    upstream.on('data', (chunk: Buffer) => !state.silent && client.writable && client.write(chunk));
    for (const s of [client, upstream]) {
      s.on('error', cut);
      s.on('close', () => (open.delete(s), cut()));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = new URL(PG_URL);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    state,
    /** ends every connection through the relay, as a restart of PostgreSQL does */
    cutAll: () => open.forEach((s) => s.destroy()),
    /** connections through the relay that are open now (each counted on both of its sides) */
    openNow: () => open.size,
    close: () => new Promise<void>((r) => (open.forEach((s) => s.destroy()), server.close(() => r()))),
  };
}
