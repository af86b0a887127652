// The only module that reads the environment: every setting, its default and its description.
import os from 'node:os';
import path from 'node:path';
import type { QuotaRule } from './http/quota.js';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** A postgres:// URL switches storage to PostgreSQL; empty means embedded SQLite in dataDir. */
  databaseUrl: string;
  /** At start, how long to wait for PostgreSQL to accept connections (0 = not at all). */
  databaseWaitMs: number;
  databaseTimeoutMs: number;
  adminEmail: string;
  adminToken: string;
  /** Largest accepted request body, bytes. */
  bodyLimit: number;
  /** Largest uploaded file (file and photo activities), bytes. */
  uploadLimit: number;
  /** Requests an account may make per window (batch parts one each); null: no quota. */
  apiQuota: QuotaRule | null;
  deliveryTimeoutMs: number;
  /** How long a claim holds a delivery; 0 = twice the delivery timeout + 60 s (at least 2 × timeout + 1 s). */
  deliveryLeaseMs: number;
  /** Delays before each retry, ms; its length is the number of retries. */
  retrySchedule: number[];
  /** A hook whose deliveries have all failed for this long is disabled (0 = never). */
  disableAfterMs: number;
  /** A hook whose receiver answers 410 Gone is disabled. */
  disableOnGone: boolean;
  /** After a hook's secret changes, notifications are signed with the old one too for this long (0 = not). */
  secretOverlapMs: number;
  /** CIDR ranges that webhook targets may use even though they are not public. */
  allowedTargets: string[];
  smtpUrl: string;
  mailFrom: string;
  /** In-flight requests at most, overall and per hook. */
  deliveryConcurrency: number;
  deliveryConcurrencyPerHook: number;
  /** Sender threads (0: send on the main thread). */
  deliveryThreads: number;
  /** Bearer token that GET /metrics asks for; empty: no /metrics. */
  metricsToken: string;
  /** Events (with their deliveries and attempts) and sent e-mail older than this are deleted; 0 = kept. */
  retentionMs: number;
  logLevel: string;
}

export interface Setting {
  env: string;
  flag?: string;
  default: string;
  description: string;
}

export const settings: Record<keyof Config, Setting> = {
  host: { env: 'HOOKLINE_HOST', flag: '--host', default: '127.0.0.1', description: 'address to listen on' },
  port: { env: 'HOOKLINE_PORT', flag: '--port', default: '8360', description: 'TCP port to listen on' },
  dataDir: {
    env: 'HOOKLINE_DATA_DIR',
    flag: '--data-dir',
    default: './hookline-data',
    description: 'directory of the embedded SQLite database and uploads',
  },
  databaseUrl: {
    env: 'HOOKLINE_DATABASE_URL',
    flag: '--database-url',
    default: '',
    description: 'postgres://… switches storage to PostgreSQL; empty = embedded SQLite',
  },
  databaseWaitMs: {
    env: 'HOOKLINE_DATABASE_WAIT',
    default: '30s',
    description:
      'at start, how long to wait for PostgreSQL to accept connections (one starting beside Hookline), trying again every few seconds (0 = not at all)',
  },
  databaseTimeoutMs: {
    env: 'HOOKLINE_DATABASE_TIMEOUT',
    default: '30s',
    description:
      'how long to wait for PostgreSQL to answer one statement or take one connection before that connection is given up as lost (a database gone without a word, as in a network partition or a failover); 0 = for ever',
  },
  adminEmail: {
    env: 'HOOKLINE_ADMIN_EMAIL',
    default: '',
    description: 'with HOOKLINE_ADMIN_TOKEN: at start, make sure an account admin with this e-mail exists',
  },
  adminToken: {
    env: 'HOOKLINE_ADMIN_TOKEN',
    default: '',
    description: 'the API token of HOOKLINE_ADMIN_EMAIL (at least 16 characters)',
  },
  bodyLimit: { env: 'HOOKLINE_BODY_LIMIT', default: '1048576', description: 'largest request body in bytes' },
  apiQuota: {
    env: 'HOOKLINE_API_QUOTA',
    default: '0',
    description:
      'requests an account may make per window, as requests/window (e.g. 600/1m), each batch part one; more answer 429 with Retry-After (0 = no quota)',
  },
  uploadLimit: {
    env: 'HOOKLINE_UPLOAD_LIMIT',
    default: '10485760',
    description: 'largest uploaded file (file/photo activities) in bytes',
  },
  deliveryTimeoutMs: {
    env: 'HOOKLINE_DELIVERY_TIMEOUT',
    default: '10s',
    description: 'time a receiver has to answer a notification (e.g. 10s, 500ms)',
  },
  deliveryLeaseMs: {
    env: 'HOOKLINE_DELIVERY_LEASE',
    default: '0',
    description:
      'how long a claim holds a delivery before another worker may take it (0 = 2 × timeout × sender threads + 60s)',
  },
  retrySchedule: {
    env: 'HOOKLINE_RETRY_SCHEDULE',
    default: '5s,5m,30m,2h',
    description: 'delays before each retry of a failed delivery (±20 % jitter)',
  },
  disableAfterMs: {
    env: 'HOOKLINE_DISABLE_AFTER',
    default: '5d',
    description: 'disable a hook whose deliveries have all failed for this long, and tell its admins (0 = never)',
  },
  disableOnGone: {
    env: 'HOOKLINE_DISABLE_ON_GONE',
    default: 'true',
    description:
      'disable a hook whose receiver answers 410 Gone, and tell its admins (false = retry 410 like any failure)',
  },
  secretOverlapMs: {
    env: 'HOOKLINE_SECRET_OVERLAP',
    default: '24h',
    description: "after a hook's secret changes, also sign with the old one for this long (webhook-signature; 0 = not)",
  },
  allowedTargets: {
    env: 'HOOKLINE_ALLOWED_TARGETS',
    default: '',
    description: 'comma-separated CIDRs that hook URLs may resolve to although not public (e.g. 127.0.0.0/8)',
  },
  smtpUrl: { env: 'HOOKLINE_SMTP_URL', default: '', description: 'smtp://… for admin e-mail; empty = local mailbox' },
  mailFrom: { env: 'HOOKLINE_MAIL_FROM', default: 'hookline@localhost', description: 'sender of admin e-mail' },
  deliveryConcurrency: {
    env: 'HOOKLINE_DELIVERY_CONCURRENCY',
    default: '256',
    description: 'notifications in flight at most, overall',
  },
  deliveryConcurrencyPerHook: {
    env: 'HOOKLINE_DELIVERY_CONCURRENCY_PER_HOOK',
    default: '16',
    description: 'notifications in flight at most, per hook',
  },
  deliveryThreads: {
    env: 'HOOKLINE_DELIVERY_THREADS',
    default: 'auto',
    description:
      'threads that build, sign and send notifications beside the main thread (0 = on the main thread; auto = 1 with two cores or more, else 0)',
  },
  retentionMs: {
    env: 'HOOKLINE_RETENTION',
    default: '0',
    description:
      'delete events, their deliveries and attempts, and sent e-mail older than this (e.g. 30d; 0 = keep all)',
  },
  metricsToken: {
    env: 'HOOKLINE_METRICS_TOKEN',
    default: '',
    description:
      'serve Prometheus metrics at GET /metrics to requests with "Authorization: Bearer <this>" (empty = off)',
  },
  logLevel: { env: 'HOOKLINE_LOG_LEVEL', default: 'info', description: 'pino log level' },
};

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "500ms", "5s", "5m", "2h", "1d" or a bare number of seconds. */
export function parseDuration(text: string, variable: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) throw new ConfigError(variable, `"${text}" is not a duration (examples: 500ms, 5s, 5m, 2h)`);
  return Math.round(Number(m[1]) * units[m[2] ?? 's']);
}

/** A duration as parseDuration reads it, in its largest whole unit: 60000 → "1m", 90000 → "90s". */
export function formatDuration(ms: number): string {
  const unit = Object.entries(units)
    .sort((a, b) => b[1] - a[1])
    .find(([, size]) => ms % size === 0)!;
  return `${ms / unit[1]}${unit[0]}`;
}

/** Retries a schedule may hold at most. */
export const MAX_RETRIES = 20;

/**
 * A retry schedule as written (`5s,5m,30m,2h`: HOOKLINE_RETRY_SCHEDULE, or a hook's retryschedule), in ms;
 * throws a ConfigError naming `variable`.
 */
export function parseSchedule(text: string, variable: string): number[] {
  const schedule = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => parseDuration(s, variable));
  if (schedule.length > MAX_RETRIES) throw new ConfigError(variable, `at most ${MAX_RETRIES} retries`);
  return schedule;
}

/** "600/1m" (requests per window), or 0 / empty for none. */
function parseQuota(text: string, variable: string): QuotaRule | null {
  if (/^\s*0?\s*$/.test(text)) return null;
  const m = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(text);
  if (!m) throw new ConfigError(variable, `"${text}" is not requests/window (examples: 600/1m, 10000/1h; 0 = none)`);
  const requests = parseInteger(m[1], variable, 1, 1e9);
  const windowMs = parseDuration(m[2], variable);
  if (windowMs < 1000 || windowMs > 86_400_000) throw new ConfigError(variable, 'the window must be 1s…1d');
  return { requests, windowMs };
}

function parseInteger(text: string, variable: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) throw new ConfigError(variable, `"${text}" is not a whole number`);
  const n = Number(text);
  if (n < min || n > max) throw new ConfigError(variable, `${n} is outside ${min}…${max}`);
  return n;
}

/** true/false, also as 1/0, yes/no, on/off (any case). */
export function parseBoolean(text: string, variable: string): boolean {
  const t = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(t)) return true;
  if (['false', '0', 'no', 'off'].includes(t)) return false;
  throw new ConfigError(variable, `"${text}" is not true or false`);
}

/**
 * A sender thread runs beside the main thread: worth it only with a core for each. On one core, the hop
 * between threads is pure cost (about a third more CPU per delivery), so auto sends on the main thread.
 */
function parseThreads(text: string, variable: string): number {
  if (text.trim() === 'auto') return os.availableParallelism() > 1 ? 1 : 0;
  return parseInteger(text, variable, 0, 64);
}

function parseCidrList(text: string, variable: string): string[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const cidr of list) {
    if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(cidr)) {
      throw new ConfigError(variable, `"${cidr}" is not a CIDR range (example: 127.0.0.0/8)`);
    }
  }
  return list;
}

/** Reads configuration from an environment (process.env by default) plus flag overrides. */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<Record<keyof Config, string>> = {},
): Config {
  const raw = (key: keyof Config): string => overrides[key] ?? env[settings[key].env] ?? settings[key].default;
  const name = (key: keyof Config) => settings[key].env;

  const databaseUrl = raw('databaseUrl').trim();
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(name('databaseUrl'), 'must be a postgres:// URL (or empty for embedded SQLite)');
  }
  const adminEmail = raw('adminEmail').trim();
  const adminToken = raw('adminToken').trim();
  if (Boolean(adminEmail) !== Boolean(adminToken)) {
    throw new ConfigError(
      adminEmail ? name('adminToken') : name('adminEmail'),
      'HOOKLINE_ADMIN_EMAIL and HOOKLINE_ADMIN_TOKEN go together: set both or neither',
    );
  }
  if (adminEmail && !/^[^@\s]+@[^@\s]+$/.test(adminEmail)) {
    throw new ConfigError(name('adminEmail'), `"${adminEmail}" is not an e-mail address`);
  }
  if (adminToken && adminToken.length < 16) {
    throw new ConfigError(name('adminToken'), 'must be at least 16 characters');
  }
  const metricsToken = raw('metricsToken').trim();
  if (metricsToken && metricsToken.length < 16) {
    throw new ConfigError(name('metricsToken'), 'must be at least 16 characters');
  }
  const schedule = parseSchedule(raw('retrySchedule'), name('retrySchedule'));
  const smtpUrl = raw('smtpUrl').trim();
  if (smtpUrl && !/^smtps?:\/\//.test(smtpUrl)) {
    throw new ConfigError(name('smtpUrl'), 'must be an smtp:// or smtps:// URL');
  }
  const timeout = parseDuration(raw('deliveryTimeoutMs'), name('deliveryTimeoutMs'));
  if (timeout < 1 || timeout > 300_000) throw new ConfigError(name('deliveryTimeoutMs'), 'must be 1ms…300s');

  return {
    host: raw('host').trim(),
    port: parseInteger(raw('port'), name('port'), 0, 65535),
    dataDir: path.resolve(raw('dataDir')),
    databaseUrl,
    databaseWaitMs: parseDuration(raw('databaseWaitMs'), name('databaseWaitMs')),
    databaseTimeoutMs: parseDuration(raw('databaseTimeoutMs'), name('databaseTimeoutMs')),
    adminEmail,
    adminToken,
    bodyLimit: parseInteger(raw('bodyLimit'), name('bodyLimit'), 1024, 1024 * 1024 * 1024),
    uploadLimit: parseInteger(raw('uploadLimit'), name('uploadLimit'), 1024, 1024 * 1024 * 1024),
    apiQuota: parseQuota(raw('apiQuota'), name('apiQuota')),
    deliveryTimeoutMs: timeout,
    deliveryLeaseMs: parseDuration(raw('deliveryLeaseMs'), name('deliveryLeaseMs')),
    retrySchedule: schedule,
    disableAfterMs: parseDuration(raw('disableAfterMs'), name('disableAfterMs')),
    disableOnGone: parseBoolean(raw('disableOnGone'), name('disableOnGone')),
    secretOverlapMs: parseDuration(raw('secretOverlapMs'), name('secretOverlapMs')),
    allowedTargets: parseCidrList(raw('allowedTargets'), name('allowedTargets')),
    smtpUrl,
    mailFrom: raw('mailFrom').trim(),
    deliveryConcurrency: parseInteger(raw('deliveryConcurrency'), name('deliveryConcurrency'), 1, 100_000),
    deliveryConcurrencyPerHook: parseInteger(
      raw('deliveryConcurrencyPerHook'),
      name('deliveryConcurrencyPerHook'),
      1,
      10_000,
    ),
    metricsToken,
    retentionMs: parseDuration(raw('retentionMs'), name('retentionMs')),
    deliveryThreads: parseThreads(raw('deliveryThreads'), name('deliveryThreads')),
    logLevel: raw('logLevel').trim(),
  };
}
