// The API quota (dialect §1's 429; HOOKLINE_API_QUOTA): each account's requests per window, a token bucket
// refilling at the quota's rate; past it, 429 in the envelope with Retry-After, and nothing done. Batch parts
// count one each. Other accounts, the portal and the machine routes are not affected. Time is driven.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { basic, makeApp, type TestApp, type User } from '../support/app.js';
import { dump } from './helpers.js';
import { ApiQuota } from '../../src/http/quota.js';
import { batchRoutes } from '../../src/http/routes/batch.js';

describe.each(ENGINES)('API quota on %s', (engine) => {
  let t: TestApp;
  let now = Date.UTC(2026, 11, 1);
  beforeAll(async () => {
    // 3 requests a minute: one comes back every 20 s.
    t = await makeApp(engine, {
      quota: new ApiQuota({ requests: 3, windowMs: 60_000 }),
      clock: { now: () => now },
      plugins: [batchRoutes],
    });
  });
  afterAll(async () => t.close());

  const create = (user: User, firstname: string) =>
    t.app.inject({
      method: 'POST',
      url: '/contacts/',
      headers: { authorization: basic(user), 'content-type': 'application/json' },
      payload: JSON.stringify({ firstname }),
    });

  it('takes the quota at once, then answers 429 with Retry-After and does nothing; refills at its rate', async () => {
    const answers = [await create(t.adminA, 'One'), await create(t.adminA, 'Two'), await create(t.adminA, 'Three')];
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200]);
    expect(answers.map((a) => a.headers['x-ratelimit-remaining'])).toEqual(['2', '1', '0']);
    expect(answers[0].headers['x-ratelimit-limit']).toBe('3');

    const before = await dump(t, t.adminA.accountId);
    const refused = await create(t.adminA, 'Four');
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('20');
    expect(refused.body).toMatch(
      /<errors><quota>The account&apos;s API quota of 3 requests per 1m is used up; try again in 20 s<\/quota><\/errors><status>failed<\/status><\/response>$/,
    );
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
    // Another account has its own.
    expect((await create(t.adminB, 'Other')).statusCode).toBe(200);

    now += 10_000; // half a request back: still refused, for the 10 s left
    const half = await create(t.adminA, 'Four');
    expect(half.statusCode).toBe(429);
    expect(half.headers['retry-after']).toBe('10');
    now += 10_000;
    expect((await create(t.adminA, 'Four')).statusCode).toBe(200);
    expect((await create(t.adminA, 'Five')).statusCode).toBe(429);

    // A clock set back refills nothing (and breaks nothing); time moving on again does.
    now -= 3_600_000;
    expect((await create(t.adminA, 'Back')).statusCode).toBe(429);
    now += 60_000;
    const refilled = [await create(t.adminA, 'A'), await create(t.adminA, 'B'), await create(t.adminA, 'C')];
    expect(refilled.map((a) => a.statusCode)).toEqual([200, 200, 200]);
  });

  it('counts each batch part: the parts past the quota answer 429 inside the batch', async () => {
    now += 60_000; // a full bucket: 3
    const part = (id: number, firstname: string) =>
      `--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <${id}>\r\n\r\n` +
      `POST /contacts/ HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"firstname":"${firstname}"}\r\n`;
    const r = await t.app.inject({
      method: 'POST',
      url: '/batch/',
      headers: { authorization: basic(t.adminA), 'content-type': 'multipart/mixed; boundary=b' },
      payload: `${part(1, 'P1')}${part(2, 'P2')}${part(3, 'P3')}--b--\r\n`,
    });
    // The batch itself is one request; its three parts take the two left, and the third is refused.
    expect(r.statusCode).toBe(200);
    const statuses = [...r.body.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([200, 200, 429]);
  });
});
