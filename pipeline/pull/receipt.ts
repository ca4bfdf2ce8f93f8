/**
 * The receipt of an install (`<data dir>/receipt.json`): what `pull` installed there, from
 * which release, with every file's digest. `--check` re-hashes what it lists; `uninstall`
 * removes exactly what it lists.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RECEIPT_FORMAT, type Receipt } from '../domain.ts';
import { ReleaseError } from '../errors.ts';
import { RECEIPT_FILE } from '../layout.ts';
import { onDisk, type InstallPaths } from './install-paths.ts';

export const EMPTY_RECEIPT: Receipt = { generator: 'edk2-matrix-pull', formatVersion: RECEIPT_FORMAT, variants: [], directories: [] };

export function receiptPath(paths: InstallPaths): string {
  return onDisk(paths, join(paths.dataDir, RECEIPT_FILE));
}

export async function readReceipt(paths: InstallPaths): Promise<Receipt> {
  const file = receiptPath(paths);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return EMPTY_RECEIPT;
  }
  let receipt: Receipt;
  try {
    receipt = JSON.parse(text) as Receipt;
  } catch {
    throw new ReleaseError(`receipt ${file}`, 'is not valid JSON', 'restore it from a backup, or remove the install by hand');
  }
  if (receipt.generator !== 'edk2-matrix-pull' || receipt.formatVersion !== RECEIPT_FORMAT || !Array.isArray(receipt.variants) || !Array.isArray(receipt.directories)) {
    throw new ReleaseError(`receipt ${file}`, 'is not an edk2-matrix pull receipt of a format this version knows');
  }
  return receipt;
}
