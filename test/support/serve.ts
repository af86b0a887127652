// A real `hookline serve` process for end-to-end tests (run from the TypeScript sources through tsx), and its
// API as an admin calls it.
import { spawn, type ChildProcess } from 'node:child_process';

/** The command line's node arguments: the CLI from the sources. */
export const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

export interface Proc {
  child: ChildProcess;
  url: string;
  /** everything it has written, stdout and stderr */
  output: () => string;
}

/**
 * A server's environment: its data directory (SQLite) or database URL (PostgreSQL), its admin, receivers
 * on loopback allowed, only errors logged; `extra` added.
 */
export function serverEnv(
  o: { dir: string; databaseUrl: string; admin: { email: string; token: string } },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    HOOKLINE_DATA_DIR: o.dir,
    HOOKLINE_DATABASE_URL: o.databaseUrl,
    HOOKLINE_ADMIN_EMAIL: o.admin.email,
    HOOKLINE_ADMIN_TOKEN: o.admin.token,
    HOOKLINE_ALLOWED_TARGETS: '127.0.0.0/8',
    HOOKLINE_LOG_LEVEL: 'error',
    ...extra,
  };
}

/** Starts `hookline serve` on a free port with `env` added; resolves once it serves. */
export async function serve(env: Record<string, string>, onOutput?: (all: string) => void): Promise<Proc> {
  const child = spawn(process.execPath, [...CLI, 'serve', '--port', '0'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let all = '';
  child.stderr!.on('data', (d: Buffer) => {
    all += d.toString();
    onOutput?.(all);
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      all += d.toString();
      onOutput?.(all);
      const m = /serving on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  return { child, url, output: () => all };
}

/** Ends the process with `signal` and waits until it has exited. */
export async function stop(p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill(signal);
  await exited;
}

/** A JSON call to the API, logged in as `user`. */
export async function api(
  p: Proc,
  user: { email: string; token: string },
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${p.url}${url}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${user.email}:${user.token}`).toString('base64')}`,
      accept: 'application/json',
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}
