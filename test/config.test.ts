import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import { ConfigError, formatDuration, loadConfig, parseDuration, settings } from '../src/config.js';

describe('configuration', () => {
  it('every setting is documented in the README, with its default', () => {
    const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const s of Object.values(settings)) {
      const row = readme.split('\n').find((l) => l.startsWith('|') && l.includes(`\`${s.env}\``));
      expect(row, s.env).toBeDefined();
      if (s.default !== '') expect(row, s.env).toContain(`\`${s.default}\``);
    }
  });

  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8360);
    expect(c.host).toBe('127.0.0.1');
    expect(c.databaseUrl).toBe('');
    expect(c.retrySchedule).toEqual([5_000, 300_000, 1_800_000, 7_200_000]);
    expect(c.deliveryTimeoutMs).toBe(10_000);
    expect(c.bodyLimit).toBe(1024 * 1024);
    expect(c.secretOverlapMs).toBe(86_400_000); // Svix's default
    expect(loadConfig({ HOOKLINE_SECRET_OVERLAP: '0' }).secretOverlapMs).toBe(0);
    expect(c.disableOnGone).toBe(true);
  });

  it('formatDuration writes a duration as parseDuration reads it, in its largest whole unit', () => {
    const cases: [number, string][] = [
      [60_000, '1m'],
      [90_000, '90s'],
      [3_600_000, '1h'],
      [86_400_000, '1d'],
      [1500, '1500ms'],
    ];
    for (const [ms, text] of cases) {
      expect(formatDuration(ms)).toBe(text);
      expect(parseDuration(text, 'X')).toBe(ms);
    }
  });

  it('HOOKLINE_API_QUOTA: requests/window, off by default and with 0', () => {
    expect(loadConfig({}).apiQuota).toBeNull();
    expect(loadConfig({ HOOKLINE_API_QUOTA: '0' }).apiQuota).toBeNull();
    expect(loadConfig({ HOOKLINE_API_QUOTA: ' 600 / 1m ' }).apiQuota).toEqual({ requests: 600, windowMs: 60_000 });
    expect(loadConfig({ HOOKLINE_API_QUOTA: '10000/1h' }).apiQuota).toEqual({ requests: 10_000, windowMs: 3_600_000 });
    for (const bad of ['600', '600/', '/1m', 'x/1m', '0/1m', '600/500ms', '600/2d'])
      expect(() => loadConfig({ HOOKLINE_API_QUOTA: bad }), bad).toThrow(/HOOKLINE_API_QUOTA/);
  });

  it('HOOKLINE_DISABLE_ON_GONE: true or false, also as 1/0, yes/no, on/off', () => {
    for (const on of ['true', 'TRUE', '1', 'yes', ' on '])
      expect(loadConfig({ HOOKLINE_DISABLE_ON_GONE: on }).disableOnGone).toBe(true);
    for (const off of ['false', '0', 'No', 'off'])
      expect(loadConfig({ HOOKLINE_DISABLE_ON_GONE: off }).disableOnGone).toBe(false);
  });

  it('HOOKLINE_DELIVERY_THREADS: auto is one sender thread with two cores or more, none on one core', () => {
    expect(loadConfig({}).deliveryThreads).toBe(os.availableParallelism() > 1 ? 1 : 0);
    expect(loadConfig({ HOOKLINE_DELIVERY_THREADS: 'auto' }).deliveryThreads).toBe(loadConfig({}).deliveryThreads);
    expect(loadConfig({ HOOKLINE_DELIVERY_THREADS: '0' }).deliveryThreads).toBe(0);
    expect(loadConfig({ HOOKLINE_DELIVERY_THREADS: '3' }).deliveryThreads).toBe(3);
    expect(() => loadConfig({ HOOKLINE_DELIVERY_THREADS: 'many' })).toThrow(ConfigError);
  });

  it('reads every variable and lets flags override them', () => {
    const c = loadConfig(
      {
        HOOKLINE_PORT: '9000',
        HOOKLINE_DATABASE_URL: 'postgres://u@h/db',
        HOOKLINE_ADMIN_EMAIL: 'a@b.org',
        HOOKLINE_ADMIN_TOKEN: 'x'.repeat(20),
        HOOKLINE_RETRY_SCHEDULE: '1s, 2m',
        HOOKLINE_ALLOWED_TARGETS: '127.0.0.0/8,::1/128',
      },
      { port: '9100' },
    );
    expect(c.port).toBe(9100);
    expect(c.databaseUrl).toBe('postgres://u@h/db');
    expect(c.retrySchedule).toEqual([1000, 120_000]);
    expect(c.allowedTargets).toEqual(['127.0.0.0/8', '::1/128']);
  });

  it.each([
    [{ HOOKLINE_PORT: 'eighty' }, 'HOOKLINE_PORT'],
    [{ HOOKLINE_PORT: '70000' }, 'HOOKLINE_PORT'],
    [{ HOOKLINE_DATABASE_URL: 'mysql://x' }, 'HOOKLINE_DATABASE_URL'],
    [{ HOOKLINE_ADMIN_EMAIL: 'a@b.org' }, 'HOOKLINE_ADMIN_TOKEN'],
    [{ HOOKLINE_ADMIN_TOKEN: 'x'.repeat(20) }, 'HOOKLINE_ADMIN_EMAIL'],
    [{ HOOKLINE_ADMIN_EMAIL: 'a@b.org', HOOKLINE_ADMIN_TOKEN: 'short' }, 'HOOKLINE_ADMIN_TOKEN'],
    [{ HOOKLINE_RETRY_SCHEDULE: '5s,soon' }, 'HOOKLINE_RETRY_SCHEDULE'],
    [{ HOOKLINE_ALLOWED_TARGETS: 'localhost' }, 'HOOKLINE_ALLOWED_TARGETS'],
    [{ HOOKLINE_BODY_LIMIT: '-1' }, 'HOOKLINE_BODY_LIMIT'],
    [{ HOOKLINE_SMTP_URL: 'http://mail' }, 'HOOKLINE_SMTP_URL'],
    [{ HOOKLINE_DISABLE_ON_GONE: 'maybe' }, 'HOOKLINE_DISABLE_ON_GONE'],
  ])('refuses %o naming %s', (env, variable) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message).toContain(variable);
  });

  it('parses durations', () => {
    expect(parseDuration('500ms', 'X')).toBe(500);
    expect(parseDuration('5m', 'X')).toBe(300_000);
    expect(parseDuration('2h', 'X')).toBe(7_200_000);
    expect(parseDuration('3', 'X')).toBe(3000);
    expect(() => parseDuration('3 weeks', 'X')).toThrow(ConfigError);
  });
});
