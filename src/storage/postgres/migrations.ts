// PostgreSQL migrations: the shared schema with PostgreSQL's types, plus the id sequence.
import { baseSchema, type Migration } from '../schema.js';

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
];
