// JSON booleans: true and false are 1 and 0 wherever a 0/1 flag is taken — a record's flagged, boolean fields
// (custom ones, a task's completed, a time record's billable), the list and report switches layout and
// itemsdata — and the wrong type anywhere else (text, number, date, user and company fields, a category's
// name, a relation's note): refused with 400 naming the field, changing nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, type TestApp } from '../support/app.js';
import { makeCompatApp } from '../compat/helpers.js';
import { createItem, dump, failed, ok, show } from './helpers.js';

describe.each(ENGINES)('JSON booleans on %s', (engine) => {
  let t: TestApp;
  let vip: string;
  let size: string;
  let since: string;
  beforeAll(async () => {
    t = await makeCompatApp(engine); // with the report routes
    const field = async (label: string, type: string) =>
      String(ok(await call(t, t.adminA, 'POST', '/contacts/fields/', { body: { label, type } })).field.name);
    vip = await field('VIP', 'boolean');
    size = await field('Size', 'number');
    since = await field('Since', 'date');
  });
  afterAll(async () => t.close());

  it('takes true and false as 1 and 0 for flagged and boolean fields, on create and PUT', async () => {
    const id = await createItem(t, t.adminA, 'contacts', { firstname: 'Flag', flagged: true, [vip]: true });
    let s = await show(t, t.adminA, 'contacts', id);
    expect(s.item.flagged).toBe(1);
    expect(s.item.fields[vip]).toBe(1);
    ok(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { body: { flagged: false, [vip]: false } }));
    s = await show(t, t.adminA, 'contacts', id);
    expect(s.item.flagged).toBe(0);
    expect(s.item.fields[vip]).toBe(0);
    // As 1 and 0 exactly: sending true to a flagged record changes nothing (no event, no new updated).
    ok(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { body: { flagged: true } }));
    const before = await dump(t, t.adminA.accountId);
    ok(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { body: { flagged: true, [vip]: 0 } }));
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
    // What flagged refused before it still refuses.
    for (const bad of [2, 'yes', 'true', [true]]) {
      failed(await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { body: { flagged: bad } }), 400, 'flagged');
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it('takes true and false for the boolean fields of activities', async () => {
    const parent = await createItem(t, t.adminA, 'contacts', { firstname: 'Busy' });
    const task = ok(
      await call(t, t.adminA, 'POST', '/contacts/task/', { body: { parent, data: { title: 'T', completed: true } } }),
    );
    const time = ok(
      await call(t, t.adminA, 'POST', '/contacts/timerecord/', {
        body: { parent, data: { hours: 2, billable: true, invoiced: false } },
      }),
    );
    ok(await call(t, t.adminA, 'PUT', `/contacts/task/${task.item.id}/`, { body: { data: { completed: false } } }));
    const acts = (await show(t, t.adminA, 'contacts', parent)).activities.activity;
    const byId = new Map(acts.map((a: any) => [Number(a.id), a.fields]));
    expect(byId.get(Number(task.item.id))).toMatchObject({ completed: 0 });
    expect(byId.get(Number(time.item.id))).toMatchObject({ billable: 1, invoiced: 0 });
  });

  it('takes layout and itemsdata true in a JSON body on a GET', async () => {
    const id = await createItem(t, t.adminA, 'contacts', { firstname: 'Listed', lastname: 'Layout' });
    const list = ok(await call(t, t.adminA, 'GET', '/contacts/', { body: { layout: true, searchvalue: 'Listed' } }));
    expect(list[String(id)].firstname).toBe('Listed');
    const bare = ok(await call(t, t.adminA, 'GET', '/contacts/', { body: { layout: false, searchvalue: 'Listed' } }));
    expect(bare[String(id)].firstname).toBeUndefined();
    const note = ok(
      await call(t, t.adminA, 'POST', '/contacts/note/', { body: { parent: id, data: { details: 'seen' } } }),
    );
    const report = ok(await call(t, t.adminA, 'GET', '/report/activities/', { body: { itemsdata: true } }));
    expect(report[String(note.item.id)].item).toMatchObject({ id, name: 'Listed Layout' });
    const plain = ok(await call(t, t.adminA, 'GET', '/report/activities/', { body: { itemsdata: false } }));
    expect(plain[String(note.item.id)].item).toBeUndefined();
  });

  it('refuses a JSON boolean where a field is not 0/1, naming each field, and changes nothing', async () => {
    const company = await createItem(t, t.adminA, 'companies', { name: 'Employer' });
    const id = await createItem(t, t.adminA, 'contacts', { firstname: 'Typed', [size]: 3 });
    const before = await dump(t, t.adminA.accountId);
    const cases: [string, unknown, RegExp][] = [
      ['firstname', false, /^First Name must be text, not the JSON boolean false$/],
      ['businessemail', true, /must be text, not the JSON boolean true/],
      [size, true, /^Size must be a number, not the JSON boolean true$/],
      [since, false, /must be a date, not the JSON boolean false/],
      ['assignedto', true, /must be a user id, not the JSON boolean true/],
      ['company', true, /must be a company id, not the JSON boolean true/],
    ];
    for (const [field, value, message] of cases) {
      for (const [method, url] of [
        ['POST', '/contacts/'],
        ['PUT', `/contacts/${id}/`],
      ]) {
        const errors = failed(
          await call(t, t.adminA, method, url, { body: { lastname: 'Changed', [field]: value } }),
          400,
        );
        expect(Object.keys(errors)).toEqual([field]);
        expect(errors[field]).toMatch(message);
      }
    }
    // All at once: each named.
    const all = failed(
      await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { body: { firstname: true, [size]: false, company } }),
      400,
    );
    expect(Object.keys(all).sort()).toEqual(['firstname', size].sort());
    // Activities' fields: a title and a priority.
    const task = failed(
      await call(t, t.adminA, 'POST', '/contacts/task/', {
        body: { parent: id, data: { title: true, priority: false, completed: true } },
      }),
      400,
    );
    expect(Object.keys(task).sort()).toEqual(['priority', 'title']);
    // A category's name, a relation's note.
    failed(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: true } }), 400, 'name');
    failed(
      await call(t, t.adminA, 'PUT', `/contacts/${id}/`, {
        body: { relateditems: { add: { relatedto: { id: company, note: true } } } },
      }),
      400,
      'relateditems',
    );
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });
});
