// Receivers over HTTPS, through a real `hookline serve`: the certificate is checked against the system's
// trusted CAs plus those of NODE_EXTRA_CA_CERTS (here the test CA of test/fixtures/tls, as a self-hoster's
// own CA would be), for the URL's host name (sent as SNI). A certificate that is untrusted, expired or for
// another name, or a receiver that does not speak TLS, fails the attempt before a byte of the notification is
// sent, and the attempt log says which it was.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiver, type Receiver } from '../delivery/helpers.js';
import { api as call, serve, serverEnv, stop, type Proc } from '../support/serve.js';

const ADMIN = { email: 'https@example.org', token: 'https-token-0123456789abcdef' };
const SECRET = 'https-secret';
const TLS = path.resolve('test/fixtures/tls');
const pem = (name: string) => fs.readFileSync(path.join(TLS, `${name}.pem`));
const certificate = (name: string) => ({ cert: pem(name), key: pem(`${name}-key`) });

describe('HTTPS receivers (hookline serve, SQLite)', () => {
  let dir: string;
  let server: Proc;
  const rx: Record<string, Receiver> = {};
  const api = (method: string, url: string, body?: unknown) => call(server, ADMIN, method, url, body);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-https-'));
    for (const name of ['good', 'pinned', 'untrusted', 'expired', 'wrong-host'])
      rx[name] = await receiver(undefined, { tls: certificate(name) });
    // A receiver that speaks plain HTTP, at an https:// URL.
    const plain = await receiver();
    rx.plain = { ...plain, url: plain.url.replace('http://127.0.0.1', 'https://localhost') };
    // The server trusts the test CA, and one receiver's own self-signed certificate as it is.
    const trusted = path.join(dir, 'trusted.pem');
    fs.writeFileSync(trusted, Buffer.concat([pem('ca'), pem('pinned')]));
    server = await serve(
      serverEnv(
        { dir, databaseUrl: '', admin: ADMIN },
        {
          NODE_EXTRA_CA_CERTS: trusted,
          HOOKLINE_ALLOWED_TARGETS: '127.0.0.0/8,::1/128',
          // Only the first attempt happens in this test.
          HOOKLINE_RETRY_SCHEDULE: '1h',
        },
      ),
    );
  });
  afterAll(async () => {
    await stop(server);
    for (const r of Object.values(rx)) await r.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers to a receiver whose certificate a trusted CA signed for its name, and fails, saying why, at every other', async () => {
    const hooks: Record<string, number> = {};
    for (const [name, r] of Object.entries(rx)) {
      const h = await api('POST', '/hooks/', {
        type: 'web',
        title: name,
        active: 1,
        event: 'items.create',
        constrainttype: 'all',
        url: r.url,
        contenttype: 'json',
        secret: SECRET,
      });
      expect(h.status, JSON.stringify(h.body)).toBe(200);
      hooks[name] = Number(h.body.id);
    }
    const created = await api('POST', '/contacts/', { firstname: 'Tess', lastname: 'Ellis' });
    expect(created.status).toBe(200);

    // The good one and the pinned one: the notification arrives, signed, over TLS with SNI naming the URL's host.
    for (const name of ['good', 'pinned']) {
      await rx[name].waitFor(1, 10_000);
      const got = rx[name].requests[0];
      expect(got.servername).toBe('localhost');
      expect(got.headers['x-solve360-hmac-sha256']).toBe(createHmac('sha256', SECRET).update(got.body).digest('hex'));
      expect(JSON.parse(got.body.toString('utf8'))).toMatchObject({
        type: 'items.create',
        objectid: Number(created.body.item.id),
      });
    }

    // Each of the others: one failed attempt, its error naming what was wrong; the delivery waits for its retry.
    const expected: Record<string, RegExp> = {
      good: /^$/,
      pinned: /^$/,
      untrusted: /^TLS: certificate not trusted \(self[- ]signed certificate\)/,
      expired: /^TLS: certificate expired \(certificate has expired\)/,
      'wrong-host': /^TLS: certificate not for this host \(.*localhost.*other\.example/,
      plain: /^TLS: handshake failed \(wrong version number\)$/,
    };
    for (const [name, hookId] of Object.entries(hooks)) {
      const delivered = name === 'good' || name === 'pinned';
      const state = delivered ? 'succeeded' : 'pending';
      let attempt: { statuscode?: number; error?: string } | undefined;
      for (let i = 0; i < 200 && attempt === undefined; i++) {
        const list = await api('GET', `/hooks/${hookId}/deliveries/?state=${state}`);
        const delivery = Object.entries(list.body).find(([k]) => /^\d+$/.test(k))?.[1] as
          { attempts: { attempt: { statuscode?: number; error?: string }[] } } | undefined;
        attempt = delivery?.attempts.attempt[0];
        if (attempt === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      expect(attempt, name).toBeDefined();
      if (delivered) {
        expect(attempt!.statuscode).toBe(200);
        continue;
      }
      expect(attempt!.error, name).toMatch(expected[name]);
      // Refused before the request: the receiver never saw the notification.
      expect(rx[name].requests, name).toHaveLength(0);
    }
  }, 30_000);
});
