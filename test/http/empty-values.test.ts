// An empty value is one thing in every wire — JSON null or "" (or blanks), XML <ownership/>, form ownership= —
// and one rule decides what it does: it clears a field that can be empty (firstname), and leaves a value that
// cannot be empty as it is: a record's ownership and flagged (on a create, the caller and 0), an activity's
// new parent on a PUT, and before/after on a create. A value that is not empty and not valid is still 400.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { makeApp, type Answer, type TestApp } from '../support/app.js';
import { arr, createItem, dump, events, failed, lastEventId, ok, send, show, WIRES } from './helpers.js';

/** Empty as clients write it; XML and form spell null and "" alike (<x></x>, x=). */
const EMPTIES = [null, '', '  '];
const OWNERSHIP = 'ownership must be the id of a user or group of this account (see GET /ownership/)';
const FLAGGED = 'flagged must be 0 or 1';
const PARENT = 'parent must be the id of an item';
const TEMPLATE = 'data/templateid must be the id of an activity template';
const REQUIRED = (kind: string, belongs = 'the activity belongs to') =>
  `parent is required: the id of the ${kind} ${belongs}`;

describe.each(ENGINES)('empty values on %s', (engine) => {
  let t: TestApp;
  let contact: number;
  let other: number;
  let task: number;
  let template: number;
  beforeAll(async () => {
    t = await makeApp(engine);
    contact = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Kept',
      lastname: 'Same',
      ownership: t.memberA.userId,
      flagged: 1,
    });
    other = await createItem(t, t.adminA, 'contacts', { firstname: 'Elsewhere' });
    task = Number(
      ok(await send(t, t.adminA, 'POST', '/contacts/task/', 'json', { parent: contact, data: { title: 'Stay' } })).item
        .id,
    );
    template = Number(
      ok(
        await send(t, t.adminA, 'POST', '/templates/', 'json', {
          name: 'Checklist',
          activities: { activity: [{ segment: 'note', data: { details: 'From the template' } }] },
        }),
      ).template.id,
    );
  });
  afterAll(async () => t.close());

  /** A 400 whose errors are exactly these (field, message) pairs. */
  const refused = (a: Answer, label: string, ...errors: [string, string][]) => {
    failed(a, 400, ...errors.map(([field]) => field));
    expect(Object.entries(a.body.errors), label).toEqual(errors);
  };
  const head = async (id: number) => {
    const s = await show(t, t.adminA, 'contacts', id);
    return { ownership: s.item.ownership, flagged: s.item.flagged, fields: s.item.fields };
  };
  const activities = async (id: number) =>
    arr((await show(t, t.adminA, 'contacts', id)).activities.activity).map((a) => [a.id, a.fields.title]);

  describe.each(WIRES)('in %s', (wire) => {
    it.each(EMPTIES)('a record PUT with ownership and flagged %j changes nothing', async (empty) => {
      const before = await dump(t, t.adminA.accountId);
      ok(await send(t, t.adminA, 'PUT', `/contacts/${contact}/`, wire, { ownership: empty, flagged: empty }));
      expect(await dump(t, t.adminA.accountId)).toEqual(before);
    });

    it.each(EMPTIES)('writes the other fields of a record body with ownership and flagged %j', async (empty) => {
      const since = await lastEventId(t, t.adminA.accountId);
      ok(
        await send(t, t.adminA, 'PUT', `/contacts/${contact}/`, wire, {
          ownership: empty,
          flagged: empty,
          lastname: 'Changed',
        }),
      );
      expect(await head(contact)).toEqual({
        ownership: t.memberA.userId,
        flagged: 1,
        fields: { firstname: 'Kept', lastname: 'Changed' },
      });
      ok(await send(t, t.adminA, 'PUT', `/contacts/${contact}/`, wire, { lastname: 'Same', ownership: empty }));
      expect((await events(t, t.adminA.accountId, since)).map((e) => e.type)).toEqual(['items.update', 'items.update']);
      // A create takes the defaults: the caller owns it, unflagged.
      const id = Number(
        ok(
          await send(t, t.adminA, 'POST', '/contacts/', wire, { firstname: 'Fresh', ownership: empty, flagged: empty }),
        ).item.id,
      );
      expect(await head(id)).toEqual({ ownership: t.adminA.userId, flagged: 0, fields: { firstname: 'Fresh' } });
      // A field that can be empty is cleared by the same value.
      ok(await send(t, t.adminA, 'PUT', `/contacts/${id}/`, wire, { firstname: empty, lastname: 'Only' }));
      expect((await head(id)).fields).toEqual({ lastname: 'Only' });
    });

    it.each(EMPTIES)('an activity PUT with parent %j stays where it is', async (empty) => {
      const before = await dump(t, t.adminA.accountId);
      ok(await send(t, t.adminA, 'PUT', `/contacts/task/${task}/`, wire, { parent: empty }));
      ok(await send(t, t.adminA, 'PUT', `/contacts/task/${task}/`, wire, { parent: empty, data: { title: 'Stay' } }));
      expect(await dump(t, t.adminA.accountId)).toEqual(before);
      const since = await lastEventId(t, t.adminA.accountId);
      const a = ok(
        await send(t, t.adminA, 'PUT', `/contacts/task/${task}/`, wire, { parent: empty, data: { title: 'Renamed' } }),
      );
      expect(a.item.parent === contact || a.item.parent === String(contact)).toBe(true);
      expect(await activities(contact)).toEqual([[task, 'Renamed']]);
      expect((await events(t, t.adminA.accountId, since)).map((e) => [e.type, e.content.item])).toEqual([
        ['activities.update', contact],
      ]);
      ok(await send(t, t.adminA, 'PUT', `/contacts/task/${task}/`, wire, { data: { title: 'Stay' } }));
    });

    it.each(EMPTIES)('a template insertion with data/templateid %j reads the top-level templateid', async (empty) => {
      const owner = await createItem(t, t.adminA, 'contacts', { firstname: 'Templated' });
      const insert = (body: Record<string, unknown>) =>
        send(t, t.adminA, 'POST', '/contacts/template/', wire, { parent: owner, ...body });
      ok(await insert({ data: { templateid: empty }, templateid: template }));
      ok(await insert({ templateid: template, data: { templateid: empty } }));
      const shown = arr((await show(t, t.adminA, 'contacts', owner)).activities.activity);
      expect(shown.map((a) => [a.typeid, a.fields.details])).toEqual([
        [3, 'From the template'],
        [3, 'From the template'],
      ]);
      // Empty in both places, or in data alone, there is no template to insert.
      const before = await dump(t, t.adminA.accountId);
      for (const body of [{ data: { templateid: empty } }, { data: { templateid: empty }, templateid: empty }]) {
        refused(await insert(body), JSON.stringify(body), ['templateid', TEMPLATE]);
      }
      expect(await dump(t, t.adminA.accountId)).toEqual(before);
    });

    it.each(EMPTIES)('an activity create with before and after %j goes last', async (empty) => {
      const owner = await createItem(t, t.adminA, 'contacts', { firstname: 'Ordered' });
      const post = async (body: Record<string, unknown>) =>
        Number(ok(await send(t, t.adminA, 'POST', '/contacts/task/', wire, { parent: owner, ...body })).item.id);
      const first = await post({ data: { title: 'First' } });
      const last = await post({ data: { title: 'Last' }, before: empty, after: empty });
      expect(await activities(owner)).toEqual([
        [first, 'First'],
        [last, 'Last'],
      ]);
    });
  });

  it.each(WIRES)('still refuses values that are not empty and not valid, changing nothing (%s)', async (wire) => {
    const before = await dump(t, t.adminA.accountId);
    const item: [string, Record<string, unknown>, [string, string][]][] = [
      ['a name as owner', { ownership: 'admin', lastname: 'Lost' }, [['ownership', OWNERSHIP]]],
      ['a structure as owner', { ownership: { id: t.adminA.userId } }, [['ownership', OWNERSHIP]]],
      ['flagged 2', { flagged: '2', lastname: 'Lost' }, [['flagged', FLAGGED]]],
      [
        'both',
        { ownership: 'me', flagged: 'yes' },
        [
          ['ownership', OWNERSHIP],
          ['flagged', FLAGGED],
        ],
      ],
    ];
    for (const [label, body, errors] of item) {
      refused(await send(t, t.adminA, 'PUT', `/contacts/${contact}/`, wire, body), label, ...errors);
      refused(await send(t, t.adminA, 'POST', '/contacts/', wire, body), label, ...errors);
    }
    refused(
      await send(t, t.adminA, 'PUT', `/contacts/task/${task}/`, wire, { parent: 'abc', data: { title: 'Lost' } }),
      'a name as parent',
      ['parent', PARENT],
    );
    refused(
      await send(t, t.adminA, 'POST', '/contacts/task/', wire, {
        parent: contact,
        data: { title: 'Lost' },
        after: 'x',
      }),
      'a name as after',
      ['after', 'after must be the id of an activity of the same parent'],
    );
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
    expect(await activities(other)).toEqual([]);
  });

  it.each(WIRES)('requires the parent of a create, absent or empty, changing nothing (%s)', async (wire) => {
    const before = await dump(t, t.adminA.accountId);
    const TEMPLATE_PARENT = REQUIRED('contact', "the template's activities go under");
    // A create has nowhere to leave an activity: its parent is required, empty or absent.
    for (const parent of [undefined, ...EMPTIES]) {
      const label = `parent ${JSON.stringify(parent)}`;
      const body = parent === undefined ? {} : { parent };
      refused(await send(t, t.adminA, 'POST', '/contacts/task/', wire, { ...body, data: { title: 'Lost' } }), label, [
        'parent',
        REQUIRED('contact'),
      ]);
      // Named beside the other refusals of the request, in the path's kind.
      refused(
        await send(t, t.adminA, 'POST', '/companies/note/', wire, { ...body, data: { details: 'x', title: 'y' } }),
        label,
        ['parent', REQUIRED('company')],
        ['title', 'Unknown field for a note'],
      );
      refused(
        await send(t, t.adminA, 'POST', '/projectblogs/task/', wire, { ...body, data: { title: 'Lost' }, after: 'x' }),
        label,
        ['parent', REQUIRED('project blog')],
      );
      refused(
        await send(t, t.adminA, 'POST', '/contacts/template/', wire, { ...body, data: { templateid: template } }),
        label,
        ['parent', TEMPLATE_PARENT],
      );
      refused(
        await send(t, t.adminA, 'POST', '/contacts/template/', wire, { ...body, data: { templateid: 'x' } }),
        label,
        ['parent', TEMPLATE_PARENT],
        ['templateid', TEMPLATE],
      );
    }
    // A parent that is there and not an id keeps its own message.
    for (const parent of ['abc', '0', '-3', '1.5', { id: contact }, [contact, contact]]) {
      const label = `parent ${JSON.stringify(parent)}`;
      refused(await send(t, t.adminA, 'POST', '/contacts/task/', wire, { parent, data: { title: 'Lost' } }), label, [
        'parent',
        PARENT,
      ]);
      refused(
        await send(t, t.adminA, 'POST', '/contacts/template/', wire, { parent, data: { templateid: template } }),
        label,
        ['parent', PARENT],
      );
      // … named beside the request's other refusals too, before anything is read.
      refused(
        await send(t, t.adminA, 'POST', '/companies/note/', wire, { parent, data: { details: 'x', title: 'y' } }),
        label,
        ['parent', PARENT],
        ['title', 'Unknown field for a note'],
      );
      refused(
        await send(t, t.adminA, 'PUT', `/contacts/task/${task}/`, wire, { parent, data: { title: 'x', bogus: 1 } }),
        label,
        ['parent', PARENT],
        ['bogus', 'Unknown field for a task'],
      );
      refused(
        await send(t, t.adminA, 'POST', '/contacts/template/', wire, { parent, data: { templateid: 'x' } }),
        label,
        ['parent', PARENT],
        ['templateid', TEMPLATE],
      );
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
    expect(await activities(other)).toEqual([]);
  });
});
