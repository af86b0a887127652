// Probes PostgreSQL once for the whole run. Without it, the PostgreSQL half of every storage test is
// skipped, and this says so loudly, at the start and at the end. In CI (CI=true) a missing PostgreSQL fails.
// The same for Chromium (Debian's package; HOOKLINE_TEST_CHROMIUM names another), which the portal's
// browser test drives.
import fs from 'node:fs';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { PG_URL } from './pg-url.js';

const banner = (text: string) => `\n${'!'.repeat(78)}\n!! ${text}\n${'!'.repeat(78)}\n`;

export default async function setup(project: TestProject): Promise<() => void> {
  let ok = false;
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    ok = true;
  } catch (e) {
    if (process.env.CI === 'true')
      throw new Error(`PostgreSQL is required in CI and is not reachable at ${PG_URL}: ${(e as Error).message}`);
  } finally {
    await c.end().catch(() => undefined);
  }
  project.provide('pgAvailable', ok);
  const msg = `PostgreSQL not reachable at ${PG_URL}: the PostgreSQL half of every storage test is SKIPPED`;
  if (!ok) process.stderr.write(banner(msg));

  const browser = process.env.HOOKLINE_TEST_CHROMIUM ?? '/usr/bin/chromium';
  const hasBrowser = fs.existsSync(browser);
  if (!hasBrowser && process.env.CI === 'true')
    throw new Error(`Chromium is required in CI and is not at ${browser} (apt-get install chromium)`);
  project.provide('chromium', hasBrowser ? browser : '');
  const noBrowser = `no Chromium at ${browser} (apt-get install chromium): the portal's browser test is SKIPPED`;
  if (!hasBrowser) process.stderr.write(banner(noBrowser));
  return () => {
    if (!ok) process.stderr.write(banner(msg));
    if (!hasBrowser) process.stderr.write(banner(noBrowser));
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAvailable: boolean;
    /** Chromium's path, or '' when there is none */
    chromium: string;
  }
}
