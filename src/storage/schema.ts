// The schema, written once for both engines. Every table of account data carries account_id and its keys
// and indexes lead with it, so a PostgreSQL sharded by account (Citus) can hold Hookline.
// Times are epoch milliseconds (BIGINT), booleans 0/1, JSON documents TEXT: identical in both engines.

export interface SchemaTypes {
  /** 64-bit integer column type */
  int: string;
}

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export function baseSchema(t: SchemaTypes): string[] {
  const I = t.int;
  return [
    `CREATE TABLE accounts (
      id ${I} PRIMARY KEY,
      name TEXT NOT NULL,
      created_at ${I} NOT NULL)`,
    `CREATE TABLE users (
      account_id ${I} NOT NULL,
      id ${I} NOT NULL,
      email TEXT NOT NULL,
      name TEXT NOT NULL,
      role TEXT NOT NULL,
      token_hash TEXT NOT NULL,
      created_at ${I} NOT NULL,
      PRIMARY KEY (account_id, id))`,
    // The e-mail is the login name, so it is unique on the server.
    `CREATE UNIQUE INDEX users_email ON users (email)`,
    `CREATE TABLE user_groups (
      account_id ${I} NOT NULL,
      id ${I} NOT NULL,
      name TEXT NOT NULL,
      PRIMARY KEY (account_id, id))`,
    `CREATE TABLE group_members (
      account_id ${I} NOT NULL,
      group_id ${I} NOT NULL,
      user_id ${I} NOT NULL,
      PRIMARY KEY (account_id, group_id, user_id))`,
    `CREATE TABLE items (
      account_id ${I} NOT NULL,
      id ${I} NOT NULL,
      kind TEXT NOT NULL,
      typeid INTEGER NOT NULL,
      name TEXT NOT NULL,
      fields TEXT NOT NULL,
      ownership ${I} NOT NULL,
      assignedto ${I},
      creator_id ${I} NOT NULL,
      modificator_id ${I} NOT NULL,
      created_at ${I} NOT NULL,
      updated_at ${I} NOT NULL,
      viewed_at ${I},
      flagged INTEGER NOT NULL DEFAULT 0,
      deleted_at ${I},
      PRIMARY KEY (account_id, id))`,
    `CREATE INDEX items_by_kind ON items (account_id, kind, deleted_at, id)`,
    `CREATE TABLE categories (
      account_id ${I} NOT NULL,
      id ${I} NOT NULL,
      kind TEXT NOT NULL,
      name TEXT NOT NULL,
      created_at ${I} NOT NULL,
      PRIMARY KEY (account_id, id))`,
    `CREATE UNIQUE INDEX categories_name ON categories (account_id, kind, name)`,
    `CREATE TABLE item_categories (
      account_id ${I} NOT NULL,
      item_id ${I} NOT NULL,
      category_id ${I} NOT NULL,
      PRIMARY KEY (account_id, item_id, category_id))`,
    `CREATE INDEX item_categories_by_category ON item_categories (account_id, category_id, item_id)`,
    `CREATE TABLE related_items (
      account_id ${I} NOT NULL,
      item_id ${I} NOT NULL,
      related_id ${I} NOT NULL,
      note TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (account_id, item_id, related_id))`,
    `CREATE TABLE activities (
      account_id ${I} NOT NULL,
      id ${I} NOT NULL,
      parent_id ${I} NOT NULL,
      segment TEXT NOT NULL,
      typeid INTEGER NOT NULL,
      fields TEXT NOT NULL,
      position ${I} NOT NULL,
      creator_id ${I} NOT NULL,
      modificator_id ${I} NOT NULL,
      created_at ${I} NOT NULL,
      updated_at ${I} NOT NULL,
      deleted_at ${I},
      PRIMARY KEY (account_id, id))`,
    `CREATE INDEX activities_by_parent ON activities (account_id, parent_id, position)`,
    `CREATE TABLE field_defs (
      account_id ${I} NOT NULL,
      kind TEXT NOT NULL,
      name TEXT NOT NULL,
      label TEXT NOT NULL,
      type TEXT NOT NULL,
      created_at ${I} NOT NULL,
      PRIMARY KEY (account_id, kind, name))`,
    `CREATE TABLE templates (
      account_id ${I} NOT NULL,
      id ${I} NOT NULL,
      name TEXT NOT NULL,
      activities TEXT NOT NULL,
      created_at ${I} NOT NULL,
      updated_at ${I} NOT NULL,
      PRIMARY KEY (account_id, id))`,
    // The outbox: written in the same transaction as the change that raised the event.
    `CREATE TABLE events (
      account_id ${I} NOT NULL,
      id ${I} NOT NULL,
      type TEXT NOT NULL,
      object_id ${I} NOT NULL,
      object_kind TEXT NOT NULL,
      content TEXT NOT NULL,
      created_at ${I} NOT NULL,
      PRIMARY KEY (account_id, id))`,
    `CREATE TABLE hooks (
      account_id ${I} NOT NULL,
      id ${I} NOT NULL,
      type TEXT NOT NULL,
      title TEXT NOT NULL,
      active INTEGER NOT NULL,
      event TEXT NOT NULL,
      constrainttype TEXT NOT NULL,
      url TEXT NOT NULL,
      contenttype TEXT NOT NULL,
      secret TEXT NOT NULL,
      created_at ${I} NOT NULL,
      updated_at ${I} NOT NULL,
      PRIMARY KEY (account_id, id))`,
    // Dispatch looks hooks up by (account, event, active): its cost follows the hooks that match.
    `CREATE INDEX hooks_match ON hooks (account_id, event, active, constrainttype)`,
    // One row per event × matching hook, written in the event's transaction by one INSERT … SELECT: nothing
    // for a dispatcher to miss, whatever order transactions commit in. A delivery is named by its hook and
    // its event. state: pending | succeeded | failed.
    `CREATE TABLE deliveries (
      account_id ${I} NOT NULL,
      hook_id ${I} NOT NULL,
      event_id ${I} NOT NULL,
      state TEXT NOT NULL,
      attempt_count INTEGER NOT NULL DEFAULT 0,
      next_attempt_at ${I} NOT NULL,
      lease_until ${I},
      lease_owner TEXT,
      created_at ${I} NOT NULL,
      updated_at ${I} NOT NULL,
      PRIMARY KEY (account_id, hook_id, event_id))`,
    // The claim query's index: only pending rows, by due time.
    `CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending'`,
    `CREATE TABLE attempts (
      account_id ${I} NOT NULL,
      id ${I} NOT NULL,
      hook_id ${I} NOT NULL,
      event_id ${I} NOT NULL,
      trigger TEXT NOT NULL,
      started_at ${I} NOT NULL,
      duration_ms INTEGER NOT NULL,
      status_code INTEGER,
      error TEXT,
      response_body TEXT,
      PRIMARY KEY (account_id, id))`,
    `CREATE INDEX attempts_by_delivery ON attempts (account_id, hook_id, event_id, id)`,
    // Admin e-mail kept locally when no SMTP server is configured (and a copy of every sent one).
    `CREATE TABLE mailbox (
      account_id ${I} NOT NULL,
      id ${I} NOT NULL,
      to_addr TEXT NOT NULL,
      subject TEXT NOT NULL,
      body TEXT NOT NULL,
      created_at ${I} NOT NULL,
      sent_at ${I},
      PRIMARY KEY (account_id, id))`,
  ];
}
