import type { Migration } from './schema.js';

export function v7ExpiredLeases(): Migration {
  return {
    version: 7,
    name: 'expired leases per delivery',
    statements: [
      // How many times the delivery's lease ran out before an outcome was recorded (its holder stopped, or
      // could not record). The first few are forgiven, after that each one counts as an attempt
      // (delivery/claim.ts RECLAIM_COUNTS): a delivery whose sending stops Hookline every time still ends.
      `ALTER TABLE deliveries ADD COLUMN expired_leases INTEGER NOT NULL DEFAULT 0`,
    ],
  };
}
