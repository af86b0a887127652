// The notification encoders: byte-exact against the vectors' bodies, and readable the way receivers read them.
import fs from 'node:fs';
import qs from 'qs';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { encodePayload, encodeStoredPayload } from '../../src/webhooks/payload.js';
import { stringifyJson } from '../../src/dialect/json.js';

const { vectors } = JSON.parse(
  fs.readFileSync(new URL('../fixtures/signature-vectors.json', import.meta.url), 'utf8'),
) as {
  vectors: { body: string }[];
};

const content = {
  item: { id: 12, name: 'Anna Müller', typeid: 1, fields: { firstname: 'Anna', lastname: 'Müller & <Söhne>' } },
  categories: {
    category: [
      { id: 7, name: 'Lead' },
      { id: 8, name: 'VIP' },
    ],
  },
};

describe('payload', () => {
  it('produces the exact bodies of the signature vectors', () => {
    expect(
      encodePayload('json', 'items.update', 467069, { item: { id: 467069, name: 'Aaron Baileys' } }).body.toString(),
    ).toBe(vectors[0].body);
    expect(encodePayload('xml', 'items.categorize', 31507, { item: { id: 31507 } }).body.toString()).toBe(
      vectors[1].body,
    );
    expect(
      encodePayload('form', 'items.create', 12, { item: { fields: { lastname: 'Müller' } } }).body.toString(),
    ).toBe(vectors[2].body);
  });

  it('xml: <notification> with type, objectid and the content tree', () => {
    const p = encodePayload('xml', 'items.create', 12, content);
    expect(p.contentType).toMatch(/^application\/xml/);
    const text = p.body.toString('utf8');
    expect(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    const doc = new XMLParser({ parseTagValue: false }).parse(text);
    expect(doc.notification.type).toBe('items.create');
    expect(doc.notification.objectid).toBe('12');
    expect(doc.notification.content.item.fields.lastname).toBe('Müller & <Söhne>');
    expect(doc.notification.content.categories.category).toHaveLength(2);
  });

  it('json: {"type","objectid","content"} with objectid a number', () => {
    const p = encodePayload('json', 'activities.update', 99, { id: 99, name: 'Call', fields: { completed: 1 } });
    expect(p.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(p.body.toString())).toEqual({
      type: 'activities.update',
      objectid: 99,
      content: { id: 99, name: 'Call', fields: { completed: 1 } },
    });
  });

  it('form: PHP bracket notation that qs.parse (PHP semantics) reads back into the same tree', () => {
    const p = encodePayload('form', 'items.create', 12, content);
    expect(p.contentType).toBe('application/x-www-form-urlencoded');
    const parsed = qs.parse(p.body.toString()) as any;
    expect(parsed.type).toBe('items.create');
    expect(parsed.objectid).toBe('12');
    expect(parsed.content.item.fields.lastname).toBe('Müller & <Söhne>');
    expect(parsed.content.categories.category).toEqual([
      { id: '7', name: 'Lead' },
      { id: '8', name: 'VIP' },
    ]);
  });

  it('a stored event: JSON takes the stored content text as it is, the same bytes as encoding the tree', () => {
    const stored = stringifyJson(content);
    for (const format of ['json', 'xml', 'form'] as const) {
      expect(encodeStoredPayload(format, 'items.create', 12, stored)).toEqual(
        encodePayload(format, 'items.create', 12, content),
      );
    }
    // Content written from Maps keeps its order (a numeric key stays after the others), as the API sent it.
    const ordered = stringifyJson(
      new Map<string, unknown>([
        ['name', 'x'],
        ['1002', 'y'],
      ]) as never,
    );
    expect(encodeStoredPayload('json', 'items.update', 5, ordered).body.toString()).toBe(
      '{"type":"items.update","objectid":5,"content":{"name":"x","1002":"y"}}',
    );
  });
});
