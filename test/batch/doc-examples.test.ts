// The batch examples of docs/dialect-extras.md are right to the byte: every Content-Length written there counts
// the body below it, and the request example, sent as it is written (with CRLF line ends), is a batch that
// Hookline runs. A hand-written batch is copied from such examples, and a Content-Length one byte too long is
// refused ("the body is 45 bytes, shorter than its Content-Length 46").
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { basic, type TestApp } from '../support/app.js';
import { boundaryOf } from '../../src/dialect/multipart.js';
import { batchAnswerPart, makeCompatApp, multipartParts } from '../compat/helpers.js';

const DOC = fs.readFileSync(new URL('../../docs/dialect-extras.md', import.meta.url), 'utf8');

/** The fenced code blocks of the page, each as its lines without the block's indentation. */
function codeBlocks(md: string): string[][] {
  const out: string[][] = [];
  const re = /^( *)```[^\n]*\n([\s\S]*?)^\1```/gm;
  for (const m of md.matchAll(re)) {
    const indent = m[1].length;
    out.push(
      m[2]
        .replace(/\n$/, '')
        .split('\n')
        .map((l) => l.slice(Math.min(indent, l.search(/\S|$/)))),
    );
  }
  return out;
}

/** Each Content-Length of a block with the body it announces: after the next blank line, up to a delimiter. */
function announced(block: string[]): { length: number; body: string }[] {
  const out: { length: number; body: string }[] = [];
  block.forEach((line, i) => {
    const m = /^Content-Length: (\d+)$/i.exec(line);
    if (!m) return;
    const start = block.indexOf('', i) + 1;
    let end = start;
    while (end < block.length && !block[end].startsWith('--')) end++;
    out.push({ length: Number(m[1]), body: block.slice(start, end).join('\n') });
  });
  return out;
}

describe('the batch examples of docs/dialect-extras.md', () => {
  const examples = codeBlocks(DOC).flatMap(announced);

  it('has examples with a Content-Length', () => {
    expect(examples.length).toBeGreaterThanOrEqual(2);
  });

  it.each(examples.map((e) => [e.length, e.body.slice(0, 50), e] as const))(
    'Content-Length %i counts its body (%s…)',
    (length, _start, e) => {
      expect(e.body).not.toContain('…'); // an elided body cannot be counted
      expect(Buffer.byteLength(e.body, 'utf8')).toBe(length);
    },
  );
});

describe.each(ENGINES)('the documented batch request on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeCompatApp(engine);
  });
  afterAll(async () => t.close());

  it('runs as it is written', async () => {
    const block = codeBlocks(DOC).find((b) => b.some((l) => l.startsWith('POST /contacts/ HTTP/1.1')))!;
    const payload = `${block.join('\r\n')}\r\n`;
    const boundary = block[0].slice(2);
    const res = await t.app.inject({
      method: 'POST',
      url: '/batch',
      headers: { authorization: basic(t.adminA), 'content-type': `multipart/mixed; boundary=${boundary}` },
      payload,
    });
    expect(res.statusCode, res.body).toBe(200);
    const parts = multipartParts(res.rawPayload, boundaryOf(String(res.headers['content-type']))!).map(batchAnswerPart);
    expect(parts).toHaveLength(1);
    expect(parts[0].mime.get('content-id')).toBe('<response-create-1>');
    expect(parts[0].response.status).toBe(200);
    expect(parts[0].response.body.toString('utf8')).toContain('<name>Ann</name>');
  });
});
