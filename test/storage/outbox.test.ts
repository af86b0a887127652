// The outbox cannot lose an event: not to a late-committing transaction, not to a crash.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, PG_URL, makeEngine, pgAvailable, type TestEngine } from '../support/engines.js';
import { createAccount } from '../../src/accounts/accounts.js';
import { raise } from '../../src/records/events.js';
import type { Engine } from '../../src/storage/port.js';

async function setup(engine: Engine, tag: string) {
  const { accountId } = await createAccount(engine, { name: 'O', adminEmail: `o-${tag}-${Date.now()}@example.org` });
  const hookId = await engine.write((x) => x.nextId());
  await engine.write((x) =>
    x.run(
      `INSERT INTO hooks (account_id, id, type, title, active, event, constrainttype, url, contenttype, secret, created_at, updated_at)
       VALUES (?, ?, 'web', 'all creates', 1, 'items.create', 'all', 'http://127.0.0.1:9/', 'json', '', 1, 1)`,
      [accountId, hookId],
    ),
  );
  return { accountId, hookId };
}

/** A dispatcher run: takes every pending delivery it can see and marks it dispatched. */
async function dispatch(engine: Engine, accountId: number): Promise<number[]> {
  return engine.write(async (x) => {
    const rows = await x.all<{ event_id: number }>(
      "SELECT event_id FROM deliveries WHERE account_id = ? AND state = 'pending' ORDER BY event_id",
      [accountId],
    );
    for (const r of rows) {
      await x.run("UPDATE deliveries SET state = 'succeeded' WHERE account_id = ? AND event_id = ?", [
        accountId,
        r.event_id,
      ]);
    }
    return rows.map((r) => r.event_id);
  });
}

describe.runIf(pgAvailable)('outbox on postgres: transactions that commit out of id order', () => {
  let db: TestEngine;
  beforeAll(async () => {
    db = await makeEngine('postgres', { writers: 2 });
  });
  afterAll(async () => db.destroy());

  it('a dispatcher that runs between the two commits still gets both events', async () => {
    const { accountId } = await setup(db.engine, 'ooo');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let firstId = 0;
    let firstRaised!: () => void;
    const raised = new Promise<void>((r) => (firstRaised = r));
    // Transaction 1 takes the lower event id, then stays open.
    const tx1 = db.engine.solo(async (x) => {
      firstId = (
        await raise(x, { accountId, type: 'items.create', objectId: 1, objectKind: 'contact', content: {}, now: 1 })
      ).id;
      firstRaised();
      await gate;
    });
    await raised;
    // Transaction 2 takes a higher id and commits first.
    const secondId = (
      await db.engine.solo((x) =>
        raise(x, { accountId, type: 'items.create', objectId: 2, objectKind: 'contact', content: {}, now: 2 }),
      )
    ).id;
    expect(firstId).toBeLessThan(secondId); // the trap: a "last id seen" reader would now skip firstId forever

    expect(await dispatch(db.engine, accountId)).toEqual([secondId]);
    release();
    await tx1;
    expect(await dispatch(db.engine, accountId)).toEqual([firstId]);
    expect(await dispatch(db.engine, accountId)).toEqual([]);
  });
});

describe.each(ENGINES)('outbox on %s: a crash inside the change', (name) => {
  let db: TestEngine;
  beforeAll(async () => {
    db = await makeEngine(name);
  });
  afterAll(async () => db.destroy());

  it('kill -9 between the change and its event leaves neither', async () => {
    const { accountId } = await setup(db.engine, `crash-${name}`);
    const itemId = await db.engine.write((x) => x.nextId());
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/support/crash-writer.ts', name, db.where, PG_URL, String(accountId), String(itemId)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('inserted') && resolve());
      child.on('exit', (code) => reject(new Error(`crash writer exited early with ${code}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const item = await db.engine.read((x) =>
      x.get('SELECT id FROM items WHERE account_id = ? AND id = ?', [accountId, itemId]),
    );
    const events = await db.engine.read((x) =>
      x.all('SELECT id FROM events WHERE account_id = ? AND object_id = ?', [accountId, itemId]),
    );
    expect(item).toBeUndefined();
    expect(events).toEqual([]);
    // And the database is healthy afterwards: a normal change with its event commits.
    const ok = await db.engine.write((x) =>
      raise(x, { accountId, type: 'items.create', objectId: itemId, objectKind: 'contact', content: {}, now: 3 }),
    );
    expect(ok.id).toBeGreaterThan(0);
  }, 20_000);
});
