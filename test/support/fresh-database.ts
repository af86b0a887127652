// A fresh PostgreSQL database of its own, for a server started in another process (the end-to-end tests and
// the benchmarks): created on the test server, dropped afterwards, whoever still holds connections to it.
import pg from 'pg';
import { PG_URL } from './pg-url.js';

export interface FreshDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function freshDatabase(prefix: string): Promise<FreshDatabase> {
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** What a server on `engine` needs of its own: a fresh PostgreSQL database, or (SQLite) nothing. */
export async function databaseFor(engine: 'sqlite' | 'postgres', prefix: string): Promise<FreshDatabase> {
  if (engine === 'sqlite') return { url: '', drop: async () => undefined };
  return freshDatabase(prefix);
}
