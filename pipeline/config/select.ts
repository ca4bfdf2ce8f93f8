/**
 * `--only` selection: comma-separated ids or globs (`x64-*`), each of which must match.
 */
import picomatch from 'picomatch';
import { UsageError } from '../errors.ts';

export function selectVariants<T extends { readonly id: string }>(variants: readonly T[], only: string | undefined): T[] {
  if (only === undefined) return [...variants];
  const patterns = only.split(',').map((p) => p.trim()).filter(Boolean);
  if (patterns.length === 0) throw new UsageError('--only is empty', 'give variant ids or globs, e.g. --only x64-debug,aarch64-*');
  const selected = new Set<string>();
  for (const pattern of patterns) {
    const isMatch = picomatch(pattern);
    const hits = variants.filter((v) => isMatch(v.id));
    if (hits.length === 0) {
      throw new UsageError(`--only ${pattern} matches no variant`,
        `variants: ${variants.map((v) => v.id).join(', ')} (npm run matrix -- --list)`);
    }
    for (const v of hits) selected.add(v.id);
  }
  return variants.filter((v) => selected.has(v.id));
}
