/**
 * Publishes a variant directory atomically: every file is written and fsynced in a temporary
 * sibling, which is then renamed into place. A reader sees the old directory or the new one,
 * never half of one; a failed write leaves the old one untouched.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../layout.ts';
import { exists } from './exists.ts';


export function tempName(label: string): string {
  return `${TEMP_PREFIX}${process.pid}-${label}-${randomBytes(3).toString('hex')}`;
}

/** fsync of a file or directory (a directory's entries, after renames into it). */
export async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function writeFileSynced(path: string, data: Buffer | string, mode = 0o644): Promise<void> {
  const fh = await open(path, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}


export interface PublishFile {
  readonly name: string;
  readonly data: Buffer | string;
  readonly mode?: number;
}

/** Replaces `dir/name` with a directory holding exactly `files`. */
export async function publishDirectory(dir: string, name: string, files: readonly PublishFile[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const temp = join(dir, tempName(name));
  const final = join(dir, name);
  await mkdir(temp);
  try {
    for (const f of files) await writeFileSynced(join(temp, f.name), f.data, f.mode);
    await syncPath(temp);
    if (await exists(final)) {
      const old = join(dir, tempName(`old-${name}`));
      await rename(final, old);
      try {
        await rename(temp, final);
      } catch (err) {
        // Put the earlier publication back: a failed publish leaves it as it was.
        await rename(old, final);
        throw err;
      }
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temp, final);
    }
    await syncPath(dir);
    return final;
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}

/** Writes one file atomically (temporary sibling, fsync, rename). */
export async function publishFile(path: string, data: Buffer | string): Promise<void> {
  const temp = join(path, '..', tempName('file'));
  try {
    await writeFileSynced(temp, data);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
