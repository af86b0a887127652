// Migration 2, written once for both engines: report columns and indexes on activities, and the blobs table
// that holds uploaded files and photos. The engine differences (JSON access, generated-column storage, the
// bytes type) are passed in as data by each engine's migrations.ts.
import type { Migration } from './schema.js';

export interface V2Types {
  /** 64-bit integer column type */
  int: string;
  /** binary column type */
  bytes: string;
  /** how a generated column is kept: SQLite can only add VIRTUAL ones, PostgreSQL only STORED ones */
  generated: 'VIRTUAL' | 'STORED';
  /** SQL for the text value of key `key` of the activity's `fields` JSON */
  jsonText(key: string): string;
  /** SQL for the integer value of key `key` of `fields`, NULL when it is not a whole number */
  jsonInt(key: string): string;
}

export function v2ReportsAndBlobs(t: V2Types): Migration {
  const I = t.int;
  // Each activity kind has at most one of these date fields (task/follow-up duedate, opportunity closingdate,
  // event timestart, time record date, call dateoccured), so one column holds "the date that matters". Dates
  // and date-times are both stored as UTC ISO text, so text order is time order and '2026-11-28' <= any
  // time of that day < '2026-11-29'.
  const due = `COALESCE(${['duedate', 'closingdate', 'timestart', 'date', 'dateoccured'].map(t.jsonText).join(', ')})`;
  const completed = `CASE WHEN CAST(${t.jsonText('completed')} AS TEXT) = '1' THEN 1 ELSE 0 END`;
  // task assignedto, follow-up/opportunity responsible, time record person: the user (or group) it is for.
  const responsible = `COALESCE(${['responsible', 'assignedto', 'person'].map(t.jsonInt).join(', ')})`;
  return {
    version: 2,
    name: 'activity reports, upload blobs',
    statements: [
      // Generated columns: the database fills them on every write, whichever code path writes the activity.
      `ALTER TABLE activities ADD COLUMN due TEXT GENERATED ALWAYS AS (${due}) ${t.generated}`,
      `ALTER TABLE activities ADD COLUMN completed INTEGER GENERATED ALWAYS AS (${completed}) ${t.generated}`,
      `ALTER TABLE activities ADD COLUMN responsible_id ${I} GENERATED ALWAYS AS (${responsible}) ${t.generated}`,
      // The activities and timetracking reports: a time range of created_at or updated_at.
      `CREATE INDEX activities_by_created ON activities (account_id, created_at)`,
      `CREATE INDEX activities_by_updated ON activities (account_id, updated_at)`,
      // nextactions, followups, opportunities, calendar, timetracking by date: kind, open or done, date range.
      `CREATE INDEX activities_by_due ON activities (account_id, typeid, completed, due)`,
      // The same reports narrowed to one user or group.
      `CREATE INDEX activities_by_responsible ON activities (account_id, responsible_id, completed, due)`,
      // Uploaded files and photos, addressed by content: the same bytes uploaded twice are kept once. In the
      // database (not the file system) so that every node of a multi-node install sees them, in backups too.
      `CREATE TABLE blobs (
        account_id ${I} NOT NULL,
        sha256 TEXT NOT NULL,
        size ${I} NOT NULL,
        content ${t.bytes} NOT NULL,
        created_at ${I} NOT NULL,
        PRIMARY KEY (account_id, sha256))`,
    ],
  };
}
