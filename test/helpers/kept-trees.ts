/**
 * The kept build trees (edk2-build/build-tree.ts) built from one working tree — an integration
 * test's own — removed with their records: their volumes and records name the tree's root.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_TREES_DIR } from '../../pipeline/edk2-build/build-tree.ts';
import type { Engine } from '../../pipeline/engine/engine.ts';

export async function removeKeptTrees(engine: Engine, cacheDir: string, tree: string): Promise<void> {
  const dir = join(cacheDir, BUILD_TREES_DIR);
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return; // no kept tree at all
  }
  for (const name of names) {
    if (!readFileSync(join(dir, name), 'utf8').includes(`"root":${JSON.stringify(tree)}`)) continue;
    await engine.removeVolume(name.slice(0, -'.json'.length)).catch(() => {});
    rmSync(join(dir, name), { force: true });
  }
}
