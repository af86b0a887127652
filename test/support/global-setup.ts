// Probes PostgreSQL once for the whole run. Without it, the PostgreSQL half of every storage test is
// skipped, and this says so loudly, at the start and at the end. In CI (CI=true) a missing PostgreSQL fails.
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
  return () => {
    if (!ok) process.stderr.write(banner(msg));
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAvailable: boolean;
  }
}
