// Dispatch cost follows the hooks that match, not the hooks that exist: with 10,000 hooks of the account on
// other events (and some inactive or on another kind), raising an event reads only the matching hooks'
// index entries, on both engines — shown by the plans of the real fan-out statement, and by the outcome.
// The same for claiming and recording. On PostgreSQL each statement's generic plan is checked too (what a
// named statement keeps after its fifth run), at PostgreSQL's default random_page_cost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, makeEngine, type TestEngine } from '../support/engines.js';
import { FAN_OUT } from '../../src/records/events.js';
import { ONE_WRITER_LANE, claimSql, lanesSql } from '../../src/delivery/claim.js';
import { MATCHING_HOOKS, fanOutLeasingSql } from '../../src/delivery/handoff.js';
import { CLEAR_FAILING_MANY, CLEAR_FAILING_ONE } from '../../src/delivery/record.js';
import { LEASE_HOLDERS } from '../../src/delivery/owners.js';
import type { Executor } from '../../src/storage/port.js';
import { insertHook, newAccount, raiseEvent } from './helpers.js';

const OTHER_HOOKS = 10_000;

const literal = (v: unknown) => (typeof v === 'number' ? String(v) : `'${String(v).replaceAll("'", "''")}'`);

/**
 * PostgreSQL's plans of a statement: with these values, and generic (as a named statement gets after its
 * fifth run, whatever values come later) — at PostgreSQL's default random_page_cost (Hookline's connections
 * ask for 1.1; a database URL's options or the server's settings may say otherwise).
 */
async function pgPlans(x: Executor, sql: string, params: readonly unknown[]): Promise<string[]> {
  const text = (rows: Record<string, string>[]) => rows.map((r) => r['QUERY PLAN']).join('\n');
  await x.run('SET LOCAL random_page_cost = 4');
  const custom = text(await x.all<Record<string, string>>(`EXPLAIN ${sql}`, params));
  let n = 0;
  await x.run('SET LOCAL plan_cache_mode = force_generic_plan');
  await x.run(`PREPARE generic_plan AS ${sql.replace(/\?/g, () => `$${++n}`)}`);
  try {
    return [custom, text(await x.all(`EXPLAIN EXECUTE generic_plan(${params.map(literal).join(', ')})`))];
  } finally {
    await x.run('DEALLOCATE generic_plan');
  }
}

describe.each(ENGINES)('dispatch on %s', (name) => {
  let db: TestEngine;
  let accountId: number;
  let matching: number[];
  beforeAll(async () => {
    db = await makeEngine(name);
    accountId = (await newAccount(db.engine)).accountId;
    // 10,000 hooks on another event, written in one statement (ids far above the id counter's), with URLs and
    // secrets of a real hook's length: the planner weighs a scan by the table's size on disk.
    await db.engine.write((x) =>
      x.run(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${OTHER_HOOKS})
         INSERT INTO hooks (account_id, id, type, title, active, event, constrainttype, url, contenttype, secret, created_at, updated_at)
         SELECT ?, 900000000000 + i, 'web', 'other', 1, 'items.update', 'all',
                'https://receiver-' || i || '.example.com/hooks/solve360', 'json', 'whsec_0123456789abcdef0123456789abcdef', 1, 1 FROM n`,
        [accountId],
      ),
    );
    matching = [
      await insertHook(db.engine, accountId, { url: 'http://a.test/', constrainttype: 'all' }),
      await insertHook(db.engine, accountId, { url: 'http://b.test/', constrainttype: 'contact' }),
    ];
    await insertHook(db.engine, accountId, { url: 'http://c.test/', constrainttype: 'company' }); // other kind
    await insertHook(db.engine, accountId, { url: 'http://d.test/', active: 0 }); // inactive
  }, 60_000);
  afterAll(async () => db.destroy());

  it('an event gets exactly the deliveries of the matching hooks', async () => {
    const eventId = await raiseEvent(db.engine, accountId, { now: 1, type: 'items.create', objectKind: 'contact' });
    const rows = await db.engine.read((x) =>
      x.all<{ hook_id: number }>(
        'SELECT hook_id FROM deliveries WHERE account_id = ? AND event_id = ? ORDER BY hook_id',
        [accountId, eventId],
      ),
    );
    expect(rows.map((r) => Number(r.hook_id))).toEqual(matching);
  });

  it('handing over: the same hooks get one delivery each, leased to the engine that takes them (never a rate-limited hook’s)', async () => {
    const handed: { hookId: number }[] = [];
    const taken: number[] = [];
    const limited = matching[1];
    await db.engine.write((x) => x.run('UPDATE hooks SET rate_limit = 10 WHERE id = ?', [limited]));
    db.engine.handOffTo!({
      owner: 'dispatch-test',
      leaseMs: 90_000,
      take: (hookId) => (taken.push(hookId), true),
      takesAll: () => true,
      took: (hookId) => void taken.push(hookId),
      untake: () => undefined,
      launch: (ds) => void handed.push(...(ds as { hookId: number }[])),
    });
    try {
      const eventId = await raiseEvent(db.engine, accountId, { now: 5, type: 'items.create', objectKind: 'contact' });
      const rows = await db.engine.read((x) =>
        x.all<{ hook_id: number; lease_owner: string | null; lease_until: number | null; attempt_count: number }>(
          'SELECT hook_id, lease_owner, lease_until, attempt_count FROM deliveries WHERE account_id = ? AND event_id = ? ORDER BY hook_id',
          [accountId, eventId],
        ),
      );
      const asNumbers = rows.map((r) => ({
        ...r,
        hook_id: Number(r.hook_id),
        lease_until: r.lease_until && Number(r.lease_until),
      }));
      expect(asNumbers).toEqual([
        { hook_id: matching[0], lease_owner: 'dispatch-test', lease_until: 90_005, attempt_count: 1 },
        { hook_id: limited, lease_owner: null, lease_until: null, attempt_count: 0 },
      ]);
      expect(taken).toEqual([matching[0]]);
      expect(handed.map((d) => d.hookId)).toEqual([matching[0]]);
    } finally {
      await db.engine.write((x) => x.run('UPDATE hooks SET rate_limit = 0 WHERE id = ?', [limited]));
    }
  });

  it('the fan-out reads hooks through hooks_match, never by scanning the table', async () => {
    const params = [1, 1, 1, 1, accountId, 'items.create', 'contact'];
    if (name === 'sqlite') {
      const plan = await db.engine.read((x) =>
        x.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${FAN_OUT.replace(/^INSERT[^\n]*\n/, '')}`, params.slice(0, 7)),
      );
      const details = plan.map((p) => p.detail).join('\n');
      expect(details).toMatch(/SEARCH hooks USING INDEX hooks_match \(account_id=\? AND event=\? AND active=\?/);
      expect(details).not.toMatch(/SCAN hooks/);
      // The hand-off's read of the same hooks (delivery/handoff.ts).
      const handing = await db.engine.read((x) =>
        x.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${MATCHING_HOOKS}`, [accountId, 'items.create', 'contact']),
      );
      expect(handing.map((p) => p.detail).join('\n')).toMatch(
        /^SEARCH hooks USING INDEX hooks_match \(account_id=\? AND event=\? AND active=\?/,
      );
    } else {
      const plans = await db.engine.read((x) => pgPlans(x, FAN_OUT.replace(/^INSERT[^\n]*\n/, ''), params));
      // The fan-out that leases as it writes, for a delivery engine of this process (delivery/handoff.ts).
      const leasing = await db.engine.write((x) =>
        pgPlans(x, fanOutLeasingSql(''), [...[1, 1, 2, 'plan', 1, 1], ...[accountId, 'items.create', 'contact', 1]]),
      );
      for (const text of [...plans, ...leasing]) {
        expect(text).toMatch(/Index (Only )?Scan using hooks_match on hooks|Bitmap Index Scan on hooks_match/);
        expect(text).not.toMatch(/Seq Scan on hooks/);
      }
    }
  });

  it('looking for due deliveries reads hooks by id, never by scanning them', async () => {
    const params = [JSON.stringify([[matching[0], 1]]), 16, 1, 1, 1, 16, 1, 1, 100];
    const plans = await db.engine.read(async (x) =>
      name === 'sqlite'
        ? [
            (await x.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${lanesSql(x.dialect)}`, params))
              .map((p) => p.detail)
              .join('\n'),
          ]
        : pgPlans(x, lanesSql(x.dialect), params),
    );
    for (const text of plans) {
      expect(text).toMatch(/hooks_by_id/);
      expect(text).not.toMatch(/Seq Scan on (hooks|deliveries|hook_rates)|SCAN (hooks|deliveries|hook_rates)\b/);
    }
  });

  it('a claim reads its lane by index and the hooks and events it returns by key, never by scanning them', async () => {
    if (name === 'sqlite') {
      const plan = await db.engine.read((x) =>
        x.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${ONE_WRITER_LANE}`, ['plan', matching[0], 1, 1, 16]),
      );
      const details = plan.map((p) => p.detail).join('\n');
      expect(details).toMatch(/SEARCH d USING INDEX deliveries_pending_by_hook \(hook_id=\?/);
      expect(details).toMatch(/SEARCH e USING INDEX \w+ \(account_id=\? AND id=\?\)/);
      expect(details).not.toMatch(/SCAN (d|e|deliveries|events)\b/);
      return;
    }
    const plans = await db.engine.write((x) =>
      pgPlans(x, claimSql(x.dialect), [
        JSON.stringify([[matching[0], 16]]),
        1,
        1,
        16,
        100,
        2,
        'plan',
        'plan',
        'plan',
        1,
        1,
      ]),
    );
    for (const text of plans) {
      expect(text).toMatch(/Index Scan using \w+ on events/);
      expect(text).toMatch(/Index Scan using \w+ on hooks/);
      expect(text).not.toMatch(/Seq Scan on (hooks|events|deliveries)/);
    }
  });

  it('the start’s read of lease holders walks the pending deliveries’ index, never the history', async () => {
    const plans = await db.engine.read(async (x) =>
      name === 'sqlite'
        ? [
            (await x.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${LEASE_HOLDERS}`, [1]))
              .map((p) => p.detail)
              .join('\n'),
          ]
        : pgPlans(x, LEASE_HOLDERS, [1]),
    );
    for (const text of plans) {
      expect(text).toMatch(/deliveries_pending_by_hook/);
      expect(text).not.toMatch(/Seq Scan on deliveries|SCAN deliveries(?! USING)/);
    }
  });

  it('a success ends its hook’s failing streak by key, never by scanning the hooks', async () => {
    if (name === 'sqlite') {
      const plan = await db.engine.read((x) =>
        x.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${CLEAR_FAILING_ONE}`, [1]),
      );
      const details = plan.map((p) => p.detail).join('\n');
      expect(details).toMatch(/SEARCH hooks USING/);
      expect(details).not.toMatch(/SCAN hooks\b/);
      return;
    }
    // Before and after ANALYZE (which learns that most hooks never fail). A key list unpacked from JSON was
    // guessed at 100 rows and planned as a scan of every hook.
    const plans: string[] = [];
    for (const analyzed of [false, true]) {
      if (analyzed) await db.engine.write((x) => x.run('ANALYZE hooks'));
      plans.push(...(await db.engine.read((x) => pgPlans(x, CLEAR_FAILING_MANY, [`{${matching.join(',')}}`]))));
    }
    for (const plan of plans) {
      expect(plan).not.toMatch(/Seq Scan on hooks/);
      expect(plan).toMatch(/Index Scan (using|on) hooks_by_id/);
    }
  });
});
