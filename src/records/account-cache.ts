// A short-lived per-account cache of what nearly every request consults and almost nothing changes: the
// users and groups (to check and name ownership/assignees) and the custom field definitions. Kept for a
// couple of seconds so that changes made by another node or the CLI show up quickly; changes made through
// this process invalidate it at once.
import type { Engine } from '../storage/port.js';
import { loadDirectory, type Directory } from '../accounts/accounts.js';
import type { FieldDef, FieldType } from './kinds.js';

export interface AccountInfo {
  directory: Directory;
  /** custom field definitions by item kind (contact, company, projectblog) */
  customFields: Map<string, FieldDef[]>;
}

const TTL_MS = 2000;

export class AccountCache {
  private entries = new Map<number, { at: number; info: Promise<AccountInfo> }>();
  constructor(private readonly engine: Engine) {}

  get(accountId: number): Promise<AccountInfo> {
    const hit = this.entries.get(accountId);
    const now = Date.now();
    if (hit && now - hit.at < TTL_MS) return hit.info;
    const info = this.engine.read(async (x) => {
      const directory = await loadDirectory(x, accountId);
      const rows = await x.all<{ kind: string; name: string; label: string; type: FieldType }>(
        'SELECT kind, name, label, type FROM field_defs WHERE account_id = ? ORDER BY created_at, name',
        [accountId],
      );
      const customFields = new Map<string, FieldDef[]>();
      for (const r of rows) {
        const list = customFields.get(r.kind) ?? [];
        list.push({ name: r.name, label: r.label, type: r.type });
        customFields.set(r.kind, list);
      }
      return { directory, customFields };
    });
    info.catch(() => this.entries.delete(accountId));
    this.entries.set(accountId, { at: now, info });
    return info;
  }

  invalidate(accountId: number): void {
    this.entries.delete(accountId);
  }
}
