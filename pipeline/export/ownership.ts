/**
 * What a run may replace or remove: only what carries edk2-matrix's mark — an artifacts
 * directory with our index.json, a variant directory with our manifest, a failure record of
 * the files we write. A user's files beside them are never touched, and an --out directory
 * that holds other things is refused before anything is written.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FORMAT } from '../domain.ts';
import { UsageError } from '../errors.ts';
import { BUILD_LOG, FAILURE_REASON, INDEX_FILE, MANIFEST_FILE, SECOND_BUILD_LOG } from '../layout.ts';
import { publishFile } from '../host/atomic-publish.ts';

async function generatorOf(file: string): Promise<unknown> {
  try {
    return (JSON.parse(await readFile(file, 'utf8')) as { generator?: unknown }).generator;
  } catch {
    return undefined;
  }
}

/**
 * Entries of `dir`: undefined when nothing is there, null when something that is not a directory
 * is (a user's file: never ours). Any other failure is thrown, not taken for "nothing there".
 */
async function entriesOf(dir: string): Promise<string[] | null | undefined> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') return null;
    throw err;
  }
}

/** A variant directory we published (its manifest is ours), or nothing there at all. */
export async function isOursOrAbsent(dir: string): Promise<boolean> {
  const entries = await entriesOf(dir);
  if (entries === null) return false;
  return entries === undefined || (await generatorOf(join(dir, MANIFEST_FILE))) === 'edk2-matrix';
}

/** A failure record we wrote: error.txt and nothing but our logs. */
export async function isFailureRecord(dir: string): Promise<boolean> {
  const entries = await entriesOf(dir);
  if (entries === undefined) return true;
  if (entries === null) return false;
  return entries.includes(FAILURE_REASON) && entries.every((e) => [FAILURE_REASON, BUILD_LOG, SECOND_BUILD_LOG].includes(e));
}

/** Refuses an `outDir` that is not new, empty, or an artifacts directory of ours. Reads only. */
export async function checkOutDir(outDir: string): Promise<void> {
  const entries = await readdir(outDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new UsageError(`--out ${outDir}: ${err.code === 'ENOTDIR' ? 'is a file, not a directory' : err.message}`);
  });
  if (entries && entries.length > 0) {
    if ((await generatorOf(join(outDir, INDEX_FILE))) === 'edk2-matrix') return;
    const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? `, ... (${entries.length} entries)` : '');
    throw new UsageError(`--out ${outDir} holds files edk2-matrix did not write (${shown})`,
      'give a new or empty directory, or the artifacts directory of an earlier run; nothing was changed');
  }
}

/** Creates `outDir` marked as ours (an empty index) when it has no index yet: an interrupted first run still leaves it ours. */
export async function markOutDir(outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  if ((await generatorOf(join(outDir, INDEX_FILE))) === 'edk2-matrix') return;
  await publishFile(join(outDir, INDEX_FILE), `${JSON.stringify({ generator: 'edk2-matrix', formatVersion: MANIFEST_FORMAT, variants: [] }, null, 2)}\n`);
}
