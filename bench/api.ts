// Contact creates per second through the JSON API at a concurrency of 50, against a bare Fastify route
// that parses the same JSON body, measured in the same run.
import { load, type LoadResult } from './load.js';
import { ADMIN, AUTH, startBare, startHookline } from './processes.js';
import { openStorage } from '../src/storage/open.js';
import { ensureAdmin } from '../src/accounts/accounts.js';

const CONCURRENCY = 50;
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5000);

const body = (i: number) =>
  JSON.stringify({
    firstname: 'Bench',
    lastname: `Contact ${i}`,
    businessemail: `c${i}@bench.example`,
    jobtitle: 'Tester',
  });

async function measure(origin: string): Promise<LoadResult> {
  return load({
    origin,
    path: '/contacts/',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: AUTH },
    body,
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
  });
}

export async function bareReference(): Promise<LoadResult> {
  const bare = await startBare();
  try {
    return await measure(bare.url);
  } finally {
    await bare.stop();
  }
}

/**
 * Creates through the API; with `otherHooks`, the account first gets that many hooks on another event
 * (items.update): dispatch must cost the same, since its cost follows the hooks that match.
 */
export async function apiCreates(engine: 'sqlite' | 'postgres', otherHooks = 0): Promise<LoadResult> {
  const server = await startHookline(engine, {}, async (where) => {
    if (otherHooks === 0) return;
    const storage = await openStorage({ databaseUrl: where.databaseUrl, dataDir: where.dataDir });
    const { accountId } = await ensureAdmin(storage, ADMIN.email, ADMIN.token);
    await storage.write(async (x) => {
      for (let i = 0; i < otherHooks; i++) {
        await x.run(
          `INSERT INTO hooks (account_id, id, type, title, active, event, constrainttype, url, contenttype, secret, created_at, updated_at)
           VALUES (?, ?, 'web', 'other', 1, 'items.update', 'all', 'https://receiver.example/', 'json', '', 0, 0)`,
          [accountId, await x.nextId()],
        );
      }
    });
    await storage.close();
  });
  try {
    return await measure(server.url);
  } finally {
    await server.stop();
  }
}
