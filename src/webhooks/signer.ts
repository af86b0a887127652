// Signing notifications: Solve360's body-only HMAC and the Standard Webhooks scheme, both over the exact
// bytes sent, both keyed by the UTF-8 bytes of the hook's secret. Receivers compare in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';

const bytes = (body: Buffer | string): Buffer => (typeof body === 'string' ? Buffer.from(body, 'utf8') : body);

/** X-Solve360-Hmac-Sha256: lowercase hex of HMAC-SHA256(secret, body). */
export function solve360Signature(secret: string, body: Buffer | string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(bytes(body)).digest('hex');
}

/** webhook-signature: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function standardSignature(
  secret: string,
  id: string,
  timestamp: number | string,
  body: Buffer | string,
): string {
  const mac = createHmac('sha256', Buffer.from(secret, 'utf8'));
  mac.update(`${id}.${timestamp}.`, 'utf8');
  mac.update(bytes(body));
  return `v1,${mac.digest('base64')}`;
}

/**
 * webhook-id: names the delivery (event × hook), so every retry of it carries the same id and a receiver
 * can drop duplicates. Hook and event ids are unique across the server, so the account is not needed.
 */
export function webhookId(hookId: number, eventId: number): string {
  return `dlv_${hookId}_${eventId}`;
}

/** Constant-time string comparison (the length is not secret). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A receiver's check of X-Solve360-Hmac-Sha256. */
export function verifySolve360(secret: string, body: Buffer | string, header: string | undefined): boolean {
  return header !== undefined && safeEqual(solve360Signature(secret, body), header.trim().toLowerCase());
}

/**
 * A receiver's check of the Standard Webhooks headers: any of the space-separated signatures may match
 * (secret rotation), and the timestamp must be within `toleranceSec` of now (replay protection).
 */
export function verifyStandard(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: Buffer | string,
  options: { nowMs?: number; toleranceSec?: number } = {},
): boolean {
  const ts = Number(headers.timestamp);
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (!Number.isInteger(ts) || Math.abs(now - ts) > (options.toleranceSec ?? 300)) return false;
  const expected = standardSignature(secret, headers.id, headers.timestamp, body);
  return headers.signature
    .split(' ')
    .filter(Boolean)
    .some((s) => safeEqual(s, expected));
}
