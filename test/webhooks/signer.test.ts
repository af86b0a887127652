// The signer against independent vectors (Python hmac) and against the standardwebhooks reference package.
import fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Webhook } from 'standardwebhooks';
import {
  safeEqual,
  solve360Signature,
  standardSignature,
  verifySolve360,
  verifyStandard,
  webhookId,
} from '../../src/webhooks/signer.js';

interface Vector {
  secret: string;
  body: string;
  x_solve360_hmac_sha256: string;
  webhook_id: string;
  webhook_timestamp: string;
  webhook_signature: string;
}
const { vectors } = JSON.parse(
  fs.readFileSync(new URL('../fixtures/signature-vectors.json', import.meta.url), 'utf8'),
) as {
  vectors: Vector[];
};

describe('signer', () => {
  afterEach(() => vi.useRealTimers());

  it.each(vectors)('matches the vectors (secret $secret)', (v) => {
    expect(solve360Signature(v.secret, v.body)).toBe(v.x_solve360_hmac_sha256);
    expect(solve360Signature(v.secret, Buffer.from(v.body, 'utf8'))).toBe(v.x_solve360_hmac_sha256);
    expect(standardSignature(v.secret, v.webhook_id, v.webhook_timestamp, v.body)).toBe(v.webhook_signature);
    expect(standardSignature(v.secret, v.webhook_id, Number(v.webhook_timestamp), Buffer.from(v.body))).toBe(
      v.webhook_signature,
    );
  });

  it.each(vectors)('the standardwebhooks package verifies our signature (secret $secret)', (v) => {
    // The vectors' own timestamp, with the package's clock set to it (it checks ±5 min against Date.now).
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Number(v.webhook_timestamp) * 1000 + 30_000);
    const headers = {
      'webhook-id': v.webhook_id,
      'webhook-timestamp': v.webhook_timestamp,
      'webhook-signature': standardSignature(v.secret, v.webhook_id, v.webhook_timestamp, v.body),
    };
    // Keyed by the UTF-8 bytes of the secret: the package takes them base64-encoded, or as raw bytes (its
    // "raw" format given a string takes char codes, not UTF-8, so it gets the bytes themselves).
    const raw = new Uint8Array(Buffer.from(v.secret, 'utf8'));
    expect(() =>
      new Webhook(Buffer.from(v.secret, 'utf8').toString('base64')).verify(v.body, headers, { jsonParse: false }),
    ).not.toThrow();
    expect(() => new Webhook(raw, { format: 'raw' }).verify(v.body, headers, { jsonParse: false })).not.toThrow();
    // And it refuses a body changed by one byte.
    expect(() => new Webhook(raw, { format: 'raw' }).verify(`${v.body} `, headers, { jsonParse: false })).toThrow();
  });

  it('the package signs what we sign, for a fresh timestamp', () => {
    const now = new Date();
    const id = webhookId(12, 34);
    const body = '{"type":"items.create","objectid":1,"content":{}}';
    const ts = Math.floor(now.getTime() / 1000);
    expect(new Webhook('s3cret', { format: 'raw' }).sign(id, new Date(ts * 1000), body)).toBe(
      standardSignature('s3cret', id, ts, body),
    );
  });

  it('webhook ids are stable per delivery and distinct across deliveries', () => {
    expect(webhookId(7, 9)).toBe(webhookId(7, 9));
    expect(webhookId(7, 9)).toMatch(/^dlv_7_9$/);
    expect(webhookId(7, 9)).not.toBe(webhookId(9, 7));
  });

  it('receiver helpers compare in constant time and check the tolerance', () => {
    const v = vectors[0];
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(verifySolve360(v.secret, v.body, v.x_solve360_hmac_sha256)).toBe(true);
    expect(verifySolve360(v.secret, v.body, v.x_solve360_hmac_sha256.toUpperCase())).toBe(true);
    expect(verifySolve360('other', v.body, v.x_solve360_hmac_sha256)).toBe(false);
    expect(verifySolve360(v.secret, v.body, undefined)).toBe(false);
    const headers = { id: v.webhook_id, timestamp: v.webhook_timestamp, signature: v.webhook_signature };
    const at = Number(v.webhook_timestamp) * 1000;
    expect(verifyStandard(v.secret, headers, v.body, { nowMs: at })).toBe(true);
    // Secret rotation: several signatures, any one may match.
    expect(
      verifyStandard(v.secret, { ...headers, signature: `v1,AAAA ${v.webhook_signature}` }, v.body, { nowMs: at }),
    ).toBe(true);
    expect(verifyStandard(v.secret, headers, v.body, { nowMs: at + 301_000 })).toBe(false);
    expect(verifyStandard('other', headers, v.body, { nowMs: at })).toBe(false);
  });
});
