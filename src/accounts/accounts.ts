// Accounts (organisations), their users and groups, and API tokens. Tokens are 256-bit random strings, so
// a plain SHA-256 is the right hash: no password-stretching is needed against guessing, and it keeps the
// per-request check cheap. Only the hash is stored; the token is shown once, at creation.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { oneStatement, type Engine, type Executor } from '../storage/port.js';

export type Role = 'admin' | 'member';

export interface Actor {
  accountId: number;
  userId: number;
  email: string;
  name: string;
  role: Role;
}

export interface UserRow {
  account_id: number;
  id: number;
  email: string;
  name: string;
  role: Role;
  token_hash: string;
}

/** The acting user a row of users is (an API login, a portal session). */
export function actorOf(u: UserRow): Actor {
  return { accountId: Number(u.account_id), userId: Number(u.id), email: u.email, name: u.name, role: u.role };
}

export function newToken(): string {
  return `hl_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function nameFromEmail(email: string): string {
  return email.split('@')[0];
}

export async function findUserByEmail(x: Executor, email: string): Promise<UserRow | undefined> {
  return x.get<UserRow>('SELECT account_id, id, email, name, role, token_hash FROM users WHERE email = ?', [
    email.toLowerCase(),
  ]);
}

/** Checks an e-mail and token; answers the acting user or null. Compares hashes in constant time. */
export async function authenticate(engine: Engine, email: string, token: string): Promise<Actor | null> {
  const user = await engine.read(oneStatement((x) => findUserByEmail(x, email)));
  const given = Buffer.from(hashToken(token), 'hex');
  const stored = Buffer.from(user?.token_hash ?? '00'.repeat(32), 'hex');
  const ok = stored.length === given.length && timingSafeEqual(stored, given);
  if (!user || !ok) return null;
  return actorOf(user);
}

export async function createAccount(
  engine: Engine,
  input: { name: string; adminEmail: string; adminName?: string; token?: string; now?: number },
): Promise<{ accountId: number; userId: number; token: string }> {
  const token = input.token ?? newToken();
  const now = input.now ?? Date.now();
  return engine.write(async (x) => {
    if (await findUserByEmail(x, input.adminEmail)) {
      throw new Error(`a user with e-mail ${input.adminEmail} already exists`);
    }
    const accountId = await x.nextId();
    await x.run('INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)', [accountId, input.name, now]);
    const userId = await insertUser(x, accountId, input.adminEmail, input.adminName, 'admin', token, now);
    return { accountId, userId, token };
  });
}

async function insertUser(
  x: Executor,
  accountId: number,
  email: string,
  name: string | undefined,
  role: Role,
  token: string,
  now: number,
): Promise<number> {
  const id = await x.nextId();
  await x.run(
    'INSERT INTO users (account_id, id, email, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    [accountId, id, email.toLowerCase(), name ?? nameFromEmail(email), role, hashToken(token), now],
  );
  return id;
}

export async function addUser(
  engine: Engine,
  input: { accountId: number; email: string; name?: string; role?: Role; token?: string; now?: number },
): Promise<{ userId: number; token: string }> {
  const token = input.token ?? newToken();
  return engine.write(async (x) => {
    const account = await x.get('SELECT id FROM accounts WHERE id = ?', [input.accountId]);
    if (!account) throw new Error(`no account ${input.accountId}`);
    if (await findUserByEmail(x, input.email)) throw new Error(`a user with e-mail ${input.email} already exists`);
    const userId = await insertUser(
      x,
      input.accountId,
      input.email,
      input.name,
      input.role ?? 'member',
      token,
      input.now ?? Date.now(),
    );
    return { userId, token };
  });
}

export async function addGroup(
  engine: Engine,
  accountId: number,
  name: string,
  members: number[] = [],
): Promise<number> {
  return engine.write(async (x) => {
    if (!(await x.get('SELECT id FROM accounts WHERE id = ?', [accountId]))) throw new Error(`no account ${accountId}`);
    for (const userId of members) {
      const user = await x.get('SELECT id FROM users WHERE account_id = ? AND id = ?', [accountId, userId]);
      if (!user) throw new Error(`no user ${userId} in account ${accountId}`);
    }
    const id = await x.nextId();
    await x.run('INSERT INTO user_groups (account_id, id, name) VALUES (?, ?, ?)', [accountId, id, name]);
    for (const userId of members) {
      await x.run('INSERT INTO group_members (account_id, group_id, user_id) VALUES (?, ?, ?)', [
        accountId,
        id,
        userId,
      ]);
    }
    return id;
  });
}

/**
 * HOOKLINE_ADMIN_EMAIL + HOOKLINE_ADMIN_TOKEN: makes sure an account admin with exactly this e-mail and
 * token exists. Idempotent: a second start changes nothing; a changed token replaces the old one.
 */
export async function ensureAdmin(
  engine: Engine,
  email: string,
  token: string,
): Promise<{ accountId: number; userId: number; created: boolean }> {
  return engine.write(async (x) => {
    const user = await findUserByEmail(x, email);
    if (user) {
      await x.run("UPDATE users SET token_hash = ?, role = 'admin' WHERE account_id = ? AND id = ?", [
        hashToken(token),
        user.account_id,
        user.id,
      ]);
      return { accountId: user.account_id, userId: user.id, created: false };
    }
    const now = Date.now();
    const accountId = await x.nextId();
    await x.run('INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)', [accountId, 'Hookline', now]);
    const userId = await insertUser(x, accountId, email, undefined, 'admin', token, now);
    return { accountId, userId, created: true };
  });
}

export interface Directory {
  users: Map<number, { id: number; name: string; email: string; role: Role }>;
  groups: Map<number, { id: number; name: string; members: number[] }>;
}

/** The users and groups of an account: ownership and assignee ids are checked and named against it. */
export async function loadDirectory(x: Executor, accountId: number): Promise<Directory> {
  const users = await x.all<{ id: number; name: string; email: string; role: Role }>(
    'SELECT id, name, email, role FROM users WHERE account_id = ? ORDER BY id',
    [accountId],
  );
  const groups = await x.all<{ id: number; name: string }>(
    'SELECT id, name FROM user_groups WHERE account_id = ? ORDER BY id',
    [accountId],
  );
  const members = await x.all<{ group_id: number; user_id: number }>(
    'SELECT group_id, user_id FROM group_members WHERE account_id = ?',
    [accountId],
  );
  return {
    users: new Map(users.map((u) => [u.id, u])),
    groups: new Map(
      groups.map((g) => [g.id, { ...g, members: members.filter((m) => m.group_id === g.id).map((m) => m.user_id) }]),
    ),
  };
}

export async function listAccounts(engine: Engine): Promise<{ id: number; name: string }[]> {
  return engine.readOne<{ id: number; name: string }>('SELECT id, name FROM accounts ORDER BY id');
}
