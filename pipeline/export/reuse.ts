/**
 * Variants that need no build: already published with the same key and intact, or in the
 * artifact cache (verified by sha256 before use) and published from there.
 */
import { join } from 'node:path';
import type { BuildPlan, Provenance } from '../domain.ts';
import type { Log } from '../domain.ts';
import { publishedMatches, type ArtifactCache } from './artifact-cache.ts';
import { publishVariant } from './export-variant.ts';
import type { IndexWriter } from './artifacts-index.ts';

export async function reuseArtifacts(
  plans: readonly BuildPlan[],
  outDir: string,
  cache: ArtifactCache,
  log: Log,
  index: IndexWriter,
  /** Hash every published file even when its fingerprint is unchanged. */
  rehash = false,
): Promise<Map<string, { dir: string; from: Provenance }>> {
  const reused = new Map<string, { dir: string; from: Provenance }>();
  for (const { variant, key } of plans) {
    const dir = join(outDir, variant.id);
    if (await publishedMatches(dir, key, rehash)) {
      reused.set(variant.id, { dir, from: 'up to date' });
      continue;
    }
    const files = await cache.lookup(key, variant.id, log);
    if (files) {
      reused.set(variant.id, { dir: await publishVariant(outDir, variant.id, key, files, log), from: 'cache' });
      await index.update();
    }
  }
  return reused;
}
