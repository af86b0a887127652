// What a fault writes to the log: one line naming the request (its id, as the client's error says it), the
// method and the path without its query, and the error; the database unavailable is a warning, anything else
// an error. The request id is written once per line (requests log through the server's logger, not a child
// bound to the id).
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { makeApp, call, type TestApp } from '../support/app.js';
import { StorageUnavailable } from '../../src/storage/port.js';

function memoryLogger() {
  const lines: string[] = [];
  return { logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }), lines };
}

describe('fault log lines', () => {
  let t: TestApp | null = null;
  afterEach(async () => {
    await t?.close();
    t = null;
  });

  /** Makes every read of the app's engine throw `e`, for one call. */
  async function failingRead(e: Error, url: string) {
    const { logger, lines } = memoryLogger();
    t = await makeApp('sqlite', { logger });
    const engine = t.db.engine as { read: unknown };
    const read = engine.read;
    engine.read = () => Promise.reject(e);
    try {
      const answer = await call(t, t.adminA, 'GET', url);
      return { answer, lines };
    } finally {
      engine.read = read;
    }
  }

  it('an unexpected fault: a 500 naming the request id, and one error line with that id (once), the method, the path and the error', async () => {
    const { answer, lines } = await failingRead(new Error('boom in the engine'), '/contacts/?limit=5&secret=x');
    expect(answer.status).toBe(500);
    const id = /request id ([^)]+)\)/.exec(JSON.stringify(answer.body))?.[1];
    expect(id).toMatch(/^req-/);
    const faults = lines.filter((l) => l.includes('"unexpected fault"'));
    expect(faults).toHaveLength(1);
    expect(faults[0].match(/"reqId":/g)).toHaveLength(1);
    const line = JSON.parse(faults[0]) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 50, reqId: id, method: 'GET', url: '/contacts/' });
    expect((line.err as { message: string }).message).toBe('boom in the engine');
  });

  it('the database unavailable: a warning line with the request id (once) and the database error, no error line', async () => {
    const { answer, lines } = await failingRead(new StorageUnavailable('connection refused'), '/contacts/');
    expect(answer.status).toBe(503);
    const warned = lines.filter((l) => l.includes('"storage unavailable"'));
    expect(warned).toHaveLength(1);
    expect(warned[0].match(/"reqId":/g)).toHaveLength(1);
    expect(JSON.parse(warned[0])).toMatchObject({
      level: 40,
      method: 'GET',
      url: '/contacts/',
      err: 'connection refused',
    });
    expect(lines.some((l) => l.includes('"level":50'))).toBe(false);
  });
});
