/**
 * The compiler cache shared by every build of a cache directory: a labelled engine volume that
 * outlives runs (ccache keeps it within its size limit). `--prune-cache` empties it.
 */
import { cacheNamespace } from '../engine/cache-namespace.ts';
import type { Engine } from '../engine/engine.ts';
import { LABEL, LABEL_ROLE } from '../engine/run-scope.ts';

export function ccacheVolumeName(cacheDir: string): string {
  return `edk2-matrix-ccache-${cacheNamespace(cacheDir)}`;
}

export async function ensureCcacheVolume(engine: Engine, cacheDir: string): Promise<string> {
  const name = ccacheVolumeName(cacheDir);
  if (!(await engine.volumeExists(name))) await engine.createVolume(name, { [LABEL]: '1', [LABEL_ROLE]: 'ccache' });
  return name;
}
