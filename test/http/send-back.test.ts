// What a show answers can be sent back as it is (dialect §2): the read-only fields (creatorid, creatorname,
// modificatorid, modificatorname) and the name carriers beside user and company fields (assignedto_cn,
// company_cn, a task's assignedto_cn, …) are ignored on input — on a PUT and a create, in every wire — while
// any other unknown key is still refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp } from '../support/app.js';
import { createItem, dump, events, failed, lastEventId, ok, send, show, WIRES } from './helpers.js';

const READ_ONLY = ['creatorid', 'creatorname', 'modificatorid', 'modificatorname'] as const;

describe.each(ENGINES)('sending a shown record back on %s', (engine) => {
  let t: TestApp;
  let owner: string;
  let company: number;
  let tag: number;
  beforeAll(async () => {
    t = await makeApp(engine);
    owner = String(
      ok(await call(t, t.adminA, 'POST', '/contacts/fields/', { body: { label: 'Account owner', type: 'user' } })).field
        .name,
    );
    company = await createItem(t, t.adminA, 'companies', { name: 'Employer', assignedto: t.memberA.userId });
    tag = Number(ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: 'Lead' } })).item.id);
  });
  afterAll(async () => t.close());

  const newContact = () =>
    createItem(t, t.adminA, 'contacts', {
      firstname: 'Round',
      lastname: 'Trip',
      company,
      assignedto: t.memberA.userId,
      [owner]: t.adminA.userId,
      categories: { add: { category: [tag] } },
    });

  /** The shown fields with the item's read-only fields beside them, as a client echoing a show would send. */
  const echo = async (segment: string, id: number) => {
    const { item } = await show(t, t.adminA, segment, id);
    return { ...item.fields, ...Object.fromEntries(READ_ONLY.map((k) => [k, item[k]])) };
  };

  it.each(WIRES)('a PUT of the shown fields and read-only fields changes nothing (%s)', async (wire) => {
    const id = await newContact();
    const body = await echo('contacts', id);
    expect(body).toMatchObject({
      company_cn: 'Employer',
      assignedto_cn: expect.any(String),
      [`${owner}_cn`]: expect.any(String),
    });
    const before = await dump(t, t.adminA.accountId);
    ok(await send(t, t.adminA, 'PUT', `/contacts/${id}/`, wire, body));
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
    // A company's own (assignedto_cn) likewise.
    ok(await send(t, t.adminA, 'PUT', `/companies/${company}/`, wire, await echo('companies', company)));
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it('a PUT of the <fields> of an XML show as they are, cn attributes included, changes nothing', async () => {
    const id = await newContact();
    const shown = await call(t, t.adminA, 'GET', `/contacts/${id}/`, { wire: 'xml' });
    const fields = /<fields>([\s\S]*?)<\/fields>/.exec(shown.text)![1];
    expect(fields).toContain(' cn="Employer"');
    const creator = /<creatorid>\d+<\/creatorid><creatorname>[^<]*<\/creatorname>/.exec(shown.text)![0];
    const before = await dump(t, t.adminA.accountId);
    ok(
      await call(t, t.adminA, 'PUT', `/contacts/${id}/`, {
        raw: `<request>${fields}${creator}</request>`,
        contentType: 'application/xml',
      }),
    );
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it.each(WIRES)('a create from a shown record copies its fields, not what is read-only (%s)', async (wire) => {
    const body = await echo('contacts', await newContact());
    // Stale or wrong read-only values cannot write anything either.
    const sent = { ...body, creatorid: t.memberA.userId, creatorname: 'Someone', company_cn: 'Not the name' };
    const copy = ok(await send(t, t.adminA, 'POST', '/contacts/', wire, sent));
    const s = await show(t, t.adminA, 'contacts', Number(copy.item.id));
    expect(s.item.creatorid).toBe(t.adminA.userId);
    expect(s.item.fields).toEqual({ ...body, ...Object.fromEntries(READ_ONLY.map((k) => [k, undefined])) });
    expect(s.item.fields.company_cn).toBe('Employer');
  });

  it('a change sent with the shown fields is written; the name carriers never are', async () => {
    const id = await newContact();
    const since = await lastEventId(t, t.adminA.accountId);
    const body = { ...(await echo('contacts', id)), assignedto: t.adminA.userId, jobtitle: 'Boss' };
    // assignedto_cn still names the old assignee: ignored, the answer names the new one.
    const out = ok(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { body }));
    expect(out.item.fields.assignedto).toBe(t.adminA.userId);
    expect(out.item.fields.assignedto_cn).toBe(t.adminA.email.split('@')[0]);
    expect(out.item.fields.jobtitle).toBe('Boss');
    expect((await events(t, t.adminA.accountId, since)).map((e) => e.type)).toEqual(['items.update']);
  });

  it.each(WIRES)('still refuses other unknown keys, _cn ones included, and changes nothing (%s)', async (wire) => {
    const id = await newContact();
    const before = await dump(t, t.adminA.accountId);
    for (const key of ['firstname_cn', 'nickname_cn', 'nickname', '_cn', 'creator', 'assignedto_name']) {
      const e = failed(
        await send(t, t.adminA, 'PUT', `/contacts/${id}/`, wire, {
          lastname: 'Changed',
          assignedto_cn: 'x',
          [key]: 'v',
        }),
        400,
        key,
      );
      expect(Object.keys(e)).toEqual([key]);
      expect(e[key]).toBe('Unknown field');
    }
    // company_cn is a contact's only: a company has no company field.
    failed(await send(t, t.adminA, 'PUT', `/companies/${company}/`, wire, { company_cn: 'x' }), 400, 'company_cn');
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it.each(WIRES)('an activity update takes its shown fields back, assignedto_cn included (%s)', async (wire) => {
    const parent = await newContact();
    const task = Number(
      ok(
        await call(t, t.adminA, 'POST', '/contacts/task/', {
          body: { parent, data: { title: 'Call back', assignedto: t.memberA.userId, completed: 0 } },
        }),
      ).item.id,
    );
    const shown = (await show(t, t.adminA, 'contacts', parent)).activities.activity.find((a: any) => a.id === task);
    expect(shown.fields.assignedto_cn).toBeTruthy();
    const before = await dump(t, t.adminA.accountId);
    ok(await send(t, t.adminA, 'PUT', `/contacts/task/${task}/`, wire, { data: shown.fields }));
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
    failed(
      await send(t, t.adminA, 'PUT', `/contacts/task/${task}/`, wire, { data: { title_cn: 'x' } }),
      400,
      'title_cn',
    );
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });
});
