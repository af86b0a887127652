// Payload encoders: the notification body of dialect §6 in XML, JSON or PHP-bracket form data, built from the
// same tree by the dialect's own encoders. The bytes returned are the bytes signed and sent.
import { buildXml } from '../dialect/xml.js';
import { stringifyJson } from '../dialect/json.js';
import { encodeForm } from '../dialect/form.js';
import type { Tree } from '../dialect/tree.js';

export type ContentType = 'xml' | 'json' | 'form';
export const CONTENT_TYPES: readonly ContentType[] = ['xml', 'json', 'form'];

const MEDIA_TYPES: Record<ContentType, string> = {
  xml: 'application/xml; charset=utf-8',
  json: 'application/json; charset=utf-8',
  // No charset parameter: PHP fills $_POST only for the bare type on some versions; the bytes are UTF-8.
  form: 'application/x-www-form-urlencoded',
};

export interface Payload {
  body: Buffer;
  contentType: string;
}

export function encodePayload(contenttype: ContentType, type: string, objectId: number, content: Tree): Payload {
  const tree = { type, objectid: objectId, content };
  const text =
    contenttype === 'json'
      ? stringifyJson(tree)
      : contenttype === 'form'
        ? encodeForm(tree)
        : buildXml('notification', tree);
  return { body: Buffer.from(text, 'utf8'), contentType: MEDIA_TYPES[contenttype] };
}

/** events.content is the JSON text of the tree (stringifyJson), parsed back as plain objects. */
export function parseEventContent(text: string): Tree {
  return JSON.parse(text) as Tree;
}

/**
 * The payload of a stored event. A JSON payload takes the stored JSON text of the content as it is (it was
 * written by the same serialiser; parsing and re-encoding it per attempt only cost time, and would move
 * numeric keys ahead of the others); XML and form are encoded from the parsed tree.
 */
export function encodeStoredPayload(
  contenttype: ContentType,
  type: string,
  objectId: number,
  content: string,
): Payload {
  if (contenttype !== 'json') return encodePayload(contenttype, type, objectId, parseEventContent(content));
  const text = `{"type":${JSON.stringify(type)},"objectid":${JSON.stringify(objectId)},"content":${content}}`;
  return { body: Buffer.from(text, 'utf8'), contentType: MEDIA_TYPES.json };
}
