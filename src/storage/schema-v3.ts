// Migration 3, written once for both engines: the claim's index by hook, hooks' failing streak, and the mail
// outbox columns.
import type { Migration, SchemaTypes } from './schema.js';

export function v3ClaimByHookAndMailOutbox(t: SchemaTypes): Migration {
  const I = t.int;
  return {
    version: 3,
    name: 'claim by hook, failing hooks, mail outbox',
    statements: [
      // The claim walks the hooks that have pending deliveries (a loose index scan over hook_id) and takes the
      // first few of each in due order: its cost follows the hooks with work and the deliveries taken, never
      // the size of a backlog — a hook at its in-flight cap with a million pending rows costs one probe.
      // lease_until rides along so that "due and not leased" is answered from the index alone.
      `DROP INDEX deliveries_due`,
      `CREATE INDEX deliveries_pending_by_hook ON deliveries (hook_id, next_attempt_at, event_id, lease_until) WHERE state = 'pending'`,
      // When the first delivery of a hook failed for good since its last success (NULL: not failing). A hook
      // failing for HOOKLINE_DISABLE_AFTER is disabled.
      `ALTER TABLE hooks ADD COLUMN failing_since ${I}`,
      // A delivery by its event: retention deletes an event with its deliveries and attempts, whatever hooks
      // they went to, in one statement each.
      `CREATE INDEX deliveries_by_event ON deliveries (account_id, event_id)`,
      // Hook ids are unique on the server (ids come from one counter): the claim finds a hook by id alone.
      `CREATE UNIQUE INDEX hooks_by_id ON hooks (id)`,
      // The mailbox is also the mail outbox: a failure e-mail is written in the transaction that fails the
      // delivery, and sent from there (at least once, retried). next_send_at NULL: nothing to send (sent,
      // kept locally for lack of SMTP, or given up after the last try).
      `ALTER TABLE mailbox ADD COLUMN next_send_at ${I}`,
      `ALTER TABLE mailbox ADD COLUMN send_attempts INTEGER NOT NULL DEFAULT 0`,
      `ALTER TABLE mailbox ADD COLUMN last_error TEXT`,
      `CREATE INDEX mailbox_to_send ON mailbox (next_send_at) WHERE next_send_at IS NOT NULL`,
    ],
  };
}
