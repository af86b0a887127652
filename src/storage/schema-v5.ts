// Migration 5, written once for both engines: the shared token bucket of each rate-limited hook, so that a
// hook's `ratelimit` holds across every node that sends it (claim.ts SharedBuckets), not once per node.
import type { Migration, SchemaTypes } from './schema.js';

export function v5SharedRateLimits(t: SchemaTypes): Migration {
  return {
    version: 5,
    name: 'rate limits shared by every node',
    statements: [
      // Tokens in thousandths of a notification (whole numbers on both engines), as of updated_at (ms).
      `CREATE TABLE hook_rates (
        hook_id ${t.int} PRIMARY KEY,
        tokens_milli ${t.int} NOT NULL,
        updated_at ${t.int} NOT NULL
      )`,
    ],
  };
}
