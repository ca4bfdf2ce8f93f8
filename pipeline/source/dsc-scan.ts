/**
 * Which `-D` names a platform DSC understands: every name it (or a file it `!include`s, or its
 * FDF) declares with `DEFINE NAME =` or reads as `$(NAME)` / `!ifdef NAME`. A define outside
 * that set has no effect on the build: almost always a typo, so the run refuses it before any
 * container starts. Pure: files come from a lookup function.
 */

import type { DefineCatalog } from '../domain.ts';

export type FileLookup = (path: string) => string | undefined;

/** Text without `#` comments (edk2 meta-files have no `#` inside values we care about). */
function uncommented(text: string): string {
  return text.replace(/#.*$/gm, '');
}

/** Names declared or referenced in one meta-file. */
export function namesIn(text: string): Set<string> {
  const body = uncommented(text);
  const names = new Set<string>();
  for (const m of body.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) names.add(m[1]!);
  for (const m of body.matchAll(/^\s*(?:EDK_GLOBAL|DEFINE)\s+([A-Za-z_][A-Za-z0-9_]*)\s*=/gm)) names.add(m[1]!);
  for (const m of body.matchAll(/^\s*!if(?:n)?def\s+([A-Za-z_][A-Za-z0-9_]*)\s*$/gm)) names.add(m[1]!);
  return names;
}

/** `!include` targets and the FLASH_DEFINITION, as written (workspace-relative paths). */
export function referencedFiles(text: string): string[] {
  const body = uncommented(text);
  const files: string[] = [];
  for (const m of body.matchAll(/^\s*!include\s+(\S+)/gm)) files.push(m[1]!);
  for (const m of body.matchAll(/^\s*FLASH_DEFINITION\s*=\s*(\S+)/gm)) files.push(m[1]!);
  return files;
}

/**
 * All names the DSC and everything it pulls in understand; undefined when the DSC itself is not
 * in the tree. Includes that hide behind macros (`$(...)` in the path) are skipped.
 */
export function declaredNames(dsc: string, lookup: FileLookup): Set<string> | undefined {
  const root = lookup(dsc);
  if (root === undefined) return undefined;
  const names = new Set<string>();
  const seen = new Set<string>();
  const queue: [string, string][] = [[dsc, root]];
  while (queue.length) {
    const [path, text] = queue.shift()!;
    for (const n of namesIn(text)) names.add(n);
    for (const ref of referencedFiles(text)) {
      if (ref.includes('$(')) continue;
      const dir = path.slice(0, path.lastIndexOf('/') + 1);
      const candidates = [ref, `${dir}${ref}`];
      const found = candidates.find((c) => !seen.has(c) && lookup(c) !== undefined);
      if (found) {
        seen.add(found);
        queue.push([found, lookup(found)!]);
      }
    }
  }
  return names;
}

/** Names that added lines of a patch declare or read (a patch may introduce a define). */
export function namesAddedByPatch(patch: string): Set<string> {
  const added = patch.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++')).map((l) => l.slice(1)).join('\n');
  return namesIn(added);
}

/** Is this path one the scan needs (DSC, FDF and their includes; patches)? */
export function isMetaFile(path: string): boolean {
  return /\.(dsc|dsc\.inc|fdf|fdf\.inc)$/i.test(path) || /(^|\/)(debian\/patches\/|\.edk2-matrix\/patches\/).+/.test(path);
}


export function defineCatalog(dscs: readonly string[], files: ReadonlyMap<string, string>): DefineCatalog {
  const lookup: FileLookup = (p) => files.get(p);
  const fromPatches = new Set<string>();
  for (const [path, text] of files) if (/patches\//.test(path)) for (const n of namesAddedByPatch(text)) fromPatches.add(n);
  const catalog: Record<string, string[]> = {};
  for (const dsc of dscs) {
    const names = declaredNames(dsc, lookup);
    if (names) catalog[dsc] = [...new Set([...names, ...fromPatches])].sort();
  }
  return catalog;
}
