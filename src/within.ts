// Waiting for something, but not for ever: the server's wait for its sender threads, a stop's grace period,
// a thread's exit, the health check's read of the database.

/**
 * What `p` settles with, if it does within `ms`; otherwise what `late()` answers then. The timer is cleared
 * either way; with `unref`, it does not keep the process alive by itself.
 */
export async function within<T>(p: Promise<T>, ms: number, late: () => T, o: { unref?: boolean } = {}): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late()), ms);
    if (o.unref) timer.unref();
  });
  try {
    return await Promise.race([p, bound]);
  } finally {
    clearTimeout(timer);
  }
}
