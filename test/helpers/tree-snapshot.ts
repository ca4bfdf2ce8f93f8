/**
 * Everything under a directory, links included (as links, not followed): type, mode, content
 * digest or link target. Two equal snapshots mean "exactly as it was".
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

export function treeSnapshot(...roots: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (root: string, dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = lstatSync(path);
      const key = `${root}:${relative(root, path)}`;
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[key] = `link -> ${readlinkSync(path)}`;
      else if (st.isDirectory()) {
        out[key] = `dir ${mode}`;
        walk(root, path);
      } else out[key] = `file ${mode} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
    }
  };
  for (const r of roots) if (existsSync(r)) walk(r, r);
  return out;
}
