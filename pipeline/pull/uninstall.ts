/**
 * `uninstall`: removes exactly what a receipt lists — each variant's descriptor, link, store
 * directory and listed files — and nothing else: a file someone added to an installed
 * directory stays, and so does the directory holding it (with a warning).
 */
import { readdir, rm, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Receipt } from '../domain.ts';
import { publishFile } from '../host/atomic-publish.ts';
import type { Log } from '../domain.ts';
import { onDisk, type InstallPaths } from './install-paths.ts';
import { receiptPath } from './receipt.ts';

export async function uninstall(paths: InstallPaths, receipt: Receipt, ids: readonly string[], log: Log): Promise<string[]> {
  const disk = (p: string) => onDisk(paths, p);
  const removed: string[] = [];
  for (const v of receipt.variants.filter((x) => ids.includes(x.id))) {
    for (const d of v.descriptors) await rm(disk(d.path), { force: true });
    if (paths.live) await unlink(disk(v.dir)).catch(() => {});
    for (const f of v.files) await rm(disk(join(v.storeDir, f.path)), { force: true });
    await rmdir(disk(v.storeDir)).catch(async () => {
      const left = await readdir(disk(v.storeDir)).catch(() => [] as string[]);
      if (left.length) log.warn(`${v.storeDir}: left in place, it holds files pull did not install (${left.join(', ')})`);
    });
    removed.push(v.id);
  }
  const rest = receipt.variants.filter((v) => !ids.includes(v.id));
  if (rest.length) {
    const next: Receipt = { ...receipt, variants: rest };
    await publishFile(receiptPath(paths), `${JSON.stringify(next, null, 2)}\n`);
  } else {
    await rm(receiptPath(paths), { force: true });
    // The directories pull made, innermost first, as long as nothing else lives in them.
    for (const d of [...receipt.directories].sort((a, b) => b.length - a.length)) await rmdir(disk(d)).catch(() => {});
  }
  return removed;
}
