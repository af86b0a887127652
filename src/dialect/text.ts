// Request bodies from bytes to text, and the characters a stored value may hold.
//
// Decoding is strict: a body is read in the charset it declares (the Content-Type's `charset`, else an XML
// declaration's `encoding`, else a byte-order mark, else UTF-8) and a byte sequence that is not valid in it
// is a 400, never a U+FFFD stored in its place. And since every value can be answered in XML (responses,
// notifications), a value may not hold a character XML 1.0 cannot carry: the C0 controls other than tab,
// line feed and carriage return, U+FFFE, U+FFFF, or half of a surrogate pair (JSON's "\ud800").
import { Errors } from '../errors.js';

/** What XML 1.0 refuses in a document, tab, LF and CR aside (surrogates are checked by isWellFormed). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/** Whether the text holds only characters XML 1.0 can carry. */
export function xmlSafe(text: string): boolean {
  return !NOT_XML_CHAR.test(text) && (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Refuses a value (or a field name) that XML could not carry, naming the field and the character. */
export function checkText(field: string, text: string): void {
  if (xmlSafe(text)) return;
  const bad = NOT_XML_CHAR.exec(text)?.[0];
  const what = bad
    ? `the control character U+${bad.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`
    : 'half of a surrogate pair';
  throw Errors.badRequest(field, `Contains ${what}, which XML cannot carry; remove it`);
}

const decoders = new Map<string, TextDecoder>();

function decoderFor(label: string): TextDecoder | null {
  let d = decoders.get(label);
  if (d === undefined) {
    try {
      d = new TextDecoder(label, { fatal: true });
    } catch {
      return null; // not a charset the WHATWG Encoding Standard knows
    }
    if (decoders.size < 64) decoders.set(label, d);
  }
  return d;
}

/** The `charset` parameter of a Content-Type, lower-cased, if there is one. */
export function declaredCharset(contentType: string | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return m?.[1].toLowerCase();
}

/** The `encoding` of an XML declaration at the very start of the bytes, if there is one. */
function xmlEncoding(bytes: Buffer): string | undefined {
  const head = bytes.subarray(0, 200).toString('latin1');
  const m = /^(?:\xEF\xBB\xBF)?\s*<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']/.exec(head);
  return m?.[1].toLowerCase();
}

/** The charset a byte-order mark names, if the bytes open with one. */
function bomCharset(bytes: Buffer): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  return undefined;
}

/**
 * A request body as text. `xml`: the body may be XML, so its declaration's encoding counts when the header
 * names no charset. A byte-order mark is dropped (and a UTF-16 one is how UTF-16 is recognised).
 */
export function decodeBody(bytes: Buffer, contentType: string | undefined, xml: boolean): string {
  if (bytes.length === 0) return '';
  const bom = bomCharset(bytes);
  const declared = declaredCharset(contentType) ?? (xml ? xmlEncoding(bytes) : undefined);
  // A UTF-16 body declares its encoding in a declaration it can only be read by after decoding: its BOM wins.
  const label = bom?.startsWith('utf-16') ? bom : (declared ?? 'utf-8');
  const decoder = decoderFor(label);
  if (!decoder) throw Errors.unsupportedCharset(label);
  try {
    return decoder.decode(bytes);
  } catch {
    throw Errors.badRequest(
      'request',
      `The body is not valid ${decoder.encoding}${declared ? '' : ' (no charset was declared, so UTF-8 was expected)'}`,
    );
  }
}
