// Starting the servers a benchmark measures, each in its own process (the load generator runs in the
// bench process, so server and client do not share an event loop).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PG_URL } from '../test/support/pg-url.js';

export { PG_URL };
import { freshDatabase } from '../test/support/fresh-database.js';

/**
 * The node flags of package.json's start script (`node <flags> dist/cli/main.js serve …`): the bench measures
 * the server as `npm start` runs it, and as the README says to run it under a service manager.
 */
const START_FLAGS: string[] = (() => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    scripts: { start: string };
  };
  const m = /^node\s+(.*?)\s*dist\/cli\/main\.js\b/.exec(pkg.scripts.start);
  if (!m) throw new Error(`package.json's start script does not run node dist/cli/main.js: ${pkg.scripts.start}`);
  return m[1].split(/\s+/).filter(Boolean);
})();

export const ADMIN = { email: 'bench@hookline.local', token: 'bench-token-0123456789abcdef' };
export const AUTH = `Basic ${Buffer.from(`${ADMIN.email}:${ADMIN.token}`).toString('base64')}`;

export interface Running {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function waitForListen(child: ChildProcess, pattern: RegExp): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) resolve(m[1]);
    });
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
}

function stopper(child: ChildProcess, cleanup: () => Promise<void> = async () => undefined) {
  return async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await cleanup();
  };
}

export async function startBare(): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers/bare.ts'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await waitForListen(child, /listening (http:\/\/\S+)/);
  return { url, child, stop: stopper(child) };
}

export async function pgReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function startHookline(
  engine: 'sqlite' | 'postgres',
  env: Record<string, string> = {},
  /** runs before the server starts, with where its storage is: to fill a backlog */
  before?: (where: { dataDir: string; databaseUrl: string }) => Promise<void>,
): Promise<Running> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-bench-'));
  const db = engine === 'postgres' ? await freshDatabase('hookline_bench') : null;
  await before?.({ dataDir, databaseUrl: db?.url ?? '' });
  // The server runs with the node flags `npm start` gives it; BENCH_NODE_ARGS (e.g. `--cpu-prof`) adds to
  // them (a later V8 flag overrides an earlier one): for profiling what a figure measures.
  const nodeArgs = [...START_FLAGS, ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
  // BENCH_SERVER (another build's cli/main.js): for comparing two builds in one run.
  const main = process.env.BENCH_SERVER ?? 'dist/cli/main.js';
  const child = spawn(process.execPath, [...nodeArgs, main, 'serve', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      HOOKLINE_DATA_DIR: dataDir,
      HOOKLINE_DATABASE_URL: db?.url ?? '',
      HOOKLINE_ADMIN_EMAIL: ADMIN.email,
      HOOKLINE_ADMIN_TOKEN: ADMIN.token,
      HOOKLINE_LOG_LEVEL: 'warn',
      ...env,
    },
  });
  const url = await waitForListen(child, /serving on (http:\/\/\S+)/);
  return {
    url,
    child,
    stop: stopper(child, async () => {
      await db?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }),
  };
}
