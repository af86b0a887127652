// A repeated element is a list in XML as in the other wires, whether some of its siblings are empty or not:
// <firstname/><firstname>A</firstname> is the list ["", "A"], as firstname=&firstname=A is in form and
// ["", "A"] in JSON, and a list where one value belongs is refused with the same message in all three. The
// elements that are lists (categories/add/category, relateditems/add/relatedto, …) keep every sibling in
// document order, an empty one skipped as in the other wires, wherever it stands.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { call, makeApp, type Answer, type TestApp, type Wire } from '../support/app.js';
import { arr, createItem, dump, failed, ok, show } from './helpers.js';

const CONTENT_TYPE: Record<Wire, string> = {
  xml: 'application/xml',
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
};

const LIST = 'must be a single value, not a list or a structure';

/** A repeated field in each wire's own spelling, with the error each must give. */
const REPEATED: [label: string, bodies: Record<Wire, string>, errors: [string, string][]][] = [
  [
    'an empty firstname, then a real one',
    {
      xml: '<request><firstname/><firstname>A</firstname></request>',
      json: '{"firstname":["","A"]}',
      form: 'firstname=&firstname=A',
    },
    [['firstname', `First Name ${LIST}`]],
  ],
  [
    'a real firstname, then an empty one',
    {
      xml: '<request><firstname>A</firstname><firstname></firstname></request>',
      json: '{"firstname":["A",null]}',
      form: 'firstname=A&firstname=',
    },
    [['firstname', `First Name ${LIST}`]],
  ],
  [
    'an empty lastname twice, beside a firstname',
    {
      xml: '<request><firstname>Lost</firstname><lastname/><lastname></lastname></request>',
      json: '{"firstname":"Lost","lastname":["",""]}',
      form: 'firstname=Lost&lastname=&lastname=',
    },
    [['lastname', `Last Name ${LIST}`]],
  ],
  [
    'two repeated fields, empty ones among them',
    {
      xml: '<request><firstname/><firstname>A</firstname><jobtitle>B</jobtitle><jobtitle/><jobtitle>C</jobtitle></request>',
      json: '{"firstname":["","A"],"jobtitle":["B","","C"]}',
      form: 'firstname=&firstname=A&jobtitle=B&jobtitle=&jobtitle=C',
    },
    [
      ['firstname', `First Name ${LIST}`],
      ['jobtitle', `Job Title ${LIST}`],
    ],
  ],
];

describe.each(ENGINES)('repeated elements on %s', (engine) => {
  let t: TestApp;
  let contact: number;
  let tag: number;
  let tag2: number;
  let company: number;
  let company2: number;
  beforeAll(async () => {
    t = await makeApp(engine);
    tag = Number(ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: 'first' } })).item.id);
    tag2 = Number(ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: 'second' } })).item.id);
    company = await createItem(t, t.adminA, 'companies', { name: 'First Co' });
    company2 = await createItem(t, t.adminA, 'companies', { name: 'Second Co' });
    contact = await createItem(t, t.adminA, 'contacts', { firstname: 'Kept', lastname: 'Same' });
  });
  afterAll(async () => t.close());

  const raw = (method: string, url: string, wire: Wire, body: string) =>
    call(t, t.adminA, method, url, { wire, raw: body, contentType: CONTENT_TYPE[wire] });
  const refused = (a: Answer, label: string, errors: [string, string][]) => {
    failed(a, 400, ...errors.map(([field]) => field));
    expect(Object.entries(a.body.errors), label).toEqual(errors);
  };

  it.each(['xml', 'json', 'form'] as Wire[])(
    'refuses a repeated field with the same message, changing nothing (%s)',
    async (wire) => {
      const before = await dump(t, t.adminA.accountId);
      for (const [label, bodies, errors] of REPEATED) {
        refused(await raw('PUT', `/contacts/${contact}/`, wire, bodies[wire]), label, errors);
        refused(await raw('POST', '/contacts/', wire, bodies[wire]), label, errors);
      }
      // An activity's data likewise.
      const task: Record<Wire, string> = {
        xml: `<request><parent>${contact}</parent><data><title/><title>A</title></data></request>`,
        json: `{"parent":${contact},"data":{"title":["","A"]}}`,
        form: `parent=${contact}&data[title]=&data[title]=A`,
      };
      refused(await raw('POST', '/contacts/task/', wire, task[wire]), 'a repeated title', [['title', `Title ${LIST}`]]);
      // An empty activity in a template is counted where it stands, as JSON's null is.
      const template: Record<Wire, string> = {
        xml:
          '<request><name>T</name><activities><activity><segment>task</segment><data><title>N</title></data>' +
          '</activity><activity/></activities></request>',
        json: '{"name":"T","activities":{"activity":[{"segment":"task","data":{"title":"N"}},null]}}',
        form: 'name=T&activities[activity][0][segment]=task&activities[activity][0][data][title]=N&activities[activity][1]=',
      };
      refused(await raw('POST', '/templates/', wire, template[wire]), 'an empty activity', [
        ['activities.1.segment', 'segment must be an activity segment (task, note, event, …; not file or photo)'],
      ]);
      expect(await dump(t, t.adminA.accountId)).toEqual(before);
    },
  );

  it('keeps every sibling of an XML list in document order, an empty one skipped wherever it stands', async () => {
    const lists = async (id: number) => {
      const s = await show(t, t.adminA, 'contacts', id);
      return {
        tags: arr(s.categories.category).map((c: any) => c.id),
        related: arr(s.relateditems.relatedto).map((r: any) => [r.id, r.note]),
      };
    };
    // The real entry first and the empty one last: the empty one used to be all that was read.
    const body =
      `<request><firstname>Listed</firstname><categories><add><category>${tag}</category><category/>` +
      `<category>${tag2}</category><category></category></add></categories><relateditems><add>` +
      `<relatedto><id>${company}</id><note>one</note></relatedto><relatedto/>` +
      `<relatedto>${company2}</relatedto><relatedto><id/><note/></relatedto></add></relateditems></request>`;
    const id = Number(ok(await raw('POST', '/contacts/', 'xml', body)).item.id);
    expect(await lists(id)).toEqual({
      tags: [tag, tag2],
      related: [
        [company, 'one'],
        [company2, ''],
      ],
    });
    ok(
      await raw(
        'PUT',
        `/contacts/${id}/`,
        'xml',
        `<request><categories><remove><category>${tag2}</category><category/></remove></categories>` +
          `<relateditems><remove><relatedto>${company}</relatedto><relatedto/></remove></relateditems></request>`,
      ),
    );
    expect(await lists(id)).toEqual({ tags: [tag], related: [[company2, '']] });
  });
});
