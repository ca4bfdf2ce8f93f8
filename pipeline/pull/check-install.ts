/**
 * `pull --check`: re-hashes everything a receipt lists and reports drift — a file changed,
 * missing or added (not in Debian's shared directories), a variant's link pointing elsewhere,
 * a descriptor changed or gone.
 */
import { readdir, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { hashFile } from '../checksums.ts';
import { exists } from '../host/exists.ts';
import type { Receipt } from '../domain.ts';
import { STORE_DIR } from '../layout.ts';
import { onDisk, type InstallPaths } from './install-paths.ts';

export async function checkInstall(paths: InstallPaths, receipt: Receipt): Promise<string[]> {
  const disk = (p: string) => onDisk(paths, p);
  const drift: string[] = [];
  for (const v of receipt.variants) {
    if (paths.live) {
      const target = await readlink(disk(v.dir)).catch(() => undefined);
      if (target !== join(STORE_DIR, basename(v.storeDir))) drift.push(`${v.dir}: ${target === undefined ? 'missing' : `points to ${target}, not to its store directory`}`);
    }
    // In Debian's layout the directories are shared with other variants and packages: only
    // what the receipt lists is checked.
    const shared = v.layout === 'debian';
    const present = new Set(shared ? [] : await readdir(disk(v.storeDir)).catch(() => [] as string[]));
    for (const f of v.files) {
      const path = join(v.storeDir, f.path);
      if (shared ? !(await exists(disk(path))) : !present.delete(f.path)) {
        drift.push(`${path}: missing`);
        continue;
      }
      const got = await hashFile(disk(path)).catch(() => undefined);
      if (got?.sha256 !== f.sha256) drift.push(`${path}: changed (sha256 ${got?.sha256.slice(0, 12) ?? '?'}…, installed ${f.sha256.slice(0, 12)}…)`);
    }
    for (const extra of present) drift.push(`${join(v.storeDir, extra)}: not installed by pull`);
    for (const want of v.descriptors) {
      const d = await hashFile(disk(want.path)).catch(() => undefined);
      if (!d) drift.push(`${want.path}: missing`);
      else if (d.sha256 !== want.sha256) drift.push(`${want.path}: changed`);
    }
  }
  return drift;
}
