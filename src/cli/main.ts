#!/usr/bin/env node
// The `hookline` command: serve, and the administration commands that print tokens and deliveries.
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, parseDuration, settings, type Config } from '../config.js';
import { makeLogger, quickstartAdmin, startServer } from '../main.js';
import { DatabaseUnreachable, openStorage, sqliteFile } from '../storage/open.js';
import { backupSqlite, restoreSqlite } from '../storage/sqlite/backup.js';
import { addGroup, addUser, createAccount, type Role } from '../accounts/accounts.js';
import { addCounts, prune } from '../delivery/retention.js';
import { recoverFailed, windowProblem, type EventWindow } from '../delivery/recover.js';
import { replayMissing } from '../delivery/replay.js';
import { getHook, listHooks, setHookActive } from '../webhooks/hooks.js';
import { parseDate } from '../records/values.js';
import { listMailbox, mailState } from '../delivery/mailer.js';
import { listDeliveries, showDelivery } from '../delivery/history.js';
import { buildDelivery } from '../delivery/engine.js';
import { stringifyJson } from '../dialect/json.js';
import type { Engine } from '../storage/port.js';
import type { Tree } from '../dialect/tree.js';

function fail(message: string): never {
  process.stderr.write(`hookline: ${message}\n`);
  process.exit(2);
}

/** A database out of reach (storage/open.ts) ends the command in one line, not with a stack trace. */
function failIfUnreachable(e: unknown): never {
  if (e instanceof DatabaseUnreachable) fail(e.message);
  throw e;
}

function config(overrides: Partial<Record<keyof Config, string>> = {}): Config {
  try {
    return loadConfig(process.env, overrides);
  } catch (e) {
    if (e instanceof ConfigError) fail(`invalid configuration: ${e.message}`);
    throw e;
  }
}

/**
 * `serve --help`'s list of every setting read from the environment (config.ts's settings): most of them have
 * no flag, and an operator should not need the README to find them.
 */
function environmentHelp(): string {
  const entries = Object.values(settings).map((s) => ({
    name: s.flag ? `${s.env} (${s.flag})` : s.env,
    text: `${s.description}${s.default === '' ? '' : ` [default: ${s.default}]`}`,
  }));
  const width = Math.max(...entries.map((e) => e.name.length));
  return [
    '',
    'Environment (a flag, where there is one, wins):',
    ...entries.map((e) => `  ${e.name.padEnd(width)}  ${e.text}`),
    '',
    'NODE_EXTRA_CA_CERTS (Node.js itself) adds CAs trusted for HTTPS receivers and SMTP.',
  ].join('\n');
}

const program = new Command('hookline').description('A Solve360-compatible CRM server with webhooks you can trust');

program
  .command('serve')
  .description('run the HTTP API and the delivery engine')
  .option(`${settings.host.flag} <host>`, settings.host.description)
  .option(`${settings.port.flag} <port>`, settings.port.description)
  .option(`${settings.dataDir.flag} <dir>`, settings.dataDir.description)
  .option(`${settings.databaseUrl.flag} <url>`, settings.databaseUrl.description)
  .option('--quickstart', 'create a first account if none is configured, print its token, allow loopback hook targets')
  .addHelpText('after', environmentHelp)
  .action(
    async (opts: { host?: string; port?: string; dataDir?: string; databaseUrl?: string; quickstart?: boolean }) => {
      const overrides: Partial<Record<keyof Config, string>> = {
        host: opts.host,
        port: opts.port,
        dataDir: opts.dataDir,
        databaseUrl: opts.databaseUrl,
      };
      if (opts.quickstart && !process.env.HOOKLINE_ALLOWED_TARGETS) overrides.allowedTargets = '127.0.0.0/8,::1/128';
      for (const k of Object.keys(overrides) as (keyof Config)[]) if (overrides[k] === undefined) delete overrides[k];
      const cfg = config(overrides);
      const logger = makeLogger(cfg.logLevel);
      const server = await startServer(cfg, { logger }).catch(failIfUnreachable);
      const lines = [
        `Hookline is serving on ${server.url} (${cfg.databaseUrl ? 'PostgreSQL' : `SQLite in ${cfg.dataDir}`})`,
      ];
      if (cfg.adminEmail) {
        // A configured token is a secret of the deployment: the banner (often kept in a log) never shows it.
        lines.push(
          `Admin e-mail: ${cfg.adminEmail}`,
          'API token:    the one in HOOKLINE_ADMIN_TOKEN (not printed)',
          '',
          'Try it:',
          `  curl -u "${cfg.adminEmail}:$HOOKLINE_ADMIN_TOKEN" -H 'Accept: application/json' ${server.url}/contacts/`,
          `Deliveries in a browser: ${server.url}/portal/ (sign in with the same e-mail and token)`,
        );
      } else if (opts.quickstart) {
        // The quick start's own admin, made on this machine for trying Hookline out: printed to be pasted.
        const { email, token } = await quickstartAdmin(server.engine, cfg.dataDir);
        lines.push(
          `Admin e-mail: ${email}`,
          `API token:    ${token}`,
          '',
          'Try it:',
          `  curl -u '${email}:${token}' -H 'Accept: application/json' ${server.url}/contacts/`,
          `Deliveries in a browser: ${server.url}/portal/ (sign in with the same e-mail and token)`,
        );
      }
      if (opts.quickstart && overrides.allowedTargets) {
        lines.push(
          '',
          'Quick start: webhook targets on loopback (127.0.0.0/8, ::1) are allowed. Set HOOKLINE_ALLOWED_TARGETS to change that.',
        );
      }
      if (!cfg.smtpUrl)
        lines.push(
          '',
          'No HOOKLINE_SMTP_URL: admin e-mail is kept in the local mailbox (`hookline mailbox` prints it).',
        );
      process.stdout.write(`${lines.join('\n')}\n`);
      const stop = async (signal: string) => {
        logger.info({ signal }, 'shutting down');
        await server.close();
        process.exit(0);
      };
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.once('SIGINT', () => void stop('SIGINT'));
    },
  );

program
  .command('account')
  .description('manage accounts')
  .command('create')
  .description('create an account and its admin; prints the admin API token')
  .requiredOption('--name <name>', 'name of the account (organisation)')
  .requiredOption('--admin-email <email>', 'e-mail of its first admin')
  .action(async (opts: { name: string; adminEmail: string }) =>
    withStorage(async (engine) => {
      const r = await createAccount(engine, { name: opts.name, adminEmail: opts.adminEmail });
      process.stdout.write(
        `account ${r.accountId} created\nadmin user ${r.userId}: ${opts.adminEmail}\nAPI token: ${r.token}\n`,
      );
    }),
  );

program
  .command('user')
  .description('manage users')
  .command('add')
  .description('add a user to an account; prints the API token')
  .requiredOption('--account <id>', 'account id')
  .requiredOption('--email <email>', 'e-mail (the login name)')
  .option('--name <name>', 'display name')
  .addOption(new Option('--role <role>', 'role').choices(['admin', 'member']).default('member'))
  .action(async (opts: { account: string; email: string; name?: string; role: Role }) =>
    withStorage(async (engine) => {
      const r = await addUser(engine, {
        accountId: Number(opts.account),
        email: opts.email,
        name: opts.name,
        role: opts.role,
      });
      process.stdout.write(`user ${r.userId} added\nAPI token: ${r.token}\n`);
    }),
  );

program
  .command('group')
  .description('manage groups (ownership can be a group)')
  .command('add')
  .description('add a group to an account; prints its id')
  .requiredOption('--account <id>', 'account id')
  .requiredOption('--name <name>', 'group name')
  .option('--members <ids>', 'comma-separated user ids', '')
  .action(async (opts: { account: string; name: string; members: string }) =>
    withStorage(async (engine) => {
      const members = opts.members.split(',').filter(Boolean).map(Number);
      const id = await addGroup(engine, Number(opts.account), opts.name, members);
      process.stdout.write(`group ${id} added\n`);
    }),
  );

/** Opens storage for one command and always closes it; errors end the command with exit code 2. */
async function withStorage(fn: (engine: Engine, cfg: Config) => Promise<void>): Promise<void> {
  const cfg = config();
  // A command run by hand does not wait for the database: it says at once that it cannot reach it.
  const engine = await openStorage({ ...cfg, databaseWaitMs: 0 }).catch(failIfUnreachable);
  try {
    await fn(engine, cfg);
  } catch (e) {
    fail((e as Error).message);
  } finally {
    await engine.close();
  }
}

program
  .command('mailbox')
  .description('print the admin e-mail kept locally (all of it when no SMTP server is configured)')
  .option('--account <id>', 'only this account')
  .option('--limit <n>', 'at most this many messages', '20')
  .action(async (opts: { account?: string; limit: string }) =>
    withStorage(async (engine) => {
      const rows = await listMailbox(engine, {
        accountId: opts.account ? Number(opts.account) : undefined,
        limit: Number(opts.limit),
      });
      if (rows.length === 0) process.stdout.write('the mailbox is empty\n');
      for (const m of rows) {
        const when = new Date(m.created_at).toISOString();
        process.stdout.write(
          `=== ${when}  account ${m.account_id}  ${mailState(m)}\nTo: ${m.to_addr}\nSubject: ${m.subject}\n\n${m.body}\n\n`,
        );
      }
    }),
  );

const hooks = program.command('hooks').description("list an account's hooks, pause one or turn it on again");
hooks
  .command('list')
  .description(
    "an account's hooks, as GET /hooks/ answers them, secrets and header values shown only as set or not (JSON)",
  )
  .requiredOption('--account <id>', 'account id')
  .action(async (opts: { account: string }) =>
    withStorage(async (engine) => {
      const list = await listHooks(engine, Number(opts.account));
      // A terminal's output ends up in logs and tickets: a secret, and a hook's own header values (often the
      // receiver's credentials, stored like the secret), are shown only as being there.
      for (const hook of list.values()) {
        if (typeof hook === 'object' && hook !== null && 'secret' in hook) {
          const h = hook as Record<string, Tree>;
          h.secret = h.secret === '' ? '' : '(set)';
          if (h.headers && typeof h.headers === 'object' && !Array.isArray(h.headers)) {
            const headers = h.headers as Record<string, Tree>;
            for (const name of Object.keys(headers)) headers[name] = '(set)';
          }
        }
      }
      process.stdout.write(`${stringifyJson(list)}\n`);
    }),
  );
/** hooks pause, hooks resume: PUT /hooks/{id}/ with `active` alone (a running serve follows at its next event). */
const turn = (name: string, description: string, active: boolean) =>
  hooks
    .command(name)
    .description(description)
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--hook <id>', 'hook id')
    .action(async (opts: { account: string; hook: string }) =>
      withStorage(async (engine) => {
        await setHookActive(engine, Number(opts.account), Number(opts.hook), active, Date.now());
        process.stdout.write(
          active
            ? `hook ${opts.hook} turned on: its waiting deliveries are due, its failing streak starts over\n`
            : `hook ${opts.hook} paused: its deliveries wait, and events raised meanwhile are not sent to it\n`,
        );
      }),
    );
turn(
  'pause',
  'turn a hook off: its deliveries wait; events raised meanwhile are not sent to it (replay sends them)',
  false,
);
turn('resume', 'turn a hook on again (one disabled for failing too): its waiting deliveries go out', true);

const deliveries = program.command('deliveries').description('inspect and redeliver webhook deliveries');
deliveries
  .command('list')
  .description("a hook's deliveries, newest first, with their attempts (JSON)")
  .requiredOption('--account <id>', 'account id')
  .requiredOption('--hook <id>', 'hook id')
  .addOption(new Option('--state <state>', 'only this state').choices(['pending', 'succeeded', 'failed']))
  .option('--limit <n>', 'at most this many', '50')
  .action(async (opts: { account: string; hook: string; state?: string; limit: string }) =>
    withStorage(async (engine) => {
      const list = await listDeliveries(engine, Number(opts.account), Number(opts.hook), {
        state: opts.state,
        limit: Number(opts.limit),
      });
      process.stdout.write(`${stringifyJson(list)}\n`);
    }),
  );
deliveries
  .command('show')
  .description('one delivery: its attempts, and the request it sends (JSON)')
  .requiredOption('--account <id>', 'account id')
  .requiredOption('--hook <id>', 'hook id')
  .requiredOption('--event <id>', 'event id (the delivery id within the hook)')
  .action(async (opts: { account: string; hook: string; event: string }) =>
    withStorage(async (engine) => {
      const d = await showDelivery(engine, Number(opts.account), Number(opts.hook), Number(opts.event));
      process.stdout.write(`${stringifyJson(d)}\n`);
    }),
  );
deliveries
  .command('redeliver')
  .description('send one delivery again now (a manual attempt, recorded as such)')
  .requiredOption('--account <id>', 'account id')
  .requiredOption('--hook <id>', 'hook id')
  .requiredOption('--event <id>', 'event id (the delivery id within the hook)')
  .action(async (opts: { account: string; hook: string; event: string }) =>
    withStorage(async (engine, cfg) => {
      const { delivery, mailer } = buildDelivery(engine, cfg);
      try {
        const attempt = await delivery.redeliver(Number(opts.account), Number(opts.hook), Number(opts.event));
        process.stdout.write(`${stringifyJson(attempt)}\n`);
      } finally {
        await delivery.stop({ graceMs: 1000 });
        await mailer.close();
      }
    }),
  );

deliveries
  .command('test')
  .description("send a hook a test notification now: its type's latest event, or --event (nothing recorded)")
  .requiredOption('--account <id>', 'account id')
  .requiredOption('--hook <id>', 'hook id')
  .option('--event <id>', "event id (default: the latest of the hook's type and kind)")
  .action(async (opts: { account: string; hook: string; event?: string }) =>
    withStorage(async (engine, cfg) => {
      const { delivery, mailer } = buildDelivery(engine, cfg);
      try {
        const event = opts.event === undefined ? undefined : Number(opts.event);
        const test = await delivery.test(Number(opts.account), Number(opts.hook), event);
        process.stdout.write(`${stringifyJson(test)}\n`);
      } finally {
        await delivery.stop({ graceMs: 1000 });
        await mailer.close();
      }
    }),
  );

/**
 * A deliveries command on one hook and a window of time (recover, replay): checks the window and that the
 * hook is the account's, then prints what `run` answers.
 */
function windowCommand(
  name: string,
  description: string,
  run: (engine: Engine, accountId: number, hookId: number, window: EventWindow) => Promise<string>,
): void {
  deliveries
    .command(name)
    .description(description)
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--hook <id>', 'hook id')
    .requiredOption('--since <when>', 'date or date-time, e.g. 2026-11-28 or 2026-11-28T09:00:00Z')
    .option('--until <when>', 'date or date-time (default: now)')
    .action(async (opts: { account: string; hook: string; since: string; until?: string }) =>
      withStorage(async (engine) => {
        const since = parseDate(opts.since);
        const until = opts.until === undefined ? undefined : parseDate(opts.until);
        if (since === null || until === null) throw new Error('--since and --until take a date or date-time');
        const problem = windowProblem({ since, until });
        if (problem) throw new Error(problem);
        const [accountId, hookId] = [Number(opts.account), Number(opts.hook)];
        await getHook(engine, accountId, hookId); // the account's own hook, or an error
        process.stdout.write(`${await run(engine, accountId, hookId, { since, until })}\n`);
      }),
    );
}

windowCommand(
  'recover',
  "send again a hook's failed deliveries whose events were raised in a window (fresh retry schedule)",
  async (engine, accountId, hookId, window) => {
    const n = await recoverFailed(engine, accountId, hookId, window, Date.now());
    return `recovered ${n} failed deliver${n === 1 ? 'y' : 'ies'}; a running serve sends them`;
  },
);

windowCommand(
  'replay',
  'send a hook the events of a window that it matches and was never sent (raised while it was paused, or before it was made)',
  async (engine, accountId, hookId, window) => {
    const n = await replayMissing(engine, accountId, hookId, window, Date.now());
    return `replayed ${n} event${n === 1 ? '' : 's'} to the hook; a running serve sends them`;
  },
);

/**
 * Runs a command on the configured data directory's SQLite file and prints what it answers; errors end it
 * with exit code 2. A PostgreSQL install is backed up and restored with PostgreSQL's own tools.
 */
function onSqliteFile(command: string, run: (file: string) => string): void {
  const cfg = config();
  if (cfg.databaseUrl)
    fail(`${command} is for the embedded SQLite database; back up PostgreSQL with pg_dump and restore with pg_restore`);
  const file = sqliteFile(cfg.dataDir);
  try {
    process.stdout.write(`${run(file)}\n`);
  } catch (e) {
    fail((e as Error).message);
  }
}

program
  .command('backup')
  .description('copy the SQLite database into a new file, consistent while serve runs (uploads included)')
  .requiredOption('--to <file>', 'the new file')
  .action((opts: { to: string }) =>
    onSqliteFile('backup', (file) => `backed up ${file} to ${opts.to} (${backupSqlite(file, opts.to)} bytes)`),
  );

program
  .command('restore')
  .description('put a backup in place of the SQLite database (serve stopped); the database there is moved aside')
  .requiredOption('--from <file>', 'a file made by hookline backup')
  .option(
    '--id-gap <n>',
    'skip this many ids (when the newer database is lost: more than it may have handed out since the backup)',
    '0',
  )
  .action((opts: { from: string; idGap: string }) =>
    onSqliteFile('restore', (file) => {
      if (!/^\d+$/.test(opts.idGap)) throw new Error('--id-gap takes a whole number');
      const r = restoreSqlite(opts.from, file, { idGap: Number(opts.idGap) });
      const aside = r.aside ? `; the database that was there is now ${r.aside}` : '';
      return `restored ${opts.from} to ${file}; new ids follow ${r.lastId}${aside}`;
    }),
  );

program
  .command('ids')
  .description('the id counter, shared by every record, event and hook')
  .command('skip')
  .description(
    'move the id counter past --count ids (after restoring a PostgreSQL dump: more than were handed out since it)',
  )
  .requiredOption('--count <n>', 'how many ids never to hand out')
  .action(async (opts: { count: string }) =>
    withStorage(async (engine) => {
      const count = Number(opts.count);
      if (!/^\d+$/.test(opts.count) || !Number.isSafeInteger(count) || count < 1)
        throw new Error('--count takes a whole number, 1 or more');
      process.stdout.write(`new ids start at ${await engine.skipIds(count)} or above\n`);
    }),
  );

program
  .command('prune')
  .description('delete events (with their deliveries and attempts) and sent e-mail older than a duration now')
  .option('--older-than <duration>', 'e.g. 30d (default: HOOKLINE_RETENTION)')
  .action(async (opts: { olderThan?: string }) =>
    withStorage(async (engine, cfg) => {
      const ms = opts.olderThan === undefined ? cfg.retentionMs : parseDuration(opts.olderThan, '--older-than');
      if (ms <= 0) throw new Error('give --older-than (or set HOOKLINE_RETENTION): nothing is old enough at 0');
      let total = { events: 0, deliveries: 0, attempts: 0, mail: 0 };
      for (;;) {
        const c = await prune(engine, Date.now() - ms);
        total = addCounts(total, c);
        if (c.events + c.mail === 0) break;
      }
      process.stdout.write(
        `deleted ${total.events} events, ${total.deliveries} deliveries, ${total.attempts} attempts, ${total.mail} e-mails\n`,
      );
    }),
  );

await program.parseAsync(process.argv);
