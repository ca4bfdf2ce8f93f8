/**
 * What a published variant directory looked like on disk when it was last known good: each
 * file's size, times and inode, as git's index records them. A rerun compares these instead of
 * re-hashing every file (over 600 MiB for the default matrix, with its padded ARM images);
 * any difference, or `--rehash`, means hashing again. A file changed without changing any of
 * them (same size, restored mtime, same ctime and inode) would go unnoticed: ctime cannot be
 * set back by ordinary tools, which is why it is part of the fingerprint.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DataFileError } from '../errors.ts';
import { readJsonIfPresent, type JsonFileKind } from '../host/read-json.ts';
import { FINGERPRINT_FILE } from '../layout.ts';
import { publishFile } from '../host/atomic-publish.ts';

type Stamp = [size: number, mtimeMs: number, ctimeMs: number, ino: number];

const fingerprintSchema = z.object({
  key: z.string(),
  files: z.record(z.string(), z.tuple([z.number(), z.number(), z.number(), z.number()])),
});
type Fingerprint = z.output<typeof fingerprintSchema>;
const FINGERPRINT_KIND: JsonFileKind = { what: 'file fingerprint', hint: 'it is written again after the files are hashed' };

async function stamp(path: string): Promise<Stamp | undefined> {
  const st = await stat(path).catch(() => undefined);
  return st && [st.size, st.mtimeMs, st.ctimeMs, st.ino];
}

/** Records the files of `dir` as they are now, for `key`. */
export async function recordFingerprint(dir: string, key: string, names: readonly string[]): Promise<void> {
  const files: Record<string, Stamp> = {};
  for (const name of names) {
    const s = await stamp(join(dir, name));
    if (!s) return;
    files[name] = s;
  }
  await publishFile(join(dir, FINGERPRINT_FILE), `${JSON.stringify({ key, files } satisfies Fingerprint)}\n`);
}

/** Whether every file of `dir` still has the stamp recorded for `key`. */
export async function fingerprintMatches(dir: string, key: string, names: readonly string[]): Promise<boolean> {
  let recorded: Fingerprint | undefined;
  try {
    recorded = await readJsonIfPresent(join(dir, FINGERPRINT_FILE), fingerprintSchema, FINGERPRINT_KIND);
  } catch (err) {
    // Only a record of stamps: a damaged one means hashing the files again, which checks them all.
    if (err instanceof DataFileError) return false;
    throw err;
  }
  if (!recorded) return false;
  if (recorded.key !== key) return false;
  for (const name of names) {
    const now = await stamp(join(dir, name));
    const then = recorded.files[name];
    if (!now || !then || now.some((v, i) => v !== then[i])) return false;
  }
  return true;
}
