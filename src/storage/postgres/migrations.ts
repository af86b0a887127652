// PostgreSQL migrations: the shared schema with PostgreSQL's types, plus the id sequence.
import { baseSchema, type Migration } from '../schema.js';
import { v2ReportsAndBlobs } from '../schema-v2.js';
import { v3ClaimByHookAndMailOutbox } from '../schema-v3.js';
import { v4SecretRotation } from '../schema-v4.js';
import { v5SharedRateLimits } from '../schema-v5.js';
import { v6HookHeaders } from '../schema-v6.js';
import { v7ExpiredLeases } from '../schema-v7.js';
import { v8PortalSessions } from '../schema-v8.js';
import { v9MailLeaseOwner } from '../schema-v9.js';

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'base schema',
    statements: [
      ...baseSchema({ int: 'BIGINT' }),
      // Hi/lo ids: each nextval hands a node a block of ID_BLOCK ids (see engine.ts nextId).
      `CREATE SEQUENCE id_blocks START WITH 1`,
    ],
  },
  v2ReportsAndBlobs({
    int: 'BIGINT',
    bytes: 'BYTEA',
    generated: 'STORED',
    jsonText: (key) => `(fields::jsonb ->> '${key}')`,
    // A guarded cast: a generated column that raised an error would make the write fail.
    jsonInt: (key) =>
      `CASE WHEN (fields::jsonb ->> '${key}') ~ '^[0-9]{1,15}$' THEN (fields::jsonb ->> '${key}')::bigint END`,
  }),
  v3ClaimByHookAndMailOutbox({ int: 'BIGINT' }),
  v4SecretRotation({ int: 'BIGINT' }),
  v5SharedRateLimits({ int: 'BIGINT' }),
  v6HookHeaders(),
  v7ExpiredLeases(),
  v8PortalSessions({ int: 'BIGINT' }),
  v9MailLeaseOwner(),
];
