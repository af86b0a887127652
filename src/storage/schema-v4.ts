// Migration 4, written once for both engines: a hook's previous secret, kept for a while after the secret
// changes so that receivers can switch over without rejecting a notification (secret rotation); and a
// hook's own retry schedule and rate limit.
import type { Migration, SchemaTypes } from './schema.js';

export function v4SecretRotation(t: SchemaTypes): Migration {
  return {
    version: 4,
    name: 'secret rotation, retry schedule and rate limit per hook',
    statements: [
      // The secret before the last change, and until when notifications are also signed with it
      // (HOOKLINE_SECRET_OVERLAP after the change). NULL: no overlap.
      `ALTER TABLE hooks ADD COLUMN previous_secret TEXT`,
      `ALTER TABLE hooks ADD COLUMN previous_secret_until ${t.int}`,
      // The hook's retry schedule as given (`1m,10m,1h`); '' follows HOOKLINE_RETRY_SCHEDULE.
      `ALTER TABLE hooks ADD COLUMN retry_schedule TEXT NOT NULL DEFAULT ''`,
      // Notifications per second at most (0: no limit).
      `ALTER TABLE hooks ADD COLUMN rate_limit INTEGER NOT NULL DEFAULT 0`,
    ],
  };
}
