// Hook management (dialect §5): create, show, list, update and delete an account's hooks. Every field is
// checked and every problem reported at once; the URL must be http(s) and resolve to an address the SSRF
// guard allows. Every query carries account_id: a hook belongs to its account.
import { oneStatement, type Engine, type Executor } from '../storage/port.js';
import { Errors } from '../errors.js';
import { formatDate, type Tree, type TreeObject } from '../dialect/tree.js';
import { EVENT_TYPES } from '../records/events.js';
import { ACTIVITY_KINDS, ITEM_KINDS } from '../records/kinds.js';
import { CONTENT_TYPES } from './payload.js';
import { ConfigError, parseSchedule } from '../config.js';
import { fieldErrors } from '../records/values.js';
import { hookHeadersTree, parseHookHeaders } from './headers.js';

/** What hook management needs of the SSRF guard (delivery/ssrf.ts TargetGuard). */
export interface UrlChecker {
  /** the problem with the URL, or null when a hook may use it */
  checkUrl(url: string): Promise<string | null>;
}

export interface HookRow {
  account_id: number;
  id: number;
  type: string;
  title: string;
  active: number;
  event: string;
  constrainttype: string;
  url: string;
  contenttype: string;
  secret: string;
  /** as given ('5m,1h'); '' follows HOOKLINE_RETRY_SCHEDULE */
  retry_schedule: string;
  /** notifications per second at most; 0: no limit */
  rate_limit: number;
  /** the hook's own request headers (headers.ts), '' for none */
  headers: string;
  created_at: number;
  updated_at: number;
}

type HookFields = Pick<
  HookRow,
  | 'type'
  | 'title'
  | 'active'
  | 'event'
  | 'constrainttype'
  | 'url'
  | 'contenttype'
  | 'secret'
  | 'retry_schedule'
  | 'rate_limit'
  | 'headers'
>;

const COLUMNS =
  'account_id, id, type, title, active, event, constrainttype, url, contenttype, secret, retry_schedule, rate_limit, headers, created_at, updated_at';
/** The highest rate limit a hook may have, notifications per second. */
const MAX_RATE = 10_000;
/** The longest delay a hook's own schedule may ask for. */
const MAX_HOOK_DELAY_MS = 7 * 86_400_000;
const ITEM_CONSTRAINTS = ITEM_KINDS.map((k) => k.kind);
const ACTIVITY_CONSTRAINTS = ACTIVITY_KINDS.map((k) => k.segment);
const LIMITS = { title: 255, url: 2048, secret: 1024 };
/** What a hook body may set; and what a hook's answer shows that cannot be set (ignored, so an answer can be PUT back). */
const FIELDS = new Set([
  'type',
  'title',
  'active',
  'event',
  'constrainttype',
  'url',
  'contenttype',
  'secret',
  'retryschedule',
  'ratelimit',
  'headers',
]);
const READ_ONLY = new Set(['id', 'created', 'updated', 'status']);

/** The hook as the API shows it: every field plus id (the secret too: only the account's admins see hooks). */
export function hookTree(row: HookRow): TreeObject {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    active: row.active,
    event: row.event,
    constrainttype: row.constrainttype,
    url: row.url,
    contenttype: row.contenttype,
    secret: row.secret,
    retryschedule: row.retry_schedule,
    ratelimit: Number(row.rate_limit),
    headers: hookHeadersTree(row.headers),
    created: formatDate(row.created_at),
    updated: formatDate(row.updated_at),
  };
}

/** Reads one parameter as text; objects and lists are an error. */
function text(tree: TreeObject, key: string, errors: Record<string, string>, trim = true): string | undefined {
  const v = tree[key];
  if (v === undefined) return undefined;
  if (v === null) return '';
  if (typeof v === 'object') {
    errors[key] = 'must be a single value';
    return undefined;
  }
  const s = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
  return trim ? s.trim() : s;
}

function parseActive(value: string, errors: Record<string, string>): number | undefined {
  const v = value.toLowerCase();
  if (v === '1' || v === 'true') return 1;
  if (v === '0' || v === 'false') return 0;
  errors.active = 'must be 1 or 0';
  return undefined;
}

/**
 * Merges the given parameters over `current` (the defaults for a create) and checks the result. Only the
 * URL check does I/O (DNS), and only when the URL is given.
 */
async function validate(
  tree: TreeObject,
  current: HookFields,
  guard: UrlChecker,
  creating: boolean,
): Promise<HookFields> {
  const errors = fieldErrors();
  // A misspelt field (actve=0) must not pass as a change that did nothing.
  for (const key of Object.keys(tree)) if (!FIELDS.has(key) && !READ_ONLY.has(key)) errors[key] = 'Unknown field';
  const out = { ...current };
  const type = text(tree, 'type', errors);
  if (type !== undefined) out.type = type === '' ? 'web' : type;
  if (out.type !== 'web') errors.type = 'must be web (the only class of hook)';

  const title = text(tree, 'title', errors);
  if (title !== undefined) out.title = title;
  if (out.title.length > LIMITS.title) errors.title = `must be at most ${LIMITS.title} characters`;

  const active = text(tree, 'active', errors);
  if (active !== undefined && active !== '') out.active = parseActive(active, errors) ?? out.active;

  const event = text(tree, 'event', errors);
  if (event !== undefined) out.event = event;
  if (!EVENT_TYPES.includes(out.event)) {
    errors.event = out.event ? `Unknown event "${out.event}" (one of ${EVENT_TYPES.join(', ')})` : 'is required';
  }

  const constraint = text(tree, 'constrainttype', errors);
  if (constraint !== undefined) out.constrainttype = constraint === '' ? 'all' : constraint;
  if (out.constrainttype !== 'all' && EVENT_TYPES.includes(out.event)) {
    const allowed = out.event.startsWith('items.') ? ITEM_CONSTRAINTS : ACTIVITY_CONSTRAINTS;
    if (!allowed.includes(out.constrainttype)) {
      errors.constrainttype = `must be all or one of ${allowed.join(', ')} for ${out.event}`;
    }
  }

  const contenttype = text(tree, 'contenttype', errors);
  if (contenttype !== undefined) out.contenttype = contenttype === '' ? 'xml' : contenttype.toLowerCase();
  if (!(CONTENT_TYPES as readonly string[]).includes(out.contenttype)) errors.contenttype = 'must be xml, json or form';

  const secret = text(tree, 'secret', errors, false);
  if (secret !== undefined) out.secret = secret;
  if (out.secret.length > LIMITS.secret) errors.secret = `must be at most ${LIMITS.secret} characters`;

  const schedule = text(tree, 'retryschedule', errors);
  if (schedule !== undefined) out.retry_schedule = schedule;
  const problem = scheduleProblem(out.retry_schedule);
  if (problem) errors.retryschedule = problem;

  const rate = text(tree, 'ratelimit', errors);
  if (rate !== undefined) {
    if (rate === '') out.rate_limit = 0;
    else if (/^\d+$/.test(rate) && Number(rate) <= MAX_RATE) out.rate_limit = Number(rate);
    else errors.ratelimit = `must be a whole number of notifications per second, 0 to ${MAX_RATE} (0: no limit)`;
  }

  if (tree.headers !== undefined) {
    const headers = parseHookHeaders(tree.headers, errors);
    if (headers !== undefined) out.headers = headers;
  }

  const url = text(tree, 'url', errors);
  if (url !== undefined) out.url = url;
  if (out.url === '') errors.url = 'is required';
  else if (out.url.length > LIMITS.url) errors.url = `must be at most ${LIMITS.url} characters`;
  else if (url !== undefined || creating) {
    const problem = await guard.checkUrl(out.url);
    if (problem) errors.url = problem;
  }

  if (Object.keys(errors).length > 0) throw Errors.invalid(errors);
  return out;
}

/** What is wrong with a hook's retry schedule ('' is the server's), or null. */
function scheduleProblem(schedule: string): string | null {
  if (schedule === '') return null;
  try {
    const delays = parseSchedule(schedule, 'retryschedule');
    if (delays.length === 0) return 'must list at least one delay (empty: the server default)';
    if (delays.some((d) => d > MAX_HOOK_DELAY_MS)) return 'a delay may be 7 days at most';
    return null;
  } catch (e) {
    if (e instanceof ConfigError) return e.message.replace(/^retryschedule: /, '');
    throw e;
  }
}

const DEFAULTS: HookFields = {
  type: 'web',
  title: '',
  active: 1,
  event: '',
  constrainttype: 'all',
  url: '',
  contenttype: 'xml',
  secret: '',
  retry_schedule: '',
  rate_limit: 0,
  headers: '',
};

async function findHook(x: Executor, accountId: number, hookId: number, lock = ''): Promise<HookRow | undefined> {
  return x.get<HookRow>(`SELECT ${COLUMNS} FROM hooks WHERE account_id = ? AND id = ? ${lock}`, [accountId, hookId]);
}

const notFound = (hookId: number) => Errors.notFound('id', `No hook ${hookId}`);

export async function createHook(
  engine: Engine,
  accountId: number,
  tree: TreeObject,
  now: number,
  guard: UrlChecker,
): Promise<TreeObject> {
  const f = await validate(tree, DEFAULTS, guard, true);
  const row = await engine.write(async (x) => {
    const id = await x.nextId();
    const row: HookRow = { account_id: accountId, id, ...f, created_at: now, updated_at: now };
    await x.run(`INSERT INTO hooks (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
      row.account_id,
      row.id,
      row.type,
      row.title,
      row.active,
      row.event,
      row.constrainttype,
      row.url,
      row.contenttype,
      row.secret,
      row.retry_schedule,
      row.rate_limit,
      row.headers,
      row.created_at,
      row.updated_at,
    ]);
    return row;
  });
  return hookTree(row);
}

/**
 * Changes the parameters given, keeps the others (PUT /hooks/{id}/). A new secret starts an overlap of
 * `secretOverlapMs` (HOOKLINE_SECRET_OVERLAP) in which notifications carry a webhook-signature made with
 * the old secret too, so a receiver switched over a little before or after the change accepts every one
 * (secret rotation, as Svix and Stripe do it).
 */
export async function updateHook(
  engine: Engine,
  accountId: number,
  hookId: number,
  tree: TreeObject,
  now: number,
  guard: UrlChecker,
  options: { secretOverlapMs?: number } = {},
): Promise<TreeObject> {
  // Checked first against the hook as it is now, outside the write: a given URL is resolved (DNS may take
  // seconds), and a PUT that is refused takes no write transaction.
  const read = await engine.read(oneStatement((x) => findHook(x, accountId, hookId)));
  if (!read) throw notFound(hookId);
  const checked = await validate(tree, read, guard, false);
  const overlap = options.secretOverlapMs ?? 0;
  const row = await engine.write(async (x) => {
    // The fields the PUT names are applied again, in the write, to the hook as it is then (locked on
    // PostgreSQL): what changed meanwhile and the PUT does not name stays as it is — a hook the delivery
    // engine disabled (410 Gone, HOOKLINE_DISABLE_AFTER) stays disabled, another PUT's fields stay. The rules
    // between fields are checked again against it; the URL, if given, was checked above.
    const current = await findHook(x, accountId, hookId, x.dialect.forUpdate);
    if (!current) throw notFound(hookId); // deleted in between
    const f = await validate(tree, current, { checkUrl: (url) => checkedUrl(url, checked.url) }, false);
    const r = await x.run(
      // Turned on again: its failing streak starts over, or a hook disabled for failing would be disabled
      // again by its next failure. On the right of SET every column is its value before the update: a
      // changed secret keeps the old one for the overlap; the same secret keeps whatever overlap runs; no
      // secret (unsigned) or no overlap configured ends it.
      `UPDATE hooks SET type = ?, title = ?, active = ?, event = ?, constrainttype = ?, url = ?, contenttype = ?,
              secret = ?, retry_schedule = ?, rate_limit = ?, headers = ?, updated_at = ?,
              failing_since = CASE WHEN active = 0 AND ? = 1 THEN NULL ELSE failing_since END,
              previous_secret = CASE WHEN ? = secret THEN previous_secret
                                     WHEN ? = '' OR secret = '' OR CAST(? AS BIGINT) <= 0 THEN NULL ELSE secret END,
              previous_secret_until = CASE WHEN ? = secret THEN previous_secret_until
                                           WHEN ? = '' OR secret = '' OR CAST(? AS BIGINT) <= 0 THEN NULL ELSE CAST(? AS BIGINT) END
        WHERE account_id = ? AND id = ?`,
      [
        f.type,
        f.title,
        f.active,
        f.event,
        f.constrainttype,
        f.url,
        f.contenttype,
        f.secret,
        f.retry_schedule,
        f.rate_limit,
        f.headers,
        now,
        f.active,
        f.secret,
        f.secret,
        overlap,
        f.secret,
        f.secret,
        overlap,
        now + overlap,
        accountId,
        hookId,
      ],
    );
    if (r.changes === 0) throw notFound(hookId); // deleted in between
    // Turned back on: its pending deliveries (retries scheduled before it was paused) may be due now.
    if (Number(current.active) === 0 && Number(f.active) === 1) x.deliveriesDue();
    return { ...current, ...f, updated_at: now };
  });
  return hookTree(row);
}

/** The URL updateHook() checked before its write: the same one again passes (it is not resolved twice). */
const checkedUrl = (url: string, checked: string): Promise<string | null> =>
  url === checked ? Promise.resolve(null) : Promise.reject(new Error('a URL that was not checked'));

/** For changes that leave the URL as it is: validate() checks a URL only when one is given. */
const URL_UNCHANGED: UrlChecker = {
  checkUrl: () => Promise.reject(new Error('the URL is not changed here')),
};

/**
 * Turns a hook on or off (the portal's Pause and Turn on): updateHook with `active` alone, so the same rules
 * hold. Turned on, its failing streak starts over and its waiting deliveries are due at once; paused, its
 * deliveries wait and the events raised meanwhile are not sent to it (a replay sends them later).
 */
export function setHookActive(
  engine: Engine,
  accountId: number,
  hookId: number,
  active: boolean,
  now: number,
): Promise<TreeObject> {
  return updateHook(engine, accountId, hookId, { active: active ? '1' : '0' }, now, URL_UNCHANGED);
}

export async function getHook(engine: Engine, accountId: number, hookId: number): Promise<TreeObject> {
  const row = await engine.read(oneStatement((x) => findHook(x, accountId, hookId)));
  if (!row) throw notFound(hookId);
  return hookTree(row);
}

/** The account's hooks: 'count' first, then each hook keyed by its id (the shape of record lists). */
export async function listHooks(engine: Engine, accountId: number): Promise<Map<string, Tree>> {
  const rows = await engine.readOne<HookRow>(`SELECT ${COLUMNS} FROM hooks WHERE account_id = ? ORDER BY id`, [
    accountId,
  ]);
  const out = new Map<string, Tree>();
  out.set('count', rows.length);
  for (const row of rows) out.set(String(row.id), hookTree(row));
  return out;
}

/** Deletes the hook with its deliveries and their attempts: nothing is sent to it any more. */
export async function deleteHook(engine: Engine, accountId: number, hookId: number): Promise<void> {
  await engine.write(async (x) => {
    const r = await x.run('DELETE FROM hooks WHERE account_id = ? AND id = ?', [accountId, hookId]);
    if (r.changes === 0) throw notFound(hookId);
    await x.run('DELETE FROM deliveries WHERE account_id = ? AND hook_id = ?', [accountId, hookId]);
    await x.run('DELETE FROM attempts WHERE account_id = ? AND hook_id = ?', [accountId, hookId]);
    await x.run('DELETE FROM hook_rates WHERE hook_id = ?', [hookId]);
  });
}
