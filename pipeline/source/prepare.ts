/**
 * The prepared edk2 tree: unpacked into a labelled engine volume, patched, with BaseTools built,
 * once per (source, builder image). Every variant mounts it read-only. A volume is used only
 * when its ready marker holds the expected key; a half-made one is removed.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuilderImage, PreparedSource, SourceComponent, SourceSpec } from '../domain.ts';
import { runToCompletion } from '../engine/run-to-completion.ts';
import { LABEL_KEY, type RunScope } from '../engine/run-scope.ts';
import { describeError, SourceError } from '../errors.ts';
import type { Log } from '../domain.ts';
import { cacheNamespace } from '../engine/cache-namespace.ts';
import { materializeSource, sourceIdentity, type SourceIdentity } from './materialize.ts';
import { packTree, putTree } from './pack-tree.ts';
import { sha256Hex } from '../checksums.ts';
import { treeContent, treeSnapshot } from './tree-snapshot.ts';
import { plannedUpdate, recordTreeVolume, updateTreeVolume } from './tree-volume.ts';

/** Bump when the way a tree is prepared changes (it is part of the key). */
const PREPARE_VERSION = 2;
export const SOURCE_MOUNT = '/src';
const READY_FILE = `${SOURCE_MOUNT}/.edk2-matrix/ready`;

export function sourceKey(identity: Pick<SourceIdentity, 'digests'>, imageId: string): string {
  return sha256Hex(JSON.stringify({ v: PREPARE_VERSION, digests: identity.digests, imageId }));
}

/**
 * `namespace` ties the volume to one cache directory (see build/ccache-volume.ts). A working
 * tree's volume is also named by its files' epochs (the times it holds, tree-snapshot.ts): the
 * same content seen again later is a new volume, whose times are newer than any build since.
 */
export function sourceVolumeName(key: string, namespace: string, epochDigest?: string): string {
  return `edk2-matrix-src-${namespace}-${(epochDigest ? sha256Hex(`${key} ${epochDigest}`) : key).slice(0, 16)}`;
}

/** Label of a working tree's source volumes: which tree (a digest of its path) they copy. */
export const LABEL_TREE = 'edk2-matrix.tree';

/** `PATCH-FAILED <patch>` and the file patch(1) was working on when it failed. */
export function patchFailure(log: string): { patch: string; file: string | undefined } | undefined {
  const failed = /edk2-matrix: PATCH-FAILED (\S+)/.exec(log);
  if (!failed) return undefined;
  const before = log.slice(0, failed.index);
  const files = [...before.matchAll(/^(?:patching file|checking file) '?([^'\n]+?)'?$/gm)].map((m) => m[1]!);
  const missing = /can't find file to patch at input line \d+[\s\S]*?^\|?(?:---|\+\+\+) (?:a\/)?(\S+)/m.exec(before.slice(before.lastIndexOf('edk2-matrix: applying')));
  return { patch: failed[1]!, file: missing?.[1] ?? files.at(-1) };
}

async function readyKey(scope: RunScope, image: BuilderImage, volume: string): Promise<string | undefined> {
  const { exitCode, output } = await scope.capture({
    image: image.id,
    cmd: ['cat', READY_FILE],
    mounts: [{ volume, target: SOURCE_MOUNT, readOnly: true }],
    network: 'none',
    hardened: true,
  }, 'probe');
  return exitCode === 0 ? output.trim() : undefined;
}

export async function ensureSource(
  scope: RunScope,
  spec: SourceSpec,
  image: BuilderImage,
  /** The bundled libraries the source facts found; carried to every manifest. */
  components: readonly SourceComponent[],
  cacheDir: string,
  log: Log,
  signal: AbortSignal,
): Promise<PreparedSource> {
  const engine = scope.engine;
  const identity = await sourceIdentity(spec, cacheDir, log);
  const key = sourceKey(identity, image.id);
  const snap = spec.kind === 'tree' ? await treeSnapshot(spec, cacheDir, log) : undefined;
  const volume = sourceVolumeName(key, cacheNamespace(cacheDir), snap?.epochDigest);
  const prepared: PreparedSource = {
    key, volume, description: identity.description, origin: identity.origin, digests: identity.digests, components,
    ...(snap ? { tree: treeContent(snap) } : {}),
  };
  const treeLabel: Record<string, string> = snap ? { [LABEL_TREE]: sha256Hex(snap.root).slice(0, 32) } : {};
  if (await engine.volumeExists(volume)) {
    if ((await readyKey(scope, image, volume)) === key) {
      log.info(`source ${identity.description}: prepared (volume ${volume})`);
      return prepared;
    }
    log.warn(`source volume ${volume} is incomplete (an earlier run stopped while making it); making it again`);
    await engine.removeVolume(volume);
  }

  const logDir = join(cacheDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const logPath = join(logDir, `source-${key.slice(0, 16)}.log`);
  // A working tree's previous volume, when its tools are the same: copied, and only what changed written.
  if (snap) {
    const planned = await plannedUpdate({ scope, snap, image, cacheDir, log });
    if (planned) {
      const { from, update } = planned;
      log.info(`source ${identity.description}: ${update.put.length} file${update.put.length === 1 ? '' : 's'} written, ` +
        `${update.deleted.length} deleted, into a copy of volume ${from} (BaseTools as built there) in volume ${volume}`);
      await engine.createVolume(volume, scope.labels('source', { [LABEL_KEY]: key, ...treeLabel }));
      let ok = false;
      try {
        await updateTreeVolume({ scope, snap, image, key, volume, cacheDir, logPath, log, signal }, from, update);
        ok = true;
      } finally {
        if (!ok) await engine.removeVolume(volume).catch(() => {});
      }
      await recordTreeVolume(cacheDir, snap, volume, key, image);
      await removeEarlierTreeVolumes(scope, volume, treeLabel, log);
      return prepared;
    }
  }

  const inputs = await materializeSource(spec, cacheDir, log, signal);
  log.info(`source ${identity.description}: ${spec.kind === 'tree' ? 'copying the tree' : 'unpacking, patching'} and building BaseTools in volume ${volume}`);
  let ok = false;
  await engine.createVolume(volume, scope.labels('source', { [LABEL_KEY]: key, ...treeLabel }));
  try {
    // What edk2-fix-basetools did to this tree, taken as the log streams by: worth a line each
    // once the source is ready, as it changes edk2's tools.
    const fixes: string[] = [];
    const { exitCode, writeError } = await runToCompletion(scope, {
      image: image.id,
      cmd: ['edk2-prepare-source', SOURCE_MOUNT, key, ...inputs.series.map((s) => `${SOURCE_MOUNT}/${s}`)],
      user: 'builder',
      mounts: [{ volume, target: SOURCE_MOUNT, readOnly: false }],
      tmpfs: { '/tmp': 'rw,exec,size=1g' },
      network: 'none',
      hardened: true,
    }, {
      role: 'prepare', signal,
      put: (container) => putTree(container, SOURCE_MOUNT, packTree(inputs.layers, inputs.extras, inputs.walkers, (entry, reason) => log.warn(`source: left out ${entry} (${reason})`))),
      log: {
        path: logPath,
        onLine: (line) => {
          const fix = /^edk2-matrix: (BaseTools fix .*)$/.exec(line);
          if (fix) fixes.push(fix[1]!);
        },
      },
    });
    if (writeError) throw new SourceError(`cannot write the log ${logPath}: ${writeError.message}`, 'free some disk space');
    if (exitCode !== 0) {
      const text = await readFile(logPath, 'utf8');
      const patch = patchFailure(text);
      if (patch) {
        throw new SourceError(`patch ${patch.patch} does not apply${patch.file ? ` to ${patch.file}` : ''}; log: ${logPath}`,
          'refresh the patch against this source version, or drop it from the series');
      }
      throw new SourceError(`preparing the source failed (exit ${exitCode}): ${text.trim().split('\n').slice(-2).join(' | ')}`,
        `read ${logPath}`);
    }
    for (const fix of fixes) log.info(`source ${identity.description}: ${fix}`);
    ok = true;
    if (snap) {
      await recordTreeVolume(cacheDir, snap, volume, key, image);
      await removeEarlierTreeVolumes(scope, volume, treeLabel, log);
    }
    return prepared;
  } finally {
    if (!ok) {
      await engine.removeVolume(volume).catch((err: unknown) =>
        log.warn(`could not remove the unfinished source volume ${volume} (${describeError(err)}); the next run makes it again`));
    }
  }
}

/**
 * A working tree's earlier source volumes (of this cache) are not used again once a newer one
 * is made: removed, except one another run still mounts (the engine refuses; it goes next time).
 */
async function removeEarlierTreeVolumes(scope: RunScope, keep: string, treeLabel: Record<string, string>, log: Log): Promise<void> {
  const found = await scope.engine.findLabelled(treeLabel);
  const prefix = keep.slice(0, keep.lastIndexOf('-') + 1);
  for (const v of found.volumes) {
    if (v.id === keep || !v.id.startsWith(prefix)) continue;
    await scope.engine.removeVolume(v.id).catch((err: unknown) => log.info(`kept the earlier source volume ${v.id} (${describeError(err)})`));
  }
}
