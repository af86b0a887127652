// A receiver for Hookline's notifications with nothing but Node.js (docs/receiving.md). It checks the
// signature over the exact bytes received, refuses a stale timestamp, answers a repeat of a notification it
// already took without handling it twice, and answers at once.
//
//   HOOKLINE_SECRET='the hook secret' PORT=4000 node examples/receiver.mjs
//
// Each notification it takes prints one line: `accepted <webhook-id> <type> <objectid>` (a repeat:
// `duplicate <webhook-id>`); each it refuses, `refused <status> <why>`.
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

const SECRET = process.env.HOOKLINE_SECRET ?? '';
const PORT = Number(process.env.PORT ?? 4000);
/** How far webhook-timestamp may be from this machine's clock (Standard Webhooks' usual 5 minutes). */
const TOLERANCE_SECONDS = 5 * 60;
/** Hookline's notifications are a record's worth; anything much larger is not one. */
const MAX_BODY_BYTES = 1024 * 1024;

/** The webhook-ids taken, to answer a repeat (a retry, a resend after a crash) without handling it twice. A
 * real receiver keeps them in its database, in the same transaction as what it does with the notification. */
const taken = new Set();

const sameText = (a, b) => {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * Why the notification is not Hookline's (null: it is). The key is the secret's UTF-8 bytes as the hook was
 * given it. Standard Webhooks headers first: they also date the notification, which stops a replay later on.
 */
function refusal(headers, body, secret, nowMs = Date.now()) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (id && timestamp && signatures) {
    if (!/^\d+$/.test(timestamp) || Math.abs(nowMs / 1000 - Number(timestamp)) > TOLERANCE_SECONDS)
      return 'webhook-timestamp is not within 5 minutes of now';
    const mac = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${id}.${timestamp}.`).update(body);
    const expected = mac.digest('base64');
    // Space-separated `v1,<base64>`: two of them while the hook's old secret still signs (a rotation).
    const ok = signatures.split(' ').some((s) => s.startsWith('v1,') && sameText(s.slice(3), expected));
    return ok ? null : 'webhook-signature does not match';
  }
  // Solve360's own header: lowercase hex over the body alone.
  const hex = headers['x-solve360-hmac-sha256'];
  if (hex) {
    const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('hex');
    return sameText(hex.trim().toLowerCase(), expected) ? null : 'X-Solve360-Hmac-Sha256 does not match';
  }
  return 'not signed';
}

/** The notification's type and object id, in any of the three formats. */
function summary(contentType, body) {
  const text = body.toString('utf8');
  if (contentType.startsWith('application/json')) {
    const n = JSON.parse(text);
    return { type: n.type, objectid: n.objectid };
  }
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    const form = new URLSearchParams(text);
    return { type: form.get('type'), objectid: Number(form.get('objectid')) };
  }
  // XML: <notification><type>…</type><objectid>…</objectid><content>…</content></notification>. A real
  // receiver uses an XML parser that expands no entities; these two elements are plain text.
  const field = (name) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1];
  return { type: field('type'), objectid: Number(field('objectid')) };
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  const refuse = (status, why) => {
    console.log(`refused ${status} ${why}`);
    res.writeHead(status, { 'content-type': 'text/plain' }).end(`${why}\n`);
  };
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    if (req.method !== 'POST') return refuse(405, 'notifications are POSTed');
    if (size > MAX_BODY_BYTES) return refuse(413, 'body too large');
    const body = Buffer.concat(chunks);
    const why = refusal(req.headers, body, SECRET);
    if (why) return refuse(401, why);
    const id = req.headers['webhook-id'] ?? '';
    if (id && taken.has(id)) {
      console.log(`duplicate ${id}`);
      return res.writeHead(200).end();
    }
    let n;
    try {
      n = summary(String(req.headers['content-type'] ?? ''), body);
    } catch {
      return refuse(400, 'not a notification');
    }
    if (id) taken.add(id);
    // Answer first (any 2xx; Hookline waits 10 s by default), then do the work; a failure afterwards is
    // yours to retry, since Hookline counts the notification as delivered.
    res.writeHead(204).end();
    console.log(`accepted ${id} ${n.type} ${n.objectid}`);
  });
});

server.listen(PORT, '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
