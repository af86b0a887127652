// Activity templates (/templates/ and POST /{kind}/template/) and ownership (/ownership/, the ids that
// ownership and assignedto accept) — in XML, JSON and form, on every engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp } from '../support/app.js';
import { addGroup } from '../../src/accounts/accounts.js';
import {
  arr,
  counts,
  createItem,
  events,
  failed,
  lastEventId,
  listedIds,
  ok,
  send,
  show,
  text,
  WIRES,
} from './helpers.js';

const ONBOARDING = [
  { segment: 'task', data: { title: 'Receive contract', priority: '1' } },
  { segment: 'note', data: { details: 'Welcome call done?' } },
  { segment: 'followup', data: { title: 'Check in', duedate: '2026-12-01' } },
];

describe.each(ENGINES)('templates and ownership on %s', (engine) => {
  let t: TestApp;
  let group: number;
  beforeAll(async () => {
    t = await makeApp(engine);
    // Before the first request, so that the account's directory is read with the group in it.
    group = await addGroup(t.db.engine, t.adminA.accountId, 'Sales', [t.adminA.userId, t.memberA.userId]);
  });
  afterAll(async () => t.close());

  it.each(WIRES)('creates, shows, lists, changes and deletes a template (%s)', async (wire) => {
    const created = ok(
      await send(t, t.adminA, 'POST', '/templates/', wire, {
        name: `Onboarding ${wire}`,
        activities: { activity: ONBOARDING },
      }),
    );
    const id = Number(created.template.id);
    expect(id).toBeGreaterThan(0);
    expect(text(created.template.name)).toBe(`Onboarding ${wire}`);
    const acts = arr(created.template.activities.activity);
    expect(acts.map((a: any) => text(a.segment))).toEqual(['task', 'note', 'followup']);

    const shown = ok(await call(t, t.adminA, 'GET', `/templates/${id}/`));
    expect(shown.template.activities.activity).toEqual([
      { segment: 'task', data: { title: 'Receive contract', priority: 1 } },
      { segment: 'note', data: { details: 'Welcome call done?' } },
      { segment: 'followup', data: { title: 'Check in', duedate: '2026-12-01' } },
    ]);

    const listJson = await call(t, t.memberA, 'GET', '/templates/');
    expect(listedIds(listJson)).toContain(id);
    expect(ok(listJson)[String(id)].name).toBe(`Onboarding ${wire}`);
    expect(ok(listJson).count).toBe(listedIds(listJson).length);
    const listXml = await call(t, t.adminA, 'GET', '/templates/', { wire: 'xml' });
    expect(listedIds(listXml)).toContain(id);
    expect(text(listXml.body[`id${id}`].name)).toBe(`Onboarding ${wire}`);

    // PUT is partial: a new name keeps the activities; new activities replace the old ones.
    ok(await send(t, t.adminA, 'PUT', `/templates/${id}/`, wire, { name: `Renamed ${wire}` }));
    let again = ok(await call(t, t.adminA, 'GET', `/templates/${id}/`)).template;
    expect(again.name).toBe(`Renamed ${wire}`);
    expect(again.activities.activity).toHaveLength(3);
    ok(
      await send(t, t.adminA, 'PUT', `/templates/${id}/`, wire, {
        activities: { activity: [{ segment: 'comment', data: { details: 'only' } }] },
      }),
    );
    again = ok(await call(t, t.adminA, 'GET', `/templates/${id}/`)).template;
    expect(again.name).toBe(`Renamed ${wire}`);
    expect(again.activities.activity).toEqual([{ segment: 'comment', data: { details: 'only' } }]);

    ok(await call(t, t.adminA, 'DELETE', `/templates/${id}/`, { wire }));
    failed(await call(t, t.adminA, 'GET', `/templates/${id}/`, { wire }), 404, 'id');
    failed(await call(t, t.adminA, 'DELETE', `/templates/${id}/`, { wire }), 404, 'id');
    failed(await send(t, t.adminA, 'PUT', `/templates/${id}/`, wire, { name: 'x' }), 404, 'id');
    expect(listedIds(await call(t, t.adminA, 'GET', '/templates/'))).not.toContain(id);
  });

  it('lets members read templates but only admins change them', async () => {
    const id = Number(
      ok(
        await send(t, t.adminA, 'POST', '/templates/', 'json', {
          name: 'Admin only',
          activities: { activity: ONBOARDING },
        }),
      ).template.id,
    );
    const before = await counts(t);
    for (const wire of WIRES) {
      failed(
        await send(t, t.memberA, 'POST', '/templates/', wire, { name: 'Member', activities: { activity: ONBOARDING } }),
        403,
        'permission',
      );
      failed(await send(t, t.memberA, 'PUT', `/templates/${id}/`, wire, { name: 'Member' }), 403, 'permission');
      failed(await call(t, t.memberA, 'DELETE', `/templates/${id}/`, { wire }), 403, 'permission');
    }
    expect(await counts(t)).toEqual(before);
    expect(ok(await call(t, t.memberA, 'GET', `/templates/${id}/`)).template.name).toBe('Admin only');
  });

  it('refuses bad templates, naming the problem, and writes nothing', async () => {
    const before = await counts(t);
    const bad: [unknown, string][] = [
      [{ activities: { activity: ONBOARDING } }, 'name'],
      [{ name: 'X', activities: { activity: [{ segment: 'widget', data: {} }] } }, 'activities.0.segment'],
      [{ name: 'X', activities: { activity: [{ segment: 'file', data: { title: 'f' } }] } }, 'activities.0.segment'],
      [
        { name: 'X', activities: { activity: [ONBOARDING[0], { segment: 'task', data: { duedate: 'soon' } }] } },
        'activities.1.duedate',
      ],
      [
        { name: 'X', activities: { activity: [{ segment: 'task', data: { assignedto: t.adminB.userId } }] } },
        'activities.0.assignedto',
      ],
      [{ name: 'X', colour: 'red' }, 'colour'],
    ];
    for (const wire of WIRES)
      for (const [body, field] of bad) failed(await send(t, t.adminA, 'POST', '/templates/', wire, body), 400, field);
    expect(await counts(t)).toEqual(before);
  });

  it.each(WIRES)(
    'inserts every activity of a template under a record, one activities.create each (%s)',
    async (wire) => {
      const templateId = Number(
        ok(
          await send(t, t.adminA, 'POST', '/templates/', 'json', {
            name: 'Insert me',
            activities: { activity: ONBOARDING },
          }),
        ).template.id,
      );
      const parent = await createItem(t, t.adminA, 'contacts', { firstname: 'Templated' });
      ok(await call(t, t.adminA, 'POST', '/contacts/note/', { body: { parent, data: { details: 'existing' } } }));
      const since = await lastEventId(t, t.adminA.accountId);
      const r = ok(
        await send(t, t.adminA, 'POST', '/contacts/template/', wire, { parent, data: { templateid: templateId } }),
      );
      expect(Number(r.count)).toBe(3);
      const inserted = arr(r.activities.activity);
      expect(inserted.map((a: any) => Number(a.typeid))).toEqual([14, 3, 6]);
      expect(inserted.every((a: any) => Number(a.parent) === parent)).toBe(true);

      const shown = arr((await show(t, t.adminA, 'contacts', parent)).activities.activity);
      expect(shown.map((a: any) => a.name)).toEqual(['existing', 'Receive contract', 'Welcome call done?', 'Check in']);
      // An open task or follow-up says completed: 0 (dialect §6), though the template did not.
      expect(shown[1].fields).toEqual({ title: 'Receive contract', priority: 1, completed: 0 });
      expect(shown[3].fields).toEqual({ title: 'Check in', duedate: '2026-12-01', completed: 0 });

      const evs = await events(t, t.adminA.accountId, since);
      expect(evs.map((e) => e.type)).toEqual(['activities.create', 'activities.create', 'activities.create']);
      expect(evs.map((e) => e.objectId)).toEqual(inserted.map((a: any) => Number(a.id)));
      expect(evs.map((e) => e.objectKind)).toEqual(['task', 'note', 'followup']);
      for (const e of evs) {
        expect(e.content.item).toBe(parent);
        expect(e.content.parenttypeid).toBe(1);
      }
      // The template itself is unchanged and can be inserted again.
      const again = ok(
        await send(t, t.adminA, 'POST', '/contacts/template/', wire, { parent, data: { templateid: templateId } }),
      );
      expect(Number(again.count)).toBe(3);
      expect(arr((await show(t, t.adminA, 'contacts', parent)).activities.activity)).toHaveLength(7);
    },
  );

  it('inserts templates under companies and project blogs, and refuses missing ones', async () => {
    const templateId = Number(
      ok(
        await send(t, t.adminA, 'POST', '/templates/', 'json', {
          name: 'Any kind',
          activities: { activity: ONBOARDING.slice(0, 1) },
        }),
      ).template.id,
    );
    const company = await createItem(t, t.adminA, 'companies', { name: 'Templated Co' });
    ok(
      await call(t, t.adminA, 'POST', '/companies/template/', {
        body: { parent: company, data: { templateid: templateId } },
      }),
    );
    expect(arr((await show(t, t.adminA, 'companies', company)).activities.activity).map((a: any) => a.name)).toEqual([
      'Receive contract',
    ]);
    const blog = await createItem(t, t.adminA, 'projectblogs', { title: 'Templated Pb' });
    ok(
      await call(t, t.adminA, 'POST', '/projectblogs/template/', {
        wire: 'xml',
        body: { parent: blog, data: { templateid: templateId } },
      }),
    );
    expect(arr((await show(t, t.adminA, 'projectblogs', blog)).activities.activity)).toHaveLength(1);

    const before = await counts(t);
    for (const wire of WIRES) {
      failed(
        await send(t, t.adminA, 'POST', '/contacts/template/', wire, { parent: company, data: {} }),
        400,
        'templateid',
      );
      failed(
        await send(t, t.adminA, 'POST', '/companies/template/', wire, {
          parent: company,
          data: { templateid: 99999999 },
        }),
        404,
        'templateid',
      );
      failed(
        await send(t, t.adminA, 'POST', '/companies/template/', wire, {
          parent: 99999999,
          data: { templateid: templateId },
        }),
        404,
        'parent',
      );
      // The parent must be of the path's kind.
      failed(
        await send(t, t.adminA, 'POST', '/contacts/template/', wire, {
          parent: company,
          data: { templateid: templateId },
        }),
        404,
        'parent',
      );
    }
    expect(await counts(t)).toEqual(before);
  });

  it('lists the users and groups of the account, and only those', async () => {
    for (const wire of ['xml', 'json'] as const) {
      const o = ok(await call(t, t.memberA, 'GET', '/ownership/', { wire }));
      const users = arr(o.users.user).map((u: any) => ({
        id: Number(u.id),
        name: text(u.name),
        email: text(u.email),
        role: text(u.role),
      }));
      expect(users).toEqual([
        { id: t.adminA.userId, name: t.adminA.email.split('@')[0], email: t.adminA.email, role: 'admin' },
        { id: t.memberA.userId, name: t.memberA.email.split('@')[0], email: t.memberA.email, role: 'member' },
      ]);
      const groups = arr(o.groups.group);
      expect(groups.map((g: any) => [Number(g.id), text(g.name)])).toEqual([[group, 'Sales']]);
      expect(arr(groups[0].members.user).map(Number)).toEqual([t.adminA.userId, t.memberA.userId]);
    }
    const b = ok(await call(t, t.adminB, 'GET', '/ownership/'));
    expect(arr(b.users.user).map((u: any) => u.id)).toEqual([t.adminB.userId]);
    expect(arr(b.groups.group)).toEqual([]);
  });

  it.each(WIRES)(
    'accepts ownership by a user or group of the account and assignedto by a user of it (%s)',
    async (wire) => {
      const id = await createItem(
        t,
        t.adminA,
        'contacts',
        { firstname: 'Owned', ownership: group, assignedto: t.memberA.userId },
        wire,
      );
      let s = await show(t, t.adminA, 'contacts', id);
      expect(s.item.ownership).toBe(group);
      expect(s.item.fields.assignedto).toBe(t.memberA.userId);
      ok(
        await send(t, t.adminA, 'PUT', `/companies/${await createItem(t, t.adminA, 'companies', {})}/`, wire, {
          ownership: t.memberA.userId,
        }),
      );

      const before = await counts(t);
      const refused: [Record<string, unknown>, string][] = [
        [{ ownership: t.adminB.userId }, 'ownership'],
        [{ ownership: t.adminB.accountId }, 'ownership'],
        [{ ownership: 'me' }, 'ownership'],
        [{ ownership: 99999999 }, 'ownership'],
        [{ assignedto: t.adminB.userId }, 'assignedto'],
        [{ assignedto: group }, 'assignedto'],
        [{ assignedto: 'Sam' }, 'assignedto'],
      ];
      for (const [body, field] of refused) {
        failed(await send(t, t.adminA, 'POST', '/contacts/', wire, body), 400, field);
        failed(await send(t, t.adminA, 'PUT', `/contacts/${id}/`, wire, body), 400, field);
        failed(await send(t, t.adminA, 'POST', '/projectblogs/', wire, body), 400, field);
      }
      expect(await counts(t)).toEqual(before);
      s = await show(t, t.adminA, 'contacts', id);
      expect(s.item.ownership).toBe(group);
      expect(s.item.fields.assignedto).toBe(t.memberA.userId);
    },
  );
});
