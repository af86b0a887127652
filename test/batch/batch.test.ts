// POST /batch (dialect §7) on every engine: parts run as their own calls through the same routes and auth,
// in order; the answer is multipart/mixed with one application/http part per request; failing parts fail
// alone; malformed batches are refused whole with 400 before anything runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { basic, call, type TestApp, type User } from '../support/app.js';
import { boundaryOf } from '../../src/dialect/multipart.js';
import {
  arr,
  batchAnswerPart,
  failed,
  jsonIds,
  makeCompatApp,
  multipartParts,
  ok,
  XML_DECL,
} from '../compat/helpers.js';

const B = '====1340674896===';

interface PartSpec {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  contentId?: string;
}

function batchBody(parts: PartSpec[], eol = '\r\n'): string {
  let out = '';
  for (const p of parts) {
    out += `--${B}${eol}Content-Type: application/http${eol}Content-Transfer-Encoding: binary${eol}`;
    if (p.contentId) out += `Content-ID: <${p.contentId}>${eol}`;
    out += `${eol}${p.method} ${p.path} HTTP/1.1${eol}`;
    for (const [k, v] of Object.entries(p.headers ?? {})) out += `${k}: ${v}${eol}`;
    if (p.body !== undefined) out += `Content-Length: ${Buffer.byteLength(p.body)}${eol}${eol}${p.body}`;
    out += eol;
  }
  return `${out}--${B}--${eol}`;
}

describe.each(ENGINES)('POST /batch on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeCompatApp(engine);
  });
  afterAll(async () => t.close());

  const post = (payload: string, headers: Record<string, string> = {}, user: User | null = t.adminA) =>
    t.app.inject({
      method: 'POST',
      url: '/batch',
      headers: {
        ...(user ? { authorization: basic(user) } : {}),
        'content-type': `multipart/mixed; boundary=${B}`,
        ...headers,
      },
      payload,
    });

  const answers = (res: { statusCode: number; headers: Record<string, unknown>; rawPayload: Buffer }) => {
    expect(res.statusCode).toBe(200);
    const type = String(res.headers['content-type']);
    expect(type).toMatch(/^multipart\/mixed; boundary=/);
    return multipartParts(res.rawPayload, boundaryOf(type)!).map(batchAnswerPart);
  };

  const contactCount = async (u: User = t.adminA) => Number(ok(await call(t, u, 'GET', '/contacts/?limit=1')).count);

  it('runs each part through the routes, in order, and answers one application/http part each', async () => {
    const before = await contactCount();
    const res = await post(
      batchBody([
        {
          method: 'POST',
          path: '/contacts/',
          contentId: 'create-xml',
          headers: { 'Content-Type': 'application/xml' },
          body: '<request><firstname>Batch</firstname><lastname>Xml</lastname></request>',
        },
        {
          method: 'POST',
          path: '/contacts/',
          contentId: 'create-json',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ firstname: 'Batch', lastname: 'Json' }),
        },
        // GET parameters as an XML body inside a part: sees both contacts created by the earlier parts.
        {
          method: 'GET',
          path: '/contacts/',
          contentId: 'list',
          headers: { Accept: 'application/json', 'Content-Type': 'application/xml' },
          body: '<request><searchmode>name</searchmode><searchvalue>Batch</searchvalue><layout>1</layout></request>',
        },
      ]),
    );
    const parts = answers(res);
    expect(parts.map((p) => p.mime.get('content-id'))).toEqual([
      '<response-create-xml>',
      '<response-create-json>',
      '<response-list>',
    ]);
    for (const p of parts) {
      expect(p.mime.get('content-type')).toBe('application/http');
      expect(p.response.status).toBe(200);
      expect(Number(p.response.headers.get('content-length'))).toBe(p.response.body.length);
    }
    const xml = parts[0].response.body.toString('utf8');
    expect(parts[0].response.headers.get('content-type')).toMatch(/^application\/xml/);
    expect(xml.startsWith(XML_DECL)).toBe(true);
    expect(xml).toContain('<name>Batch Xml</name>');
    const created = JSON.parse(parts[1].response.body.toString('utf8'));
    expect(created).toMatchObject({ status: 'success', item: { name: 'Batch Json' } });
    const list = JSON.parse(parts[2].response.body.toString('utf8'));
    expect(list.count).toBe(2);
    expect(jsonIds(parts[2].response.body.toString('utf8'))).toContain(Number(created.item.id));
    expect(await contactCount()).toBe(before + 2);
    // Each part is its own call: its own request id, and its own items.create event in the outbox.
    expect(new Set(parts.map((p) => p.response.headers.get('x-request-id'))).size).toBe(3);
    const events = await t.db.engine.read((x) =>
      x.all<{ object_id: number }>("SELECT object_id FROM events WHERE account_id = ? AND type = 'items.create'", [
        t.adminA.accountId,
      ]),
    );
    expect(events.map((e) => e.object_id)).toContain(Number(created.item.id));
  });

  it('a create part that adds tags raises items.create then items.categorize, as a create on the socket does', async () => {
    const tag = Number(
      ok(await call(t, t.adminA, 'POST', '/contacts/categories/', { body: { name: 'Batch tag' } })).item.id,
    );
    const parts = answers(
      await post(
        batchBody([
          {
            method: 'POST',
            path: '/contacts/',
            headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
            body: JSON.stringify({ firstname: 'Batch', lastname: 'Tagged', categories: { add: { category: [tag] } } }),
          },
        ]),
      ),
    );
    expect(parts[0].response.status).toBe(200);
    const id = Number(JSON.parse(parts[0].response.body.toString('utf8')).item.id);
    const events = await t.db.engine.read((x) =>
      x.all<{ type: string }>('SELECT type FROM events WHERE account_id = ? AND object_id = ? ORDER BY id', [
        t.adminA.accountId,
        id,
      ]),
    );
    expect(events.map((e) => e.type)).toEqual(['items.create', 'items.categorize']);
  });

  it('applies the outer headers to every part unless the part overrides them', async () => {
    const res = await post(
      batchBody([
        { method: 'GET', path: '/ownership/' },
        { method: 'GET', path: '/ownership/', headers: { Accept: 'application/xml' } },
        // Another user's credentials in the part: it acts as that user, in that user's account.
        {
          method: 'POST',
          path: '/contacts/',
          headers: { Authorization: basic(t.adminB), 'Content-Type': 'application/json' },
          body: '{"firstname":"Of B"}',
        },
        { method: 'GET', path: '/ownership/', headers: { Authorization: 'Basic bm9ib2R5Om5vdGhpbmc=' } },
      ]),
      { accept: 'application/json' },
    );
    const [json, xml, asB, badAuth] = answers(res);
    expect(JSON.parse(json.response.body.toString()).status).toBe('success');
    expect(xml.response.body.toString().startsWith(XML_DECL)).toBe(true);
    expect(asB.response.status).toBe(200);
    const bList = ok(await call(t, t.adminB, 'GET', '/contacts/?searchvalue=Of%20B'));
    expect(bList.count).toBe(1);
    expect(badAuth.response.status).toBe(401);
    expect(JSON.parse(badAuth.response.body.toString())).toMatchObject({ status: 'failed' });
  });

  it('gives a failing part its own error while the other parts still run', async () => {
    const before = await contactCount();
    const res = await post(
      batchBody([
        {
          method: 'POST',
          path: '/contacts/',
          headers: { 'Content-Type': 'application/json' },
          body: '{"firstname":"Before"}',
        },
        {
          method: 'POST',
          path: '/contacts/',
          headers: { 'Content-Type': 'application/json' },
          body: '{"nosuchfield":"x"}',
        },
        { method: 'GET', path: '/contacts/999999999/' },
        { method: 'BREW', path: '/coffee/' },
        {
          method: 'POST',
          path: '/contacts/',
          headers: { 'Content-Type': 'application/xml' },
          body: '<request><firstname>After',
        },
        {
          method: 'POST',
          path: '/contacts/',
          headers: { 'Content-Type': 'application/json' },
          body: '{"firstname":"After"}',
        },
      ]),
      { accept: 'application/json' },
    );
    const parts = answers(res);
    expect(parts.map((p) => p.response.status)).toEqual([200, 400, 404, 405, 400, 200]);
    expect(JSON.parse(parts[1].response.body.toString())).toMatchObject({
      status: 'failed',
      errors: { nosuchfield: expect.any(String) },
    });
    expect(await contactCount()).toBe(before + 2);
  });

  it('runs reads, updates and deletes after everything before them (creates may run together)', async () => {
    const id = Number(ok(await call(t, t.adminA, 'POST', '/contacts/', { body: { firstname: 'Order' } })).item.id);
    const put = (jobtitle: string): PartSpec => ({
      method: 'PUT',
      path: `/contacts/${id}/`,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jobtitle }),
    });
    const show: PartSpec = { method: 'GET', path: `/contacts/${id}/` };
    const create = (n: number): PartSpec => ({
      method: 'POST',
      path: '/contacts/note/',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ parent: id, data: { details: `note ${n}` } }),
    });
    const parts = answers(
      await post(
        batchBody([
          put('first'),
          show,
          create(1),
          create(2),
          create(3),
          show,
          put('second'),
          show,
          { method: 'DELETE', path: `/contacts/${id}/` },
          show,
        ]),
        { accept: 'application/json' },
      ),
    );
    const bodies = parts.map((p) => JSON.parse(p.response.body.toString()));
    expect(parts.map((p) => p.response.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 404]);
    expect(bodies[1].item.fields.jobtitle).toBe('first');
    // The GET after the three creates sees all three notes, each answer in its own place.
    expect(bodies.slice(2, 5).map((b) => b.item.name)).toEqual(['note 1', 'note 2', 'note 3']);
    expect(
      arr(bodies[5].activities.activity)
        .map((a: any) => a.fields.details)
        .sort(),
    ).toEqual(['note 1', 'note 2', 'note 3']);
    expect(bodies[7].item.fields.jobtitle).toBe('second');
  });

  it('reads bare-LF batches', async () => {
    const res = await post(batchBody([{ method: 'GET', path: '/contacts/?limit=1' }], '\n'), {
      accept: 'application/json',
    });
    const [p] = answers(res);
    expect(p.response.status).toBe(200);
    expect(JSON.parse(p.response.body.toString()).status).toBe('success');
  });

  it('runs exactly 100 parts', async () => {
    const before = await contactCount();
    const parts: PartSpec[] = Array.from({ length: 100 }, (_, i) => ({
      method: 'POST',
      path: '/contacts/',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ firstname: 'Hundred', lastname: String(i) }),
    }));
    const out = answers(await post(batchBody(parts)));
    expect(out).toHaveLength(100);
    expect(out.every((p) => p.response.status === 200)).toBe(true);
    expect(out.map((p) => p.mime.get('content-id'))[99]).toBe('<response-100>');
    expect(await contactCount()).toBe(before + 100);
  });

  describe('a malformed batch is refused whole with 400 in the envelope, and nothing runs', () => {
    const create = (): PartSpec => ({
      method: 'POST',
      path: '/contacts/',
      headers: { 'Content-Type': 'application/json' },
      body: '{"firstname":"Never"}',
    });
    const refused = async (res: Awaited<ReturnType<typeof post>>, message: RegExp, json = false) => {
      const a = {
        status: res.statusCode,
        headers: res.headers,
        text: res.body,
        body: json
          ? JSON.parse(res.body)
          : { status: /<status>(\w+)<\/status>/.exec(res.body)?.[1], errors: { batch: res.body } },
      };
      const errors = failed(a, 400, 'batch');
      expect(errors.batch).toMatch(message);
    };
    let before: number;
    beforeAll(async () => {
      before = await contactCount();
    });
    afterAll(async () => {
      expect(await contactCount()).toBe(before);
    });

    it('without a boundary, or not multipart/mixed', async () => {
      await refused(await post(batchBody([create()]), { 'content-type': 'multipart/mixed' }), /no boundary/);
      await refused(
        await post('<request/>', { 'content-type': 'application/xml', accept: 'application/json' }),
        /multipart\/mixed/,
        true,
      );
      await refused(await post(''), /empty/);
    });
    it('with a part that is not an HTTP request', async () => {
      const body = batchBody([create()]).replace(
        `--${B}--`,
        `--${B}\r\nContent-Type: application/http\r\n\r\nhello\r\n--${B}--`,
      );
      const res = await post(body, { accept: 'application/json' });
      await refused(res, /Part 2: .*not an HTTP request line/, true);
    });
    it('with more than 100 parts', async () => {
      await refused(await post(batchBody(Array.from({ length: 101 }, create))), /more than 100 parts/);
    });
    it('with a part that is itself a batch', async () => {
      const inner = batchBody([create()]).replaceAll(B, 'inner');
      const res = await post(
        batchBody([
          create(),
          {
            method: 'POST',
            path: '/batch',
            headers: { 'Content-Type': `multipart/mixed; boundary=inner` },
            body: inner,
          },
        ]),
      );
      await refused(res, /Part 2: a batch cannot contain a batch/);
    });
    it('with a delimiter that never appears', async () => {
      await refused(await post(batchBody([create()]).replaceAll(B, 'other')), /no part starts/);
    });
  });

  it('needs valid outer credentials', async () => {
    const res = await post(batchBody([{ method: 'GET', path: '/contacts/' }]), {}, null);
    expect(res.statusCode).toBe(401);
    expect(res.body).toContain('<status>failed</status>');
  });
});
