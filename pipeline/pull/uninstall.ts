/**
 * `uninstall`: removes exactly what a receipt lists — each variant's descriptor, link, store
 * directory and listed files (in Debian's layout, its files in Debian's shared directories,
 * which stay) — and nothing else: a file someone added to an installed
 * directory stays, and so does the directory holding it (with a warning). Whatever it could
 * not remove is reported, path by path, and its variant stays in the receipt, so that running
 * uninstall again (once the cause is fixed) finishes the job.
 */
import { readdir, rm, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Receipt } from '../domain.ts';
import { publishFile } from '../host/atomic-publish.ts';
import type { Log } from '../domain.ts';
import { onDisk, type InstallPaths } from './install-paths.ts';
import { receiptPath, receiptText } from './receipt.ts';

export interface Uninstalled {
  /** Variants entirely removed (and gone from the receipt). */
  readonly removed: readonly string[];
  /** Each path that could not be removed, with why (as on this host). */
  readonly failed: readonly { readonly path: string; readonly reason: string }[];
  /** Directories pull made (as recorded) that should go once empty: the caller removes them after its lock. */
  readonly emptyDirs: readonly string[];
}

const reason = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

export async function uninstall(paths: InstallPaths, receipt: Receipt, ids: readonly string[], log: Log): Promise<Uninstalled> {
  const disk = (p: string) => onDisk(paths, p);
  const removed: string[] = [];
  const failed: { path: string; reason: string }[] = [];
  const attempt = async (path: string, remove: () => Promise<unknown>): Promise<boolean> => {
    try {
      await remove();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      failed.push({ path, reason: reason(err) });
      return false;
    }
  };
  for (const v of receipt.variants.filter((x) => ids.includes(x.id))) {
    const before = failed.length;
    for (const d of v.descriptors) await attempt(disk(d.path), () => rm(disk(d.path)));
    if (paths.live) await attempt(disk(v.dir), () => unlink(disk(v.dir)));
    for (const f of v.files) await attempt(disk(join(v.storeDir, f.path)), () => rm(disk(join(v.storeDir, f.path))));
    if (failed.length === before && v.layout !== 'debian') {
      await rmdir(disk(v.storeDir)).catch(async (err: unknown) => {
        const left = await readdir(disk(v.storeDir)).catch(() => [] as string[]);
        if (left.length) log.warn(`${v.storeDir}: left in place, it holds files pull did not install (${left.join(', ')})`);
        else if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failed.push({ path: disk(v.storeDir), reason: reason(err) });
      });
    }
    if (failed.length === before) removed.push(v.id);
  }
  const rest = receipt.variants.filter((v) => !removed.includes(v.id));
  if (rest.length) {
    await publishFile(receiptPath(paths), receiptText({ ...receipt, variants: rest }));
    return { removed, failed, emptyDirs: [] };
  }
  await rm(receiptPath(paths), { force: true });
  // The directories pull made, innermost first, as long as nothing else lives in them.
  for (const d of [...receipt.directories].sort((a, b) => b.length - a.length)) await rmdir(disk(d)).catch(() => {});
  return { removed, failed, emptyDirs: receipt.directories };
}
