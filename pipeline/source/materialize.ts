/**
 * From a SourceSpec to verified local inputs: archive layers (each checked against its
 * sha256), or a git checkout, plus the patch series to apply in the container.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { SourceOrigin, SourceSpec } from '../domain.ts';
import { SourceError } from '../errors.ts';
import { hostDebianMirror, MIRROR_ENV } from '../host/debian-mirror.ts';
import type { Log } from '../domain.ts';
import { fetchVerified } from './download.ts';
import { checkoutGit, walkCheckout } from './git.ts';
import type { ArchiveLayer, DirectoryWalker, ExtraFile } from './pack-tree.ts';
import { sha256Hex } from '../checksums.ts';
import { treeSnapshot, type TreeSnapshot } from './tree-snapshot.ts';
import { walkSnapshot } from './tree-pack.ts';

/** Where extra patches and their series go inside the source tree. */
export const EXTRA_PATCH_DIR = '.edk2-matrix/patches';

export interface SourceInputs extends SourceIdentity {
  readonly layers: readonly ArchiveLayer[];
  /** A git checkout on this host, for sources that are not archives. */
  readonly checkout: string | undefined;
  readonly walkers: readonly DirectoryWalker[];
  readonly extras: readonly ExtraFile[];
  /** Series files (paths inside the tree) applied in order. */
  readonly series: readonly string[];
  /** A working tree on this host, as read when the run started. */
  readonly tree: TreeSnapshot | undefined;
}

/** Debian's pool layout: pool/main/<l>/<package>/, with `lib` packages under lib<l>. */
export function debianPoolUrl(mirror: string, pkg: string, file: string): string {
  const prefix = pkg.startsWith('lib') ? pkg.slice(0, 4) : pkg[0]!;
  return `${mirror.replace(/\/+$/, '')}/pool/main/${prefix}/${pkg}/${file}`;
}

/** The extra patches as files in the tree, with a series file listing them in order. */
export async function extraPatchFiles(patches: readonly string[]): Promise<{ files: ExtraFile[]; digests: { name: string; sha256: string }[] }> {
  const files: ExtraFile[] = [];
  const digests: { name: string; sha256: string }[] = [];
  const names: string[] = [];
  for (const [i, path] of patches.entries()) {
    const data = await readFile(path);
    const name = `${String(i + 1).padStart(4, '0')}-${basename(path)}`;
    names.push(name);
    files.push({ name: `${EXTRA_PATCH_DIR}/${name}`, data });
    digests.push({ name: `patch ${basename(path)}`, sha256: sha256Hex(data) });
  }
  if (names.length) files.push({ name: `${EXTRA_PATCH_DIR}/series`, data: Buffer.from(`${names.join('\n')}\n`) });
  return { files, digests };
}

export interface SourceIdentity {
  readonly description: string;
  readonly origin: SourceOrigin;
  readonly digests: readonly { readonly name: string; readonly sha256: string }[];
}

/** What a working tree is: its content digest, named with its commit (both in the key: the manifest states both). */
export function treeIdentity(snap: Pick<TreeSnapshot, 'commit' | 'digest'>): SourceIdentity {
  const at = snap.commit ? `git ${snap.commit}` : 'not a git repository';
  return {
    description: `local tree (${snap.commit ? `git ${snap.commit.slice(0, 12)}, ` : ''}content ${snap.digest.slice(0, 12)})`,
    origin: { kind: 'tree', commit: snap.commit, digest: snap.digest },
    digests: [{ name: `local tree, ${at}`, sha256: snap.digest }],
  };
}

/**
 * What the tree is: from the configuration alone (pinned digests, commit, patches), or for a
 * working tree from its content (read once per configuration; `cacheDir` keeps its fingerprints).
 */
export async function sourceIdentity(spec: SourceSpec, cacheDir: string, log: Log): Promise<SourceIdentity> {
  if (spec.kind === 'tree') return treeIdentity(await treeSnapshot(spec, cacheDir, log));
  const { digests: patchDigests } = await extraPatchFiles(spec.patches);
  switch (spec.kind) {
    case 'debian':
      return {
        description: `debian ${spec.package} ${spec.version}`,
        origin: { kind: 'debian', package: spec.package, version: spec.version },
        digests: [...spec.files.map((f) => ({ name: f.name, sha256: f.sha256 })), ...patchDigests] };
    case 'archive':
      return {
        description: `archive ${spec.file.name}`,
        origin: { kind: 'archive', location: spec.location },
        digests: [{ name: spec.file.name, sha256: spec.file.sha256 }, ...patchDigests] };
    case 'git':
      return {
        description: `git ${spec.url} ${spec.commit.slice(0, 12)}`,
        origin: { kind: 'git', url: spec.url, commit: spec.commit },
        digests: [{ name: `${spec.url}@commit${spec.submodules ? '+submodules' : ''}`, sha256: spec.commit }, ...patchDigests],
      };
  }
}

export async function materializeSource(spec: SourceSpec, cacheDir: string, log: Log, signal: AbortSignal): Promise<SourceInputs> {
  const extra = await extraPatchFiles(spec.patches);
  const identity = await sourceIdentity(spec, cacheDir, log);
  const extraSeries = extra.files.length ? [`${EXTRA_PATCH_DIR}/series`] : [];
  const onSkip = (entry: string, reason: string) => log.warn(`source: left out ${entry} (${reason})`);
  switch (spec.kind) {
    case 'debian': {
      const mirror = spec.mirror ?? hostDebianMirror();
      if (!mirror) {
        throw new SourceError('no Debian mirror to fetch the source package from',
          `set source.debian.mirror in matrix.yaml or ${MIRROR_ENV}, or configure apt on this host`);
      }
      const layers: ArchiveLayer[] = [];
      for (const f of spec.files) {
        const path = await fetchVerified(debianPoolUrl(mirror, spec.package, f.name), f.sha256, f.name, cacheDir, log, signal);
        layers.push({ path, name: f.name, strip: f.strip });
      }
      const hasDebianDir = spec.files.some((f) => /\.debian\.tar\./.test(f.name));
      return {
        ...identity,
        layers,
        checkout: undefined,
        walkers: [],
        extras: extra.files,
        series: [...(hasDebianDir ? ['debian/patches/series'] : []), ...extraSeries],
        tree: undefined,
      };
    }
    case 'archive': {
      const path = await fetchVerified(spec.location, spec.file.sha256, spec.file.name, cacheDir, log, signal);
      return {
        ...identity,
        layers: [{ path, name: spec.file.name, strip: spec.file.strip }],
        checkout: undefined,
        walkers: [],
        extras: extra.files,
        series: extraSeries,
        tree: undefined,
      };
    }
    case 'git': {
      const dir = await checkoutGit(spec.url, spec.commit, spec.submodules, cacheDir, log, signal);
      return {
        ...identity,
        layers: [],
        checkout: dir,
        walkers: [walkCheckout(dir, onSkip)],
        extras: extra.files,
        series: extraSeries,
        tree: undefined,
      };
    }
    case 'tree': {
      // Used as it is: no patches, and BaseTools built in the volume's copy.
      const snap = await treeSnapshot(spec, cacheDir, log);
      return { ...identity, layers: [], checkout: undefined, walkers: [walkSnapshot(snap)], extras: [], series: [], tree: snap };
    }
  }
}
