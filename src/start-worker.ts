// Starting a worker thread from one of Hookline's modules: the compiled .js (dist/), or — running from the
// TypeScript sources (tests, bench) — the .ts source through tsx's loader, registered inside the thread.
import { Worker } from 'node:worker_threads';

/** `module`: the worker's compiled file as a URL (new URL('./x.js', import.meta.url)). */
export function startWorker(module: URL, workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(module, { workerData });
  const entry = JSON.stringify(module.href.replace(/\.js$/, '.ts'));
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${entry}); });`, {
    eval: true,
    workerData,
  });
}
