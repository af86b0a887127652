// A closed-loop load generator: `concurrency` clients, each sending its next request when the last one
// answered, over keep-alive connections (undici), for a fixed time. Reports rate and latency percentiles.
import fs from 'node:fs';
import { Pool } from 'undici';

export interface LoadOptions {
  origin: string;
  path: string;
  method?: 'POST' | 'GET' | 'PUT';
  headers?: Record<string, string>;
  body: (i: number) => string | Buffer;
  concurrency: number;
  durationMs: number;
  warmupMs?: number;
  /** checks every answer; a failing check aborts the run */
  expectStatus?: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  /** CPU time of this process (the client, and whatever else runs in it) per request, µs, while measuring */
  cpuUs: number;
}

/** µs per clock tick, the unit of /proc's CPU times (100 ticks per second on Linux). */
const US_PER_TICK = 1e6 / 100;

/**
 * CPU time the whole machine has spent busy so far, µs: every core's user, nice, system, irq, softirq and
 * steal time from /proc/stat (Linux; NaN elsewhere). Less the CPU time of the processes a figure measures,
 * what is left over an interval is the rest of the machine's load: other processes, kernel threads.
 */
export function machineBusyUs(): number {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq + steal) * US_PER_TICK;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) of every process named `name` so far, µs (Linux; NaN elsewhere). */
export function cpuTimeOfUs(name: string): number {
  let total = 0;
  try {
    for (const p of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
        if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== name) continue;
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        total += (Number(f[11]) + Number(f[12])) * US_PER_TICK;
      } catch {
        // ended meanwhile
      }
    }
    return total;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system, every thread) of a process so far, µs: this one, or another by pid (Linux). */
export function cpuTimeUs(pid?: number): number {
  if (pid === undefined) {
    const u = process.cpuUsage();
    return u.user + u.system;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, in clock ticks
    return (Number(f[11]) + Number(f[12])) * US_PER_TICK;
  } catch {
    return NaN; // not Linux, or gone
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * `concurrency` clients, each calling `one` again as soon as its last call finished, until `ms` have passed;
 * the latency of every call, and the time the whole phase took.
 */
export async function closedLoop(
  concurrency: number,
  ms: number,
  one: () => Promise<void>,
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await one();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

export async function load(o: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(o.origin, { connections: o.concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  let i = 0;
  const expect = o.expectStatus ?? 200;
  const one = async (): Promise<void> => {
    const res = await pool.request({ path: o.path, method: o.method ?? 'POST', headers: o.headers, body: o.body(i++) });
    const text = await res.body.text();
    if (res.statusCode !== expect) throw new Error(`unexpected ${res.statusCode}: ${text.slice(0, 300)}`);
  };
  await closedLoop(o.concurrency, o.warmupMs ?? 1000, one);
  const cpu = cpuTimeUs();
  const { latencies, seconds } = await closedLoop(o.concurrency, o.durationMs, one);
  const cpuUs = (cpuTimeUs() - cpu) / latencies.length;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds,
    rate: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUs,
  };
}
