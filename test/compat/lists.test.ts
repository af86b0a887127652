// The list parameters the Solve360 wrappers send (dialect §2): layout, fieldlist, filtermode/filtervalue,
// searchmode/searchvalue, sortfield/sortdir, start/limit up to 5000, and count = all matching records.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, type TestApp } from '../support/app.js';
import { createItem, jsonIds, makeCompatApp, ok } from './helpers.js';

describe.each(ENGINES)('list parameters on %s', (engine) => {
  let t: TestApp;
  const c: Record<string, number> = {};
  let cat: number;
  const BULK = 5001;

  const list = async (query: string, user = t.adminA) => {
    const a = await call(t, user, 'GET', `/contacts/?${query}`);
    return { body: ok(a), ids: jsonIds(a.text), text: a.text };
  };

  beforeAll(async () => {
    t = await makeCompatApp(engine);
    cat = Number(ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: 'Wholesale' } })).item.id);
    c.ann = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Ann',
      lastname: 'Zeller',
      businessemail: 'ann@example.org',
      jobtitle: 'Buyer',
      categories: { add: { category: [cat] } },
    });
    c.bob = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Bob',
      lastname: 'Young',
      personalemail: 'Bob@Example.org',
      jobtitle: 'Seller',
    });
    c.cyd = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Cyd',
      lastname: 'Xu',
      otheremail: 'cyd@example.org',
      jobtitle: 'Buyer',
      categories: { add: { category: [cat] } },
    });
    // Account B gets more records than one page can hold, written directly: the API path is not under test.
    await t.db.engine.solo(async (x) => {
      for (let i = 0; i < BULK; i += 250) {
        const rows: unknown[] = [];
        const n = Math.min(250, BULK - i);
        for (let j = 0; j < n; j++) {
          const id = await x.nextId();
          rows.push(
            t.adminB.accountId,
            id,
            `Bulk ${i + j}`,
            JSON.stringify({ firstname: 'Bulk', lastname: String(i + j) }),
          );
          rows.push(t.adminB.userId, t.adminB.userId, t.adminB.userId, 1, 1);
        }
        await x.run(
          `INSERT INTO items (account_id, id, kind, typeid, name, fields, ownership, creator_id, modificator_id, created_at, updated_at, flagged)
           VALUES ${Array.from({ length: n }, () => "(?, ?, 'contact', 1, ?, ?, ?, ?, ?, ?, ?, 0)").join(', ')}`,
          rows,
        );
      }
    });
  });
  afterAll(async () => t.close());

  it('layout=1 puts the fields beside each head; fieldlist keeps only some', async () => {
    const plain = await list('');
    expect(plain.body[String(c.ann)].firstname).toBeUndefined();
    const laid = await list('layout=1');
    expect(laid.body[String(c.ann)]).toMatchObject({
      id: c.ann,
      name: 'Ann Zeller',
      firstname: 'Ann',
      jobtitle: 'Buyer',
    });
    const some = await list('layout=1&fieldlist=firstname,businessemail');
    expect(some.body[String(c.ann)]).toMatchObject({ firstname: 'Ann', businessemail: 'ann@example.org' });
    expect(some.body[String(c.ann)].lastname).toBeUndefined();
  });

  it('filtermode byemail (any e-mail field, any case) and category', async () => {
    expect((await list('filtermode=byemail&filtervalue=bob@example.ORG')).ids).toEqual([c.bob]);
    expect((await list('filtermode=byemail&filtervalue=cyd@example.org')).ids).toEqual([c.cyd]);
    expect((await list(`filtermode=category&filtervalue=${cat}`)).ids).toEqual([c.ann, c.cyd]);
    const bad = await call(t, t.adminA, 'GET', '/contacts/?filtermode=byemail');
    expect(bad.status).toBe(400);
  });

  it('searchmode/searchvalue: the name by default, or one field', async () => {
    expect((await list('searchvalue=young')).ids).toEqual([c.bob]);
    expect((await list('searchmode=jobtitle&searchvalue=buy')).ids).toEqual([c.ann, c.cyd]);
  });

  it('sortfield/sortdir', async () => {
    expect((await list('sortfield=lastname&sortdir=asc')).ids).toEqual([c.cyd, c.bob, c.ann]);
    expect((await list('sortfield=name&sortdir=desc')).ids).toEqual([c.cyd, c.bob, c.ann]);
    expect((await list('sortfield=id&sortdir=desc')).ids).toEqual([c.cyd, c.bob, c.ann]);
  });

  it('count is every matching record, whatever start and limit', async () => {
    const page = await list(`filtermode=category&filtervalue=${cat}&limit=1&start=1`);
    expect(page.body.count).toBe(2);
    expect(page.ids).toEqual([c.cyd]);
  });

  it('pages up to 5000 records at a time', async () => {
    const full = await list('limit=5000', t.adminB);
    expect(full.body.count).toBe(BULK);
    expect(full.ids).toHaveLength(5000);
    const capped = await list('limit=9999', t.adminB);
    expect(capped.ids).toHaveLength(5000);
    const rest = await list('limit=5000&start=5000', t.adminB);
    expect(rest.ids).toHaveLength(1);
    expect(rest.body.count).toBe(BULK);
    expect(new Set([...full.ids, ...rest.ids]).size).toBe(BULK);
    // The default page is 100.
    expect((await list('', t.adminB)).ids).toHaveLength(100);
  });
});
