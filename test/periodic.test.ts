// startPeriodic: the server's background tasks (retention, the portal sessions' sweep), on a driven clock.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startPeriodic } from '../src/periodic.js';

describe('startPeriodic', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const logger = () => {
    const errors: { obj: unknown; msg: string }[] = [];
    return { errors, error: (obj: object, msg: string) => void errors.push({ obj, msg }) };
  };

  it('runs first after firstMs, then every everyMs, until stopped', async () => {
    let runs = 0;
    const p = startPeriodic('counting', { firstMs: 60_000, everyMs: 600_000 }, async () => void runs++, logger());
    await vi.advanceTimersByTimeAsync(59_999);
    expect(runs).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(540_000); // 600 s after start: the interval's first
    expect(runs).toBe(2);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(runs).toBe(3);
    await p.stop();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(runs).toBe(3);
  });

  it('never runs twice at once: a run still going when the next falls due is not doubled', async () => {
    let started = 0;
    let finish!: () => void;
    const task = () => {
      started++;
      return new Promise<void>((r) => (finish = r));
    };
    const p = startPeriodic('slow', { firstMs: 10, everyMs: 10 }, task, logger());
    await vi.advanceTimersByTimeAsync(100);
    expect(started).toBe(1);
    finish();
    await vi.advanceTimersByTimeAsync(10);
    expect(started).toBe(2);
    // stop() waits for the run in progress.
    let stopped = false;
    const stopping = p.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(stopped).toBe(true);
    expect(started).toBe(2);
  });

  it('logs a failed run with what it was, and tries again at the next', async () => {
    const log = logger();
    let runs = 0;
    const p = startPeriodic(
      'portal sessions: sweeping',
      { firstMs: 5, everyMs: 20 },
      async () => {
        runs++;
        if (runs === 1) throw new Error('database is locked');
      },
      log,
    );
    await vi.advanceTimersByTimeAsync(5);
    expect(log.errors).toEqual([{ obj: { err: 'database is locked' }, msg: 'portal sessions: sweeping failed' }]);
    await vi.advanceTimersByTimeAsync(15);
    expect(runs).toBe(2);
    expect(log.errors).toHaveLength(1);
    await p.stop();
  });
});
