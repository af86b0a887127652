// The `hookline` command, run as a real process: serve (quick start and configured admin), account create,
// user add, hooks list/pause/resume against a running server, deliveries, and start-time configuration errors.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/storage/sqlite/engine.js';
import { settings } from '../../src/config.js';
import { insertHook, raiseEvent, receiver } from '../delivery/helpers.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

function run(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [...CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** run(), without blocking this process: for commands that talk to a receiver in it. */
/** A data directory with the account Acme made by the CLI, and a hook of it (its database open). */
async function acmeWithHook() {
  const dir = tmp();
  const a = run(['account', 'create', '--name', 'Acme', '--admin-email', 'ops@acme.example'], {
    HOOKLINE_DATA_DIR: dir,
  });
  const accountId = Number(/account (\d+) created/.exec(a.out)![1]);
  const engine = openSqlite({ file: path.join(dir, 'hookline.sqlite') });
  const hookId = await insertHook(engine, accountId, { url: 'http://127.0.0.1:9/' });
  return { dir, accountId, engine, hookId };
}

function runAsync(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [...CLI, ...args], { env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-cli-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function serve(env: Record<string, string>, args: string[] = []) {
  const child = spawn(process.execPath, [...CLI, 'serve', '--port', '0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Hookline is serving on')) setTimeout(resolve, 50);
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  const url = /serving on (http:\/\/[^\s]+)/.exec(out)![1];
  return {
    out,
    url,
    async stop() {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function listContacts(url: string, email: string, token: string) {
  const res = await fetch(`${url}/contacts/`, {
    headers: {
      authorization: `Basic ${Buffer.from(`${email}:${token}`).toString('base64')}`,
      accept: 'application/json',
    },
  });
  return { status: res.status, body: (await res.json()) as { status: string; count: number } };
}

describe('hookline CLI', () => {
  it('serve --quickstart prints an admin, a token and a curl that works, and keeps them across restarts', async () => {
    const dir = tmp();
    const s = await serve({ HOOKLINE_DATA_DIR: dir }, ['--quickstart']);
    const email = /Admin e-mail: (\S+)/.exec(s.out)![1];
    const token = /API token: +(\S+)/.exec(s.out)![1];
    expect(s.out).toMatch(/curl -u '[^']+' -H 'Accept: application\/json' http:\/\/127\.0\.0\.1:\d+\/contacts\//);
    expect(s.out).toContain('loopback');
    expect((await listContacts(s.url, email, token)).body).toEqual({ status: 'success', count: 0 });
    // The delivery portal the banner points to, with the same login.
    const portal = /Deliveries in a browser: (\S+)/.exec(s.out)![1];
    expect(portal).toBe(`${s.url}/portal/`);
    const page = await fetch(portal, {
      headers: { authorization: `Basic ${Buffer.from(`${email}:${token}`).toString('base64')}` },
    });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<h1>Hooks</h1>');
    await s.stop();
    const again = await serve({ HOOKLINE_DATA_DIR: dir }, ['--quickstart']);
    expect(again.out).toContain(token);
    expect((await listContacts(again.url, email, token)).status).toBe(200);
    await again.stop();
  }, 30_000);

  it('serve --help lists every setting read from the environment, with its flag and default, and starts nothing', () => {
    const dir = tmp();
    const r = run(['serve', '--help'], { HOOKLINE_DATA_DIR: dir });
    expect(r.code).toBe(0);
    const help = r.out.slice(r.out.indexOf('Environment'));
    for (const s of Object.values(settings)) {
      const line = help.split('\n').find((l) => l.trimStart().startsWith(`${s.env} `));
      expect(line, s.env).toBeDefined();
      if (s.flag) expect(line).toContain(`(${s.flag})`);
      if (s.default) expect(line).toContain(`[default: ${s.default}]`);
    }
    expect(help).toContain('HOOKLINE_DATABASE_TIMEOUT');
    expect(help).toContain('NODE_EXTRA_CA_CERTS');
    // Nothing was started: no database made.
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('HOOKLINE_ADMIN_EMAIL + HOOKLINE_ADMIN_TOKEN make sure that admin exists, idempotently', async () => {
    const dir = tmp();
    const env = {
      HOOKLINE_DATA_DIR: dir,
      HOOKLINE_ADMIN_EMAIL: 'ops@example.org',
      HOOKLINE_ADMIN_TOKEN: 'tok-0123456789abcdef',
    };
    for (let i = 0; i < 2; i++) {
      const s = await serve(env);
      // The banner names the admin, never a configured token (a secret of the deployment, often logged).
      expect(s.out).toContain('Admin e-mail: ops@example.org');
      expect(s.out).toContain('HOOKLINE_ADMIN_TOKEN');
      expect(s.out).not.toContain('tok-0123456789abcdef');
      expect((await listContacts(s.url, 'ops@example.org', 'tok-0123456789abcdef')).status).toBe(200);
      expect((await listContacts(s.url, 'ops@example.org', 'wrong-token-0000000')).status).toBe(401);
      await s.stop();
    }
  }, 30_000);

  it('account create and user add print tokens that work', async () => {
    const dir = tmp();
    const a = run(['account', 'create', '--name', 'Acme', '--admin-email', 'boss@acme.example'], {
      HOOKLINE_DATA_DIR: dir,
    });
    expect(a.code).toBe(0);
    const accountId = /account (\d+) created/.exec(a.out)![1];
    const adminToken = /API token: (\S+)/.exec(a.out)![1];
    const u = run(['user', 'add', '--account', accountId, '--email', 'sam@acme.example'], { HOOKLINE_DATA_DIR: dir });
    expect(u.code).toBe(0);
    const userToken = /API token: (\S+)/.exec(u.out)![1];
    const dup = run(['user', 'add', '--account', accountId, '--email', 'sam@acme.example'], { HOOKLINE_DATA_DIR: dir });
    expect(dup.code).toBe(2);
    expect(dup.err).toContain('already exists');
    const s = await serve({ HOOKLINE_DATA_DIR: dir });
    expect((await listContacts(s.url, 'boss@acme.example', adminToken)).status).toBe(200);
    expect((await listContacts(s.url, 'sam@acme.example', userToken)).status).toBe(200);
    await s.stop();
    // Tokens are stored hashed: the database file does not contain them.
    const db = fs.readFileSync(path.join(dir, 'hookline.sqlite'));
    expect(db.includes(Buffer.from(adminToken))).toBe(false);
  }, 30_000);

  it("deliveries recover puts the failed deliveries of the window back to pending, for the hook's own account only", async () => {
    const { dir, accountId, engine, hookId } = await acmeWithHook();
    const old = await raiseEvent(engine, accountId, { now: Date.parse('2026-11-01T12:00:00Z') });
    const recent = await raiseEvent(engine, accountId, { now: Date.parse('2026-11-27T12:00:00Z') });
    await engine.write((x) =>
      x.run("UPDATE deliveries SET state = 'failed', attempt_count = 5 WHERE hook_id = ?", [hookId]),
    );
    await engine.close();
    // deliveries show: one delivery with the request it sends, for the hook's own account only.
    const show = (account: number) =>
      run(['deliveries', 'show', '--account', String(account), '--hook', String(hookId), '--event', String(recent)], {
        HOOKLINE_DATA_DIR: dir,
      });
    const shown = show(accountId);
    expect(shown.code, shown.err).toBe(0);
    const d = JSON.parse(shown.out).delivery;
    expect(d).toMatchObject({ eventid: recent, state: 'failed', event: { objectid: 467069 } });
    expect(JSON.parse(d.request.body)).toMatchObject({ type: 'items.create', objectid: 467069 });
    const notShown = show(accountId + 1);
    expect(notShown.code).toBe(2);
    expect(notShown.err).toContain(`No hook ${hookId}`);
    const args = [
      'deliveries',
      'recover',
      '--account',
      String(accountId),
      '--hook',
      String(hookId),
      '--since',
      '2026-11-20',
    ];
    const r = run(args, { HOOKLINE_DATA_DIR: dir });
    expect(r.code).toBe(0);
    expect(r.out).toContain('recovered 1 failed delivery');
    const other = run(
      ['deliveries', 'recover', '--account', String(accountId + 1), '--hook', String(hookId), '--since', '2026-11-20'],
      {
        HOOKLINE_DATA_DIR: dir,
      },
    );
    expect(other.code).toBe(2);
    expect(other.err).toContain(`No hook ${hookId}`);
    const bad = run([...args.slice(0, 6), '--since', 'last week'], { HOOKLINE_DATA_DIR: dir });
    expect(bad.code).toBe(2);
    const check = openSqlite({ file: path.join(dir, 'hookline.sqlite') });
    const states = await check.read((x) =>
      x.all<{ event_id: number; state: string }>(
        'SELECT event_id, state FROM deliveries WHERE hook_id = ? ORDER BY event_id',
        [hookId],
      ),
    );
    await check.close();
    expect(states.map((d) => [d.event_id, d.state])).toEqual([
      [old, 'failed'],
      [recent, 'pending'],
    ]);
    // prune: the old event (failed for good) goes with its delivery; the recent one, pending again, stays.
    expect(run(['prune'], { HOOKLINE_DATA_DIR: dir }).code).toBe(2); // no retention set, no --older-than
    const p = run(['prune', '--older-than', '10d'], { HOOKLINE_DATA_DIR: dir });
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/^deleted 1 events, 1 deliveries, 0 attempts, 0 e-mails/);
  }, 30_000);

  it('deliveries replay gives a paused hook the events of the window it never sent, for its own account only', async () => {
    const { dir, accountId, engine, hookId } = await acmeWithHook();
    await engine.write((x) => x.run('UPDATE hooks SET active = 0 WHERE id = ?', [hookId]));
    await raiseEvent(engine, accountId, { now: Date.parse('2026-11-01T12:00:00Z') });
    const recent = await raiseEvent(engine, accountId, { now: Date.parse('2026-11-27T12:00:00Z') });
    await engine.close();
    const replay = (account: number, ...more: string[]) =>
      run(['deliveries', 'replay', '--account', String(account), '--hook', String(hookId), ...more], {
        HOOKLINE_DATA_DIR: dir,
      });
    const other = replay(accountId + 1, '--since', '2026-11-20');
    expect(other.code).toBe(2);
    expect(other.err).toContain(`No hook ${hookId}`);
    expect(replay(accountId, '--since', 'last week').code).toBe(2);
    const backwards = replay(accountId, '--since', '2026-11-20', '--until', '2026-11-19');
    expect(backwards.code).toBe(2);
    expect(backwards.err).toContain('until must be after since');
    const r = replay(accountId, '--since', '2026-11-20');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('replayed 1 event to the hook');
    expect(replay(accountId, '--since', '2026-11-20').out).toContain('replayed 0 events');
    const check = openSqlite({ file: path.join(dir, 'hookline.sqlite') });
    const rows = await check.read((x) =>
      x.all<{ event_id: number; state: string }>('SELECT event_id, state FROM deliveries WHERE hook_id = ?', [hookId]),
    );
    await check.close();
    expect(rows.map((d) => [Number(d.event_id), d.state])).toEqual([[recent, 'pending']]);
  }, 30_000);

  it('hooks pause and resume turn a running server’s hook off and on from its next event; hooks list hides secrets and header values', async () => {
    const dir = tmp();
    const rx = await receiver();
    const [email, token] = ['ops@example.org', 'tok-0123456789abcdef'];
    const s = await serve({
      HOOKLINE_DATA_DIR: dir,
      HOOKLINE_ADMIN_EMAIL: email,
      HOOKLINE_ADMIN_TOKEN: token,
      HOOKLINE_ALLOWED_TARGETS: '127.0.0.0/8',
    });
    try {
      const api = async (path: string, body: Record<string, unknown>) => {
        const res = await fetch(`${s.url}${path}`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${email}:${token}`).toString('base64')}`,
            accept: 'application/json',
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
        });
        return (await res.json()) as { id: number; item: { id: number } };
      };
      const hook = await api('/hooks/', {
        title: 'crm',
        event: 'items.create',
        url: rx.url,
        contenttype: 'json',
        secret: 'cli-secret-value',
        headers: { 'X-Api-Key': 'cli-header-value' },
      });
      const create = async (firstname: string) => (await api('/contacts/', { firstname })).item.id;
      const first = await create('One');
      await rx.waitFor(1);
      // The server's SQLite file, read by another process as the CLI reads it.
      const file = path.join(dir, 'hookline.sqlite');
      const db = new Database(file, { readonly: true });
      const accountId = Number(db.prepare('SELECT account_id FROM hooks WHERE id = ?').pluck().get(hook.id));
      db.close();
      const cli = (...args: string[]) => runAsync(['hooks', ...args], { HOOKLINE_DATA_DIR: dir });
      const list = await cli('list', '--account', String(accountId));
      expect(list.code, list.err).toBe(0);
      expect((JSON.parse(list.out) as Record<string, unknown>)[hook.id]).toMatchObject({
        id: hook.id,
        active: 1,
        secret: '(set)',
        headers: { 'X-Api-Key': '(set)' },
      });
      expect(list.out).not.toContain('cli-secret-value');
      expect(list.out).not.toContain('cli-header-value');
      const other = await cli('pause', '--account', String(accountId + 1), '--hook', String(hook.id));
      expect(other.code).toBe(2);
      expect(other.err).toContain(`No hook ${hook.id}`);
      // The running server follows from its next event (it had kept the hook from the first one).
      const paused = await cli('pause', '--account', String(accountId), '--hook', String(hook.id));
      expect(paused.code, paused.err).toBe(0);
      expect(paused.out).toContain(`hook ${hook.id} paused`);
      await create('Two');
      const resumed = await cli('resume', '--account', String(accountId), '--hook', String(hook.id));
      expect(resumed.out).toContain(`hook ${hook.id} turned on`);
      const third = await create('Three');
      await rx.waitFor(2);
      await new Promise((r) => setTimeout(r, 300)); // nothing else comes
      expect(rx.requests.map((q) => (JSON.parse(q.body.toString()) as { objectid: number }).objectid)).toEqual([
        first,
        third,
      ]);
    } finally {
      await s.stop();
      await rx.close();
    }
  }, 60_000);

  it('backup copies a running server’s database while it writes; restore puts it back where no server runs', async () => {
    const [email, token] = ['ops@example.org', 'tok-0123456789abcdef'];
    const env = (dir: string) => ({ HOOKLINE_DATA_DIR: dir, HOOKLINE_ADMIN_EMAIL: email, HOOKLINE_ADMIN_TOKEN: token });
    const count = async (url: string) => (await listContacts(url, email, token)).body.count;
    const dir = tmp();
    const backups = tmp();
    const copy = path.join(backups, 'nightly', 'hookline-backup.sqlite');
    const s = await serve(env(dir));
    const create = (i: number) =>
      fetch(`${s.url}/contacts/`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${email}:${token}`).toString('base64')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ firstname: 'Backed', lastname: `Up ${i}` }),
      }).then((r) => expect(r.status).toBe(200));
    let writing = true;
    let written = 0;
    try {
      for (let i = 0; i < 20; i++) await create(written++);
      // Creates keep coming while the backup runs.
      const writer = (async () => {
        while (writing) await create(written++);
      })();
      const backup = await runAsync(['backup', '--to', copy], env(dir));
      writing = false;
      await writer;
      expect(backup.code, backup.err).toBe(0);
      expect(backup.out).toMatch(/^backed up .*hookline\.sqlite to .*hookline-backup\.sqlite \(\d+ bytes\)$/m);
      expect((await runAsync(['backup', '--to', copy], env(dir))).err).toContain('exists already');
      const busy = await runAsync(['restore', '--from', copy], env(dir));
      expect(busy.code).toBe(2);
      expect(busy.err).toContain('is in use: stop hookline serve');
      expect(await count(s.url)).toBe(written);
    } finally {
      writing = false;
      await s.stop();
    }
    // A consistent snapshot: every create it holds is whole, and it holds at least those before it began.
    const db = new Database(copy, { readonly: true });
    expect(db.prepare('PRAGMA integrity_check').pluck().get()).toBe('ok');
    const kept = Number(db.prepare("SELECT COUNT(*) FROM items WHERE kind = 'contact'").pluck().get());
    const events = Number(db.prepare("SELECT COUNT(*) FROM events WHERE type = 'items.create'").pluck().get());
    db.close();
    expect(kept).toBeGreaterThanOrEqual(20);
    expect(kept).toBeLessThanOrEqual(written);
    expect(events).toBe(kept);

    // Into a new data directory (the newer database lost: ids skip a gap), and in place of the database the
    // backup was made from (moved aside: ids go on after the ones it handed out).
    const fresh = tmp();
    const backupLast = new Database(copy, { readonly: true });
    const lastInBackup = Number(backupLast.prepare('SELECT value FROM id_counter').pluck().get());
    backupLast.close();
    const r1 = await runAsync(['restore', '--from', copy, '--id-gap', '1000000'], env(fresh));
    expect(r1.code, r1.err).toBe(0);
    expect(r1.out).toContain(`new ids follow ${lastInBackup + 1_000_000}`);
    expect(r1.out).not.toContain('the database that was there');
    const r2 = await runAsync(['restore', '--from', copy], env(dir));
    expect(r2.code, r2.err).toBe(0);
    const aside = /the database that was there is now (\S+)/.exec(r2.out)![1];
    expect(fs.existsSync(path.join(dir, 'hookline.sqlite-wal'))).toBe(false);
    const old = new Database(aside, { readonly: true });
    const usedBefore = Number(old.prepare('SELECT MAX(id) FROM events').pluck().get());
    expect(Number(old.prepare("SELECT COUNT(*) FROM items WHERE kind = 'contact'").pluck().get())).toBe(written);
    old.close();
    for (const [d, after] of [
      [fresh, lastInBackup + 1_000_000],
      [dir, usedBefore],
    ] as const) {
      const again = await serve(env(d));
      try {
        expect(await count(again.url)).toBe(kept);
        const res = await fetch(`${again.url}/contacts/`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${email}:${token}`).toString('base64')}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body: JSON.stringify({ firstname: 'After', lastname: 'Restore' }),
        });
        expect(((await res.json()) as { item: { id: number } }).item.id).toBeGreaterThan(after);
      } finally {
        await again.stop();
      }
    }
    // What is not a backup is refused, and PostgreSQL has its own tools.
    const junk = path.join(backups, 'junk.sqlite');
    fs.writeFileSync(junk, 'not a database');
    const bad = await runAsync(['restore', '--from', junk], env(fresh));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('is not a Hookline database (file is not a database)');
    const pg = await runAsync(['backup', '--to', path.join(backups, 'x')], {
      ...env(fresh),
      HOOKLINE_DATABASE_URL: 'postgres://127.0.0.1:5432/test',
    });
    expect(pg.code).toBe(2);
    expect(pg.err).toContain('pg_dump');
  }, 90_000);

  it('ids skip moves the id counter forward: what is made next has a higher id', async () => {
    const dir = tmp();
    const first = run(['account', 'create', '--name', 'Acme', '--admin-email', 'a@acme.example'], {
      HOOKLINE_DATA_DIR: dir,
    });
    const before = Number(/account (\d+) created/.exec(first.out)![1]);
    expect(run(['ids', 'skip', '--count', 'lots'], { HOOKLINE_DATA_DIR: dir }).code).toBe(2);
    expect(run(['ids', 'skip', '--count', '0'], { HOOKLINE_DATA_DIR: dir }).err).toContain('1 or more');
    const skip = run(['ids', 'skip', '--count', '50000'], { HOOKLINE_DATA_DIR: dir });
    expect(skip.code, skip.err).toBe(0);
    const floor = Number(/new ids start at (\d+) or above/.exec(skip.out)![1]);
    expect(floor).toBeGreaterThan(before + 50_000);
    const next = run(['account', 'create', '--name', 'Beta', '--admin-email', 'b@beta.example'], {
      HOOKLINE_DATA_DIR: dir,
    });
    expect(Number(/account (\d+) created/.exec(next.out)![1])).toBeGreaterThanOrEqual(floor);
  }, 30_000);

  it('deliveries test sends a hook its latest event now, with an id of its own, and records nothing', async () => {
    const dir = tmp();
    const rx = await receiver();
    try {
      const a = run(['account', 'create', '--name', 'Acme', '--admin-email', 'ops@acme.example'], {
        HOOKLINE_DATA_DIR: dir,
      });
      const accountId = Number(/account (\d+) created/.exec(a.out)![1]);
      const engine = openSqlite({ file: path.join(dir, 'hookline.sqlite') });
      const hookId = await insertHook(engine, accountId, { url: rx.url, secret: 'cli-s3cret', active: 0 });
      const eventId = await raiseEvent(engine, accountId, { now: Date.now(), objectId: 4242 });
      await engine.close();
      const env = { HOOKLINE_DATA_DIR: dir, HOOKLINE_ALLOWED_TARGETS: '127.0.0.0/8' };
      // A receiver of this process: the command runs beside it, not blocking it.
      const r = await runAsync(['deliveries', 'test', '--account', String(accountId), '--hook', String(hookId)], env);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ eventid: eventId, objectid: 4242, statuscode: 200 });
      expect(rx.requests).toHaveLength(1);
      expect(String(rx.requests[0].headers['webhook-id'])).toMatch(new RegExp(`^test_${hookId}_${eventId}_`));
      const other = await runAsync(
        ['deliveries', 'test', '--account', String(accountId + 1), '--hook', String(hookId)],
        env,
      );
      expect(other.code).toBe(2);
      expect(other.err).toContain(`No hook ${hookId}`);
      expect(rx.requests).toHaveLength(1);
    } finally {
      await rx.close();
    }
  }, 30_000);

  it('group add creates a group that /ownership/ lists with its members', async () => {
    const dir = tmp();
    const a = run(['account', 'create', '--name', 'G', '--admin-email', 'g@acme.example'], { HOOKLINE_DATA_DIR: dir });
    const accountId = /account (\d+) created/.exec(a.out)![1];
    const userId = /admin user (\d+)/.exec(a.out)![1];
    const token = /API token: (\S+)/.exec(a.out)![1];
    const g = run(['group', 'add', '--account', accountId, '--name', 'Sales', '--members', userId], {
      HOOKLINE_DATA_DIR: dir,
    });
    expect(g.code).toBe(0);
    const groupId = Number(/group (\d+) added/.exec(g.out)![1]);
    const bad = run(['group', 'add', '--account', accountId, '--name', 'X', '--members', '999999'], {
      HOOKLINE_DATA_DIR: dir,
    });
    expect(bad.code).toBe(2);
    const s = await serve({ HOOKLINE_DATA_DIR: dir });
    const res = await fetch(`${s.url}/ownership/`, {
      headers: {
        authorization: `Basic ${Buffer.from(`g@acme.example:${token}`).toString('base64')}`,
        accept: 'application/json',
      },
    });
    const body = (await res.json()) as {
      groups: { group: { id: number; name: string; members: { user: number[] } }[] };
    };
    await s.stop();
    expect(body.groups.group).toEqual([{ id: groupId, name: 'Sales', members: { user: [Number(userId)] } }]);
  }, 30_000);

  it('invalid configuration stops the start with a message naming the variable', () => {
    const r = run(['serve'], { HOOKLINE_PORT: 'eighty', HOOKLINE_DATA_DIR: tmp() });
    expect(r.code).toBe(2);
    expect(r.err).toContain('HOOKLINE_PORT');
  });
});
