// Contact creates per second through the JSON API at a concurrency of 50, against a bare Fastify route
// that parses the same JSON body, measured in the same run.
import { load, type LoadResult } from './load.js';
import { AUTH, startBare, startHookline } from './processes.js';

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

export async function apiCreates(engine: 'sqlite' | 'postgres'): Promise<LoadResult> {
  const server = await startHookline(engine);
  try {
    return await measure(server.url);
  } finally {
    await server.stop();
  }
}
