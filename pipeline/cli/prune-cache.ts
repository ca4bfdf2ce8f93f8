/**
 * `--prune-cache`: frees what the published artifacts no longer need — artifact cache entries,
 * prepared source volumes and builder images they do not reference (images of any cache
 * directory: they are rebuilt when needed), downloads the matrix does not pin — and empties
 * what only saves time: the compiler cache, git checkouts and source facts.
 */
import { BUILD_TREES_DIR } from '../edk2-build/build-tree.ts';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fingerprintFile } from '../source/tree-snapshot.ts';
import type { MatrixConfig } from '../domain.ts';
import { ArtifactCache } from '../export/artifact-cache.ts';
import { readVariantDirs } from '../export/artifacts-index.ts';
import { cacheNamespace } from '../engine/cache-namespace.ts';
import type { Engine } from '../engine/engine.ts';
import { LABEL, LABEL_KEY, LABEL_ROLE } from '../engine/run-scope.ts';

export interface PruneResult {
  readonly artifactEntries: number;
  readonly volumes: number;
  readonly images: number;
  readonly files: number;
}

export async function pruneCaches(engine: Engine, config: MatrixConfig, outDir: string, cacheDir: string): Promise<PruneResult> {
  const dirs = await readVariantDirs(outDir);
  const published = dirs.map((d) => d.manifest);
  const keys = new Set(published.map((m) => m.key));
  const sourceKeys = new Set(published.map((m) => m.source.key));
  const imageIds = new Set(dirs.flatMap((d) => (d.record ? [d.record.image] : [])));

  const artifactEntries = await new ArtifactCache(join(cacheDir, 'artifacts')).prune(keys);

  const found = await engine.findLabelled({ [LABEL]: '1' });
  const ns = cacheNamespace(cacheDir);
  let volumes = 0;
  for (const v of found.volumes) {
    const role = v.labels[LABEL_ROLE];
    const ours = v.id.includes(`-${ns}`);
    // Kept build trees (incremental builds of a working tree) are a cache too: the next build is clean.
    const unused = (role === 'source' && !sourceKeys.has(v.labels[LABEL_KEY] ?? '')) || role === 'ccache' || role === 'build-tree';
    if (ours && unused) {
      await engine.removeVolume(v.id);
      volumes += 1;
    }
  }
  let images = 0;
  for (const i of found.images) {
    if (i.labels[LABEL_ROLE] === 'builder' && !imageIds.has(i.id)) {
      await engine.removeImage(i.id);
      images += 1;
    }
  }

  const pinned = new Set(config.source.kind === 'debian' ? config.source.files.map((f) => f.sha256)
    : config.source.kind === 'archive' ? [config.source.file.sha256] : []);
  let files = 0;
  const downloads = join(cacheDir, 'downloads');
  for (const name of await readdir(downloads).catch(() => [] as string[])) {
    if (!pinned.has(name.split('-')[0]!)) {
      await rm(join(downloads, name), { force: true });
      files += 1;
    }
  }
  // Fingerprints of working trees (source/tree-snapshot.ts): all but those of the matrix's own tree.
  const keep = config.source.kind === 'tree' ? fingerprintFile(cacheDir, config.source.path) : undefined;
  for (const dir of ['source-facts', 'git', 'trees', BUILD_TREES_DIR]) {
    for (const name of await readdir(join(cacheDir, dir)).catch(() => [] as string[])) {
      if (join(cacheDir, dir, name) === keep) continue;
      await rm(join(cacheDir, dir, name), { recursive: true, force: true });
      files += 1;
    }
  }
  return { artifactEntries, volumes, images, files };
}
