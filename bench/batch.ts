// Batches of 100 contact creates through POST /batch on the real HTTP server over loopback (server in its own
// process), against the same creates sent one request each at the same concurrency, measured in the same
// run. `npx tsx bench/batch.ts` runs it alone; BENCH_DURATION_MS sets the time per figure.
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import { load, type LoadResult } from './load.js';
import { pgReachable } from './processes.js';

const PARTS = 100;
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5000);
const BOUNDARY = '====1340674896===';

function batchBody(i: number): string {
  let out = '';
  for (let p = 0; p < PARTS; p++) {
    const json = JSON.stringify({
      firstname: 'Batch',
      lastname: `Contact ${i}-${p}`,
      businessemail: `b${i}-${p}@bench.example`,
    });
    out +=
      `--${BOUNDARY}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <${p}>\r\n\r\n` +
      `POST /contacts/ HTTP/1.1\r\nContent-Type: application/json\r\nAccept: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}\r\n`;
  }
  return `${out}--${BOUNDARY}--\r\n`;
}

async function startServer(engine: 'sqlite' | 'postgres') {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers/batch.ts', engine], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const [url, auth] = await new Promise<[string, string]>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\S+) (Basic \S+)/.exec(out);
      if (m) resolve([m[1], m[2]]);
    });
    child.on('exit', (code) => reject(new Error(`batch bench server exited with ${code}`)));
  });
  return {
    url,
    auth,
    async stop() {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface BatchBenchResult {
  engine: string;
  concurrency: number;
  batch: LoadResult;
  /** the same creates, one request each */
  single: LoadResult;
}

/** Measures batches per second (and contact creates per second) at concurrency 1 and 4; prints and answers. */
export async function runBatchBench(): Promise<BatchBenchResult[]> {
  const engines: ('sqlite' | 'postgres')[] =
    process.env.BENCH_ENGINES === 'sqlite' || !(await pgReachable()) ? ['sqlite'] : ['sqlite', 'postgres'];
  const results: BatchBenchResult[] = [];
  for (const engine of engines) {
    const server = await startServer(engine);
    try {
      // A first batch checked part by part: the figures below count only batches that fully succeeded.
      const probe = await request(`${server.url}/batch`, {
        method: 'POST',
        headers: { authorization: server.auth, 'content-type': `multipart/mixed; boundary=${BOUNDARY}` },
        body: batchBody(-1),
      });
      const text = await probe.body.text();
      const ok = (text.match(/HTTP\/1\.1 200 OK/g) ?? []).length;
      if (probe.statusCode !== 200 || ok !== PARTS) throw new Error(`probe batch: ${probe.statusCode}, ${ok} parts ok`);
      for (const concurrency of [1, 4]) {
        const batch = await load({
          origin: server.url,
          path: '/batch',
          headers: { authorization: server.auth, 'content-type': `multipart/mixed; boundary=${BOUNDARY}` },
          body: batchBody,
          concurrency,
          durationMs: DURATION_MS,
        });
        const single = await load({
          origin: server.url,
          path: '/contacts/',
          headers: { authorization: server.auth, 'content-type': 'application/json', accept: 'application/json' },
          body: (i) =>
            JSON.stringify({ firstname: 'Single', lastname: `Contact ${i}`, businessemail: `s${i}@bench.example` }),
          concurrency,
          durationMs: DURATION_MS,
        });
        results.push({ engine, concurrency, batch, single });
      }
    } finally {
      await server.stop();
    }
  }
  const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });
  for (const r of results) {
    console.log(
      `${`${r.engine}, concurrency ${r.concurrency}:`.padEnd(26)} ${fmt(r.batch.rate).padStart(7)} batches/s = ` +
        `${fmt(r.batch.rate * PARTS).padStart(8)} creates/s (p50 ${fmt(r.batch.p50)} ms per batch)   ` +
        `reference, one request each: ${fmt(r.single.rate).padStart(8)} creates/s   ratio ${(
          (r.batch.rate * PARTS) /
          r.single.rate
        ).toFixed(2)}`,
    );
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runBatchBench();
