// The user fields of activities — a task's assignedto, a follow-up's and an opportunity's responsible, a time
// record's person — take one user of the caller's account. A group of the account is refused by name; a
// user or group of another account is refused exactly as an id that exists nowhere. Nothing changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type Answer, type TestApp } from '../support/app.js';
import { addGroup } from '../../src/accounts/accounts.js';
import { arr, createItem, dump, failed, ok, send, show, WIRES } from './helpers.js';

const MISSING = 99999999;
const FIELDS = [
  { segment: 'task', field: 'assignedto', label: 'Assigned To', base: { title: 'T' } },
  { segment: 'followup', field: 'responsible', label: 'Responsible', base: { title: 'F' } },
  { segment: 'opportunity', field: 'responsible', label: 'Responsible', base: { description: 'O' } },
  { segment: 'timerecord', field: 'person', label: 'Person', base: { hours: 1 } },
];

describe.each(ENGINES)('user fields of activities on %s', (engine) => {
  let t: TestApp;
  let groupA: number;
  let groupB: number;
  let parent: number;
  /** an activity per segment, assigned to the member */
  const existing: Record<string, number> = {};

  beforeAll(async () => {
    t = await makeApp(engine);
    // Before the first request, so that each account's directory is read with its group in it.
    groupA = await addGroup(t.db.engine, t.adminA.accountId, 'Sales', [t.adminA.userId, t.memberA.userId]);
    groupB = await addGroup(t.db.engine, t.adminB.accountId, 'B team', [t.adminB.userId]);
    parent = await createItem(t, t.adminA, 'contacts', { firstname: 'Assigned' });
    for (const f of FIELDS) {
      existing[f.segment] = Number(
        ok(
          await call(t, t.adminA, 'POST', `/contacts/${f.segment}/`, {
            body: { parent, data: { ...f.base, [f.field]: t.memberA.userId } },
          }),
        ).item.id,
      );
    }
  });
  afterAll(async () => t.close());

  const snapshot = async () => [await dump(t, t.adminA.accountId), await dump(t, t.adminB.accountId)];
  const only = (a: Answer, field: string, message: string) => {
    failed(a, 400, field);
    expect(Object.entries(a.body.errors)).toEqual([[field, message]]);
  };

  it.each(WIRES)('refuses a group of the account, naming it as a group (%s)', async (wire) => {
    const before = await snapshot();
    for (const f of FIELDS) {
      const message = `${f.label} must be a user, not a group (${groupA} is a group of this account; see GET /ownership/)`;
      const data = { ...f.base, [f.field]: groupA };
      only(await send(t, t.adminA, 'POST', `/contacts/${f.segment}/`, wire, { parent, data }), f.field, message);
      only(
        await send(t, t.adminA, 'PUT', `/contacts/${f.segment}/${existing[f.segment]}/`, wire, { data }),
        f.field,
        message,
      );
      // Inside a template, too.
      only(
        await send(t, t.adminA, 'POST', '/templates/', wire, {
          name: 'Groupwork',
          activities: { activity: [{ segment: f.segment, data }] },
        }),
        `activities.0.${f.field}`,
        message,
      );
    }
    expect(await snapshot()).toEqual(before);
  });

  it.each(WIRES)("refuses another account's user or group exactly as a missing id (%s)", async (wire) => {
    const before = await snapshot();
    for (const f of FIELDS) {
      for (const foreign of [t.adminB.userId, groupB]) {
        const make = (method: string, id: number) =>
          method === 'POST'
            ? send(t, t.adminA, 'POST', `/contacts/${f.segment}/`, wire, {
                parent,
                data: { ...f.base, [f.field]: id },
              })
            : send(t, t.adminA, 'PUT', `/contacts/${f.segment}/${existing[f.segment]}/`, wire, {
                data: { [f.field]: id },
              });
        for (const method of ['POST', 'PUT']) {
          const got = await make(method, foreign);
          const missing = await make(method, MISSING);
          only(got, f.field, `${f.label} must be a user of this account, and ${foreign} is not (see GET /ownership/)`);
          expect(got.text.replaceAll(String(foreign), 'ID')).toBe(missing.text.replaceAll(String(MISSING), 'ID'));
        }
      }
    }
    expect(await snapshot()).toEqual(before);
  });

  it.each(WIRES)('takes a user of the account, and clears the field with an empty value (%s)', async (wire) => {
    for (const f of FIELDS) {
      const id = existing[f.segment];
      ok(
        await send(t, t.adminA, 'PUT', `/contacts/${f.segment}/${id}/`, wire, { data: { [f.field]: t.adminA.userId } }),
      );
      let a = arr((await show(t, t.adminA, 'contacts', parent)).activities.activity).find((x: any) => x.id === id);
      expect(a.fields[f.field]).toBe(t.adminA.userId);
      expect(a.fields[`${f.field}_cn`]).toBe(t.adminA.email.split('@')[0]);
      ok(await send(t, t.adminA, 'PUT', `/contacts/${f.segment}/${id}/`, wire, { data: { [f.field]: '' } }));
      a = arr((await show(t, t.adminA, 'contacts', parent)).activities.activity).find((x: any) => x.id === id);
      expect(a.fields[f.field]).toBeUndefined();
      ok(
        await send(t, t.adminA, 'PUT', `/contacts/${f.segment}/${id}/`, wire, {
          data: { [f.field]: t.memberA.userId },
        }),
      );
    }
  });
});
