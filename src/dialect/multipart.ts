// MIME multipart bodies (RFC 2046), as batch (multipart/mixed) and uploads (multipart/form-data) receive
// them: the boundary from the Content-Type, the parts between its delimiter lines, each part's header block.
// Old clients are taken as they are: CRLF or bare LF line ends, boundaries such as `====1340674896===`,
// quoted or not, a missing close delimiter. Pure functions on bytes: no I/O.

export class MultipartError extends Error {}

export interface Part {
  /** header names in lower case; a repeated header keeps its values joined by ", " */
  headers: Map<string, string>;
  body: Buffer;
}

/** A header value and its `; name=value` parameters (names in lower case, quoted strings unquoted). */
export interface HeaderValue {
  value: string;
  params: Map<string, string>;
}

export function parseHeaderValue(text: string): HeaderValue {
  const params = new Map<string, string>();
  const semi = text.indexOf(';');
  const value = (semi < 0 ? text : text.slice(0, semi)).trim();
  let i = semi < 0 ? text.length : semi + 1;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) break;
    const name = text.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (text[i] === ' ' || text[i] === '\t') i++;
    let v = '';
    if (text[i] === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        // Only \" and \\ are escapes: browsers send Windows paths (C:\fakepath\x.png) unescaped.
        if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) i++;
        v += text[i++];
      }
      i = text.indexOf(';', i);
      if (i < 0) i = text.length;
      else i++;
    } else {
      // Unquoted: up to the next ';'. A boundary such as ====1340674896=== keeps its '=' signs.
      const end = text.indexOf(';', i);
      v = text.slice(i, end < 0 ? text.length : end).trim();
      i = end < 0 ? text.length : end + 1;
    }
    if (name && !params.has(name)) params.set(name, v);
  }
  return { value, params };
}

/** The boundary of a multipart Content-Type, or null when there is none. */
export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType) return null;
  const b = parseHeaderValue(contentType).params.get('boundary');
  // RFC 2046: 1 to 70 characters; trailing spaces are not part of it.
  if (!b || b.length > 200) return null;
  return b.replace(/\s+$/, '') || null;
}

export interface Head {
  /** the lines of the head, without line ends; folded continuation lines already joined */
  lines: string[];
  /** the bytes after the empty line (empty when the head runs to the end) */
  rest: Buffer;
  /** whether an empty line ended the head */
  terminated: boolean;
}

/** Splits a header block (lines up to the first empty line, CRLF or LF) from what follows it. */
export function splitHead(buf: Buffer, maxLines = 200): Head {
  const lines: string[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    const end = nl < 0 ? buf.length : nl;
    const lineEnd = end > pos && buf[end - 1] === 0x0d ? end - 1 : end;
    const line = buf.toString('utf8', pos, lineEnd);
    pos = nl < 0 ? buf.length : nl + 1;
    if (line === '') return { lines, rest: buf.subarray(pos), terminated: true };
    if ((line[0] === ' ' || line[0] === '\t') && lines.length > 0) lines[lines.length - 1] += ` ${line.trim()}`;
    else lines.push(line);
    if (lines.length > maxLines) throw new MultipartError(`more than ${maxLines} header lines`);
  }
  return { lines, rest: Buffer.alloc(0), terminated: false };
}

/** `Name: value` lines into a map of lower-case names. */
export function parseHeaderLines(lines: string[]): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon < 1 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(line.slice(0, colon))) {
      throw new MultipartError(`"${line.slice(0, 60)}" is not a header line (Name: value)`);
    }
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return headers;
}

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09;
}

/**
 * The raw contents of the parts between `--boundary` delimiter lines: preamble and epilogue dropped, the
 * line end before each delimiter belonging to the delimiter. A delimiter counts only at the start of a line
 * and followed by `--`, white space or a line end, so body text that merely contains the boundary is safe.
 */
export function splitParts(body: Buffer, boundary: string, maxParts = Infinity): Buffer[] {
  const delimiter = Buffer.from(`--${boundary}`, 'utf8');
  const parts: Buffer[] = [];
  let contentStart = -1; // where the current part's content starts, -1 before the first delimiter
  let from = 0;
  for (;;) {
    const at = body.indexOf(delimiter, from);
    if (at < 0) break;
    from = at + 1;
    if (at > 0 && body[at - 1] !== 0x0a) continue;
    let after = at + delimiter.length;
    const close = body[after] === 0x2d && body[after + 1] === 0x2d;
    if (close) after += 2;
    while (isSpace(body[after])) after++;
    const lineEnd =
      after >= body.length
        ? body.length
        : body[after] === 0x0a
          ? after + 1
          : body[after] === 0x0d && body[after + 1] === 0x0a
            ? after + 2
            : -1;
    if (lineEnd < 0 && !close) continue; // `--boundaryX…`: a longer word, not our delimiter
    if (contentStart >= 0) {
      let end = at;
      if (end > contentStart && body[end - 1] === 0x0a) end--;
      if (end > contentStart && body[end - 1] === 0x0d) end--;
      parts.push(body.subarray(contentStart, Math.max(contentStart, end)));
      if (parts.length > maxParts) throw new MultipartError(`more than ${maxParts} parts`);
    }
    if (close) return parts;
    contentStart = lineEnd;
    from = lineEnd;
  }
  if (contentStart < 0) throw new MultipartError(`no part starts with the delimiter line --${boundary}`);
  // No close delimiter: hand-written clients forget it. The last part runs to the end of the body.
  let end = body.length;
  if (end > contentStart && body[end - 1] === 0x0a) end--;
  if (end > contentStart && body[end - 1] === 0x0d) end--;
  const last = body.subarray(contentStart, end);
  if (last.toString('utf8').trim() !== '') parts.push(last);
  if (parts.length > maxParts) throw new MultipartError(`more than ${maxParts} parts`);
  return parts;
}

/** The parts of a multipart body, each with its MIME headers and its body. */
export function parseMultipart(body: Buffer, boundary: string, maxParts = Infinity): Part[] {
  return splitParts(body, boundary, maxParts).map((raw) => {
    const head = splitHead(raw);
    if (!head.terminated) return { headers: parseHeaderLines(head.lines), body: Buffer.alloc(0) };
    return { headers: parseHeaderLines(head.lines), body: head.rest };
  });
}

export interface FormEntry {
  name: string;
  /** set for file parts (possibly ''), undefined for plain fields */
  filename?: string;
  contentType?: string;
  data: Buffer;
}

/** multipart/form-data: one entry per part, named by its Content-Disposition. */
export function parseFormData(body: Buffer, boundary: string, maxParts = 1000): FormEntry[] {
  return parseMultipart(body, boundary, maxParts).map((part) => {
    const disposition = part.headers.get('content-disposition');
    if (!disposition) throw new MultipartError('a form-data part has no Content-Disposition header');
    const d = parseHeaderValue(disposition);
    const name = d.params.get('name');
    if (d.value.toLowerCase() !== 'form-data' || name === undefined) {
      throw new MultipartError('each part needs Content-Disposition: form-data; name="…"');
    }
    let filename = d.params.get('filename');
    const extended = d.params.get('filename*');
    if (extended) {
      // RFC 5987: charset'language'percent-encoded
      const m = /^([^']*)'[^']*'(.*)$/.exec(extended);
      if (m) {
        try {
          filename = decodeURIComponent(m[2]);
        } catch {
          // keep the plain filename parameter
        }
      }
    }
    return { name, filename, contentType: part.headers.get('content-type'), data: part.body };
  });
}
