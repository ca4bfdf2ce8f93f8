/**
 * Whether a directory can be built as an edk2 tree: edksetup.sh and BaseTools at its top, and
 * every platform DSC the matrix names. Checked when the matrix is read (or `--source-dir` given),
 * before anything runs: a wrong directory is one line, not a failed build minutes later.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Variant } from '../domain.ts';

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

/** What is wrong with `root` as the source of these variants, or undefined. */
export function edk2TreeProblem(root: string, variants: readonly Variant[]): string | undefined {
  if (!isDir(root)) return `${root} is not a directory`;
  if (!isFile(join(root, 'edksetup.sh')) || !isDir(join(root, 'BaseTools'))) return `${root} is not an edk2 tree (no edksetup.sh and BaseTools/ at its top)`;
  const dscs = [...new Set(variants.map((v) => v.platform.dsc))];
  const missing = dscs.filter((d) => !isFile(join(root, d)));
  if (missing.length) return `${root} has no ${missing.join(', ')}, which the matrix builds`;
  return undefined;
}
