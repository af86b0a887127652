// An activity path names the kind of the activity's parent: /contacts/note/{id}/ reaches only notes whose
// parent is a contact. The same id under /companies/ or /projectblogs/ answers exactly as an id that
// exists nowhere (as another account's id does), and nothing changes: no row, no event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type Answer, type TestApp } from '../support/app.js';
import { createItem, dump, failed, ok, send, WIRES } from './helpers.js';

const MISSING = 99999999;
const KINDS = ['contacts', 'companies', 'projectblogs'] as const;
type Kind = (typeof KINDS)[number];

/** A valid data update per segment (every segment that takes an XML/JSON/form body). */
const UPDATES: Record<string, Record<string, string | number>> = {
  note: { details: 'Hijacked' },
  task: { title: 'Hijacked', completed: 1 },
  event: { title: 'Hijacked' },
  followup: { completed: 1 },
  timerecord: { hours: 9 },
  opportunity: { status: 'Won' },
  call: { duration: 99 },
  tasklist: { title: 'Hijacked' },
  photolist: { title: 'Hijacked' },
  linkedemails: { title: 'Hijacked' },
  comment: { details: 'Hijacked' },
  website: { title: 'Hijacked' },
  separator: { title: 'Hijacked' },
};
const SEGMENTS = Object.keys(UPDATES);

describe.each(ENGINES)('activity paths check the parent kind on %s', (engine) => {
  let t: TestApp;
  const parents = {} as Record<Kind, number>;
  /** activity id by parent kind and segment */
  const ids = {} as Record<Kind, Record<string, number>>;

  beforeAll(async () => {
    t = await makeApp(engine);
    parents.contacts = await createItem(t, t.adminA, 'contacts', { firstname: 'Carla' });
    parents.companies = await createItem(t, t.adminA, 'companies', { name: 'Carla Co' });
    parents.projectblogs = await createItem(t, t.adminA, 'projectblogs', { title: 'Carla launch' });
    for (const kind of KINDS) {
      ids[kind] = {};
      for (const segment of SEGMENTS) {
        const body = { parent: parents[kind], data: {} };
        ids[kind][segment] = Number(ok(await call(t, t.adminA, 'POST', `/${kind}/${segment}/`, { body })).item.id);
      }
    }
  });
  afterAll(async () => t.close());

  /** The answer for `id` is byte for byte the answer for an id that exists nowhere (ids aside). */
  const sameAsMissing = async (make: (id: number) => Promise<Answer>, id: number): Promise<void> => {
    const got = await make(id);
    const missing = await make(MISSING);
    failed(got, 404, 'id');
    expect(got.status).toBe(missing.status);
    expect(got.text.replaceAll(String(id), 'ID')).toBe(missing.text.replaceAll(String(MISSING), 'ID'));
  };

  const others = (kind: Kind) => KINDS.filter((k) => k !== kind);

  it('refuses PUT, DELETE and restore of every segment through another kind, changing nothing', async () => {
    const before = await dump(t, t.adminA.accountId);
    for (const kind of KINDS) {
      for (const path of others(kind)) {
        for (const segment of SEGMENTS) {
          const id = ids[kind][segment];
          const url = (x: number) => `/${path}/${segment}/${x}/`;
          await sameAsMissing((x) => call(t, t.adminA, 'PUT', url(x), { body: { data: UPDATES[segment] } }), id);
          // Not even a move under a parent of the path's kind.
          await sameAsMissing((x) => call(t, t.adminA, 'PUT', url(x), { body: { parent: parents[path] } }), id);
          await sameAsMissing((x) => call(t, t.adminA, 'DELETE', url(x)), id);
          // Under its own kind this would be 409 (not in the trash); through another kind it is no activity.
          await sameAsMissing((x) => call(t, t.adminA, 'POST', `${url(x)}restore/`), id);
        }
      }
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it.each(WIRES)('answers as for a missing id (%s)', async (wire) => {
    const before = await dump(t, t.adminA.accountId);
    for (const kind of KINDS) {
      for (const path of others(kind)) {
        for (const segment of ['note', 'task', 'followup', 'event']) {
          const id = ids[kind][segment];
          const url = (x: number) => `/${path}/${segment}/${x}/`;
          await sameAsMissing((x) => send(t, t.adminA, 'PUT', url(x), wire, { data: UPDATES[segment] }), id);
          await sameAsMissing((x) => call(t, t.adminA, 'DELETE', url(x), { wire }), id);
        }
      }
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it('keeps an activity in the trash out of reach through another kind', async () => {
    const id = ids.contacts.task;
    ok(await call(t, t.adminA, 'DELETE', `/contacts/task/${id}/`));
    const before = await dump(t, t.adminA.accountId);
    for (const path of others('contacts')) {
      // Under its own kind these are 409 (already in the trash) and a restore.
      await sameAsMissing((x) => call(t, t.adminA, 'DELETE', `/${path}/task/${x}/`), id);
      await sameAsMissing((x) => call(t, t.adminA, 'POST', `/${path}/task/${x}/restore/`), id);
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
    failed(await call(t, t.adminA, 'DELETE', `/contacts/task/${id}/`), 409, 'id');
    ok(await call(t, t.adminA, 'POST', `/contacts/task/${id}/restore/`));
  });

  it('still updates, deletes and restores through the right kind', async () => {
    for (const kind of KINDS) {
      const id = ids[kind].note;
      const u = ok(await call(t, t.adminA, 'PUT', `/${kind}/note/${id}/`, { body: { data: { details: 'Mine' } } }));
      expect(u.item.parent).toBe(parents[kind]);
      ok(await call(t, t.adminA, 'DELETE', `/${kind}/note/${id}/`));
      ok(await call(t, t.adminA, 'POST', `/${kind}/note/${id}/restore/`));
    }
  });
});
