// Activity reports (dialect §4) on every engine: which activities each report and each parameter selects,
// in which order, the JSON (keyed by id) and XML (nested) shapes, itemsdata, and the indexes the plans use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, type TestApp } from '../support/app.js';
import { addGroup, addUser } from '../../src/accounts/accounts.js';
import { reportQuery } from '../../src/records/reports.js';
import {
  arr,
  createActivity,
  createItem,
  DAY,
  failed,
  ISO,
  jsonIds,
  makeCompatApp,
  ok,
  TestClock,
  XML_DECL,
} from '../compat/helpers.js';

describe.each(ENGINES)('activity reports on %s', (engine) => {
  let t: TestApp;
  const clock = new TestClock();
  const T0 = clock.ms;
  const id: Record<string, number> = {};
  let c1: number;
  let co: number;
  let catX: number;
  let group: number;

  const report = async (name: string, query = '', wire: 'json' | 'xml' = 'json') => {
    const a = await call(t, t.adminA, 'GET', `/report/${name}/${query ? `?${query}` : ''}`, { wire });
    ok(a);
    return a;
  };
  const ids = async (name: string, query = '') => jsonIds((await report(name, query)).text);

  beforeAll(async () => {
    t = await makeCompatApp(engine, { clock });
    const member = t.memberA.userId;
    const admin = t.adminA.userId;
    // Activities are assigned to users, never to a group: a group filter finds its members' activities.
    const { userId: colleague } = await addUser(t.db.engine, {
      accountId: t.adminA.accountId,
      email: `colleague-${process.pid}-${Date.now()}-${engine}@example.org`,
      role: 'member',
    });
    group = await addGroup(t.db.engine, t.adminA.accountId, 'Sales', [member, colleague]);
    catX = Number(ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: 'X' } })).item.id);
    c1 = await createItem(t, t.adminA, 'contacts', {
      firstname: 'Cora',
      lastname: 'One',
      categories: { add: { category: [catX] } },
    });
    const c2 = await createItem(t, t.adminA, 'contacts', { firstname: 'Carl', lastname: 'Two' });
    co = await createItem(t, t.adminA, 'companies', { name: 'Acme' });

    // Created 30 days ago: outside the default one-week window of the activities report.
    clock.ms = T0 - 30 * DAY;
    id.oldNote = await createActivity(t, t.adminA, 'contacts', 'note', c2, { details: 'old' });
    id.tr3 = await createActivity(t, t.adminA, 'contacts', 'timerecord', c1, {
      hours: 1,
      date: clock.today(),
      billable: 1,
      invoiced: 1,
    });
    clock.ms = T0 - 2 * DAY;
    id.t1 = await createActivity(t, t.adminA, 'contacts', 'task', c1, {
      title: 'Overdue',
      duedate: clock.today(),
      assignedto: member,
    });
    clock.ms = T0;
    id.t2 = await createActivity(t, t.adminA, 'contacts', 'task', c1, {
      title: 'Soon',
      duedate: clock.today(5),
      assignedto: admin,
    });
    id.t3 = await createActivity(t, t.adminA, 'contacts', 'task', c2, { title: 'Someday' });
    id.t4 = await createActivity(t, t.adminA, 'contacts', 'task', c2, {
      title: 'Done',
      duedate: clock.today(),
      completed: 1,
    });
    id.tg = await createActivity(t, t.adminA, 'contacts', 'task', c2, {
      title: 'For a colleague in the group',
      duedate: clock.today(2),
      assignedto: colleague,
    });
    id.f1 = await createActivity(t, t.adminA, 'contacts', 'followup', c2, {
      title: 'Call back',
      duedate: clock.today(20),
      responsible: member,
    });
    id.f2 = await createActivity(t, t.adminA, 'contacts', 'followup', c2, {
      title: 'Closed',
      duedate: clock.today(1),
      completed: 1,
    });
    id.e1 = await createActivity(t, t.adminA, 'companies', 'event', co, {
      title: 'Meeting',
      timestart: `${clock.today(1)}T09:00:00+00:00`,
      timeend: `${clock.today(1)}T10:00:00+00:00`,
    });
    id.o1 = await createActivity(t, t.adminA, 'companies', 'opportunity', co, {
      description: 'Big deal',
      status: 'won',
      closingdate: clock.today(3),
      responsible: admin,
      valueunit: 1000,
    });
    id.o2 = await createActivity(t, t.adminA, 'companies', 'opportunity', co, {
      description: 'Maybe',
      status: 'Pending',
      closingdate: clock.today(40),
    });
    id.tr1 = await createActivity(t, t.adminA, 'contacts', 'timerecord', c1, {
      hours: 2,
      date: clock.today(-1),
      billable: 1,
      invoiced: 0,
      person: member,
    });
    id.tr2 = await createActivity(t, t.adminA, 'contacts', 'timerecord', c2, {
      hours: 3,
      date: clock.today(-3),
      billable: 0,
    });
    // In the trash, or under an item in the trash: in no report.
    id.gone = await createActivity(t, t.adminA, 'contacts', 'task', c1, { title: 'Trashed', duedate: clock.today() });
    ok(await call(t, t.adminA, 'DELETE', `/contacts/task/${id.gone}/`));
    const c3 = await createItem(t, t.adminA, 'contacts', { firstname: 'Gone' });
    id.orphan = await createActivity(t, t.adminA, 'contacts', 'task', c3, { title: 'Orphan', duedate: clock.today() });
    ok(await call(t, t.adminA, 'DELETE', `/contacts/${c3}/`));
    // Changed a day later: the activities report's `updated` and `changed` see it then.
    clock.ms = T0 + DAY;
    ok(await call(t, t.adminA, 'PUT', `/contacts/task/${id.t2}/`, { body: { data: { title: 'Soon (moved)' } } }));
    clock.ms = T0;
  });
  afterAll(async () => t.close());

  describe('nextactions', () => {
    it('lists open tasks and follow-ups, soonest first, no date last', async () => {
      expect(await ids('nextactions')).toEqual([id.t1, id.tg, id.t2, id.f1, id.t3]);
    });
    it('filters by due', async () => {
      expect(await ids('nextactions', 'due=now')).toEqual([id.t1]);
      expect(await ids('nextactions', 'due=next7')).toEqual([id.t1, id.tg, id.t2]);
      expect(await ids('nextactions', 'due=next30')).toEqual([id.t1, id.tg, id.t2, id.f1]);
      expect(await ids('nextactions', 'due=nodate')).toEqual([id.t3]);
      expect(await ids('nextactions', `due=${clock.today(1)},${clock.today(5)}`)).toEqual([id.tg, id.t2]);
      expect(await ids('nextactions', `due=,${clock.today(0)}`)).toEqual([id.t1]);
    });
    it('filters by user, by group (its members) and by no one', async () => {
      expect(await ids('nextactions', `filter=${t.memberA.userId}`)).toEqual([id.t1, id.f1]);
      expect(await ids('nextactions', `filter=${group}`)).toEqual([id.t1, id.tg, id.f1]);
      expect(await ids('nextactions', 'filter=0')).toEqual([id.t3]);
      expect(await ids('nextactions', 'filter=')).toHaveLength(5);
    });
    it('refuses a bad due and a user of another account', async () => {
      failed(await call(t, t.adminA, 'GET', '/report/nextactions/?due=tomorrow'), 400, 'due');
      failed(await call(t, t.adminA, 'GET', `/report/nextactions/?filter=${t.adminB.userId}`), 400, 'filter');
    });
    it('takes its parameters from an XML body on the GET', async () => {
      const a = await call(t, t.adminA, 'GET', '/report/nextactions/', {
        wire: 'xml',
        raw: '<?xml version="1.0"?><request><due>nodate</due></request>',
        contentType: 'application/xml',
        accept: 'json',
      });
      expect(jsonIds(ok(a) && a.text)).toEqual([id.t3]);
    });
  });

  it('calendar: events, tasks and follow-ups dated between start and end', async () => {
    expect(await ids('calendar', `start=${clock.today(0)}&end=${clock.today(5)}`)).toEqual([
      id.t4,
      id.f2,
      id.e1,
      id.tg,
      id.t2,
    ]);
    // The default window is today and the next six days.
    expect(await ids('calendar')).toEqual([id.t4, id.f2, id.e1, id.tg, id.t2]);
    expect(await ids('calendar', `start=${clock.today(-2)}&end=${clock.today(-2)}`)).toEqual([id.t1]);
    // Events have no responsible user: their creator counts.
    expect(await ids('calendar', `start=${clock.today(0)}&end=${clock.today(5)}&filter=${t.adminA.userId}`)).toEqual([
      id.e1,
      id.t2,
    ]);
    failed(await call(t, t.adminA, 'GET', '/report/calendar/?start=2026-13-01'), 400, 'start');
    failed(
      await call(t, t.adminA, 'GET', `/report/calendar/?start=${clock.today(2)}&end=${clock.today(1)}`),
      400,
      'end',
    );
  });

  it('followups: open follow-ups, by responsible and due', async () => {
    expect(await ids('followups')).toEqual([id.f1]);
    expect(await ids('followups', `responsible=${t.memberA.userId}`)).toEqual([id.f1]);
    expect(await ids('followups', `responsible=${t.adminA.userId}`)).toEqual([]);
    expect(await ids('followups', 'due=next7')).toEqual([]);
  });

  it('opportunities: by status (csv, any case), responsible and closing date', async () => {
    expect(await ids('opportunities')).toEqual([id.o1, id.o2]);
    expect(await ids('opportunities', 'status=won')).toEqual([id.o1]);
    expect(await ids('opportunities', 'status=Won,PENDING')).toEqual([id.o1, id.o2]);
    expect(await ids('opportunities', 'status=lost,on-hold')).toEqual([]);
    expect(await ids('opportunities', 'due=next7')).toEqual([id.o1]);
    expect(await ids('opportunities', `filter=${t.adminA.userId}`)).toEqual([id.o1]);
    failed(await call(t, t.adminA, 'GET', '/report/opportunities/?status=won,maybe'), 400, 'status');
  });

  describe('activities', () => {
    const everyRecent = () => [id.t1, id.t2, id.t3, id.t4, id.tg, id.f1, id.f2, id.e1, id.o1, id.o2, id.tr1, id.tr2];
    it('lists what was created in the last seven days by default, oldest first', async () => {
      expect(await ids('activities')).toEqual(everyRecent());
    });
    it('takes start and end, types, itemtypes, categories and users', async () => {
      const month = `start=${clock.today(-30)}&end=${clock.today(-30)}`;
      expect(await ids('activities', month)).toEqual([id.oldNote, id.tr3]);
      expect(await ids('activities', `${month}&types=3`)).toEqual([id.oldNote]);
      expect(await ids('activities', 'types=4,32')).toEqual([id.e1, id.o1, id.o2]);
      expect(await ids('activities', 'itemtypes=40')).toEqual([id.e1, id.o1, id.o2]);
      expect(await ids('activities', `categories=${catX}`)).toEqual([id.t1, id.t2, id.tr1]);
      expect(await ids('activities', `users=${t.adminA.userId}`)).toEqual(everyRecent());
      expect(await ids('activities', `users=${t.memberA.userId}`)).toEqual([]);
      failed(await call(t, t.adminA, 'GET', '/report/activities/?itemtypes=3'), 400, 'itemtypes');
      failed(await call(t, t.adminA, 'GET', '/report/activities/?types=task'), 400, 'types');
    });
    it('last = updated, changed, completed', async () => {
      const tomorrow = `start=${clock.today(1)}&end=${clock.today(1)}`;
      expect(await ids('activities', `last=created&${tomorrow}`)).toEqual([]);
      expect(await ids('activities', `last=updated&${tomorrow}`)).toEqual([id.t2]);
      expect(await ids('activities', `last=changed&${tomorrow}`)).toEqual([id.t2]);
      // Updated = changed in the range but created before it: today's creations are not updates of today.
      expect(await ids('activities', `last=updated&start=${clock.today(0)}&end=${clock.today(0)}`)).toEqual([]);
      expect(await ids('activities', 'last=completed')).toEqual([id.t4, id.f2]);
      failed(await call(t, t.adminA, 'GET', '/report/activities/?last=viewed'), 400, 'last');
    });
    it('pages with limit and offset; count stays the total', async () => {
      const a = ok(await report('activities', 'limit=2&offset=1'));
      expect(a.count).toBe(12);
      expect(jsonIds((await report('activities', 'limit=2&offset=1')).text)).toEqual([id.t2, id.t3]);
    });
  });

  it('timetracking: by the record date, filter invoiced / billable / non-billable, or by last', async () => {
    expect(await ids('timetracking')).toEqual([id.tr2, id.tr1]);
    expect(await ids('timetracking', 'filter=billable')).toEqual([id.tr1]);
    expect(await ids('timetracking', 'filter=non-billable')).toEqual([id.tr2]);
    expect(await ids('timetracking', 'filter=invoiced')).toEqual([]);
    expect(await ids('timetracking', `filter=invoiced&start=${clock.today(-40)}`)).toEqual([id.tr3]);
    expect(await ids('timetracking', `last=created&start=${clock.today(-40)}`)).toEqual([id.tr3, id.tr1, id.tr2]);
    expect(await ids('timetracking', `itemtypes=1&start=${clock.today(-40)}`)).toEqual([id.tr3, id.tr2, id.tr1]);
    failed(await call(t, t.adminA, 'GET', '/report/timetracking/?filter=free'), 400, 'filter');
  });

  it('JSON keys each row by activity id, with the activity and, for itemsdata=1, its parent item', async () => {
    const a = await report('opportunities', 'itemsdata=1');
    expect(a.text.startsWith('{"status":"success",')).toBe(true);
    const row = a.body[String(id.o1)];
    expect(row).toMatchObject({ id: id.o1, typeid: 32, parent: co, parenttypeid: 40 });
    expect(row.created).toMatch(ISO);
    expect(row.updated).toMatch(ISO);
    expect(row.fields).toMatchObject({ description: 'Big deal', status: 'Won', responsible: t.adminA.userId });
    expect(row.fields.responsible_cn).toBeTypeOf('string');
    expect(row.item).toMatchObject({ id: co, name: 'Acme', typeid: 40, fields: { name: 'Acme' } });
    const plain = await report('opportunities');
    expect(plain.body[String(id.o1)].item).toBeUndefined();
  });

  it('XML nests rows: activities/activity, timerecords/timerecord, opportunities/opportunity, followups/followup', async () => {
    const a = await report('nextactions', 'itemsdata=1', 'xml');
    expect(a.text.startsWith(XML_DECL)).toBe(true);
    expect(a.text).toMatch(/<status>success<\/status><\/response>$/);
    const rows = arr(a.body.activities.activity);
    expect(rows.map((r: any) => Number(r.id))).toEqual([id.t1, id.tg, id.t2, id.f1, id.t3]);
    expect(rows[0]).toMatchObject({ typeid: '14', parent: String(c1), parenttypeid: '1' });
    expect(rows[0].fields.title).toBe('Overdue');
    expect(rows[0].fields.assignedto['@_cn']).toBeTypeOf('string');
    expect(rows[0].item.name).toBe('Cora One');
    expect(arr((await report('timetracking', '', 'xml')).body.timerecords.timerecord)).toHaveLength(2);
    expect(arr((await report('opportunities', '', 'xml')).body.opportunities.opportunity)).toHaveLength(2);
    expect(arr((await report('followups', '', 'xml')).body.followups.followup).map((r: any) => Number(r.id))).toEqual([
      id.f1,
    ]);
  });

  it('shows another account nothing, and answers 404 for an unknown report', async () => {
    const b = await call(t, t.adminB, 'GET', '/report/activities/?start=2000-01-01&end=2100-01-01');
    expect(ok(b).count).toBe(0);
    failed(await call(t, t.adminA, 'GET', '/report/leaderboard/'), 404, 'report');
    failed(await call(t, t.adminA, 'GET', '/report/constructor/'), 404, 'report');
  });

  it('answers from the migration-2 indexes (query plans)', async () => {
    const ctx = {
      actor: { accountId: t.adminA.accountId, userId: t.adminA.userId, role: 'admin' as const },
      info: { directory: { users: new Map(), groups: new Map() }, customFields: new Map() },
      now: T0,
    };
    const plan = async (name: string, p: Record<string, string> = {}) => {
      const q = reportQuery(t.db.engine.dialect, ctx as any, name, p);
      const args = [...q.args, q.limit, q.offset];
      return t.db.engine.read(async (x) => {
        if (engine === 'sqlite') {
          const rows = await x.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${q.sql}`, args);
          return rows.map((r) => r.detail).join('\n');
        }
        // A test table is tiny, so PostgreSQL would rightly scan it: forbid that to see which index it can use.
        await x.run('SET LOCAL enable_seqscan = off');
        const rows = await x.all<Record<string, string>>(`EXPLAIN ${q.sql}`, args);
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    };
    const scan = engine === 'sqlite' ? /SCAN a\b/ : /Seq Scan on activities/;
    expect(await plan('activities')).toMatch(/activities_by_created/);
    expect(await plan('activities', { last: 'changed' })).toMatch(/activities_by_updated/);
    expect(await plan('nextactions', { due: 'next7' })).toMatch(/activities_by_(due|responsible)/);
    expect(await plan('calendar')).toMatch(/activities_by_(due|responsible)/);
    expect(await plan('opportunities')).toMatch(/activities_by_(due|responsible)/);
    expect(await plan('timetracking')).toMatch(/activities_by_(due|responsible)/);
    for (const name of ['activities', 'nextactions', 'calendar', 'followups', 'opportunities', 'timetracking']) {
      expect(await plan(name)).not.toMatch(scan);
    }
  });
});
