// Activities of every segment under a parent item: create, shown inside the parent, update, delete to
// the trash, restore, ordering with before/after, moving to another parent, and field validation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type TestApp, type Wire } from '../support/app.js';
import { arr, counts, createItem, events, failed, ISO_DATE, lastEventId, ok, show, text, WIRES } from './helpers.js';

interface SegmentCase {
  segment: string;
  typeid: number;
  data: (t: TestApp) => Record<string, string | number>;
  /** the fields as show() gives them back (JSON), normalised */
  expected: (t: TestApp) => Record<string, unknown>;
  name: string;
  update: Record<string, string | number>;
  updated: Record<string, unknown>;
}

const SEGMENTS: SegmentCase[] = [
  {
    segment: 'note',
    typeid: 3,
    data: () => ({ details: 'Called about the contract' }),
    expected: () => ({ details: 'Called about the contract' }),
    name: 'Called about the contract',
    update: { details: 'Called back' },
    updated: { details: 'Called back' },
  },
  {
    segment: 'task',
    typeid: 14,
    data: (t) => ({
      title: 'Send offer',
      duedate: '2026-11-28',
      assignedto: t.memberA.userId,
      completed: 0,
      priority: 2,
      details: 'by mail',
    }),
    expected: (t) => ({
      title: 'Send offer',
      duedate: '2026-11-28',
      assignedto: t.memberA.userId,
      assignedto_cn: t.memberA.email.split('@')[0],
      completed: 0,
      priority: 2,
      details: 'by mail',
    }),
    name: 'Send offer',
    update: { completed: 1 },
    updated: { completed: 1, title: 'Send offer' },
  },
  {
    segment: 'event',
    typeid: 4,
    data: () => ({
      title: 'Meeting',
      timestart: '2026-11-28 09:45:00',
      timeend: '2026-11-28T11:45:00+01:00',
      location: 'HQ',
      priority: 1,
    }),
    expected: () => ({
      title: 'Meeting',
      timestart: '2026-11-28T09:45:00+00:00',
      timeend: '2026-11-28T10:45:00+00:00',
      location: 'HQ',
      priority: 1,
    }),
    name: 'Meeting',
    update: { location: 'Online' },
    updated: { location: 'Online', timestart: '2026-11-28T09:45:00+00:00' },
  },
  {
    segment: 'followup',
    typeid: 6,
    data: (t) => ({ title: 'Follow up', duedate: '2026-12-01', responsible: t.adminA.userId, completed: 0 }),
    expected: (t) => ({
      title: 'Follow up',
      duedate: '2026-12-01',
      responsible: t.adminA.userId,
      responsible_cn: t.adminA.email.split('@')[0],
      completed: 0,
    }),
    name: 'Follow up',
    update: { completed: 'yes' },
    updated: { completed: 1 },
  },
  {
    segment: 'call',
    typeid: 73,
    data: () => ({ details: 'Ring', dateoccured: '2026-11-28', duration: 15 }),
    expected: () => ({ details: 'Ring', dateoccured: '2026-11-28T00:00:00+00:00', duration: 15 }),
    name: 'Ring',
    update: { duration: 20 },
    updated: { duration: 20 },
  },
  {
    segment: 'opportunity',
    typeid: 32,
    data: () => ({
      description: 'Big deal',
      status: 'pending',
      valueunit: 1000.5,
      valuecurrency: 'EUR',
      probability: 50,
      closingdate: '2027-01-31',
    }),
    expected: () => ({
      description: 'Big deal',
      status: 'Pending',
      valueunit: 1000.5,
      valuecurrency: 'EUR',
      probability: 50,
      closingdate: '2027-01-31',
    }),
    name: 'Big deal',
    update: { status: 'WON' },
    updated: { status: 'Won', probability: 50 },
  },
  {
    segment: 'timerecord',
    typeid: 15,
    data: (t) => ({
      hours: 1.5,
      date: '2026-11-28',
      billable: 1,
      invoiced: 0,
      details: 'Work',
      person: t.adminA.userId,
    }),
    expected: (t) => ({
      hours: 1.5,
      date: '2026-11-28',
      billable: 1,
      invoiced: 0,
      details: 'Work',
      person: t.adminA.userId,
      person_cn: t.adminA.email.split('@')[0],
    }),
    name: 'Work',
    update: { invoiced: 1, hours: '2' },
    updated: { invoiced: 1, hours: 2 },
  },
  {
    segment: 'tasklist',
    typeid: 16,
    data: () => ({ title: 'Onboarding' }),
    expected: () => ({ title: 'Onboarding' }),
    name: 'Onboarding',
    update: { title: 'Offboarding' },
    updated: { title: 'Offboarding' },
  },
  {
    segment: 'comment',
    typeid: 30,
    data: () => ({ details: 'Nice' }),
    expected: () => ({ details: 'Nice' }),
    name: 'Nice',
    update: { details: 'Very nice' },
    updated: { details: 'Very nice' },
  },
  {
    segment: 'website',
    typeid: 62,
    data: () => ({ title: 'Home page', url: 'https://example.org/' }),
    expected: () => ({ title: 'Home page', url: 'https://example.org/' }),
    name: 'Home page',
    update: { url: 'https://example.org/new' },
    updated: { url: 'https://example.org/new', title: 'Home page' },
  },
];

const CASES = SEGMENTS.flatMap((s) => WIRES.map((wire) => ({ ...s, wire, label: `${s.segment} in ${wire}` })));

describe.each(ENGINES)('activities on %s', (engine) => {
  let t: TestApp;
  let parent: number;
  beforeAll(async () => {
    t = await makeApp(engine);
    parent = await createItem(t, t.adminA, 'contacts', { firstname: 'Parent' });
  });
  afterAll(async () => t.close());

  const activitiesOf = async (segment: string, id: number, wire: Wire = 'json') =>
    arr((await show(t, t.adminA, segment, id, wire)).activities?.activity);

  it.each(CASES)('creates, shows, updates, deletes and restores a $label', async (s) => {
    const owner = await createItem(t, t.adminA, 'contacts', { firstname: `Owner of ${s.segment}` });
    const created = ok(
      await call(t, t.adminA, 'POST', `/contacts/${s.segment}/`, {
        wire: s.wire,
        body: { parent: owner, data: s.data(t) },
      }),
    );
    const id = Number(created.item.id);
    expect(id).toBeGreaterThan(0);
    expect(Number(created.item.typeid)).toBe(s.typeid);
    expect(text(created.item.name)).toBe(s.name);
    expect(Number(created.item.parent)).toBe(owner);

    // Shown inside the parent's show, in JSON and in XML.
    const [a] = await activitiesOf('contacts', owner);
    expect(a.id).toBe(id);
    expect(a.typeid).toBe(s.typeid);
    expect(a.name).toBe(s.name);
    expect(a.parent).toBe(owner);
    expect(a.segment).toBe(s.segment);
    expect(a.created).toMatch(ISO_DATE);
    expect(a.creatorid).toBe(t.adminA.userId);
    expect(a.fields).toEqual(s.expected(t));
    const [x] = await activitiesOf('contacts', owner, 'xml');
    expect(Number(x.id)).toBe(id);
    expect(Number(x.typeid)).toBe(s.typeid);

    const u = ok(
      await call(t, t.adminA, 'PUT', `/contacts/${s.segment}/${id}/`, { wire: s.wire, body: { data: s.update } }),
    );
    expect(Number(u.item.id)).toBe(id);
    expect(Number(u.item.typeid)).toBe(s.typeid);
    const [after] = await activitiesOf('contacts', owner);
    expect(after.fields).toMatchObject(s.updated);

    ok(await call(t, t.adminA, 'DELETE', `/contacts/${s.segment}/${id}/`, { wire: s.wire }));
    expect(await activitiesOf('contacts', owner)).toEqual([]);
    failed(await call(t, t.adminA, 'DELETE', `/contacts/${s.segment}/${id}/`, { wire: s.wire }), 409, 'id');
    failed(
      await call(t, t.adminA, 'PUT', `/contacts/${s.segment}/${id}/`, { wire: s.wire, body: { data: s.update } }),
      404,
      'id',
    );
    ok(await call(t, t.adminA, 'POST', `/contacts/${s.segment}/${id}/restore/`, { wire: s.wire }));
    const back = await activitiesOf('contacts', owner);
    expect(back.map((b) => b.id)).toEqual([id]);
    failed(await call(t, t.adminA, 'POST', `/contacts/${s.segment}/${id}/restore/`, { wire: s.wire }), 409, 'id');
  });

  it('hangs activities under companies and project blogs too', async () => {
    for (const [segment, typeid] of [
      ['companies', 40],
      ['projectblogs', 2],
    ] as const) {
      const owner = await createItem(t, t.adminA, segment, segment === 'companies' ? { name: 'Co' } : { title: 'Pb' });
      for (const wire of WIRES) {
        const n = ok(
          await call(t, t.adminA, 'POST', `/${segment}/task/`, {
            wire,
            body: { parent: owner, data: { title: wire } },
          }),
        );
        expect(Number(n.item.parent)).toBe(owner);
      }
      const list = await activitiesOf(segment, owner);
      expect(list.map((a) => a.name)).toEqual(['xml', 'json', 'form']);
      expect(list.every((a) => a.typeid === 14 && a.parent === owner)).toBe(true);
      expect(typeid).toBe((await show(t, t.adminA, segment, owner)).item.typeid);
      // The parent must be of the path's kind.
      failed(
        await call(t, t.adminA, 'POST', '/contacts/note/', { body: { parent: owner, data: { details: 'x' } } }),
        404,
        'parent',
      );
    }
  });

  it.each(WIRES)('orders activities with before and after (%s)', async (wire) => {
    const owner = await createItem(t, t.adminA, 'contacts', { firstname: 'Ordered' });
    const add = async (title: string, extra: Record<string, unknown> = {}) =>
      Number(
        ok(
          await call(t, t.adminA, 'POST', '/contacts/task/', {
            wire,
            body: { parent: owner, data: { title }, ...extra },
          }),
        ).item.id,
      );
    const a = await add('A');
    const b = await add('B');
    const c = await add('C');
    await add('before B', { before: b });
    await add('after C', { after: c });
    await add('after A', { after: a });
    await add('before A', { before: a });
    const names = (await activitiesOf('contacts', owner)).map((x) => x.name);
    expect(names).toEqual(['before A', 'A', 'after A', 'before B', 'B', 'C', 'after C']);
    failed(
      await call(t, t.adminA, 'POST', '/contacts/task/', {
        wire,
        body: { parent: owner, data: { title: 'x' }, before: 'abc' },
      }),
      400,
      'before',
    );
    failed(
      await call(t, t.adminA, 'POST', '/contacts/task/', {
        wire,
        body: { parent: owner, data: { title: 'x' }, after: 99999999 },
      }),
      400,
      'after',
    );
    // before/after must name an activity of the same parent.
    const other = await createItem(t, t.adminA, 'contacts', { firstname: 'Other' });
    failed(
      await call(t, t.adminA, 'POST', '/contacts/task/', {
        wire,
        body: { parent: other, data: { title: 'x' }, after: a },
      }),
      400,
      'after',
    );
    expect(await activitiesOf('contacts', other)).toEqual([]);
  });

  it('keeps the order when many activities are slotted into the same gap', async () => {
    const owner = await createItem(t, t.adminA, 'contacts', { firstname: 'Crowded' });
    const add = async (title: string, extra: Record<string, unknown> = {}) =>
      Number(
        ok(
          await call(t, t.adminA, 'POST', '/contacts/note/', {
            body: { parent: owner, data: { details: title }, ...extra },
          }),
        ).item.id,
      );
    const first = await add('first');
    await add('last');
    // Each new note goes right after "first": the newest is nearest to it.
    const expected = ['first'];
    for (let i = 1; i <= 14; i++) {
      await add(`n${i}`, { after: first });
      expected.splice(1, 0, `n${i}`);
    }
    expected.push('last');
    expect((await activitiesOf('contacts', owner)).map((x) => x.name)).toEqual(expected);
    // And right before "last", over and over.
    const last = (await activitiesOf('contacts', owner)).at(-1).id;
    for (let i = 1; i <= 14; i++) {
      await add(`b${i}`, { before: last });
      expected.splice(expected.length - 1, 0, `b${i}`);
    }
    expect((await activitiesOf('contacts', owner)).map((x) => x.name)).toEqual(expected);
  });

  it.each(WIRES)('moves an activity to another parent with PUT (%s)', async (wire) => {
    const from = await createItem(t, t.adminA, 'contacts', { firstname: 'From' });
    const to = await createItem(t, t.adminA, 'contacts', { firstname: 'To' });
    await call(t, t.adminA, 'POST', '/contacts/note/', { body: { parent: to, data: { details: 'already there' } } });
    const id = Number(
      ok(
        await call(t, t.adminA, 'POST', '/contacts/note/', {
          wire,
          body: { parent: from, data: { details: 'moving' } },
        }),
      ).item.id,
    );
    const u = ok(await call(t, t.adminA, 'PUT', `/contacts/note/${id}/`, { wire, body: { parent: to } }));
    expect(Number(u.item.parent)).toBe(to);
    expect(await activitiesOf('contacts', from)).toEqual([]);
    expect((await activitiesOf('contacts', to)).map((a) => a.name)).toEqual(['already there', 'moving']);
    failed(
      await call(t, t.adminA, 'PUT', `/contacts/note/${id}/`, { wire, body: { parent: 99999999 } }),
      404,
      'parent',
    );
    failed(await call(t, t.adminA, 'PUT', `/contacts/note/${id}/`, { wire, body: { parent: 'abc' } }), 400, 'parent');
  });

  it('shows a new task or follow-up as open (completed 0) in its answer, its show and its event, and a note without it', async () => {
    const since = await lastEventId(t, t.adminA.accountId);
    for (const [segment, expected] of [
      ['task', 0],
      ['followup', 0],
      ['note', undefined],
    ] as const) {
      const created = ok(
        await call(t, t.adminA, 'POST', `/contacts/${segment}/`, {
          body: { parent, data: segment === 'note' ? { details: 'n' } : { title: `open ${segment}` } },
        }),
      );
      const id = Number(created.item.id);
      const shown = (await activitiesOf('contacts', parent)).find((a) => Number(a.id) === id);
      expect(shown.fields.completed, segment).toBe(expected);
      const ev = (await events(t, t.adminA.accountId, since)).find((e) => e.objectId === id)!;
      expect((ev.content as any).fields.completed, segment).toBe(expected);
    }
  });

  it('keeps a date field as the calendar day written, whatever the time and offset beside it', async () => {
    for (const [given, day] of [
      ['2026-11-28', '2026-11-28'],
      ['2026-11-28 09:45:00', '2026-11-28'],
      ['2026-11-28T23:30:00-05:00', '2026-11-28'], // the 29th in UTC, the 28th where it was written
      ['2026-11-28T00:30:00+02:00', '2026-11-28'], // the 27th in UTC
    ]) {
      const created = ok(
        await call(t, t.adminA, 'POST', '/contacts/task/', {
          body: { parent, data: { title: given, duedate: given } },
        }),
      );
      const task = (await activitiesOf('contacts', parent)).find((a) => Number(a.id) === Number(created.item.id));
      expect(task.fields.duedate, given).toBe(day);
    }
  });

  it('refuses wrong field types per segment with 400, naming the field, and writes nothing', async () => {
    const bad: [string, Record<string, unknown>, string][] = [
      ['task', { title: 'x', duedate: 'someday' }, 'duedate'],
      ['task', { title: 'x', duedate: '2026-02-31' }, 'duedate'],
      ['task', { priority: 'high' }, 'priority'],
      ['task', { completed: 'maybe' }, 'completed'],
      ['task', { assignedto: t.adminB.userId }, 'assignedto'],
      ['task', { assignedto: 'Sam' }, 'assignedto'],
      ['event', { timestart: 'noon' }, 'timestart'],
      ['event', { timeend: '2026-11-28T25:00:00' }, 'timeend'],
      ['followup', { completed: '2' }, 'completed'],
      ['call', { duration: 'long' }, 'duration'],
      ['timerecord', { hours: 'many' }, 'hours'],
      ['timerecord', { date: '28/11/2026' }, 'date'],
      ['opportunity', { status: 'Maybe' }, 'status'],
      ['opportunity', { probability: 101 }, 'probability'],
      ['opportunity', { probability: -1 }, 'probability'],
      ['opportunity', { valueunit: '1,000' }, 'valueunit'],
      ['note', { title: 'notes have no title' }, 'title'],
      ['note', { details: { nested: 'structure' } }, 'details'],
      ['note', { details: ['a', 'b'] }, 'details'],
    ];
    for (const wire of WIRES) {
      const before = await counts(t);
      for (const [segment, data, field] of bad) {
        const a = await call(t, t.adminA, 'POST', `/contacts/${segment}/`, { wire, body: { parent, data } });
        failed(a, 400, field);
      }
      expect(await counts(t)).toEqual(before);
    }
    // Several errors at once are all named.
    const errors = failed(
      await call(t, t.adminA, 'POST', '/contacts/task/', {
        body: { parent, data: { duedate: 'x', priority: 'y', colour: 'red' } },
      }),
      400,
      'duedate',
      'priority',
      'colour',
    );
    expect(Object.keys(errors)).toHaveLength(3);
  });

  it('validates updates the same way and leaves the activity as it was', async () => {
    const id = Number(
      ok(
        await call(t, t.adminA, 'POST', '/contacts/opportunity/', {
          body: { parent, data: { description: 'Keep', status: 'Discussion', probability: 10 } },
        }),
      ).item.id,
    );
    for (const wire of WIRES) {
      failed(
        await call(t, t.adminA, 'PUT', `/contacts/opportunity/${id}/`, { wire, body: { data: { status: 'Closed' } } }),
        400,
        'status',
      );
      failed(
        await call(t, t.adminA, 'PUT', `/contacts/opportunity/${id}/`, {
          wire,
          body: { data: { probability: 'high' } },
        }),
        400,
        'probability',
      );
      failed(
        await call(t, t.adminA, 'PUT', `/contacts/opportunity/${id}/`, { wire, body: { data: 'status' } }),
        400,
        'data',
      );
    }
    for (const status of ['Discussion', 'Pending', 'Won', 'Lost', 'On-hold']) {
      ok(
        await call(t, t.adminA, 'PUT', `/contacts/opportunity/${id}/`, {
          body: { data: { status: status.toLowerCase() } },
        }),
      );
      const a = (await activitiesOf('contacts', parent)).find((x) => x.id === id);
      expect(a.fields.status).toBe(status);
    }
    const a = (await activitiesOf('contacts', parent)).find((x) => x.id === id);
    expect(a.fields).toEqual({ description: 'Keep', status: 'On-hold', probability: 10 });
  });

  it('answers 400 for a missing or malformed parent and 404 for a missing one', async () => {
    const before = await counts(t);
    for (const wire of WIRES) {
      failed(
        await call(t, t.adminA, 'POST', '/contacts/note/', { wire, body: { data: { details: 'x' } } }),
        400,
        'parent',
      );
      failed(
        await call(t, t.adminA, 'POST', '/contacts/note/', { wire, body: { parent: 'abc', data: { details: 'x' } } }),
        400,
        'parent',
      );
      failed(
        await call(t, t.adminA, 'POST', '/contacts/note/', {
          wire,
          body: { parent: 99999999, data: { details: 'x' } },
        }),
        404,
        'parent',
      );
      failed(
        await call(t, t.adminA, 'POST', '/contacts/note/', { wire, body: { parent, data: 'details' } }),
        400,
        'data',
      );
    }
    expect(await counts(t)).toEqual(before);
  });

  it('answers 404 for an unknown segment and for an activity under the wrong segment', async () => {
    const id = Number(
      ok(await call(t, t.adminA, 'POST', '/contacts/note/', { body: { parent, data: { details: 'n' } } })).item.id,
    );
    for (const wire of ['xml', 'json'] as const) {
      failed(
        await call(t, t.adminA, 'POST', '/contacts/widget/', { wire, body: { parent, data: {} } }),
        404,
        'segment',
      );
      failed(await call(t, t.adminA, 'PUT', `/contacts/widget/${id}/`, { wire, body: { data: {} } }), 404, 'segment');
      failed(await call(t, t.adminA, 'DELETE', `/contacts/widget/${id}/`, { wire }), 404, 'segment');
      failed(await call(t, t.adminA, 'POST', `/contacts/widget/${id}/restore/`, { wire }), 404, 'segment');
      failed(
        await call(t, t.adminA, 'PUT', `/contacts/task/${id}/`, { wire, body: { data: { title: 'x' } } }),
        404,
        'id',
      );
      failed(await call(t, t.adminA, 'DELETE', `/contacts/task/${id}/`, { wire }), 404, 'id');
      failed(await call(t, t.adminA, 'PUT', `/contacts/note/99999999/`, { wire, body: { data: {} } }), 404, 'id');
    }
    // Files and photos are uploads, not XML/JSON/form bodies.
    failed(await call(t, t.adminA, 'POST', '/contacts/file/', { body: { parent, data: { title: 'f' } } }), 400, 'file');
    expect((await activitiesOf('contacts', parent)).some((a) => a.id === id)).toBe(true);
  });

  it('hides the activities of a record in the trash and refuses to change them', async () => {
    const owner = await createItem(t, t.adminA, 'contacts', { firstname: 'Trashed' });
    const id = Number(
      ok(await call(t, t.adminA, 'POST', '/contacts/note/', { body: { parent: owner, data: { details: 'n' } } })).item
        .id,
    );
    ok(await call(t, t.adminA, 'DELETE', `/contacts/${owner}/`));
    failed(await call(t, t.adminA, 'PUT', `/contacts/note/${id}/`, { body: { data: { details: 'm' } } }), 404);
    failed(await call(t, t.adminA, 'DELETE', `/contacts/note/${id}/`), 404);
    failed(
      await call(t, t.adminA, 'POST', '/contacts/note/', { body: { parent: owner, data: { details: 'x' } } }),
      404,
      'parent',
    );
    ok(await call(t, t.adminA, 'POST', `/contacts/${owner}/restore/`));
    expect((await activitiesOf('contacts', owner)).map((a) => a.id)).toEqual([id]);
  });
});
