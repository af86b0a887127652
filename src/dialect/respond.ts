// Responses in the Solve360 envelope: XML by default, JSON when Accept (or the old clients' Accepts)
// names application/json, JSONP with ?callback=. Status goes first in JSON and last in XML, as Solve360 does.
import type { Tree, TreeObject } from './tree.js';
import { buildXml } from './xml.js';
import { keptJson, stringifyJson } from './json.js';

export type Format = 'xml' | 'json';

export interface Negotiated {
  format: Format;
  /** sanitised JSONP callback name, if any */
  callback?: string;
}

export function negotiate(
  headers: Record<string, string | string[] | undefined>,
  query: Record<string, unknown>,
): Negotiated {
  const accept = [headers.accept, headers.accepts].flat().filter(Boolean).join(',').toLowerCase();
  const rawCallback = typeof query.callback === 'string' ? query.callback.replace(/[^A-Za-z0-9_]/g, '') : '';
  if (rawCallback) return { format: 'json', callback: rawCallback };
  return { format: accept.includes('application/json') ? 'json' : 'xml' };
}

export interface Rendered {
  body: string;
  contentType: string;
}

/** Renders a body tree (a plain object or an ordered Map) inside the envelope. */
export function render(n: Negotiated, ok: boolean, body: TreeObject | Map<string, Tree>): Rendered {
  const status = ok ? 'success' : 'failed';
  if (n.format === 'json') {
    const json = envelopeJson(status, body);
    if (n.callback) return { body: `${n.callback}(${json});`, contentType: 'application/javascript; charset=utf-8' };
    return { body: json, contentType: 'application/json; charset=utf-8' };
  }
  const entries = body instanceof Map ? [...body.entries()] : Object.entries(body);
  return {
    body: buildXml('response', new Map<string, Tree>([...entries, ['status', status]])),
    contentType: 'application/xml; charset=utf-8',
  };
}

/**
 * `{"status":…, …the body's keys}`. A body serialised before (an event's content) is not serialised again,
 * unless one of its values is a Map: the envelope keeps a Map's order, which a Map inside a plain object
 * serialised whole does not.
 */
function envelopeJson(status: string, body: TreeObject | Map<string, Tree>): string {
  const text = body instanceof Map ? undefined : keptJson(body);
  if (text !== undefined && text.startsWith('{') && !Object.values(body).some((v) => v instanceof Map)) {
    return text === '{}' ? `{"status":"${status}"}` : `{"status":"${status}",${text.slice(1)}`;
  }
  const entries = body instanceof Map ? [...body.entries()] : Object.entries(body);
  return stringifyJson(new Map<string, Tree>([['status', status], ...entries]));
}
