// Migration 6, written once for both engines: a hook's own request headers (for a receiver behind a gateway
// that wants an API key, say), sent with every notification to it.
import type { Migration } from './schema.js';

export function v6HookHeaders(): Migration {
  return {
    version: 6,
    name: 'request headers per hook',
    statements: [
      // JSON: [[name, value], …] in the order given; '' for none.
      `ALTER TABLE hooks ADD COLUMN headers TEXT NOT NULL DEFAULT ''`,
    ],
  };
}
