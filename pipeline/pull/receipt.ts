/**
 * The receipt of an install (`<data dir>/receipt.json`): what `pull` installed there, from
 * which release, with every file's digest. `--check` re-hashes what it lists; `uninstall`
 * removes exactly what it lists. No receipt means nothing is installed; a receipt that cannot
 * be read, is not JSON or does not match its schema is an error: treating it as "nothing
 * installed" would let the next pull overwrite a record of what is there.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { RECEIPT_FORMAT, type Receipt } from '../domain.ts';
import { DestinationError } from '../errors.ts';
import { RECEIPT_FILE } from '../layout.ts';
import { onDisk, type InstallPaths } from './install-paths.ts';

export const EMPTY_RECEIPT: Receipt = { generator: 'edk2-matrix-pull', formatVersion: RECEIPT_FORMAT, variants: [], directories: [] };

const SHA256 = z.string().regex(/^[0-9a-f]{64}$/);
const ABSOLUTE = z.string().startsWith('/');

export const receiptSchema = z.object({
  generator: z.literal('edk2-matrix-pull'),
  formatVersion: z.literal(RECEIPT_FORMAT),
  variants: z.array(z.object({
    id: z.string().min(1),
    dir: ABSOLUTE,
    storeDir: ABSOLUTE,
    layout: z.literal('debian').optional(),
    files: z.array(z.object({ path: z.string().min(1), sha256: SHA256, size: z.number().int().nonnegative() })),
    descriptors: z.array(z.object({ path: ABSOLUTE, sha256: SHA256 })),
    release: z.object({ location: z.string(), tag: z.string().optional(), keyId: z.string(), archiveSha256: SHA256 }),
  })),
  directories: z.array(ABSOLUTE),
});

export function receiptPath(paths: InstallPaths): string {
  return onDisk(paths, join(paths.dataDir, RECEIPT_FILE));
}

const UNREADABLE_HINT = 'restore it from a backup, or remove the install by hand (its files are under the directory holding it)';

/** Parses a receipt's text; `file` names it in the error. */
export function parseReceipt(text: string, file: string): Receipt {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DestinationError(`receipt ${file}: is not valid JSON`, UNREADABLE_HINT);
  }
  const parsed = receiptSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DestinationError(`receipt ${file}: is not an edk2-matrix pull receipt of a format this version knows (${issue.path.join('.') || 'top level'}: ${issue.message})`, UNREADABLE_HINT);
  }
  return parsed.data as Receipt;
}

/** The receipt at the destination; the empty one when there is none. */
export async function readReceipt(paths: InstallPaths): Promise<Receipt> {
  const file = receiptPath(paths);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return EMPTY_RECEIPT;
    throw new DestinationError(`receipt ${file}: cannot be read (${code ?? (err as Error).message})`, UNREADABLE_HINT, { cause: err });
  }
  return parseReceipt(text, file);
}

export function receiptText(receipt: Receipt): string {
  return `${JSON.stringify(receipt, null, 2)}\n`;
}

/**
 * Where a release came from, as a receipt records it. A package build (--destdir) ships its
 * receipt to other machines: a local directory is recorded by its base name, and a URL without
 * credentials, so that nothing names the machine that ran pull.
 */
export function recordedLocation(paths: InstallPaths, location: string): string {
  if (paths.mode !== 'package') return location;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return basename(location);
  try {
    const url = new URL(location);
    url.username = '';
    url.password = '';
    return url.href;
  } catch {
    return basename(location);
  }
}
