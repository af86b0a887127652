// The outbox rule (dialect §6): which change raises which events, in which order, each carrying the full
// record after the whole change — read straight from the events table, on every engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp } from '../support/app.js';
import { hookRoutes } from '../../src/http/routes/hooks.js';
import { TargetGuard } from '../../src/delivery/ssrf.js';
import { createItem, events, lastEventId, ok, send, show, WIRES, type EventRow } from './helpers.js';

describe.each(ENGINES)('events on %s', (engine) => {
  let t: TestApp;
  let tagA: number;
  let tagB: number;
  let tagC: number;
  beforeAll(async () => {
    const noSend = async () => ({ id: 1 });
    t = await makeApp(engine, {
      plugins: [hookRoutes(new TargetGuard(['127.0.0.0/8']), { redeliver: noSend as never, test: noSend as never })],
    });
    const tag = async (name: string) =>
      Number(ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name } })).item.id);
    tagA = await tag('A');
    tagB = await tag('B');
    tagC = await tag('C');
  });
  afterAll(async () => t.close());

  /** Runs a change and answers the events it raised. */
  const raised = async (change: () => Promise<unknown>): Promise<EventRow[]> => {
    const since = await lastEventId(t, t.adminA.accountId);
    await change();
    return events(t, t.adminA.accountId, since);
  };
  /** What an items.* event must carry: the show answer without the activities. */
  const record = async (segment: string, id: number) => {
    const s = await show(t, t.adminA, segment, id);
    return { item: s.item, relateditems: s.relateditems, categories: s.categories };
  };
  const put = (id: number, body: unknown, wire: (typeof WIRES)[number] = 'json') =>
    send(t, t.adminA, 'PUT', `/contacts/${id}/`, wire, body).then(ok);

  it.each([
    ['contacts', 'contact', 1, { firstname: 'Ev', lastname: 'Create' }],
    ['companies', 'company', 40, { name: 'Ev Co' }],
    ['projectblogs', 'projectblog', 2, { title: 'Ev Pb' }],
  ] as const)('a create of %s raises one items.create with the full record', async (segment, kind, typeid, body) => {
    for (const wire of WIRES) {
      let id = 0;
      const evs = await raised(async () => {
        id = await createItem(t, t.adminA, segment, body, wire);
      });
      expect(evs.map((e) => e.type)).toEqual(['items.create']);
      expect(evs[0].objectId).toBe(id);
      expect(evs[0].objectKind).toBe(kind);
      expect(evs[0].content.item.typeid).toBe(typeid);
      expect(Object.keys(evs[0].content).sort()).toEqual(['categories', 'item', 'relateditems']);
      expect(evs[0].content).toEqual(await record(segment, id));
    }
  });

  it('a create with tags, a company and relations raises items.create then items.categorize, carrying all of them', async () => {
    const company = await createItem(t, t.adminA, 'companies', { name: 'Employer' });
    let id = 0;
    const evs = await raised(async () => {
      id = await createItem(t, t.adminA, 'contacts', {
        firstname: 'Full',
        company,
        assignedto: t.memberA.userId,
        categories: { add: { category: [tagA, tagB] } },
        relateditems: { add: { relatedto: { id: company, note: 'works at' } } },
      });
    });
    // Tags added raise items.categorize on a create as on a PUT (dialect §6): both carry the record as created.
    expect(evs.map((e) => e.type)).toEqual(['items.create', 'items.categorize']);
    const content = evs[0].content;
    expect(content).toEqual(await record('contacts', id));
    expect(evs[1].content).toEqual(content);
    expect(evs.map((e) => [e.objectId, e.objectKind])).toEqual([
      [id, 'contact'],
      [id, 'contact'],
    ]);
    expect(content.item.fields).toMatchObject({
      firstname: 'Full',
      company,
      company_cn: 'Employer',
      assignedto_cn: t.memberA.email.split('@')[0],
    });
    expect(content.categories.category.map((c: any) => c.id)).toEqual([tagA, tagB]);
    expect(content.relateditems.relatedto).toEqual([{ id: company, name: 'Employer', typeid: 40, note: 'works at' }]);
  });

  it.each(WIRES)('a create that adds tags raises items.create then items.categorize (%s)', async (wire) => {
    for (const [segment, kind, body] of [
      ['contacts', 'contact', { firstname: 'Tagged' }],
      ['companies', 'company', { name: 'Tagged Co' }],
      ['projectblogs', 'projectblog', { title: 'Tagged Pb' }],
    ] as const) {
      const tag = Number(
        ok(await call(t, t.adminA, 'POST', `/${segment}/categories/`, { body: { name: `Web form ${wire}` } })).item.id,
      );
      let id = 0;
      const evs = await raised(async () => {
        const b = ok(
          await send(t, t.adminA, 'POST', `/${segment}/`, wire, { ...body, categories: { add: { category: [tag] } } }),
        );
        id = Number(b.item.id);
      });
      expect(evs.map((e) => [e.type, e.objectId, e.objectKind])).toEqual([
        ['items.create', id, kind],
        ['items.categorize', id, kind],
      ]);
      const after = await record(segment, id);
      for (const e of evs) expect(e.content).toEqual(after);
      expect(after.categories.category.map((c: any) => c.id)).toEqual([tag]);
    }
    // Only tags added count: an empty list, a remove (of a tag a new record cannot have) or a tag named twice.
    let evs = await raised(() =>
      send(t, t.adminA, 'POST', '/contacts/', wire, {
        firstname: 'Untagged',
        categories: { remove: { category: [tagA] } },
      }).then(ok),
    );
    expect(evs.map((e) => e.type)).toEqual(['items.create']);
    evs = await raised(() =>
      send(t, t.adminA, 'POST', '/contacts/', wire, {
        firstname: 'Twice',
        categories: { add: { category: [tagA, tagA] } },
      }).then(ok),
    );
    expect(evs.map((e) => e.type)).toEqual(['items.create', 'items.categorize']);
  });

  it('a Lead router on items.categorize hears of a contact created already tagged', async () => {
    const hook = ok(
      await call(t, t.adminA, 'POST', '/hooks/', {
        body: {
          type: 'web',
          title: 'Lead router',
          active: 1,
          event: 'items.categorize',
          constrainttype: 'contact',
          url: 'http://127.0.0.1:9/endpoint.php',
          contenttype: 'xml',
        },
      }),
    );
    const hookId = Number(hook.id);
    const deliveries = () =>
      t.db.engine.read((x) =>
        x.all<{ event_id: number }>('SELECT event_id FROM deliveries WHERE hook_id = ? ORDER BY event_id', [hookId]),
      );
    try {
      let id = 0;
      const evs = await raised(async () => {
        id = await createItem(t, t.adminA, 'contacts', {
          firstname: 'Lead',
          categories: { add: { category: [tagC] } },
        });
      });
      const categorize = evs.find((e) => e.type === 'items.categorize')!;
      expect(categorize.objectId).toBe(id);
      expect((await deliveries()).map((d) => Number(d.event_id))).toEqual([categorize.id]);
    } finally {
      ok(await call(t, t.adminA, 'DELETE', `/hooks/${hookId}/`));
    }
  });

  it.each(WIRES)('a PUT raises update, categorize and uncategorize as the rule says (%s)', async (wire) => {
    const id = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Rule',
      categories: { add: { category: [tagA] } },
    });

    // Field change only.
    let evs = await raised(() => put(id, { lastname: 'One' }, wire));
    expect(evs.map((e) => e.type)).toEqual(['items.update']);
    expect(evs[0].content.item.fields.lastname).toBe('One');
    expect(evs[0].content).toEqual(await record('contacts', id));

    // Tag added only.
    evs = await raised(() => put(id, { categories: { add: { category: [tagB] } } }, wire));
    expect(evs.map((e) => e.type)).toEqual(['items.categorize']);
    expect(evs[0].content.categories.category.map((c: any) => c.id)).toEqual([tagA, tagB]);

    // Tag removed only.
    evs = await raised(() => put(id, { categories: { remove: { category: [tagA] } } }, wire));
    expect(evs.map((e) => e.type)).toEqual(['items.uncategorize']);
    expect(evs[0].content.categories.category.map((c: any) => c.id)).toEqual([tagB]);

    // All three in one PUT: in the rule's order, each with the record after the whole PUT.
    evs = await raised(() =>
      put(
        id,
        { jobtitle: 'Boss', categories: { add: { category: [tagA, tagC] }, remove: { category: [tagB] } } },
        wire,
      ),
    );
    expect(evs.map((e) => e.type)).toEqual(['items.update', 'items.categorize', 'items.uncategorize']);
    const after = await record('contacts', id);
    for (const e of evs) {
      expect(e.objectId).toBe(id);
      expect(e.objectKind).toBe('contact');
      expect(e.content).toEqual(after);
    }
    expect(after.item.fields.jobtitle).toBe('Boss');
    expect(after.categories.category.map((c: any) => c.id)).toEqual([tagA, tagC]);

    // Categorize and uncategorize without a field change: no items.update.
    evs = await raised(() =>
      put(id, { categories: { add: { category: [tagB] }, remove: { category: [tagC] } } }, wire),
    );
    expect(evs.map((e) => e.type)).toEqual(['items.categorize', 'items.uncategorize']);
  });

  it.each(WIRES)('a PUT that changes nothing raises nothing (%s)', async (wire) => {
    const id = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Same',
      jobtitle: 'Same',
      ownership: t.adminA.userId,
      categories: { add: { category: [tagA] } },
    });
    const evs = await raised(async () => {
      await put(id, { firstname: 'Same' }, wire);
      await put(id, { jobtitle: 'Same', ownership: t.adminA.userId, flagged: 0 }, wire);
      await put(id, { lastname: '' }, wire); // clearing a field that is empty already
      await put(id, { categories: { add: { category: [tagA] } } }, wire); // a tag it has
      await put(id, { categories: { remove: { category: [tagB] } } }, wire); // a tag it has not
      await put(id, {}, wire);
    });
    expect(evs).toEqual([]);
    const s = await show(t, t.adminA, 'contacts', id);
    expect(s.item.fields).toMatchObject({ firstname: 'Same', jobtitle: 'Same' });
  });

  it('ownership, flag and related items count as changes: items.update', async () => {
    const a = await createItem(t, t.adminA, 'contacts', { firstname: 'Owner' });
    const b = await createItem(t, t.adminA, 'companies', { name: 'Related' });
    expect((await raised(() => put(a, { ownership: t.memberA.userId }))).map((e) => e.type)).toEqual(['items.update']);
    expect((await raised(() => put(a, { flagged: 1 }))).map((e) => e.type)).toEqual(['items.update']);
    const rel = await raised(() => put(a, { relateditems: { add: { relatedto: { id: b } } } }));
    expect(rel.map((e) => [e.type, e.objectId])).toEqual([['items.update', a]]);
    expect(rel[0].content.relateditems.relatedto.map((r: any) => r.id)).toEqual([b]);
    // The same relation again is no change.
    expect(await raised(() => put(a, { relateditems: { add: { relatedto: { id: b } } } }))).toEqual([]);
    const unrel = await raised(() => put(a, { relateditems: { remove: { relatedto: [b] } } }));
    expect(unrel.map((e) => e.type)).toEqual(['items.update']);
    expect(unrel[0].content.relateditems.relatedto).toEqual([]);
  });

  it('delete and restore raise items.delete and items.restore with the record', async () => {
    for (const segment of ['contacts', 'companies', 'projectblogs']) {
      const id = await createItem(t, t.adminA, segment, {});
      const before = await record(segment, id);
      const del = await raised(() => call(t, t.adminA, 'DELETE', `/${segment}/${id}/`).then(ok));
      expect(del.map((e) => [e.type, e.objectId])).toEqual([['items.delete', id]]);
      expect(del[0].content.item.id).toBe(id);
      expect(del[0].content.item.fields).toEqual(before.item.fields);
      expect(Object.keys(del[0].content).sort()).toEqual(['categories', 'item', 'relateditems']);
      // A refused second delete raises nothing.
      expect(await raised(() => call(t, t.adminA, 'DELETE', `/${segment}/${id}/`))).toEqual([]);
      const res = await raised(() => call(t, t.adminA, 'POST', `/${segment}/${id}/restore/`).then(ok));
      expect(res.map((e) => [e.type, e.objectId])).toEqual([['items.restore', id]]);
      expect(res[0].content).toEqual(await record(segment, id));
      expect(await raised(() => call(t, t.adminA, 'POST', `/${segment}/${id}/restore/`))).toEqual([]);
    }
  });

  it.each(WIRES)('activities raise create, update, delete and restore with their content (%s)', async (wire) => {
    const parent = await createItem(t, t.adminA, 'contacts', { firstname: 'Busy' });
    let id = 0;
    const created = await raised(async () => {
      const r = ok(
        await send(t, t.adminA, 'POST', '/contacts/task/', wire, {
          parent,
          data: { title: 'Do it', assignedto: t.memberA.userId, completed: 0, duedate: '2026-11-28' },
        }),
      );
      id = Number(r.item.id);
    });
    expect(created.map((e) => [e.type, e.objectId, e.objectKind])).toEqual([['activities.create', id, 'task']]);
    const c = created[0].content;
    expect(c).toMatchObject({ id, name: 'Do it', typeid: 14, item: parent, parenttypeid: 1 });
    expect(c.fields).toEqual({
      title: 'Do it',
      assignedto: t.memberA.userId,
      assignedto_cn: t.memberA.email.split('@')[0],
      completed: 0,
      duedate: '2026-11-28',
    });
    // The content is the activity as the parent's show gives it (with item/parenttypeid instead of parent).
    const inShow = (await show(t, t.adminA, 'contacts', parent)).activities.activity[0];
    const { item: _item, parenttypeid: _ptid, ...rest } = c;
    expect({ ...rest, parent }).toEqual(inShow);

    const updated = await raised(() =>
      send(t, t.adminA, 'PUT', `/contacts/task/${id}/`, wire, { data: { completed: 1 } }).then(ok),
    );
    expect(updated.map((e) => e.type)).toEqual(['activities.update']);
    expect(updated[0].content.fields.completed).toBe(1);
    expect(updated[0].content.fields.title).toBe('Do it');
    // The same values again: nothing.
    expect(
      await raised(() =>
        send(t, t.adminA, 'PUT', `/contacts/task/${id}/`, wire, { data: { completed: 1, title: 'Do it' } }).then(ok),
      ),
    ).toEqual([]);
    expect(await raised(() => send(t, t.adminA, 'PUT', `/contacts/task/${id}/`, wire, { parent }).then(ok))).toEqual(
      [],
    );

    const deleted = await raised(() => call(t, t.adminA, 'DELETE', `/contacts/task/${id}/`, { wire }).then(ok));
    expect(deleted.map((e) => [e.type, e.objectId])).toEqual([['activities.delete', id]]);
    expect(deleted[0].content).toMatchObject({ id, item: parent, parenttypeid: 1, typeid: 14 });
    const restored = await raised(() => call(t, t.adminA, 'POST', `/contacts/task/${id}/restore/`, { wire }).then(ok));
    expect(restored.map((e) => [e.type, e.objectId])).toEqual([['activities.restore', id]]);
    expect(restored[0].content.fields.completed).toBe(1);
  });

  it('moving an activity raises activities.update naming the new parent and its typeid', async () => {
    const from = await createItem(t, t.adminA, 'companies', { name: 'From' });
    const to = await createItem(t, t.adminA, 'companies', { name: 'To' });
    const id = Number(
      ok(await call(t, t.adminA, 'POST', '/companies/note/', { body: { parent: from, data: { details: 'n' } } })).item
        .id,
    );
    const evs = await raised(() =>
      call(t, t.adminA, 'PUT', `/companies/note/${id}/`, { body: { parent: to } }).then(ok),
    );
    expect(evs.map((e) => e.type)).toEqual(['activities.update']);
    expect(evs[0].content).toMatchObject({ id, item: to, parenttypeid: 40 });
  });

  it('changes of other accounts and refused requests raise nothing in this account', async () => {
    const id = await createItem(t, t.adminA, 'contacts', { firstname: 'Quiet' });
    const evs = await raised(async () => {
      await createItem(t, t.adminB, 'contacts', { firstname: 'B' });
      await call(t, t.adminA, 'PUT', `/contacts/${id}/`, { body: { nickname: 'x' } });
      await call(t, t.adminA, 'PUT', `/contacts/${id}/`, {
        body: { firstname: 'Changed', categories: { add: { category: [99999999] } } },
      });
      await call(t, t.adminA, 'POST', '/contacts/note/', { body: { parent: id, data: { title: 'x' } } });
      await call(t, t.adminB, 'PUT', `/contacts/${id}/`, { body: { firstname: 'Hijack' } });
    });
    expect(evs).toEqual([]);
    expect((await show(t, t.adminA, 'contacts', id)).item.fields.firstname).toBe('Quiet');
    // B's create is in B's outbox, not A's.
    const b = await events(t, t.adminB.accountId);
    expect(b.map((e) => e.type)).toEqual(['items.create']);
  });
});
