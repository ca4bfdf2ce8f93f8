/** Builds matrix.yaml texts for tests from the repository's default file. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../pipeline/config/load.ts';
import type { MatrixConfig } from '../../pipeline/domain.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_MATRIX = `${REPO}matrix.yaml`;
export const defaultText = readFileSync(DEFAULT_MATRIX, 'utf8');

/** Parses `text` as if it were matrix.yaml at the repository root (so relative paths resolve). */
export function parse(text: string): MatrixConfig {
  return parseConfig(text, DEFAULT_MATRIX, 'matrix.yaml');
}

/** The default file with its `matrix:` section replaced. */
export function withMatrix(matrix: string, features = ''): string {
  const head = defaultText.slice(0, defaultText.indexOf('\nmatrix:\n') + 1);
  const withFeatures = features ? head.replace(/\nfeatures:\n[\s\S]*?\n\n/, `\nfeatures:\n${features}\n\n`) : head;
  return `${withFeatures}matrix:\n${matrix}`;
}

/** The message of the error `fn` throws. */
export function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message + ((err as { hint?: string }).hint ? ` (${(err as { hint?: string }).hint})` : '');
  }
  throw new Error('expected an error, none was thrown');
}
