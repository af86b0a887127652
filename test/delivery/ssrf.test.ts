// The SSRF guard: which addresses a hook may reach, the allow-list, URL checks at save time, and the connect
// lookup that refuses a rebinding DNS answer at send time.
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefusedTargetError, TargetGuard, type Resolver } from '../../src/delivery/ssrf.js';
import { Sender } from '../../src/delivery/send.js';
import { receiver, type Receiver } from './helpers.js';

const refused: [string, string][] = [
  ['127.0.0.1', 'loopback'],
  ['127.255.0.9', 'loopback'],
  ['10.0.0.1', 'private'],
  ['172.16.5.4', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.169.254', 'link-local (cloud metadata)'],
  ['100.64.0.1', 'CGNAT'],
  ['100.127.255.254', 'CGNAT'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'this network'],
  ['255.255.255.255', 'broadcast'],
  ['240.0.0.1', 'reserved'],
  ['192.0.2.10', 'documentation'],
  ['198.18.0.1', 'benchmarking'],
  ['::1', 'v6 loopback'],
  ['::', 'v6 unspecified'],
  ['fc00::1', 'ULA'],
  ['fd12:3456::1', 'ULA'],
  ['fe80::1', 'v6 link-local'],
  ['ff02::1', 'v6 multicast'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
  ['::ffff:10.0.0.1', 'IPv4-mapped private'],
  ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
  ['::ffff:a9fe:a9fe', 'IPv4-mapped metadata, hex'],
  ['2002:0a00:0001::1', '6to4 of 10.0.0.1'],
  ['2002:7f00:0001::', '6to4 of 127.0.0.1'],
  ['64:ff9b::10.0.0.1', 'NAT64 of 10.0.0.1'],
  ['64:ff9b::a9fe:a9fe', 'NAT64 of 169.254.169.254'],
  ['64:ff9b:1::1', 'NAT64 local use'],
  ['2001:0:4136:e378:8000:63bf:f5ff:fffe', 'Teredo with client 10.0.0.1'],
  ['2001:db8::1', 'documentation'],
  ['::10.0.0.1', 'IPv4-compatible'],
  ['fec0::1', 'site-local'],
  ['100::1', 'discard'],
];

const allowed = [
  '93.184.216.34',
  '8.8.8.8',
  '1.1.1.1',
  '172.32.0.1',
  '100.128.0.1',
  '2606:4700:4700::1111',
  '2a00:1450:4001:80b::200e',
  '::ffff:93.184.216.34',
  '64:ff9b::5db8:d822',
  '2002:5db8:d822::1',
];

describe('TargetGuard', () => {
  const guard = new TargetGuard();

  it.each(refused)('refuses %s (%s)', (address) => {
    expect(guard.refusal(address)).not.toBeNull();
    expect(() => guard.assertAllowed(address)).toThrow(`refused target address ${address}`);
  });

  it.each(allowed)('allows the public address %s', (address) => {
    expect(guard.refusal(address)).toBeNull();
  });

  it('refuses what is not an address', () => {
    expect(guard.refusal('example.org')).not.toBeNull();
  });

  it('an allow-list lets chosen ranges through, v4 (also IPv4-mapped) and v6, and nothing else', () => {
    const g = new TargetGuard(['127.0.0.0/8', '10.1.0.0/16', 'fd00:1::/32']);
    expect(g.refusal('127.0.0.1')).toBeNull();
    expect(g.refusal('::ffff:127.0.0.1')).toBeNull();
    expect(g.refusal('10.1.2.3')).toBeNull();
    expect(g.refusal('10.2.0.1')).not.toBeNull();
    expect(g.refusal('fd00:1::5')).toBeNull();
    expect(g.refusal('fd00:2::5')).not.toBeNull();
    expect(g.refusal('::1')).not.toBeNull();
    expect(g.refusal('169.254.169.254')).not.toBeNull();
  });

  describe('checkUrl at hook creation', () => {
    const dnsTable: Record<string, string[]> = {
      'public.example.test': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
      'internal.example.test': ['10.0.0.5'],
      'mixed.example.test': ['93.184.216.34', '192.168.0.1'],
    };
    const resolve: Resolver = async (host) => {
      const list = dnsTable[host];
      if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
    const g = new TargetGuard([], { resolve });

    it('accepts http(s) URLs whose host resolves to public addresses only', async () => {
      expect(await g.checkUrl('https://public.example.test/endpoint.php')).toBeNull();
      expect(await g.checkUrl('http://93.184.216.34:8080/x')).toBeNull();
    });

    it('refuses private targets, literal or resolved, and mixed answers', async () => {
      expect(await g.checkUrl('http://internal.example.test/')).toMatch(/refused target address 10\.0\.0\.5/);
      expect(await g.checkUrl('http://mixed.example.test/')).toMatch(/192\.168\.0\.1/);
      expect(await g.checkUrl('http://169.254.169.254/latest/meta-data/')).toMatch(/169\.254\.169\.254/);
      expect(await g.checkUrl('http://[::1]:8080/')).toMatch(/::1/);
      expect(await g.checkUrl('http://[::ffff:7f00:1]/')).toMatch(/refused/);
      expect(await g.checkUrl('http://2130706433/')).toMatch(/127\.0\.0\.1/); // 127.0.0.1 as one number
      expect(await g.checkUrl('http://0x7f.1/')).toMatch(/127\.0\.0\.1/);
    });

    it('refuses other schemes, credentials, garbage and unknown hosts', async () => {
      expect(await g.checkUrl('ftp://public.example.test/')).toMatch(/http/);
      expect(await g.checkUrl('file:///etc/passwd')).toMatch(/http/);
      expect(await g.checkUrl('gopher://public.example.test/')).toMatch(/http/);
      expect(await g.checkUrl('https://user:pw@public.example.test/')).toMatch(/credentials/);
      expect(await g.checkUrl('not a url')).toMatch(/valid URL/);
      expect(await g.checkUrl('http://nowhere.example.test/')).toMatch(/does not resolve/);
    });
  });

  describe('lookup for connections', () => {
    it('answers in both callback shapes and refuses a refused address', async () => {
      const g = new TargetGuard([], {
        resolve: async (h) =>
          h === 'ok.test'
            ? [
                { address: '93.184.216.34', family: 4 },
                { address: '2606:2800:220:1::1', family: 6 },
              ]
            : [{ address: '10.0.0.1', family: 4 }],
      });
      const call = (host: string, options: object) =>
        new Promise<{ err: Error | null; address: string | LookupAddress[]; family?: number }>((r) =>
          g.lookup(host, options, (err, address, family) => r({ err, address, family })),
        );
      expect(await call('ok.test', {})).toEqual({ err: null, address: '93.184.216.34', family: 4 });
      expect((await call('ok.test', { family: 6 })).address).toBe('2606:2800:220:1::1');
      expect((await call('ok.test', { all: true })).address).toHaveLength(2);
      const bad = await call('evil.test', { all: true });
      expect(bad.err).toBeInstanceOf(RefusedTargetError);
      expect(bad.err?.message).toContain('refused target address 10.0.0.1');
    });
  });

  describe('lookups shared while in progress', () => {
    it('connections to the same host at once ask once (a host whose DNS hangs holds one resolver thread, not one per attempt); another host asks for itself; nothing is kept', async () => {
      const asked: string[] = [];
      const pending = new Map<string, () => void>();
      const g = new TargetGuard([], {
        resolve: (h) => {
          asked.push(h);
          return new Promise((done) => pending.set(h, () => done([{ address: '93.184.216.34', family: 4 }])));
        },
      });
      const call = (host: string) =>
        new Promise<{ err: Error | null; address: string | LookupAddress[] }>((r) =>
          g.lookup(host, {}, (err, address) => r({ err, address })),
        );
      const hung = Array.from({ length: 16 }, () => call('hung.example.test'));
      const other = call('other.example.test');
      expect(asked).toEqual(['hung.example.test', 'other.example.test']);
      pending.get('other.example.test')!();
      expect(await other).toEqual({ err: null, address: '93.184.216.34' });
      pending.get('hung.example.test')!();
      for (const r of await Promise.all(hung)) expect(r).toEqual({ err: null, address: '93.184.216.34' });
      // Answered: the next connection asks again (a changed answer is seen, and checked).
      const again = call('hung.example.test');
      expect(asked).toEqual(['hung.example.test', 'other.example.test', 'hung.example.test']);
      pending.get('hung.example.test')!();
      await again;
    });

    it('a failed lookup fails every connection that shared it, and is not kept either', async () => {
      let calls = 0;
      let fail!: (e: Error) => void;
      const g = new TargetGuard([], {
        resolve: () => {
          calls++;
          return new Promise((_, reject) => (fail = reject));
        },
      });
      const call = () => new Promise<Error | null>((r) => g.lookup('gone.example.test', {}, (err) => r(err)));
      const both = Promise.all([call(), call()]);
      fail(Object.assign(new Error('getaddrinfo ENOTFOUND gone.example.test'), { code: 'ENOTFOUND' }));
      for (const err of await both) expect(err).toMatchObject({ code: 'ENOTFOUND' });
      expect(calls).toBe(1);
      void call();
      expect(calls).toBe(2);
    });
  });

  describe('at send time (real connections)', () => {
    let r: Receiver;
    beforeAll(async () => {
      r = await receiver();
    });
    afterAll(async () => r.close());

    const notification = (url: string) => ({ url, body: Buffer.from('{}'), headers: {}, webhookId: 'dlv_1_2' });
    /** One notification to `url` through a Sender of its own, guarded by `guard`. */
    const sendOnce = async (guard: TargetGuard, url: string) => {
      const s = new Sender(guard, 2000);
      try {
        return await s.send(notification(url));
      } finally {
        await s.close();
      }
    };

    it('an IP-literal URL to a refused address never connects', async () => {
      const res = await sendOnce(new TargetGuard(), r.url);
      expect(res.ok).toBe(false);
      expect(res.error).toContain('refused target address 127.0.0.1');
      expect(r.requests).toHaveLength(0);
    });

    it('a host name is checked at connect time: localhost is refused', async () => {
      const res = await sendOnce(new TargetGuard(), `http://localhost:${r.port}/hook`);
      expect(res.ok).toBe(false);
      expect(res.error).toMatch(/refused target address (127\.0\.0\.1|::1)/);
      expect(r.requests).toHaveLength(0);
    });

    it('DNS rebinding: public at creation, loopback at send time, is refused at send time', async () => {
      let calls = 0;
      const g = new TargetGuard([], {
        resolve: async () => [{ address: calls++ === 0 ? '93.184.216.34' : '127.0.0.1', family: 4 }],
      });
      const url = `http://rebind.example.test:${r.port}/hook`;
      expect(await g.checkUrl(url)).toBeNull();
      const res = await sendOnce(g, url);
      expect(res.error).toContain('refused target address 127.0.0.1');
      expect(r.requests).toHaveLength(0);
    });

    it('an IPv4-mapped IPv6 literal of a refused address never connects (it would reach the IPv4 receiver)', async () => {
      const res = await sendOnce(new TargetGuard(), `http://[::ffff:127.0.0.1]:${r.port}/hook`);
      expect(res.ok).toBe(false);
      // The URL parser writes it as ::ffff:7f00:1; the guard judges it by its IPv4 address.
      expect(res.error).toContain('refused target address ::ffff:7f00:1 (IPv4-mapped 127.0.0.1: loopback)');
      expect(r.requests).toHaveLength(0);
    });

    it('an IPv6 receiver: refused at its literal by default, reached once its range is allowed', async () => {
      const r6 = await receiver(undefined, { host: '::1' });
      try {
        expect(r6.url).toBe(`http://[::1]:${r6.port}/hook`);
        const refused = await sendOnce(new TargetGuard(), r6.url);
        expect(refused.ok).toBe(false);
        expect(refused.error).toContain('refused target address ::1');
        expect(r6.requests).toHaveLength(0);
        const res = await sendOnce(new TargetGuard(['::1/128']), r6.url);
        expect(res).toMatchObject({ ok: true, statusCode: 200, responseBody: 'ok' });
        expect(r6.requests).toHaveLength(1);
      } finally {
        await r6.close();
      }
    });

    it('an allow-listed loopback receiver is reached', async () => {
      const res = await sendOnce(new TargetGuard(['127.0.0.0/8', '::1/128']), `http://localhost:${r.port}/hook`);
      expect(res).toMatchObject({ ok: true, statusCode: 200, responseBody: 'ok' });
      expect(r.requests).toHaveLength(1);
    });
  });
});
