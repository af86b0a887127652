// Hook management on both engines: defaults, every validation error at once, the SSRF check of the URL,
// account scoping, partial updates, and that a saved hook receives its deliveries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, makeEngine, type TestEngine } from '../support/engines.js';
import { ApiError } from '../../src/errors.js';
import { TargetGuard, type Resolver } from '../../src/delivery/ssrf.js';
import { createHook, deleteHook, getHook, listHooks, updateHook } from '../../src/webhooks/hooks.js';
import { disableGoneHook } from '../../src/delivery/record.js';
import { hookState, newAccount, raiseEvent } from '../delivery/helpers.js';

const resolve: Resolver = async (host) => {
  const table: Record<string, string> = { 'hooks.example.test': '93.184.216.34', 'intranet.example.test': '10.0.0.5' };
  if (!table[host]) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return [{ address: table[host], family: 4 }];
};
const guard = new TargetGuard([], { resolve });
const NOW = Date.parse('2026-11-28T09:45:00Z');

async function errorsOf(p: Promise<unknown>): Promise<Record<string, string>> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return { status: String(e.statusCode), ...e.errors };
    throw e;
  }
  throw new Error('expected an error');
}

describe.each(ENGINES)('hooks on %s', (name) => {
  let db: TestEngine;
  let accountId: number;
  let otherAccount: number;
  beforeAll(async () => {
    db = await makeEngine(name);
    accountId = (await newAccount(db.engine)).accountId;
    otherAccount = (await newAccount(db.engine)).accountId;
  });
  afterAll(async () => db.destroy());

  /** A valid items.create hook of the account, to https://hooks.example.test/<path>. */
  const itemsCreateHook = (path: string) =>
    createHook(db.engine, accountId, { event: 'items.create', url: `https://hooks.example.test/${path}` }, NOW, guard);

  it('creates a hook with defaults and echoes every field plus id', async () => {
    const hook = await createHook(
      db.engine,
      accountId,
      { title: 'Lead router', event: 'items.categorize', url: 'https://hooks.example.test/endpoint.php' },
      NOW,
      guard,
    );
    expect(hook).toMatchObject({
      type: 'web',
      title: 'Lead router',
      active: 1,
      event: 'items.categorize',
      constrainttype: 'all',
      url: 'https://hooks.example.test/endpoint.php',
      contenttype: 'xml',
      secret: '',
      retryschedule: '',
      ratelimit: 0,
      created: '2026-11-28T09:45:00+00:00',
    });
    expect(typeof hook.id).toBe('number');
    expect(await getHook(db.engine, accountId, hook.id as number)).toEqual(hook);
  });

  it('takes the documented example as XML sends it (all strings)', async () => {
    const hook = await createHook(
      db.engine,
      accountId,
      {
        type: 'web',
        title: 'Lead router',
        active: '0',
        event: 'activities.create',
        constrainttype: 'task',
        url: 'http://hooks.example.test/a',
        contenttype: 'json',
        secret: ' s3cret ',
      },
      NOW,
      guard,
    );
    expect(hook).toMatchObject({ active: 0, constrainttype: 'task', contenttype: 'json', secret: ' s3cret ' });
  });

  it('reports every invalid field at once', async () => {
    const errors = await errorsOf(
      createHook(
        db.engine,
        accountId,
        { type: 'email', active: 'maybe', event: 'items.explode', contenttype: 'yaml', url: 'ftp://x.test/' },
        NOW,
        guard,
      ),
    );
    expect(errors.status).toBe('400');
    expect(Object.keys(errors).sort()).toEqual(['active', 'contenttype', 'event', 'status', 'type', 'url']);
  });

  it('checks constrainttype against the event family', async () => {
    const base = { url: 'https://hooks.example.test/x' };
    expect(
      await errorsOf(
        createHook(db.engine, accountId, { ...base, event: 'items.create', constrainttype: 'task' }, NOW, guard),
      ),
    ).toHaveProperty('constrainttype');
    expect(
      await errorsOf(
        createHook(
          db.engine,
          accountId,
          { ...base, event: 'activities.update', constrainttype: 'contact' },
          NOW,
          guard,
        ),
      ),
    ).toHaveProperty('constrainttype');
    for (const c of ['contact', 'company', 'projectblog']) {
      await createHook(db.engine, accountId, { ...base, event: 'items.update', constrainttype: c }, NOW, guard);
    }
  });

  it('refuses URLs that are not public (SSRF) or do not resolve', async () => {
    for (const url of [
      'http://intranet.example.test/',
      'http://127.0.0.1:8080/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/',
      'http://nowhere.example.test/',
      '',
    ]) {
      const errors = await errorsOf(createHook(db.engine, accountId, { event: 'items.create', url }, NOW, guard));
      expect(errors, url).toHaveProperty('url');
    }
    const allowing = new TargetGuard(['10.0.0.0/8'], { resolve });
    await createHook(
      db.engine,
      accountId,
      { event: 'items.create', url: 'http://intranet.example.test/' },
      NOW,
      allowing,
    );
  });

  it('takes a retry schedule of its own, checked like HOOKLINE_RETRY_SCHEDULE; empty follows the server', async () => {
    const base = { event: 'items.create', url: 'https://hooks.example.test/own' };
    const hook = await createHook(db.engine, accountId, { ...base, retryschedule: ' 1m, 10m ,1h ' }, NOW, guard);
    expect(hook.retryschedule).toBe('1m, 10m ,1h');
    const id = hook.id as number;
    for (const [bad, why] of [
      ['soon', /not a duration/],
      ['8d', /7 days at most/],
      [Array.from({ length: 21 }, () => '1s').join(','), /at most 20 retries/],
      [',', /at least one delay/],
    ] as const) {
      const errors = await errorsOf(updateHook(db.engine, accountId, id, { retryschedule: bad }, NOW, guard));
      expect(errors.status, bad).toBe('400');
      expect(errors.retryschedule, bad).toMatch(why);
    }
    expect((await getHook(db.engine, accountId, id)).retryschedule).toBe('1m, 10m ,1h'); // nothing changed
    expect((await updateHook(db.engine, accountId, id, { retryschedule: '' }, NOW, guard)).retryschedule).toBe('');
  });

  it('refuses unknown fields (a misspelt change must not pass as one that did nothing); an answer can be PUT back', async () => {
    const hook = await itemsCreateHook('unknown');
    const id = hook.id as number;
    const errors = await errorsOf(
      updateHook(db.engine, accountId, id, { actve: '0', title: 'x', constructor: '1' }, NOW, guard),
    );
    expect(errors).toEqual({ status: '400', actve: 'Unknown field', constructor: 'Unknown field' });
    expect(await getHook(db.engine, accountId, id)).toEqual(hook); // nothing changed
    expect(
      Object.keys(
        await errorsOf(
          createHook(
            db.engine,
            accountId,
            { event: 'items.create', url: 'https://hooks.example.test/', evnt: 'x' },
            NOW,
            guard,
          ),
        ),
      ),
    ).toEqual(['status', 'evnt']);
    const back = await updateHook(db.engine, accountId, id, { ...hook, title: 'round trip' }, NOW + 1000, guard);
    expect(back).toEqual({ ...hook, title: 'round trip', updated: '2026-11-28T09:45:01+00:00' });
  });

  it('takes a rate limit in notifications per second, a whole number from 0 (none) to 10,000', async () => {
    const base = { event: 'items.create', url: 'https://hooks.example.test/rate' };
    const hook = await createHook(db.engine, accountId, { ...base, ratelimit: '20' }, NOW, guard);
    expect(hook.ratelimit).toBe(20);
    const id = hook.id as number;
    for (const bad of ['-1', '1.5', 'fast', '10001']) {
      const errors = await errorsOf(updateHook(db.engine, accountId, id, { ratelimit: bad }, NOW, guard));
      expect(errors, bad).toEqual({ status: '400', ratelimit: expect.stringMatching(/^must be a whole number/) });
    }
    expect((await getHook(db.engine, accountId, id)).ratelimit).toBe(20); // nothing changed
    expect((await updateHook(db.engine, accountId, id, { ratelimit: '' }, NOW, guard)).ratelimit).toBe(0);
    expect((await updateHook(db.engine, accountId, id, { ratelimit: 10_000 }, NOW, guard)).ratelimit).toBe(10_000);
  });

  it('takes request headers of its own, checked by name and value; empty is none; a PUT without them keeps them', async () => {
    const base = { event: 'items.create', url: 'https://hooks.example.test/headers' };
    const headers = { 'X-Api-Key': ' key-1 ', 'X-Env': 'prod', 'X-Empty': '', Authorization: 'Bearer t0ken' };
    const hook = await createHook(db.engine, accountId, { ...base, headers }, NOW, guard);
    // Trimmed, in the order given; an empty value is no header.
    expect(Object.entries(hook.headers as object)).toEqual([
      ['X-Api-Key', 'key-1'],
      ['X-Env', 'prod'],
      ['Authorization', 'Bearer t0ken'],
    ]);
    const id = hook.id as number;
    expect(await getHook(db.engine, accountId, id)).toEqual(hook);
    expect((await updateHook(db.engine, accountId, id, { title: 'kept' }, NOW, guard)).headers).toEqual(hook.headers);
    const refusals: [unknown, Record<string, string | RegExp>][] = [
      [{ 'Content-Type': 'text/plain' }, { 'headers.Content-Type': /^is set by Hookline/ }],
      [{ 'webhook-id': 'x' }, { 'headers.webhook-id': /^is set by Hookline/ }],
      [{ 'X-Solve360-Hmac-Sha256': 'x' }, { 'headers.X-Solve360-Hmac-Sha256': /^is set by Hookline/ }],
      [
        { 'User-Agent': 'x', Host: 'y' },
        { 'headers.User-Agent': /^is set by/, 'headers.Host': /^is set by/ },
      ],
      [
        { 'Bad Name': 'x', '1st': 'y' },
        { 'headers.Bad Name': /^must be a header name/, 'headers.1st': /^must be a/ },
      ],
      [{ 'X-A': '1', 'x-a': '2' }, { 'headers.x-a': /^is given twice/ }],
      [{ 'X-A': 'one\r\nX-Injected: two' }, { 'headers.X-A': /^must be printable ASCII/ }],
      [{ 'X-A': 'é' }, { 'headers.X-A': /^must be printable ASCII/ }],
      [{ 'X-A': 'x'.repeat(1025) }, { 'headers.X-A': 'must be at most 1024 characters' }],
      [{ 'X-A': { nested: 'x' } }, { 'headers.X-A': 'must be a single value' }],
      ['X-A: 1', { headers: /^must be a list of headers by name/ }],
      [['X-A'], { headers: /^must be a list of headers by name/ }],
      [Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, 'v'])), { headers: 'at most 20 headers' }],
    ];
    for (const [bad, expected] of refusals) {
      const errors = await errorsOf(updateHook(db.engine, accountId, id, { headers: bad as never }, NOW, guard));
      const want = Object.fromEntries(
        Object.entries(expected).map(([k, v]) => [k, typeof v === 'string' ? v : expect.stringMatching(v)]),
      );
      expect(errors, JSON.stringify(bad)).toEqual({ status: '400', ...want });
    }
    expect(await getHook(db.engine, accountId, id)).toEqual({ ...hook, title: 'kept' }); // nothing changed
    // Empty in every spelling clears them; 20 are fine.
    for (const empty of [null, '', '  ', {}]) {
      await updateHook(db.engine, accountId, id, { headers }, NOW, guard);
      expect((await updateHook(db.engine, accountId, id, { headers: empty }, NOW, guard)).headers).toEqual({});
    }
    const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`X-H${i}`, String(i)]));
    expect(
      Object.keys((await updateHook(db.engine, accountId, id, { headers: twenty }, NOW, guard)).headers as object),
    ).toHaveLength(20);
  });

  it('refuses structured values where text is expected', async () => {
    const errors = await errorsOf(
      createHook(
        db.engine,
        accountId,
        { event: 'items.create', url: 'https://hooks.example.test/', title: { a: '1' } },
        NOW,
        guard,
      ),
    );
    expect(errors).toHaveProperty('title');
  });

  it('lists the account’s hooks: count first, keyed by id', async () => {
    const { accountId: acc } = await newAccount(db.engine);
    const a = await createHook(
      db.engine,
      acc,
      { event: 'items.create', url: 'https://hooks.example.test/1' },
      NOW,
      guard,
    );
    const b = await createHook(
      db.engine,
      acc,
      { event: 'items.delete', url: 'https://hooks.example.test/2' },
      NOW,
      guard,
    );
    const list = await listHooks(db.engine, acc);
    expect([...list.keys()]).toEqual(['count', String(a.id), String(b.id)]);
    expect(list.get('count')).toBe(2);
    expect(list.get(String(b.id))).toMatchObject({ event: 'items.delete' });
  });

  it('updates only the fields given, and re-validates the result', async () => {
    const hook = await createHook(
      db.engine,
      accountId,
      { event: 'items.create', url: 'https://hooks.example.test/u', secret: 'k', contenttype: 'form' },
      NOW,
      guard,
    );
    const id = hook.id as number;
    const updated = await updateHook(db.engine, accountId, id, { title: 'Renamed', active: 0 }, NOW + 1000, guard);
    expect(updated).toMatchObject({
      title: 'Renamed',
      active: 0,
      secret: 'k',
      contenttype: 'form',
      event: 'items.create',
    });
    expect(updated.updated).toBe('2026-11-28T09:45:01+00:00');
    expect(
      await errorsOf(updateHook(db.engine, accountId, id, { url: 'http://10.1.1.1/' }, NOW, guard)),
    ).toHaveProperty('url');
    expect(await errorsOf(updateHook(db.engine, accountId, id, { constrainttype: 'note' }, NOW, guard))).toHaveProperty(
      'constrainttype',
    );
    expect(await getHook(db.engine, accountId, id)).toMatchObject({
      title: 'Renamed',
      url: 'https://hooks.example.test/u',
    });
  });

  it('turning a disabled hook on again starts its failing streak over', async () => {
    const id = Number((await itemsCreateHook('in')).id);
    const streak = () => hookState(db.engine, accountId, id);
    // What the delivery engine leaves behind when it disables a failing hook.
    await db.engine.write((x) =>
      x.run('UPDATE hooks SET active = 0, failing_since = ? WHERE account_id = ? AND id = ?', [NOW, accountId, id]),
    );
    await updateHook(db.engine, accountId, id, { title: 'Still off' }, NOW + 1, guard);
    expect(await streak()).toEqual({ active: 0, failing_since: NOW });
    await updateHook(db.engine, accountId, id, { active: 1 }, NOW + 2, guard);
    expect(await streak()).toEqual({ active: 1, failing_since: null });
  });

  it('a PUT changes only what it names, whatever changed while its URL was resolved: a hook disabled meanwhile stays disabled', async () => {
    const id = Number((await itemsCreateHook('before')).id);
    // A resolver that answers when the test says so (a slow DNS), behind the real guard.
    let resolving!: () => void;
    const inLookup = new Promise<void>((r) => (resolving = r));
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    const slowGuard = new TargetGuard([], {
      resolve: async (host) => {
        resolving();
        await answered;
        return resolve(host);
      },
    });
    const put = updateHook(db.engine, accountId, id, { url: 'https://hooks.example.test/after' }, NOW + 5, slowGuard);
    await inLookup;
    // Meanwhile its receiver answers 410 Gone (the delivery engine disables the hook, its streak begun), and
    // another admin renames it.
    await db.engine.write(async (x) => {
      await disableGoneHook(x, { accountId, hookId: id, eventId: 0 }, NOW + 1);
      await x.run('UPDATE hooks SET failing_since = ? WHERE account_id = ? AND id = ?', [NOW, accountId, id]);
    });
    await updateHook(db.engine, accountId, id, { title: 'Renamed meanwhile' }, NOW + 2, guard);
    answer();
    expect(await put).toMatchObject({ url: 'https://hooks.example.test/after', active: 0, title: 'Renamed meanwhile' });
    expect(await getHook(db.engine, accountId, id)).toMatchObject({
      url: 'https://hooks.example.test/after',
      active: 0,
      title: 'Renamed meanwhile',
    });
    expect(await hookState(db.engine, accountId, id)).toEqual({ active: 0, failing_since: NOW });
  });

  it('a changed secret keeps the old one for the overlap; the same secret, unsigned or no overlap keep none new', async () => {
    const id = (await itemsCreateHook('rotate')).id as number;
    const overlap = { secretOverlapMs: 86_400_000 };
    const previous = () =>
      db.engine.read((x) =>
        x.get<{ previous_secret: string | null; previous_secret_until: number | null }>(
          'SELECT previous_secret, previous_secret_until FROM hooks WHERE account_id = ? AND id = ?',
          [accountId, id],
        ),
      );
    const put = (tree: Record<string, string>, at = NOW) =>
      updateHook(db.engine, accountId, id, tree, at, guard, overlap);
    const none = { previous_secret: null, previous_secret_until: null };

    await put({ secret: 'first' }); // unsigned before: nothing to overlap with
    expect(await previous()).toEqual(none);
    await put({ secret: 'second' }, NOW + 1000);
    let p = await previous();
    expect({ ...p, previous_secret_until: Number(p?.previous_secret_until) }).toEqual({
      previous_secret: 'first',
      previous_secret_until: NOW + 1000 + 86_400_000,
    });
    // A change that leaves the secret alone (given again or not) keeps the overlap as it is.
    await put({ title: 'renamed' }, NOW + 2000);
    await put({ secret: 'second' }, NOW + 3000);
    p = await previous();
    expect({ ...p, previous_secret_until: Number(p?.previous_secret_until) }).toEqual({
      previous_secret: 'first',
      previous_secret_until: NOW + 1000 + 86_400_000,
    });
    // The echo shows the current secret only.
    expect(await getHook(db.engine, accountId, id)).toMatchObject({ secret: 'second', title: 'renamed' });
    expect(JSON.stringify(await getHook(db.engine, accountId, id))).not.toContain('first');
    // Unsigned from now on: no signature at all, so no old one either.
    await put({ secret: '' });
    expect(await previous()).toEqual(none);
    // Without an overlap configured, a new secret replaces the old one at once.
    await put({ secret: 'third' });
    await updateHook(db.engine, accountId, id, { secret: 'fourth' }, NOW, guard, { secretOverlapMs: 0 });
    expect(await previous()).toEqual(none);
  });

  it('is scoped to the account: another account sees, changes and deletes nothing', async () => {
    const id = (await itemsCreateHook('s')).id as number;
    expect((await errorsOf(getHook(db.engine, otherAccount, id))).status).toBe('404');
    expect((await errorsOf(updateHook(db.engine, otherAccount, id, { title: 'x' }, NOW, guard))).status).toBe('404');
    expect((await errorsOf(deleteHook(db.engine, otherAccount, id))).status).toBe('404');
    expect((await listHooks(db.engine, otherAccount)).has(String(id))).toBe(false);
    expect(await getHook(db.engine, accountId, id)).toMatchObject({ title: '' });
  });

  it('a saved hook gets deliveries for matching events; delete removes it and its deliveries', async () => {
    const { accountId: acc } = await newAccount(db.engine);
    const hook = await createHook(
      db.engine,
      acc,
      { event: 'items.create', constrainttype: 'company', url: 'https://hooks.example.test/d' },
      NOW,
      guard,
    );
    const id = hook.id as number;
    await raiseEvent(db.engine, acc, { now: NOW, objectKind: 'contact' });
    const companyEvent = await raiseEvent(db.engine, acc, { now: NOW, objectKind: 'company' });
    const count = () =>
      db.engine.read((x) =>
        x.all<{ event_id: number }>('SELECT event_id FROM deliveries WHERE account_id = ? AND hook_id = ?', [acc, id]),
      );
    expect((await count()).map((r) => Number(r.event_id))).toEqual([companyEvent]);
    await deleteHook(db.engine, acc, id);
    expect(await count()).toEqual([]);
    expect((await errorsOf(getHook(db.engine, acc, id))).status).toBe('404');
  });
});
