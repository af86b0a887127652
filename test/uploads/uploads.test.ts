// File and photo uploads on every engine: multipart/form-data with parts parent and file, the activity and
// its activities.create event, byte-exact downloads for the account's users only, the size limit (413),
// and the refusals (no file, no parent, wrong kinds, not an image).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { basic, call, type TestApp, type User } from '../support/app.js';
import { batchRoutes } from '../../src/http/routes/batch.js';
import { reportRoutes } from '../../src/http/routes/reports.js';
import { makeUploadRoutes } from '../../src/http/routes/uploads.js';
import { arr, createItem, failed, makeCompatApp, ok } from '../compat/helpers.js';
import { dump } from '../http/helpers.js';

const LIMIT = 4096;
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4a30000000049454e44ae426082',
  'hex',
);
/** Every byte value, CRLFs and a line that looks like a delimiter: what a naive parser would break. */
const AWKWARD = Buffer.concat([
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  Buffer.from('\r\n--XyZ-not a delimiter\r\n--XyZ_\r\n--XyZ\t!\r\n\r\n'),
]);

interface FormPart {
  name: string;
  value: string | Buffer;
  filename?: string;
  type?: string;
}

function form(parts: FormPart[], boundary = 'XyZ'): { payload: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(
      Buffer.from(`${head}\r\n`),
      Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

describe.each(ENGINES)('uploads on %s', (engine) => {
  let t: TestApp;
  let contact: number;
  let company: number;
  let blog: number;

  const upload = async (path: string, parts: FormPart[], user: User = t.adminA, accept: 'json' | 'xml' = 'json') => {
    const f = form(parts, path.includes('photo') ? '----WebKitFormBoundary7MA4YWxkTrZu0gW' : 'XyZ');
    const res = await t.app.inject({
      method: 'POST',
      url: path,
      headers: {
        authorization: basic(user),
        'content-type': f.contentType,
        ...(accept === 'json' ? { accept: 'application/json' } : {}),
      },
      payload: f.payload,
    });
    const body = res.headers['content-type']?.toString().includes('json') ? JSON.parse(res.body) : undefined;
    return { status: res.statusCode, headers: res.headers, text: res.body, body };
  };
  const download = (path: string, user: User | null = t.adminA) =>
    t.app.inject({ method: 'GET', url: path, headers: user ? { authorization: basic(user) } : {} });

  beforeAll(async () => {
    t = await makeCompatApp(engine, { plugins: [batchRoutes, reportRoutes, makeUploadRoutes({ maxBytes: LIMIT })] });
    contact = await createItem(t, t.adminA, 'contacts', { firstname: 'Files', lastname: 'Owner' });
    company = await createItem(t, t.adminA, 'companies', { name: 'Files Inc' });
    blog = await createItem(t, t.adminA, 'projectblogs', { title: 'Launch' });
  });
  afterAll(async () => t.close());

  it('creates a file activity from parent and file, downloadable byte for byte', async () => {
    const a = await upload('/contacts/file/', [
      { name: 'parent', value: String(contact) },
      { name: 'title', value: 'Price list' },
      { name: 'details', value: 'Signed copy' },
      { name: 'file', value: AWKWARD, filename: 'C:\\fakepath\\prices 2026.bin', type: 'application/octet-stream' },
    ]);
    ok(a);
    const item = a.body.item;
    expect(item).toMatchObject({ name: 'Price list', typeid: 23, parent: contact });
    expect(item.download).toBe(`/contacts/file/${item.id}/download/`);

    const shown = ok(await call(t, t.adminA, 'GET', `/contacts/${contact}/`));
    const act = arr(shown.activities.activity).find((x: any) => x.id === item.id);
    expect(act.fields).toMatchObject({
      title: 'Price list',
      details: 'Signed copy',
      filename: 'prices 2026.bin',
      filesize: AWKWARD.length,
      mimetype: 'application/octet-stream',
    });
    expect(act.fields.sha256).toMatch(/^[0-9a-f]{64}$/);

    const d = await download(item.download);
    expect(d.statusCode).toBe(200);
    expect(d.rawPayload.equals(AWKWARD)).toBe(true);
    expect(d.headers['content-type']).toBe('application/octet-stream');
    expect(d.headers['content-disposition']).toBe(
      `attachment; filename="prices 2026.bin"; filename*=UTF-8''prices%202026.bin`,
    );
    expect(d.headers['x-content-type-options']).toBe('nosniff');
    expect(Number(d.headers['content-length'])).toBe(AWKWARD.length);

    // Raised like every other activity create, with the file described (not carried) in the content.
    const ev = await t.db.engine.read((x) =>
      x.get<{ content: string; object_kind: string }>(
        "SELECT content, object_kind FROM events WHERE account_id = ? AND type = 'activities.create' AND object_id = ?",
        [t.adminA.accountId, item.id],
      ),
    );
    expect(ev?.object_kind).toBe('file');
    expect(JSON.parse(ev!.content)).toMatchObject({
      id: item.id,
      item: contact,
      fields: { filename: 'prices 2026.bin' },
    });
  });

  it('creates photos (images only) under every kind, and answers XML by default', async () => {
    const a = await upload(
      '/companies/photo/',
      [
        { name: 'parent', value: String(company) },
        { name: 'file', value: PNG, filename: 'logo.png', type: 'image/png' },
      ],
      t.adminA,
      'xml',
    );
    expect(a.status).toBe(200);
    expect(a.text).toMatch(
      /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<response><item><id>\d+<\/id><name>logo\.png<\/name><typeid>24<\/typeid>/,
    );
    const id = /<id>(\d+)<\/id>/.exec(a.text)![1];
    const d = await download(`/companies/photo/${id}/download/`);
    expect(d.headers['content-type']).toBe('image/png');
    expect(d.rawPayload.equals(PNG)).toBe(true);
    // A type left generic is taken from the extension; data[title] is read like title.
    const b = await upload('/projectblogs/photo/', [
      { name: 'parent', value: String(blog) },
      { name: 'data[title]', value: 'Team' },
      { name: 'file', value: PNG, filename: 'team.PNG', type: 'application/octet-stream' },
    ]);
    expect(ok(b).item).toMatchObject({ name: 'Team', typeid: 24, parent: blog });
    const notImage = await upload('/contacts/photo/', [
      { name: 'parent', value: String(contact) },
      { name: 'file', value: 'plain text', filename: 'notes.txt', type: 'text/plain' },
    ]);
    failed(notImage, 400, 'file');
  });

  it('keeps the same bytes once', async () => {
    const count = () =>
      t.db.engine.read((x) =>
        x.get<{ n: number }>('SELECT COUNT(*) AS n FROM blobs WHERE account_id = ?', [t.adminA.accountId]),
      );
    const before = Number((await count())?.n);
    for (const name of ['one.bin', 'two.bin']) {
      ok(
        await upload('/contacts/file/', [
          { name: 'parent', value: String(contact) },
          { name: 'file', value: Buffer.from('same bytes'), filename: name },
        ]),
      );
    }
    expect(Number((await count())?.n)).toBe(before + 1);
  });

  it('refuses files over the limit with 413, whether caught in the body or in the parsed file', async () => {
    const justOver = await upload('/contacts/file/', [
      { name: 'parent', value: String(contact) },
      { name: 'file', value: Buffer.alloc(LIMIT + 1, 1), filename: 'big.bin' },
    ]);
    expect(failed(justOver, 413, 'file').file).toMatch(new RegExp(`${LIMIT} bytes`));
    const huge = await upload('/contacts/file/', [
      { name: 'parent', value: String(contact) },
      { name: 'file', value: Buffer.alloc(LIMIT + 128 * 1024, 1), filename: 'huge.bin' },
    ]);
    expect(failed(huge, 413, 'file').file).toMatch(new RegExp(`${LIMIT} bytes`));
    const exact = await upload('/contacts/file/', [
      { name: 'parent', value: String(contact) },
      { name: 'file', value: Buffer.alloc(LIMIT, 2), filename: 'exact.bin' },
    ]);
    expect(ok(exact).item.typeid).toBe(23);
  });

  it('refuses uploads without a file, without a parent, with a wrong parent, or not as multipart', async () => {
    failed(await upload('/contacts/file/', [{ name: 'parent', value: String(contact) }]), 400, 'file');
    failed(
      await upload('/contacts/file/', [
        { name: 'parent', value: String(contact) },
        { name: 'file', value: '', filename: '' },
      ]),
      400,
      'file',
    );
    failed(await upload('/contacts/file/', [{ name: 'file', value: 'x', filename: 'x.txt' }]), 400, 'parent');
    failed(
      await upload('/contacts/file/', [
        { name: 'parent', value: 'abc' },
        { name: 'file', value: 'x', filename: 'x.txt' },
      ]),
      400,
      'parent',
    );
    // A company id under /contacts/, and a contact of another account: no such parent.
    failed(
      await upload('/contacts/file/', [
        { name: 'parent', value: String(company) },
        { name: 'file', value: 'x', filename: 'x.txt' },
      ]),
      404,
      'parent',
    );
    failed(
      await upload(
        '/contacts/file/',
        [
          { name: 'parent', value: String(contact) },
          { name: 'file', value: 'x', filename: 'x.txt' },
        ],
        t.adminB,
      ),
      404,
      'parent',
    );
    failed(
      await upload('/contacts/file/', [
        { name: 'parent', value: String(contact) },
        { name: 'title', value: 'x'.repeat(66_000) },
        { name: 'file', value: 'x', filename: 'x.txt' },
      ]),
      400,
      'title',
    );
    const json = await call(t, t.adminA, 'POST', '/contacts/file/', {
      body: { parent: contact, data: { title: 'x' } },
    });
    expect(failed(json, 400, 'file').file).toMatch(/multipart\/form-data/);
  });

  it('refuses a blank parent part as a missing parent, and one that is no id as such, storing nothing', async () => {
    const blobs = () =>
      t.db.engine.read((x) =>
        x.all('SELECT sha256 FROM blobs WHERE account_id = ? ORDER BY sha256', [t.adminA.accountId]),
      );
    const before = { rows: await dump(t, t.adminA.accountId), blobs: await blobs() };
    const cases: [string, string, Record<string, string>][] = [
      ['/contacts/file/', '', { parent: 'parent is required: the id of the contact the file belongs to' }],
      ['/companies/file/', '  ', { parent: 'parent is required: the id of the company the file belongs to' }],
      ['/projectblogs/photo/', '', { parent: 'parent is required: the id of the project blog the photo belongs to' }],
      ['/contacts/file/', 'abc', { parent: 'parent must be the id of an item' }],
      ['/contacts/photo/', '0', { parent: 'parent must be the id of an item' }],
    ];
    for (const [path, value, errors] of cases) {
      const file: FormPart = path.includes('photo')
        ? { name: 'file', value: PNG, filename: 'lost.png', type: 'image/png' }
        : { name: 'file', value: Buffer.from('never stored'), filename: 'lost.txt' };
      const a = await upload(path, [{ name: 'parent', value }, file]);
      failed(a, 400, 'parent');
      expect(a.body.errors, `${path} ${JSON.stringify(value)}`).toEqual(errors);
      // Named beside a refused field, not instead of it (the parent is checked before anything is read).
      const both = await upload(path, [{ name: 'parent', value }, { name: 'title', value: 'x'.repeat(66_000) }, file]);
      failed(both, 400);
      expect(Object.keys(both.body.errors).sort(), path).toEqual(['parent', 'title']);
      expect(both.body.errors.parent).toBe(errors.parent);
    }
    expect({ rows: await dump(t, t.adminA.accountId), blobs: await blobs() }).toEqual(before);
  });

  it('refuses every part it does not take, naming each, and stores nothing', async () => {
    const blobs = () =>
      t.db.engine.read((x) =>
        x.all('SELECT sha256 FROM blobs WHERE account_id = ? ORDER BY sha256', [t.adminA.accountId]),
      );
    const before = { rows: await dump(t, t.adminA.accountId), blobs: await blobs() };
    const parent: FormPart = { name: 'parent', value: String(contact) };
    const file: FormPart = { name: 'file', value: Buffer.from('never stored'), filename: 'lost.txt' };
    const photo: FormPart = { name: 'file', value: PNG, filename: 'lost.png', type: 'image/png' };
    const cases: [string, string, FormPart[], Record<string, string>][] = [
      ['a misspelt title', 'file', [parent, { name: 'titel', value: 'Price list' }, file], { titel: 'Unknown field' }],
      [
        'a misspelt data[title]',
        'photo',
        [parent, { name: 'data[titel]', value: 'x' }, photo],
        { 'data[titel]': 'Unknown field' },
      ],
      [
        'a field files do not have',
        'file',
        [parent, { name: 'duedate', value: '2026-12-01' }, file],
        { duedate: 'Unknown field' },
      ],
      [
        'a nested unknown part',
        'file',
        [parent, { name: 'data[x][y]', value: '1' }, file],
        { 'data[x][y]': 'Unknown field' },
      ],
      [
        'a misspelt parent',
        'file',
        [{ name: 'Parent', value: String(contact) }, file],
        { Parent: 'Unknown field', parent: 'The parent part is missing (the id of an item)' },
      ],
      [
        'a second file under another name',
        'file',
        [parent, file, { name: 'attachment', value: 'more', filename: 'more.txt' }],
        { attachment: 'Unknown field' },
      ],
      [
        'an unknown part and no file',
        'file',
        [parent, { name: 'colour', value: 'red' }],
        { colour: 'Unknown field', file: 'The file part is missing (a part named file with a filename)' },
      ],
      [
        'a reserved name',
        'file',
        [parent, { name: '__proto__', value: 'x' }, file],
        { ['__proto__']: 'Unknown field' },
      ],
      [
        'a title sent as a file',
        'file',
        [parent, { name: 'title', value: 'x', filename: 'title.txt' }, file],
        { title: 'title must be a text part, not a file' },
      ],
      [
        'a parent sent as a file',
        'file',
        [{ name: 'parent', value: String(contact), filename: 'id.txt' }, file],
        { parent: 'parent must be a text part, not a file' },
      ],
      [
        'a file sent as text beside the file',
        'file',
        [parent, { name: 'file', value: 'notes' }, file],
        { file: 'file must be sent as a file (a part with a filename), e.g. -F file=@x.pdf' },
      ],
      [
        'a title twice',
        'file',
        [parent, { name: 'title', value: 'One' }, { name: 'title', value: 'Two' }, file],
        { title: 'title is sent more than once: send one title part' },
      ],
      [
        'details as details and data[details]',
        'file',
        [parent, { name: 'details', value: 'One' }, { name: 'data[details]', value: 'Two' }, file],
        { 'data[details]': 'details is sent twice, as details and data[details]: send one of them' },
      ],
    ];
    for (const [label, segment, parts, errors] of cases) {
      const a = await upload(`/contacts/${segment}/`, parts);
      expect(a.status, label).toBe(400);
      expect(Object.entries(a.body.errors), label).toEqual(Object.entries(errors));
    }
    expect({ rows: await dump(t, t.adminA.accountId), blobs: await blobs() }).toEqual(before);
  });

  it('takes every part the upload documents: parent, file, title, details (or data[…]), before and after', async () => {
    const owner = await createItem(t, t.adminA, 'contacts', { firstname: 'Ordered' });
    const post = async (parts: FormPart[]) =>
      Number(
        ok(
          await upload('/contacts/file/', [
            { name: 'parent', value: String(owner) },
            ...parts,
            { name: 'file', value: Buffer.from(`bytes ${parts.length}`), filename: 'f.txt' },
          ]),
        ).item.id,
      );
    const b = await post([
      { name: 'title', value: 'B' },
      { name: 'details', value: 'plain' },
    ]);
    await post([
      { name: 'data[title]', value: 'A' },
      { name: 'data[details]', value: 'nested' },
      { name: 'before', value: String(b) },
    ]);
    await post([
      { name: 'title', value: 'C' },
      { name: 'after', value: String(b) },
      { name: 'before', value: '' },
    ]);
    const shown = arr(ok(await call(t, t.adminA, 'GET', `/contacts/${owner}/`)).activities.activity);
    expect(shown.map((x: any) => [x.name, x.fields.details])).toEqual([
      ['A', 'nested'],
      ['B', 'plain'],
      ['C', undefined],
    ]);
  });

  it('refuses a title, a detail or a file name holding a character XML cannot carry, or text that is not UTF-8, and stores nothing', async () => {
    const before = await dump(t, t.adminA.accountId);
    const file = { name: 'file', value: PNG, filename: 'a.png', type: 'image/png' };
    const parent = { name: 'parent', value: String(contact) };
    const cases: [string, FormPart[], string, RegExp][] = [
      ['a control character in the title', [parent, { name: 'title', value: 'a\u0001b' }, file], 'title', /U\+0001/],
      ['…in data[details]', [parent, { name: 'data[details]', value: 'x\u001by' }, file], 'data[details]', /U\+001B/],
      ['…in the file name', [parent, { ...file, filename: 'a\u0007.png' }], 'file', /U\+0007/],
      [
        'a title in Latin-1 bytes, undeclared',
        [parent, { name: 'title', value: Buffer.from([0x4d, 0xfc, 0x6c]) }, file],
        'request',
        /not valid utf-8/,
      ],
    ];
    for (const [label, parts, field, message] of cases) {
      const a = await upload('/contacts/file/', parts);
      expect(failed(a, 400, field)[field], label).toMatch(message);
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it('lets only the account’s users download, and not from the trash', async () => {
    const a = ok(
      await upload('/contacts/file/', [
        { name: 'parent', value: String(contact) },
        { name: 'file', value: Buffer.from('private'), filename: 'private.txt', type: 'text/plain' },
      ]),
    );
    const path = a.item.download as string;
    expect((await download(path, t.memberA)).body).toBe('private');
    expect((await download(path, t.adminB)).statusCode).toBe(404);
    expect((await download(path, null)).statusCode).toBe(401);
    // The same id under another kind or segment is not it.
    expect((await download(path.replace('/contacts/', '/companies/'), t.adminA)).statusCode).toBe(404);
    expect((await download(path.replace('/file/', '/photo/'), t.adminA)).statusCode).toBe(404);
    ok(await call(t, t.adminA, 'DELETE', `/contacts/file/${a.item.id}/`));
    expect((await download(path)).statusCode).toBe(404);
    ok(await call(t, t.adminA, 'POST', `/contacts/file/${a.item.id}/restore/`));
    expect((await download(path)).statusCode).toBe(200);
  });
});
