// Rules for the SQL text in src/ that no engine would reject but that cost: see src/storage/port.ts.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('SQL text', () => {
  it('binds LIMIT and OFFSET through CAST, never as a bare parameter', () => {
    const bare = sources(SRC).flatMap((file) =>
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ where: `${path.relative(SRC, file)}:${i + 1}`, line }))
        .filter(({ line }) => !/^\s*(\/\/|\*)/.test(line) && /\b(LIMIT|OFFSET)\s+\?(?!\?)/.test(line)),
    );
    expect(bare).toEqual([]);
  });
});
