// Inserting a template (POST /{kind}/template/) checks each stored activity again, exactly as an activity
// create checks it: a user who has left the account since the template was saved, or a group that a
// template saved by an older Hookline assigns work to, is refused with 400 naming the template's activity
// and field (activities.{i}.{field}) — and nothing is written, not even the template's valid activities.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ENGINES } from '../support/engines.js';
import { makeApp, type Answer, type TestApp } from '../support/app.js';
import type { Handlers } from '../../src/http/app.js';
import type { AccountCache } from '../../src/records/account-cache.js';
import { addGroup, addUser } from '../../src/accounts/accounts.js';
import { arr, createItem, dump, failed, ok, send, show, WIRES } from './helpers.js';

const VALID = [
  { segment: 'note', data: { details: 'Welcome' } },
  { segment: 'task', data: { title: 'Hand over' } },
];
const fix = (id: number) => `. Correct the template with PUT /templates/${id}/`;
const isGroup = (group: number) =>
  `must be a user, not a group (${group} is a group of this account; see GET /ownership/)`;

describe.each(ENGINES)('template insertion checks the stored activities on %s', (engine) => {
  let t: TestApp;
  let cache: AccountCache;
  let group: number;
  let leaver: number;
  let parent: number;
  /** a task and a follow-up for the leaver, saved while the leaver was a user of the account */
  let handover: number;
  /** saved by an older Hookline: groups in user fields */
  let legacy: number;
  /** stored activities that no save would accept today */
  let broken: number;

  const setActivities = (id: number, list: unknown) =>
    t.db.engine.write((x) =>
      x.run('UPDATE templates SET activities = ? WHERE account_id = ? AND id = ?', [
        JSON.stringify(list),
        t.adminA.accountId,
        id,
      ]),
    );
  const template = async (name: string, activities: unknown) =>
    Number(
      ok(await send(t, t.adminA, 'POST', '/templates/', 'json', { name, activities: { activity: activities } }))
        .template.id,
    );

  beforeAll(async () => {
    t = await makeApp(engine, {
      plugins: [
        (_app: FastifyInstance, h: Handlers) => {
          cache = h.cache;
        },
      ],
    });
    // Before the first request, so that the account's directory is read with both in it.
    group = await addGroup(t.db.engine, t.adminA.accountId, 'Sales', [t.adminA.userId, t.memberA.userId]);
    leaver = (
      await addUser(t.db.engine, {
        accountId: t.adminA.accountId,
        email: `leaver-${process.pid}-${Date.now()}-${engine}@example.org`,
      })
    ).userId;
    parent = await createItem(t, t.adminA, 'contacts', { firstname: 'Templated' });
    handover = await template('Handover', [
      VALID[0],
      { segment: 'task', data: { title: 'Hand over', assignedto: leaver } },
      { segment: 'followup', data: { title: 'Check', responsible: leaver } },
    ]);
    legacy = await template('Legacy', VALID);
    broken = await template('Broken', VALID);
    // The leaver leaves the account (as the CLI or another node would remove a user).
    await t.db.engine.write(async (x) => {
      await x.run('DELETE FROM group_members WHERE account_id = ? AND user_id = ?', [t.adminA.accountId, leaver]);
      await x.run('DELETE FROM users WHERE account_id = ? AND id = ?', [t.adminA.accountId, leaver]);
    });
    cache.invalidate(t.adminA.accountId);
    // Written as an older Hookline wrote them, before user fields refused groups.
    await setActivities(legacy, [
      { segment: 'task', data: { title: 'For the team', assignedto: group } },
      { segment: 'opportunity', data: { description: 'Deal', responsible: group, status: 'Pending' } },
      { segment: 'followup', data: { title: 'Fine', responsible: t.memberA.userId } },
      { segment: 'timerecord', data: { hours: 1, person: group } },
    ]);
    await setActivities(broken, [
      { segment: 'note', data: { details: 'Fine' } },
      { segment: 'widget', data: { title: 'x' } },
      { segment: 'file', data: { title: 'x' } },
      { segment: 'note', data: { details: 'x', colour: 'red' } },
      { segment: 'opportunity', data: { status: 'Maybe', probability: 150 } },
    ]);
  });
  afterAll(async () => t.close());

  const snapshot = async () => [await dump(t, t.adminA.accountId), await dump(t, t.adminB.accountId)];
  const insert = (wire: (typeof WIRES)[number], templateid: number) =>
    send(t, t.adminA, 'POST', '/contacts/template/', wire, { parent, data: { templateid } });
  /** A 400 whose errors are exactly these (field, message) pairs, in this order. */
  const refused = (a: Answer, ...errors: [string, string][]) => {
    failed(a, 400, ...errors.map(([field]) => field));
    expect(Object.entries(a.body.errors)).toEqual(errors);
  };

  it.each(WIRES)('refuses a template naming a user who has left the account (%s)', async (wire) => {
    const before = await snapshot();
    refused(
      await insert(wire, handover),
      [
        'activities.1.assignedto',
        `Template ${handover}: Assigned To must be a user of this account, and ${leaver} is not (see GET /ownership/)${fix(handover)}`,
      ],
      [
        'activities.2.responsible',
        `Template ${handover}: Responsible must be a user of this account, and ${leaver} is not (see GET /ownership/)${fix(handover)}`,
      ],
    );
    expect(await snapshot()).toEqual(before);
  });

  it.each(WIRES)('refuses a template an older version saved with groups as users (%s)', async (wire) => {
    const before = await snapshot();
    refused(
      await insert(wire, legacy),
      ['activities.0.assignedto', `Template ${legacy}: Assigned To ${isGroup(group)}${fix(legacy)}`],
      ['activities.1.responsible', `Template ${legacy}: Responsible ${isGroup(group)}${fix(legacy)}`],
      ['activities.3.person', `Template ${legacy}: Person ${isGroup(group)}${fix(legacy)}`],
    );
    expect(await snapshot()).toEqual(before);
  });

  it.each(WIRES)('refuses stored segments and fields that no save accepts (%s)', async (wire) => {
    const before = await snapshot();
    const segment = 'segment must be an activity segment (task, note, event, …; not file or photo)';
    refused(
      await insert(wire, broken),
      ['activities.1.segment', `Template ${broken}: ${segment}${fix(broken)}`],
      ['activities.2.segment', `Template ${broken}: ${segment}${fix(broken)}`],
      ['activities.3.colour', `Template ${broken}: Unknown field for a note${fix(broken)}`],
      [
        'activities.4.status',
        `Template ${broken}: Status must be one of Discussion, Pending, Won, Lost, On-hold${fix(broken)}`,
      ],
      ['activities.4.probability', `Template ${broken}: Probability must be between 0 and 100${fix(broken)}`],
    );
    expect(await snapshot()).toEqual(before);
  });

  it('inserts each template once it is corrected, with the data as checked', async () => {
    ok(
      await send(t, t.adminA, 'PUT', `/templates/${handover}/`, 'json', {
        activities: {
          activity: [VALID[0], { segment: 'task', data: { title: 'Hand over', assignedto: t.memberA.userId } }],
        },
      }),
    );
    // A stored template that passes is inserted as before: its values normalised as a create would.
    await setActivities(legacy, [
      { segment: 'opportunity', data: { description: 'Deal', responsible: t.adminA.userId, status: 'pending' } },
    ]);
    for (const wire of WIRES) {
      expect(Number(ok(await insert(wire, handover)).count)).toBe(2);
      expect(Number(ok(await insert(wire, legacy)).count)).toBe(1);
    }
    const shown = arr((await show(t, t.adminA, 'contacts', parent)).activities.activity);
    expect(shown.map((a) => a.name)).toEqual(WIRES.flatMap(() => ['Welcome', 'Hand over', 'Deal']));
    expect(shown[1].fields.assignedto).toBe(t.memberA.userId);
    expect(shown[2].fields).toMatchObject({ responsible: t.adminA.userId, status: 'Pending' });
  });
});
