// Lease owners: who holds a claim. A delivery engine's owner is named `host:pid:random`, so that a node
// starting after a crash can tell the leases of a dead process on its own host from those of live ones.
// A lease otherwise runs out on its own (HOOKLINE_DELIVERY_LEASE, 80 s by default), and until then what the
// dead process held waits. At start, the engine ends the leases of the dead processes of its host at once
// (takeOverFromDead): they are then taken over as any expired lease is (claim.ts: the same attempt again,
// the same webhook-id). A lease of another host, or of a process still alive, is left alone; an owner of
// any other form (a configured one) too.
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Executor } from '../storage/port.js';

const OWNER = /^(.+):(\d+):([0-9a-f]{6})$/;

/** The owners made in this process, alive as long as it runs (tests and tools may run several engines). */
const ours = new Set<string>();

/** A new owner name for an engine of this process. */
export function newOwner(): string {
  const owner = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  ours.add(owner);
  return owner;
}

/**
 * Whether `owner` names a process of this host that no longer runs: no process has its pid, or the pid is
 * this process's own (a previous run with the same pid, as a container's first process has) and the name is
 * not one this process made. A pid reused by an unrelated process reads as alive, and the lease runs out on
 * its own. Hosts sharing a name and a database from separate pid namespaces would take each other's leases
 * over early: a repeated attempt, never a lost one.
 */
export function deadOnThisHost(owner: string): boolean {
  const m = OWNER.exec(owner);
  if (!m || m[1] !== os.hostname() || ours.has(owner)) return false;
  const pid = Number(m[2]);
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    // EPERM: it exists, as another user's process.
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** The owners of leases that have not run out. Param: now. */
export const LEASE_HOLDERS = `SELECT DISTINCT lease_owner AS owner FROM deliveries
      WHERE state = 'pending' AND lease_owner IS NOT NULL AND lease_until >= ?`;

/**
 * The owners holding leases that have not run out at `now`. Both engines answer it from the pending
 * deliveries' index (deliveries_pending_by_hook, which holds lease_until), so its cost follows the
 * deliveries waiting, never the history of those done.
 */
export async function leaseHolders(x: Pick<Executor, 'all'>, now: number): Promise<string[]> {
  const rows = await x.all<{ owner: string }>(LEASE_HOLDERS, [now]);
  return rows.map((r) => r.owner);
}

/**
 * Ends the leases `owner` holds: they run out now, and the next claim takes them over as any expired lease.
 * Answers how many.
 */
export async function expireLeases(x: Executor, owner: string, now: number): Promise<number> {
  const r = await x.run(
    `UPDATE deliveries SET lease_until = ?, updated_at = ?
      WHERE state = 'pending' AND lease_owner = ? AND lease_until >= ?`,
    [now - 1, now, owner, now],
  );
  return r.changes;
}

/**
 * Ends at once what the stopped processes of this host hold, for a delivery engine's or a mail loop's start:
 * `holders()` reads the owners of leases that have not run out, `expire(owner)` ends one's leases and answers
 * how many; each owner taken over is logged as holding that many `what`. Answers how many in all. Never
 * throws (logged instead): the leases run out anyway.
 */
export async function takeOverFromDead(o: {
  holders: () => Promise<string[]>;
  expire: (owner: string) => Promise<number>;
  what: 'deliveries' | 'e-mails';
  logger?: Logger;
}): Promise<number> {
  let taken = 0;
  try {
    for (const owner of (await o.holders()).filter(deadOnThisHost)) {
      const n = await o.expire(owner);
      taken += n;
      if (n > 0) o.logger?.info({ owner, [o.what]: n }, `taking over the ${o.what} of a stopped process`);
    }
  } catch (e) {
    o.logger?.error({ err: (e as Error).message }, `taking over the ${o.what} of stopped processes failed`);
  }
  return taken;
}
