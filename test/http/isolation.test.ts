// Account isolation: account B's admin cannot read, change or refer to anything of account A. Every answer
// is the one a missing id gets (404, or 400 for a reference inside a body), and A's data stays as it was,
// row for row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type Answer, type TestApp } from '../support/app.js';
import { arr, createItem, dump, failed, listedIds, ok, send, show, WIRES } from './helpers.js';

const MISSING = 99999999;

describe.each(ENGINES)('account isolation on %s', (engine) => {
  let t: TestApp;
  const a = {} as {
    contact: number;
    company: number;
    blog: number;
    note: number;
    task: number;
    category: number;
    template: number;
    field: string;
  };
  const b = {} as { contact: number; note: number; category: number; template: number };
  let snapshotA: Record<string, unknown[]>;
  let showA: unknown;

  beforeAll(async () => {
    t = await makeApp(engine);
    const A = t.adminA;
    a.field = ok(await call(t, A, 'POST', '/contacts/fields/', { body: { label: 'Secret', type: 'text' } })).field.name;
    a.category = Number(ok(await call(t, A, 'POST', '/contacts/categories/', { body: { name: 'A only' } })).item.id);
    a.company = await createItem(t, A, 'companies', { name: 'A Co' });
    a.blog = await createItem(t, A, 'projectblogs', { title: 'A Pb' });
    a.contact = await createItem(t, A, 'contacts', {
      firstname: 'Alice',
      [a.field]: 'classified',
      company: a.company,
      categories: { add: { category: [a.category] } },
      relateditems: { add: { relatedto: { id: a.blog } } },
    });
    a.note = Number(
      ok(await call(t, A, 'POST', '/contacts/note/', { body: { parent: a.contact, data: { details: 'A note' } } })).item
        .id,
    );
    a.task = Number(
      ok(await call(t, A, 'POST', '/contacts/task/', { body: { parent: a.contact, data: { title: 'A task' } } })).item
        .id,
    );
    a.template = Number(
      ok(
        await call(t, A, 'POST', '/templates/', {
          body: { name: 'A template', activities: { activity: { segment: 'note', data: { details: 'x' } } } },
        }),
      ).template.id,
    );
    const B = t.adminB;
    b.category = Number(ok(await call(t, B, 'POST', '/contacts/categories/', { body: { name: 'B only' } })).item.id);
    b.contact = await createItem(t, B, 'contacts', { firstname: 'Bob' });
    b.note = Number(
      ok(await call(t, B, 'POST', '/contacts/note/', { body: { parent: b.contact, data: { details: 'B note' } } })).item
        .id,
    );
    b.template = Number(
      ok(
        await call(t, B, 'POST', '/templates/', {
          body: { name: 'B template', activities: { activity: { segment: 'note', data: { details: 'y' } } } },
        }),
      ).template.id,
    );
    snapshotA = await dump(t, t.adminA.accountId);
    showA = await show(t, t.adminA, 'contacts', a.contact);
  });
  afterAll(async () => {
    await t.close();
  });

  /** B's answer for A's id must be exactly the answer for an id that exists nowhere. */
  const sameAsMissing = async (
    make: (id: number) => Promise<Answer>,
    aId: number,
    status: number,
    field: string,
  ): Promise<void> => {
    const forA = await make(aId);
    const forMissing = await make(MISSING);
    failed(forA, status, field);
    expect(forA.status).toBe(forMissing.status);
    expect(Object.keys(forA.body.errors)).toEqual(Object.keys(forMissing.body.errors));
    expect(forA.text).not.toContain('Alice');
    expect(forA.text).not.toContain('classified');
  };

  it.each(['xml', 'json'] as const)("B cannot read A's records, activities or templates (%s)", async (wire) => {
    const B = t.adminB;
    await sameAsMissing((id) => call(t, B, 'GET', `/contacts/${id}/`, { wire }), a.contact, 404, 'id');
    await sameAsMissing((id) => call(t, B, 'GET', `/companies/${id}/`, { wire }), a.company, 404, 'id');
    await sameAsMissing((id) => call(t, B, 'GET', `/projectblogs/${id}/`, { wire }), a.blog, 404, 'id');
    await sameAsMissing((id) => call(t, B, 'GET', `/templates/${id}/`, { wire }), a.template, 404, 'id');
  });

  it("B's lists, categories, fields, ownership and templates show nothing of A", async () => {
    const B = t.adminB;
    const contacts = await call(t, B, 'GET', '/contacts/?layout=1');
    expect(listedIds(contacts)).toEqual([b.contact]);
    expect(ok(contacts).count).toBe(1);
    expect(ok(await call(t, B, 'GET', '/companies/')).count).toBe(0);
    expect(ok(await call(t, B, 'GET', `/contacts/?filtermode=category&filtervalue=${a.category}`)).count).toBe(0);
    expect(ok(await call(t, B, 'GET', `/contacts/?categories=${a.category}`)).count).toBe(0);
    expect(ok(await call(t, B, 'GET', `/contacts/?filtermode=byowner&filtervalue=${t.adminA.userId}`)).count).toBe(0);
    expect(ok(await call(t, B, 'GET', '/contacts/?searchmode=all&searchvalue=Alice')).count).toBe(0);
    const cats = ok(await call(t, B, 'GET', '/contacts/categories/'));
    expect(arr(cats.categories.category).map((c: any) => c.id)).toEqual([b.category]);
    const fields = ok(await call(t, B, 'GET', '/contacts/fields/'));
    expect(fields.fields.field.map((f: any) => f.name)).not.toContain(a.field);
    const own = ok(await call(t, B, 'GET', '/ownership/'));
    expect(arr(own.users.user).map((u: any) => u.id)).toEqual([t.adminB.userId]);
    expect(listedIds(await call(t, B, 'GET', '/templates/'))).toEqual([b.template]);
    // A's searches do not see B either.
    expect(ok(await call(t, t.adminA, 'GET', '/contacts/?searchvalue=Bob')).count).toBe(0);
  });

  it.each(WIRES)("B cannot change, delete or restore A's records, activities or templates (%s)", async (wire) => {
    const B = t.adminB;
    await sameAsMissing(
      (id) => send(t, B, 'PUT', `/contacts/${id}/`, wire, { firstname: 'Hijacked' }),
      a.contact,
      404,
      'id',
    );
    await sameAsMissing(
      (id) => send(t, B, 'PUT', `/companies/${id}/`, wire, { name: 'Hijacked' }),
      a.company,
      404,
      'id',
    );
    await sameAsMissing((id) => call(t, B, 'DELETE', `/contacts/${id}/`, { wire }), a.contact, 404, 'id');
    await sameAsMissing((id) => call(t, B, 'POST', `/contacts/${id}/restore/`, { wire }), a.contact, 404, 'id');
    await sameAsMissing(
      (id) => send(t, B, 'PUT', `/contacts/note/${id}/`, wire, { data: { details: 'Hijacked' } }),
      a.note,
      404,
      'id',
    );
    await sameAsMissing(
      (id) => send(t, B, 'PUT', `/contacts/task/${id}/`, wire, { data: { completed: 1 } }),
      a.task,
      404,
      'id',
    );
    await sameAsMissing((id) => call(t, B, 'DELETE', `/contacts/note/${id}/`, { wire }), a.note, 404, 'id');
    await sameAsMissing((id) => call(t, B, 'POST', `/contacts/note/${id}/restore/`, { wire }), a.note, 404, 'id');
    await sameAsMissing(
      (id) => send(t, B, 'PUT', `/templates/${id}/`, wire, { name: 'Hijacked' }),
      a.template,
      404,
      'id',
    );
    await sameAsMissing((id) => call(t, B, 'DELETE', `/templates/${id}/`, { wire }), a.template, 404, 'id');
    // Hanging something under A's records, or inserting A's template.
    await sameAsMissing(
      (id) => send(t, B, 'POST', '/contacts/note/', wire, { parent: id, data: { details: 'x' } }),
      a.contact,
      404,
      'parent',
    );
    await sameAsMissing(
      (id) => send(t, B, 'POST', '/contacts/template/', wire, { parent: id, data: { templateid: b.template } }),
      a.contact,
      404,
      'parent',
    );
    await sameAsMissing(
      (id) => send(t, B, 'POST', '/contacts/template/', wire, { parent: b.contact, data: { templateid: id } }),
      a.template,
      404,
      'templateid',
    );
    await sameAsMissing(
      (id) => send(t, B, 'PUT', `/contacts/note/${b.note}/`, wire, { parent: id }),
      a.contact,
      404,
      'parent',
    );
    expect(await dump(t, t.adminA.accountId)).toEqual(snapshotA);
  });

  it.each(WIRES)("B cannot refer to A's categories, records, users or fields inside a body (%s)", async (wire) => {
    const B = t.adminB;
    const put = (body: unknown) => send(t, B, 'PUT', `/contacts/${b.contact}/`, wire, body);
    const post = (body: unknown) => send(t, B, 'POST', '/contacts/', wire, body);
    await sameAsMissing((id) => put({ categories: { add: { category: [id] } } }), a.category, 400, 'categories');
    await sameAsMissing((id) => put({ categories: { remove: { category: [id] } } }), a.category, 400, 'categories');
    await sameAsMissing((id) => post({ categories: { add: { category: [id] } } }), a.category, 400, 'categories');
    await sameAsMissing((id) => put({ relateditems: { add: { relatedto: { id } } } }), a.contact, 400, 'relateditems');
    await sameAsMissing((id) => post({ relateditems: { add: { relatedto: { id } } } }), a.company, 400, 'relateditems');
    await sameAsMissing((id) => put({ company: id }), a.company, 400, 'company');
    await sameAsMissing((id) => put({ ownership: id }), t.adminA.userId, 400, 'ownership');
    await sameAsMissing((id) => post({ assignedto: id }), t.memberA.userId, 400, 'assignedto');
    await sameAsMissing(
      (id) => send(t, B, 'POST', '/contacts/task/', wire, { parent: b.contact, data: { title: 'x', assignedto: id } }),
      t.adminA.userId,
      400,
      'assignedto',
    );
    await sameAsMissing(
      (id) => send(t, B, 'POST', '/contacts/note/', wire, { parent: b.contact, data: { details: 'x' }, after: id }),
      a.note,
      400,
      'after',
    );
    await sameAsMissing(
      (id) =>
        send(t, B, 'POST', '/templates/', wire, {
          name: 'x',
          activities: { activity: [{ segment: 'task', data: { assignedto: id } }] },
        }),
      t.adminA.userId,
      400,
      'activities.0.assignedto',
    );
    // A's custom field is no field of B's.
    failed(await post({ [a.field]: 'x' }), 400, a.field);
    failed(await put({ [a.field]: 'x' }), 400, a.field);

    expect(await dump(t, t.adminA.accountId)).toEqual(snapshotA);
    const bShow = await show(t, B, 'contacts', b.contact);
    expect(arr(bShow.categories.category)).toEqual([]);
    expect(arr(bShow.relateditems.relatedto)).toEqual([]);
    expect(bShow.item.fields).toEqual({ firstname: 'Bob' });
  });

  it('A sees its data exactly as before, and A cannot reach into B either', async () => {
    expect(await show(t, t.adminA, 'contacts', a.contact)).toEqual(showA);
    expect(await dump(t, t.adminA.accountId)).toEqual(snapshotA);
    failed(await call(t, t.adminA, 'GET', `/contacts/${b.contact}/`), 404, 'id');
    failed(await call(t, t.memberA, 'DELETE', `/contacts/note/${b.note}/`), 404, 'id');
    failed(await call(t, t.adminA, 'GET', `/templates/${b.template}/`), 404, 'id');
    expect(ok(await call(t, t.adminB, 'GET', `/contacts/${b.contact}/`)).item.name).toBe('Bob');
  });
});
