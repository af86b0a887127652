// Record lists: count, paging, layout/fieldlist, filters, search, sorting, and the order of the keys in
// the JSON text and of the <idN> elements in XML — on every engine, on one fixed set of records.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type Answer, type TestApp } from '../support/app.js';
import { createItem, failed, listedIds, ok, text, XML_DECL } from './helpers.js';

describe.each(ENGINES)('record lists on %s', (engine) => {
  let t: TestApp;
  let score: string;
  let catX: number;
  let catY: number;
  let acme: number;
  const c: Record<string, number> = {};

  const list = (query: string, wire: 'xml' | 'json' = 'json') =>
    call(t, t.adminA, 'GET', `/contacts/${query}`, { wire });
  const ids = async (query: string, wire: 'xml' | 'json' = 'json') => {
    const a = await list(query, wire);
    ok(a);
    return listedIds(a);
  };

  beforeAll(async () => {
    t = await makeApp(engine);
    score = ok(await call(t, t.adminA, 'POST', '/contacts/fields/', { body: { label: 'Score', type: 'number' } })).field
      .name;
    catX = Number(ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: 'X' } })).item.id);
    catY = Number(ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: 'Y' } })).item.id);
    acme = await createItem(t, t.adminA, 'companies', { name: 'Acme' });
    const tags = (...cats: number[]) => ({ add: { category: cats } });
    c.alice = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Alice',
      lastname: 'Anders',
      businessemail: 'alice@example.org',
      jobtitle: 'Engineer',
      [score]: '9',
      company: acme,
      categories: tags(catX),
    });
    c.bob = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Bob',
      lastname: 'Zane',
      personalemail: 'BOB@Example.org',
      jobtitle: 'Manager_1',
      [score]: '10',
      company: acme,
      assignedto: t.memberA.userId,
      categories: tags(catY),
    });
    c.carol = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Carol',
      lastname: 'Young',
      otheremail: 'carol@example.org',
      jobtitle: 'Lead engineer, 50% time',
      [score]: '100',
      categories: tags(catX, catY),
    });
    c.dave = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Dave',
      lastname: 'Baker',
      ownership: t.memberA.userId,
    });
    c.eve = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Eve',
      lastname: 'Evans',
      businessemail: 'bob@example.org',
      categories: tags(catX),
    });
    ok(await call(t, t.adminA, 'DELETE', `/contacts/${c.eve}/`));
    // Another kind and another account must never show up in these lists.
    await createItem(t, t.adminA, 'companies', { name: 'Alice Holdings' });
    await createItem(t, t.adminB, 'contacts', {
      firstname: 'Alice',
      lastname: 'Other',
      businessemail: 'alice@example.org',
    });
  });
  afterAll(async () => t.close());

  it('lists every live record keyed by id, in id order, with count (JSON and XML)', async () => {
    const json = await list('');
    const body = ok(json);
    expect(body.count).toBe(4);
    expect(listedIds(json)).toEqual([c.alice, c.bob, c.carol, c.dave]);
    expect(json.text.startsWith('{"status":"success","count":4,')).toBe(true);
    const alice = body[String(c.alice)];
    expect(alice.id).toBe(c.alice);
    expect(alice.name).toBe('Alice Anders');
    expect(alice.typeid).toBe(1);
    // Without layout=1 a record is its head only.
    expect(alice).not.toHaveProperty('firstname');

    const xml = await list('', 'xml');
    expect(xml.text.startsWith(XML_DECL)).toBe(true);
    expect(listedIds(xml)).toEqual([c.alice, c.bob, c.carol, c.dave]);
    expect(xml.text).toMatch(/<response><count>4<\/count><id\d+><id>\d+<\/id>/);
    expect(xml.text.endsWith('<status>success</status></response>')).toBe(true);
    expect(text(xml.body[`id${c.bob}`].name)).toBe('Bob Zane');
    expect(Number(xml.body.count)).toBe(4);
  });

  it('pages with start and limit; count stays the total matching', async () => {
    const first = await list('?limit=2');
    expect(ok(first).count).toBe(4);
    expect(listedIds(first)).toEqual([c.alice, c.bob]);
    const second = await list('?limit=2&start=2');
    expect(ok(second).count).toBe(4);
    expect(listedIds(second)).toEqual([c.carol, c.dave]);
    const third = await list('?start=3&limit=10', 'xml');
    expect(Number(third.body.count)).toBe(4);
    expect(listedIds(third)).toEqual([c.dave]);
    const beyond = await list('?start=50');
    expect(ok(beyond).count).toBe(4);
    expect(listedIds(beyond)).toEqual([]);
    // Above the maximum the limit is clamped, not refused.
    expect(listedIds(await list('?limit=99999'))).toHaveLength(4);
    failed(await list('?limit=abc'), 400, 'limit');
    failed(await list('?start=-1'), 400, 'start');
  });

  it('layout=1 adds the fields beside the head; fieldlist keeps only the named ones', async () => {
    const full = ok(await list('?layout=1'));
    const bob = full[String(c.bob)];
    expect(bob.firstname).toBe('Bob');
    expect(bob.personalemail).toBe('BOB@Example.org');
    expect(bob[score]).toBe(10);
    expect(bob.assignedto).toBe(t.memberA.userId);
    expect(bob.assignedto_cn).toBe(t.memberA.email.split('@')[0]);
    expect(bob.company).toBe(acme);
    expect(bob.company_cn).toBe('Acme');
    expect(bob.id).toBe(c.bob);

    const xml = await list('?layout=1', 'xml');
    expect(xml.text).toContain(`<assignedto cn="${t.memberA.email.split('@')[0]}">${t.memberA.userId}</assignedto>`);
    expect(text(xml.body[`id${c.alice}`].jobtitle)).toBe('Engineer');

    const some = ok(await list('?layout=1&fieldlist=firstname,businessemail'));
    expect(some[String(c.alice)].firstname).toBe('Alice');
    expect(some[String(c.alice)].businessemail).toBe('alice@example.org');
    expect(some[String(c.alice)]).not.toHaveProperty('lastname');
    expect(some[String(c.alice)]).not.toHaveProperty('jobtitle');
    expect(some[String(c.alice)].name).toBe('Alice Anders');
  });

  it('filtermode byemail matches any of the three e-mail fields, case-insensitively', async () => {
    expect(await ids('?filtermode=byemail&filtervalue=bob@example.org')).toEqual([c.bob]);
    expect(await ids('?filtermode=byemail&filtervalue=ALICE@EXAMPLE.ORG')).toEqual([c.alice]);
    expect(await ids('?filtermode=byemail&filtervalue=carol@example.org', 'xml')).toEqual([c.carol]);
    expect(ok(await list('?filtermode=byemail&filtervalue=nobody@example.org')).count).toBe(0);
    failed(await list('?filtermode=byemail'), 400, 'filtervalue');
    failed(await call(t, t.adminA, 'GET', '/companies/?filtermode=byemail&filtervalue=a@b.c'), 400, 'filtermode');
  });

  it('filters by category (filtermode=category and the categories parameter)', async () => {
    expect(await ids(`?filtermode=category&filtervalue=${catX}`)).toEqual([c.alice, c.carol]);
    expect(await ids(`?filtermode=category&filtervalue=${catY}`, 'xml')).toEqual([c.bob, c.carol]);
    expect(ok(await list(`?filtermode=category&filtervalue=${catX}`)).count).toBe(2);
    expect(await ids(`?categories=${catY}`)).toEqual([c.bob, c.carol]);
    expect(await ids(`?categories=${catX},${catY}`)).toEqual([c.alice, c.bob, c.carol]);
    expect(ok(await list(`?categories=${catX},${catY}&limit=1`)).count).toBe(3);
    failed(await list('?filtermode=category&filtervalue=abc'), 400, 'filtervalue');
    failed(await list('?categories=1,x'), 400, 'categories');
  });

  it('filters by owner, assignee and company', async () => {
    expect(await ids(`?filtermode=byowner&filtervalue=${t.memberA.userId}`)).toEqual([c.dave]);
    expect(await ids(`?filtermode=byassignee&filtervalue=${t.memberA.userId}`)).toEqual([c.bob]);
    expect(await ids(`?filtermode=bycompany&filtervalue=${acme}`)).toEqual([c.alice, c.bob]);
    expect(ok(await list(`?filtermode=bycompany&filtervalue=${acme}`)).count).toBe(2);
    failed(await list('?filtermode=sideways&filtervalue=1'), 400, 'filtermode');
  });

  it('searches the name by default, a named field, or all fields — case-insensitively', async () => {
    expect(await ids('?searchvalue=CAROL')).toEqual([c.carol]);
    expect(await ids('?searchmode=name&searchvalue=an')).toEqual([c.alice, c.bob]);
    expect(await ids('?searchmode=jobtitle&searchvalue=engineer')).toEqual([c.alice, c.carol]);
    expect(ok(await list('?searchmode=jobtitle&searchvalue=engineer')).count).toBe(2);
    expect(await ids('?searchmode=all&searchvalue=manager')).toEqual([c.bob]);
    expect(await ids('?searchmode=all&searchvalue=baker')).toEqual([c.dave]);
    // "all" searches the values of the fields, not their names.
    expect(await ids('?searchmode=all&searchvalue=firstname')).toEqual([]);
    expect(await ids('?searchmode=all&searchvalue=email')).toEqual([]);
    // % and _ are literal characters, not wildcards.
    expect(await ids('?searchmode=jobtitle&searchvalue=50%25')).toEqual([c.carol]);
    expect(await ids('?searchmode=jobtitle&searchvalue=_')).toEqual([c.bob]);
    expect(await ids('?searchmode=jobtitle&searchvalue=%25')).toEqual([c.carol]);
    failed(await list('?searchmode=shoesize&searchvalue=9'), 400, 'searchmode');
  });

  it('sorts by name, a field or a number field, ascending and descending, in JSON text and XML order', async () => {
    const sorted = async (q: string): Promise<number[][]> => {
      const j: Answer = await list(q);
      const x: Answer = await list(q, 'xml');
      ok(j);
      return [listedIds(j), listedIds(x)];
    };
    const both = (v: number[]) => [v, v];
    expect(await sorted('?sortfield=name')).toEqual(both([c.alice, c.bob, c.carol, c.dave]));
    expect(await sorted('?sortfield=name&sortdir=desc')).toEqual(both([c.dave, c.carol, c.bob, c.alice]));
    expect(await sorted('?sortfield=lastname&sortdir=asc')).toEqual(both([c.alice, c.dave, c.carol, c.bob]));
    expect(await sorted('?sortfield=lastname&sortdir=DESC')).toEqual(both([c.bob, c.carol, c.dave, c.alice]));
    expect(await sorted('?sortfield=id&sortdir=desc')).toEqual(both([c.dave, c.carol, c.bob, c.alice]));
    // Numbers sort as numbers (9 < 10 < 100), and records without the field come last either way.
    expect(await sorted(`?sortfield=${score}`)).toEqual(both([c.alice, c.bob, c.carol, c.dave]));
    expect(await sorted(`?sortfield=${score}&sortdir=desc`)).toEqual(both([c.carol, c.bob, c.alice, c.dave]));
    expect(await sorted('?sortfield=jobtitle')).toEqual(both([c.alice, c.carol, c.bob, c.dave]));
    expect(await sorted('?sortfield=jobtitle&sortdir=desc')).toEqual(both([c.bob, c.carol, c.alice, c.dave]));
    // Sorting and paging together: the page is cut from the sorted list.
    expect(listedIds(await list('?sortfield=name&sortdir=desc&limit=2&start=1'))).toEqual([c.carol, c.bob]);
    // The JSON text keeps the sort order although the keys are numeric.
    const desc = await list('?sortfield=id&sortdir=desc');
    expect(desc.text.indexOf(`"${c.dave}":`)).toBeLessThan(desc.text.indexOf(`"${c.alice}":`));
    expect(desc.text.indexOf('"status"')).toBe(1);
    failed(await list('?sortfield=shoesize'), 400, 'sortfield');
    failed(await list('?sortdir=sideways'), 400, 'sortdir');
  });

  it('takes the GET parameters from an XML or JSON body too; the query string wins', async () => {
    const xmlBody = await call(t, t.adminA, 'GET', '/contacts/', {
      raw: '<?xml version="1.0"?><request><limit>1</limit><sortdir>desc</sortdir><layout>1</layout></request>',
      contentType: 'application/xml',
      accept: 'json',
    });
    expect(ok(xmlBody).count).toBe(4);
    expect(listedIds(xmlBody)).toEqual([c.dave]);
    expect(ok(xmlBody)[String(c.dave)].firstname).toBe('Dave');

    const jsonBody = await call(t, t.adminA, 'GET', '/contacts/', {
      wire: 'json',
      body: { filtermode: 'category', filtervalue: catY },
    });
    expect(listedIds(jsonBody)).toEqual([c.bob, c.carol]);

    // A body without Content-Type is XML (the dialect's default).
    const untyped = await call(t, t.adminA, 'GET', '/contacts/?sortdir=desc', {
      raw: '<request><limit>2</limit><sortdir>asc</sortdir></request>',
      accept: 'json',
    });
    expect(listedIds(untyped)).toEqual([c.dave, c.carol]);
    failed(
      await call(t, t.adminA, 'GET', '/contacts/', {
        raw: '<request><limit>1</limit>',
        contentType: 'application/xml',
      }),
      400,
      'request',
    );
  });

  it('lists companies and project blogs the same way', async () => {
    const pb1 = await createItem(t, t.adminA, 'projectblogs', { title: 'Beta' });
    const pb2 = await createItem(t, t.adminA, 'projectblogs', { title: 'alpha' });
    const pbs = await call(t, t.adminA, 'GET', '/projectblogs/?sortfield=name&layout=1', { wire: 'xml' });
    expect(listedIds(pbs)).toEqual([pb2, pb1]);
    expect(Number(pbs.body.count)).toBe(2);
    expect(text(pbs.body[`id${pb1}`].title)).toBe('Beta');
    const cos = await call(t, t.adminA, 'GET', '/companies/?searchvalue=alice', { wire: 'json' });
    expect(ok(cos).count).toBe(1);
    expect(ok(cos)[listedIds(cos)[0]].name).toBe('Alice Holdings');
    const all = ok(await call(t, t.adminA, 'GET', '/companies/'));
    expect(all.count).toBe(2);
  });
});
