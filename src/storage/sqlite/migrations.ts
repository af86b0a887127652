// SQLite migrations: the shared schema with SQLite's types, plus SQLite's id counter.
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
      ...baseSchema({ int: 'INTEGER' }),
      // SQLite has no sequences: one row holds the last id handed out (see engine.ts nextId).
      `CREATE TABLE id_counter (one INTEGER PRIMARY KEY CHECK (one = 1), value INTEGER NOT NULL)`,
      `INSERT INTO id_counter (one, value) VALUES (1, 1000)`,
    ],
  },
  v2ReportsAndBlobs({
    int: 'INTEGER',
    bytes: 'BLOB',
    generated: 'VIRTUAL',
    jsonText: (key) => `json_extract(fields, '$.${key}')`,
    // json_extract answers JSON numbers as SQLite integers already; anything else is not an id.
    jsonInt: (key) => `CASE WHEN json_type(fields, '$.${key}') = 'integer' THEN json_extract(fields, '$.${key}') END`,
  }),
  v3ClaimByHookAndMailOutbox({ int: 'INTEGER' }),
  v4SecretRotation({ int: 'INTEGER' }),
  v5SharedRateLimits({ int: 'INTEGER' }),
  v6HookHeaders(),
  v7ExpiredLeases(),
  v8PortalSessions({ int: 'INTEGER' }),
  v9MailLeaseOwner(),
];
