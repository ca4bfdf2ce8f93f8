/** The "nothing touched" comparison the bad-input test relies on: it must see every kind of change. */
import { mkdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.ts';
import { treeChanges, treeState } from '../helpers/tree-state.ts';

describe('treeChanges', () => {
  it('finds nothing when a tree was only read', () => {
    const dir = tempDir('tree-');
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'a', 'f'), 'x');
    symlinkSync('f', join(dir, 'a', 'l'));
    const before = treeState({ t: dir });
    readFileSync(join(dir, 'a', 'f'));
    expect([...before.keys()]).toEqual(['t', 't/a', 't/a/f', 't/a/l']);
    expect(treeChanges(before, treeState({ t: dir }))).toEqual([]);
  });

  it('reports a root that appears, a link retargeted, and a file turned into a directory', () => {
    const dir = tempDir('tree-');
    const later = join(tempDir('tree-later-'), 'later');
    writeFileSync(join(dir, 'f'), 'abc');
    symlinkSync('f', join(dir, 'l'));
    const before = treeState({ t: dir, later });
    mkdirSync(later);
    unlinkSync(join(dir, 'l'));
    symlinkSync('g', join(dir, 'l'));
    unlinkSync(join(dir, 'f'));
    mkdirSync(join(dir, 'f'));
    const changes = treeChanges(before, treeState({ t: dir, later }));
    expect(changes).toEqual([
      expect.stringMatching(/^added later \(dir \d+\)$/),
      expect.stringMatching(/^changed t: mtime /),
      expect.stringMatching(/^changed t\/f: type file -> dir, size 3 -> \d+, mode \d+ -> \d+, mtime /),
      expect.stringMatching(/^changed t\/l: target f -> g, mtime /),
    ]);
  });
});
