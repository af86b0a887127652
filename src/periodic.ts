// A background task of the server (retention's prune, the portal sessions' sweep): first run `firstMs` after
// start, then every `everyMs`, never two runs at once (a run still going when the next falls due is not
// doubled); a failure is logged and the next run tries again. stop() ends the timers and waits for a run in
// progress, so it finishes before storage closes. The timers do not keep the process alive.
export interface Periodic {
  stop(): Promise<void>;
}

export function startPeriodic(
  what: string,
  times: { firstMs: number; everyMs: number },
  task: () => Promise<void>,
  logger: { error(obj: object, msg: string): void },
): Periodic {
  let running: Promise<void> | null = null;
  const run = () => {
    running ??= task()
      .catch((e: Error) => logger.error({ err: e.message }, `${what} failed`))
      .finally(() => (running = null));
  };
  const first = setTimeout(run, times.firstMs);
  const every = setInterval(run, times.everyMs);
  first.unref();
  every.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(every);
      await running;
    },
  };
}
