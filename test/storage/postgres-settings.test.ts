// Hookline's own connection settings (random_page_cost, the schema) and the user's — a database URL's
// `options`, or PGOPTIONS — both reach every connection; where both set the same one, the user's wins.
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { PG_URL, dropSchema, pgAvailable } from '../support/engines.js';
import { openPostgres, withOwnSettings } from '../../src/storage/postgres/engine.js';
import type { Engine } from '../../src/storage/port.js';

const withOptions = (options: string) => {
  const u = new URL(PG_URL);
  u.searchParams.set('options', options);
  return u.toString();
};

describe('connection settings: Hookline’s and the URL’s', () => {
  it('a URL without options keeps its text; Hookline’s settings come first, the URL’s after them', () => {
    const saved = process.env.PGOPTIONS;
    delete process.env.PGOPTIONS;
    try {
      expect(withOwnSettings('postgres://u:p%40ss@db:5432/x', '-c a=1')).toEqual({
        connectionString: 'postgres://u:p%40ss@db:5432/x',
        options: '-c a=1',
      });
      const r = withOwnSettings('postgres://u@db/x?sslmode=disable&options=-c%20b%3D2', '-c a=1');
      expect(r.options).toBe('-c a=1 -c b=2');
      expect(new URL(r.connectionString).searchParams.get('options')).toBeNull();
      expect(new URL(r.connectionString).searchParams.get('sslmode')).toBe('disable');
      process.env.PGOPTIONS = '-c c=3';
      expect(withOwnSettings('postgres://u@db/x', '-c a=1').options).toBe('-c a=1 -c c=3');
      expect(withOwnSettings('/var/run/postgresql', '-c a=1').options).toBe('-c a=1 -c c=3');
    } finally {
      if (saved === undefined) delete process.env.PGOPTIONS;
      else process.env.PGOPTIONS = saved;
    }
  });
});

describe.runIf(pgAvailable)('connection settings on postgres', () => {
  let engine: Engine | null = null;
  let schema = '';
  afterEach(async () => {
    await engine?.close();
    engine = null;
    if (schema) await dropSchema(schema);
  });

  const open = async (url: string) => {
    schema = `t_${randomBytes(6).toString('hex')}`;
    engine = await openPostgres({ url, schema, writers: 1, readPoolSize: 2 });
    const show = (x: { all<T>(sql: string): Promise<T[]> }) =>
      x.all<{ schema: string; rpc: string; timeout: string }>(
        `SELECT current_schema() AS schema, current_setting('random_page_cost') AS rpc, current_setting('statement_timeout') AS timeout`,
      );
    // a reader and a writer connection: every connection gets the settings
    return { read: (await engine.read(show))[0], write: (await engine.write(show))[0] };
  };

  it('a URL with options of its own: its settings and Hookline’s both hold, on readers and writers', async () => {
    const { read, write } = await open(withOptions('-c statement_timeout=4321'));
    for (const s of [read, write]) expect(s).toEqual({ schema, rpc: '1.1', timeout: '4321ms' });
  });

  it('where the URL sets what Hookline sets, the URL wins', async () => {
    const { read, write } = await open(withOptions('-c random_page_cost=2.5'));
    for (const s of [read, write]) expect(s).toEqual({ schema, rpc: '2.5', timeout: '0' });
  });
});
