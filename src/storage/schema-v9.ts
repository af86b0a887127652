// Migration 9, written once for both engines: who holds a mailbox message while sending it, so that a
// mailer starting after a crash can send at once what a stopped process of its host was sending
// (delivery/mailer.ts, as deliveries do: delivery/owners.ts).
import type { Migration } from './schema.js';

export function v9MailLeaseOwner(): Migration {
  return {
    version: 9,
    name: 'mail lease owner',
    // NULL: nobody is sending it (waiting, sent, kept, given up).
    statements: [`ALTER TABLE mailbox ADD COLUMN lease_owner TEXT`],
  };
}
