import { dirname } from 'node:path';
import { exists } from '../host/exists.ts';

/** The directories `mkdir -p dir` would make, outermost first. */
export async function missingDirs(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir; !(await exists(d)); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  return missing;
}
