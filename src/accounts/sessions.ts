// Sign-in sessions of the delivery portal: what a browser holds after signing in with the API's e-mail and
// token, so that the portal can have a sign-in page and a Sign out button (HTTP Basic has neither: a browser
// keeps sending the login until it closes).
//
// The browser's cookie holds `accountId.secret`, the secret 256 random bits. Only the secret's SHA-256 is
// stored (as API tokens are), beside the user and the hash of the API token they signed in with: a session
// ends when it is signed out (its row deleted, at once on every node), when it expires, or when the user's API
// token changes. Expired rows of an account go when one of its users next signs in, and every hour
// (sweepSessions, from the server's start).
import { createHash, randomBytes } from 'node:crypto';
import type { Engine } from '../storage/port.js';
import { actorOf, type Actor, type UserRow } from './accounts.js';

/** The cookie that holds a session (only the portal's paths are sent it). */
export const SESSION_COOKIE = 'hookline_session';

/** How long a session lasts from sign-in, whatever is done with it: 12 hours. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('base64url');

/** The account and the secret's hash of a cookie value; null for anything that is not one of ours. */
function parse(value: string): { accountId: number; idHash: string } | null {
  const m = /^([1-9][0-9]{0,15})\.([A-Za-z0-9_-]{43})$/.exec(value);
  return m ? { accountId: Number(m[1]), idHash: hashSecret(m[2]) } : null;
}

/** Starts a session for the user (signed in with the API token whose hash is `tokenHash`); answers the cookie value. */
export async function startSession(
  engine: Engine,
  user: { accountId: number; userId: number; tokenHash: string },
  now: number,
): Promise<string> {
  const secret = randomBytes(32).toString('base64url');
  await engine.write(async (x) => {
    await x.run('DELETE FROM portal_sessions WHERE account_id = ? AND expires_at <= ?', [user.accountId, now]);
    await x.run(
      'INSERT INTO portal_sessions (account_id, id_hash, user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      [user.accountId, hashSecret(secret), user.userId, user.tokenHash, now, now + SESSION_TTL_MS],
    );
  });
  return `${user.accountId}.${secret}`;
}

/** The user a cookie value signs in, while its session lasts and their API token is the one it began with. */
export async function sessionActor(engine: Engine, value: string, now: number): Promise<Actor | null> {
  const key = parse(value);
  if (!key) return null;
  const rows = await engine.readOne<UserRow>(
    `SELECT u.account_id, u.id, u.email, u.name, u.role, u.token_hash
       FROM portal_sessions s
       JOIN users u ON u.account_id = s.account_id AND u.id = s.user_id AND u.token_hash = s.token_hash
      WHERE s.account_id = ? AND s.id_hash = ? AND s.expires_at > ?`,
    [key.accountId, key.idHash, now],
  );
  return rows[0] ? actorOf(rows[0]) : null;
}

/** Deletes every account's expired sessions; answers how many. */
export async function sweepSessions(engine: Engine, now: number): Promise<number> {
  return engine.write(async (x) => (await x.run('DELETE FROM portal_sessions WHERE expires_at <= ?', [now])).changes);
}

/** Ends the session a cookie value names (nothing for one that is not, or no longer, a session). */
export async function endSession(engine: Engine, value: string): Promise<void> {
  const key = parse(value);
  if (!key) return;
  await engine.write((x) =>
    x.run('DELETE FROM portal_sessions WHERE account_id = ? AND id_hash = ?', [key.accountId, key.idHash]),
  );
}

/** The value of the cookie `name` in a Cookie header, or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
