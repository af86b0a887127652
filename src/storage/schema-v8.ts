// Migration 8, written once for both engines: the delivery portal's sign-in sessions (accounts/sessions.ts).
import type { Migration, SchemaTypes } from './schema.js';

export function v8PortalSessions(t: SchemaTypes): Migration {
  const I = t.int;
  return {
    version: 8,
    name: 'portal sessions',
    statements: [
      // The browser holds `accountId.secret`; only the secret's SHA-256 is kept. token_hash: the user's API
      // token when they signed in, so that a new token ends every session made with the old one.
      `CREATE TABLE portal_sessions (
        account_id ${I} NOT NULL,
        id_hash TEXT NOT NULL,
        user_id ${I} NOT NULL,
        token_hash TEXT NOT NULL,
        created_at ${I} NOT NULL,
        expires_at ${I} NOT NULL,
        PRIMARY KEY (account_id, id_hash))`,
    ],
  };
}
