// One notification ready to send: the payload bytes and the headers that go with them, signed over exactly
// those bytes. Built again for every attempt (webhook-timestamp is per attempt; webhook-id is per delivery).
import fs from 'node:fs';
import { encodeStoredPayload, type ContentType } from '../webhooks/payload.js';
import { solve360Signature, standardSignature, webhookId } from '../webhooks/signer.js';
import { settable, storedPairs } from '../webhooks/headers.js';

function readVersion(): string {
  try {
    // src/delivery or dist/delivery: package.json is two levels up either way.
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0';
  } catch {
    return '0';
  }
}

export const USER_AGENT = `Hookline/${readVersion()} (+webhooks)`;

export interface NotificationSource {
  hookId: number;
  eventId: number;
  /**
   * previousSecret: the secret before the last change while its overlap runs ('' or absent: none); headers:
   * the hook's own request headers as stored ('' or absent: none)
   */
  hook: { url: string; contenttype: string; secret: string; previousSecret?: string; headers?: string };
  event: { type: string; objectId: number; content: string };
  /** a test notification's own id; a delivery's is derived from its hook and event (the same on every retry) */
  webhookId?: string;
}

export interface Notification {
  url: string;
  body: Buffer;
  headers: Record<string, string>;
  webhookId: string;
}

/** A hook's payload format: its contenttype, or XML (Solve360's default) for anything else. */
export const formatOf = (contenttype: string): ContentType =>
  (['xml', 'json', 'form'].includes(contenttype) ? contenttype : 'xml') as ContentType;

export function buildNotification(d: NotificationSource, nowMs: number): Notification {
  const payload = encodeStoredPayload(formatOf(d.hook.contenttype), d.event.type, d.event.objectId, d.event.content);
  const id = d.webhookId || webhookId(d.hookId, d.eventId);
  const timestamp = String(Math.floor(nowMs / 1000));
  const headers: Record<string, string> = {
    'content-type': payload.contentType,
    'user-agent': USER_AGENT,
    'webhook-id': id,
    'webhook-timestamp': timestamp,
  };
  // An empty secret means "unsigned" (dialect §6): no signature header at all rather than an HMAC keyed by "".
  if (d.hook.secret !== '') {
    headers['x-solve360-hmac-sha256'] = solve360Signature(d.hook.secret, payload.body);
    let signature = standardSignature(d.hook.secret, id, timestamp, payload.body);
    // During a secret rotation's overlap, a second signature made with the old secret (Standard Webhooks:
    // space-separated, any one may match). X-Solve360-Hmac-Sha256 holds one value: the current secret's.
    const previous = d.hook.previousSecret;
    if (previous && previous !== d.hook.secret)
      signature += ` ${standardSignature(previous, id, timestamp, payload.body)}`;
    headers['webhook-signature'] = signature;
  }
  // The hook's own headers go with them; never over Hookline's (checked when saved, and again here).
  if (d.hook.headers) {
    for (const [name, value] of storedPairs(d.hook.headers)) {
      const key = name.toLowerCase();
      if (settable(name) && !Object.hasOwn(headers, key)) headers[key] = value;
    }
  }
  return { url: d.hook.url, body: payload.body, headers, webhookId: id };
}
