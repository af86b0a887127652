// What a stored value may hold, and how a body's bytes become text: a character XML cannot carry (a C0
// control, half a surrogate pair) is refused in every wire format, so no record can make an XML answer or
// notification unparseable; a body is decoded in the charset it declares, strictly (bytes that are not
// valid there are a 400, never a U+FFFD stored in their place). Every refusal changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ENGINES } from '../support/engines.js';
import { basic, makeApp, type Answer, type TestApp } from '../support/app.js';
import { createItem, dump, failed, ok, show } from './helpers.js';
import { encodeForm } from '../../src/dialect/form.js';
import { render } from '../../src/dialect/respond.js';

describe.each(ENGINES)('text safety on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp(engine);
  });
  afterAll(async () => t.close());

  async function post(url: string, payload: Buffer | string, contentType: string): Promise<Answer> {
    const res = await t.app.inject({
      method: 'POST',
      url,
      headers: { authorization: basic(t.adminA), 'content-type': contentType, accept: 'application/json' },
      payload,
    });
    return { status: res.statusCode, headers: res.headers, text: res.body, body: JSON.parse(res.body) };
  }

  it('refuses a control character or half a surrogate pair in any wire format, naming the field, and stores nothing', async () => {
    const before = await dump(t, t.adminA.accountId);
    const cases: [string, string, string, RegExp][] = [
      ['JSON \\u0001', '{"firstname":"a\\u0001b"}', 'application/json', /control character U\+0001/],
      ['JSON \\u000b (a vertical tab from a spreadsheet)', '{"lastname":"a\\u000bb"}', 'application/json', /U\+000B/],
      ['JSON lone high surrogate', '{"firstname":"a\\ud800b"}', 'application/json', /half of a surrogate pair/],
      ['JSON lone low surrogate', '{"firstname":"\\udc00"}', 'application/json', /half of a surrogate pair/],
      ['form %01', 'firstname=ctl%01x', 'application/x-www-form-urlencoded', /U\+0001/],
      ['form %00', 'firstname=nul%00x', 'application/x-www-form-urlencoded', /U\+0000/],
      ['XML raw \\x1f', '<request><firstname>a\u001fb</firstname></request>', 'application/xml', /U\+001F/],
    ];
    for (const [label, payload, type, message] of cases) {
      const answer = await post('/contacts/', payload, type);
      const errors = failed(answer, 400);
      const [field, text] = Object.entries(errors)[0];
      expect(field, label).toMatch(/^(firstname|lastname)$/);
      expect(text, label).toMatch(message);
    }
    // In XML, a character reference to such a character, or to an entity XML does not define, is malformed.
    for (const [ref, message] of [
      ['&#1;', /&#1; refers to a character XML does not allow/],
      ['&#x1F;', /&#x1F; refers to a character XML does not allow/],
      ['&#xD800;', /refers to a character XML does not allow/],
      ['&#1114112;', /refers to a character XML does not allow/],
      ['&nbsp;', /&nbsp; is not an entity XML defines/],
      ['&eacute;', /&eacute; is not an entity XML defines/],
    ] as const) {
      const answer = await post('/contacts/', `<request><firstname>a${ref}b</firstname></request>`, 'application/xml');
      expect(failed(answer, 400, 'request').request, ref).toMatch(message);
    }
    // In a nested value and in a field name too.
    const nested = await post(
      '/contacts/',
      '{"firstname":"A","categories":{"add":{"category":["\\u0002"]}}}',
      'application/json',
    );
    expect(failed(nested, 400, 'category').category).toMatch(/U\+0002/);
    const name = await post('/contacts/', '{"first\\u0007name":"A"}', 'application/json');
    expect(failed(name, 400, 'request').request).toMatch(/U\+0007/);
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });

  it('keeps tab, line feed and carriage return, and every other character, as sent', async () => {
    const background = 'line one\r\nline two\tand a tab; ü, 漢字, 🎉, \u007f and \u0085';
    const id = await createItem(t, t.adminA, 'contacts', { firstname: 'Text', background });
    expect((await show(t, t.adminA, 'contacts', id)).item.fields.background).toBe(background);
    // …and the XML answer carrying them is well formed and reads back to the same text.
    const xml = await t.app.inject({
      method: 'GET',
      url: `/contacts/${id}/`,
      headers: { authorization: basic(t.adminA) },
    });
    expect(XMLValidator.validate(xml.body)).toBe(true);
    expect(
      new XMLParser({ parseTagValue: false, trimValues: false }).parse(xml.body).response.item.fields.background,
    ).toBe(
      background.replace(/\r\n/g, '\n'), // XML parsers normalise line ends, as the spec says they must
    );
  });

  it('reads a body in the charset it declares: the Content-Type, else the XML declaration, else a byte-order mark', async () => {
    const latin1Xml = Buffer.concat([
      Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><request><firstname>M'),
      Buffer.from([0xfc]),
      Buffer.from('ller</firstname></request>'),
    ]);
    const bodies: [string, Buffer | string, string][] = [
      ['XML declaring ISO-8859-1', latin1Xml, 'application/xml'],
      [
        'XML labelled charset=iso-8859-1',
        latin1Xml.subarray(latin1Xml.indexOf('<request')),
        'text/xml; charset=ISO-8859-1',
      ],
      ['form with charset=iso-8859-1', 'firstname=M%FCller', 'application/x-www-form-urlencoded; charset=iso-8859-1'],
      ['JSON with a UTF-8 byte-order mark', Buffer.from('\ufeff{"firstname":"Müller"}'), 'application/json'],
      [
        'UTF-16 XML with its byte-order mark',
        Buffer.from(
          '\ufeff<?xml version="1.0" encoding="UTF-16"?><request><firstname>Müller</firstname></request>',
          'utf16le',
        ),
        'application/xml',
      ],
      ['form in UTF-8, percent-encoded', 'firstname=M%C3%BCller', 'application/x-www-form-urlencoded'],
      ['XML character references', '<request><firstname>M&#252;l&#x6C;er</firstname></request>', 'application/xml'],
      [
        'XML with & in CDATA and a comment',
        '<request><!-- &nbsp; --><firstname><![CDATA[Müller]]></firstname></request>',
        'application/xml',
      ],
    ];
    for (const [label, payload, type] of bodies) {
      const answer = await post('/contacts/', payload, type);
      expect(answer.status, `${label}: ${answer.text}`).toBe(200);
      const id = ok(answer).item.id as number;
      expect((await show(t, t.adminA, 'contacts', id)).item.fields.firstname, label).toBe('Müller');
    }
  });

  it('refuses bytes that are not valid in the charset a body is read in, and a charset it does not know; stores nothing', async () => {
    const before = await dump(t, t.adminA.accountId);
    const notUtf8 = Buffer.concat([Buffer.from('{"firstname":"M'), Buffer.from([0xfc]), Buffer.from('ller"}')]);
    const refusals: [string, Buffer | string, string, number, RegExp][] = [
      [
        'JSON with a Latin-1 byte, nothing declared',
        notUtf8,
        'application/json',
        400,
        /not valid utf-8 .*UTF-8 was expected/,
      ],
      [
        'XML with a Latin-1 byte, nothing declared',
        Buffer.concat([
          Buffer.from('<request><firstname>M'),
          Buffer.from([0xfc]),
          Buffer.from('</firstname></request>'),
        ]),
        'application/xml',
        400,
        /not valid utf-8/,
      ],
      [
        'XML declared UTF-8 with a Latin-1 byte',
        Buffer.concat([
          Buffer.from('<request><firstname>'),
          Buffer.from([0xff, 0xfe, 0x41]),
          Buffer.from('</firstname></request>'),
        ]),
        'application/xml; charset=utf-8',
        400,
        /not valid utf-8$/,
      ],
      [
        'form percent-encoding Latin-1 without saying so',
        'firstname=M%FCller',
        'application/x-www-form-urlencoded',
        400,
        /not percent-encoded UTF-8/,
      ],
      [
        'a charset no one knows',
        '{"firstname":"A"}',
        'application/json; charset=klingon',
        415,
        /klingon is not one Hookline reads/,
      ],
    ];
    for (const [label, payload, type, status, message] of refusals) {
      const answer = await post('/contacts/', payload, type);
      expect(failed(answer, status, 'request').request, label).toMatch(message);
    }
    expect(await dump(t, t.adminA.accountId)).toEqual(before);
  });
});

describe('text on the way out', () => {
  it('an XML answer replaces a character XML cannot carry with U+FFFD instead of writing it raw', () => {
    const r = render({ format: 'xml', callback: null } as never, true, { item: { name: 'a\u0001b\u0000c\uffffd' } });
    const body = String(r.body);
    expect(XMLValidator.validate(body)).toBe(true);
    expect(body).toContain('<name>a\ufffdb\ufffdc\ufffdd</name>');
  });

  it('a form notification sends half a surrogate pair as U+FFFD instead of failing to encode', () => {
    expect(encodeForm({ content: { name: 'a\ud800b' } })).toBe('content%5Bname%5D=a%EF%BF%BDb');
  });
});
