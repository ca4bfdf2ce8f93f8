/**
 * A working tree's next source volume, made from its previous one: the previous volume is
 * copied as it is (file times kept: those are the content epochs, tree-snapshot.ts), then only
 * the files whose content or epoch differ are written into the copy and the deleted ones
 * removed. BaseTools, already built in the previous volume, is not built again — unless
 * anything under BaseTools/ or Conf/ changed, or the builder image is another: then the
 * volume is prepared from nothing (prepare.ts). What it holds is what a volume prepared from
 * nothing holds, file for file.
 *
 * The cache keeps one record per tree (`trees/<root digest>.volume.json`): its latest volume,
 * the key and image it was prepared with, and each file's `type exec sha256 epoch`.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { BuilderImage, Log } from '../domain.ts';
import { runToCompletion } from '../engine/run-to-completion.ts';
import type { RunScope } from '../engine/run-scope.ts';
import { SourceError } from '../errors.ts';
import { readCachedJson, type JsonFileKind } from '../host/read-json.ts';
import { sha256Hex } from '../checksums.ts';
import { packTree, putTree } from './pack-tree.ts';
import { walkSnapshot } from './tree-pack.ts';
import { formatPathLines, parsePathLines, type TreeSnapshot } from './tree-snapshot.ts';

const RECORD_FORMAT = 1;
const recordSchema = z.object({
  format: z.literal(RECORD_FORMAT),
  volume: z.string(),
  key: z.string(),
  image: z.string(),
  /** `path TAB type exec sha256 epoch` lines. */
  files: z.string(),
});
const RECORD_KIND: JsonFileKind = { what: 'tree volume record', hint: 'preparing the source volume from nothing' };

/** What must be prepared from nothing when it changes: edk2's tools, built in the volume. */
const TOOL_PATHS = /^(BaseTools|Conf)\//;
/** Inside the volume: the list of files to delete, written with the changed files. */
const DELETED_LIST = '.edk2-matrix/deleted';

export function treeVolumeRecordFile(cacheDir: string, root: string): string {
  return join(cacheDir, 'trees', `${sha256Hex(root).slice(0, 32)}.volume.json`);
}

/** Each file of the snapshot as the volume holds it: content, mode bit and time. */
export function volumeFiles(snap: Pick<TreeSnapshot, 'files'>): Map<string, string> {
  return new Map(snap.files.map((f) => [f.path, `${f.type} ${f.executable ? 'x' : '-'} ${f.sha256} ${f.epochMs}`]));
}

export interface VolumeUpdate {
  /** Files to write (changed content, mode or epoch, or new). */
  readonly put: readonly string[];
  readonly deleted: readonly string[];
}

/** The files to write and delete to turn the previous volume into this one; undefined when BaseTools or Conf changed. */
export function volumeUpdate(before: ReadonlyMap<string, string>, now: ReadonlyMap<string, string>): VolumeUpdate | undefined {
  const put = [...now].filter(([p, d]) => before.get(p) !== d).map(([p]) => p);
  const deleted = [...before.keys()].filter((p) => !now.has(p));
  if ([...put, ...deleted].some((p) => TOOL_PATHS.test(p))) return undefined;
  return { put, deleted };
}

export async function recordTreeVolume(cacheDir: string, snap: TreeSnapshot, volume: string, key: string, image: BuilderImage): Promise<void> {
  const file = treeVolumeRecordFile(cacheDir, snap.root);
  await mkdir(join(cacheDir, 'trees'), { recursive: true });
  const files = formatPathLines(volumeFiles(snap));
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify({ format: RECORD_FORMAT, volume, key, image: image.id, files }));
  await rename(temp, file);
}

interface UpdateInputs {
  readonly scope: RunScope;
  readonly snap: TreeSnapshot;
  readonly image: BuilderImage;
  readonly key: string;
  /** The new volume, already created and empty. */
  readonly volume: string;
  readonly cacheDir: string;
  readonly logPath: string;
  readonly log: Log;
  readonly signal: AbortSignal;
}

/** The previous volume of this tree and what to change in its copy, when it can be used. */
export async function plannedUpdate(i: Pick<UpdateInputs, 'scope' | 'snap' | 'image' | 'cacheDir' | 'log'>): Promise<{ from: string; update: VolumeUpdate } | undefined> {
  const record = await readCachedJson(treeVolumeRecordFile(i.cacheDir, i.snap.root), recordSchema, RECORD_KIND, i.log);
  if (!record || record.image !== i.image.id || !(await i.scope.engine.volumeExists(record.volume))) return undefined;
  const update = volumeUpdate(parsePathLines(record.files), volumeFiles(i.snap));
  return update ? { from: record.volume, update } : undefined;
}

/**
 * Makes `volume` from the previous volume `from` and the update: a copy, then the changed files
 * (their epochs as times) and the deletions, then the ready marker with this key.
 */
export async function updateTreeVolume(i: UpdateInputs, from: string, update: VolumeUpdate): Promise<void> {
  const { scope, image, volume } = i;
  const run = async (what: string, cmd: string[], put?: Parameters<typeof runToCompletion>[2]['put']) => {
    const { exitCode, writeError } = await runToCompletion(scope, {
      image: image.id, cmd, user: 'builder',
      mounts: [{ volume: from, target: '/from', readOnly: true }, { volume, target: '/src', readOnly: false }],
      network: 'none', hardened: true,
    }, { role: 'prepare', signal: i.signal, put, log: { path: i.logPath, append: true } });
    if (writeError) throw new SourceError(`cannot write the log ${i.logPath}: ${writeError.message}`, 'free some disk space');
    if (exitCode !== 0) throw new SourceError(`${what} failed (exit ${exitCode})`, `read ${i.logPath}`);
  };
  await run(`copying the source volume ${from}`, ['cp', '-a', '--', '/from/.', '/src/']);
  const only = new Set(update.put);
  const deletions = { name: DELETED_LIST, data: Buffer.from(update.deleted.map((p) => `${p}\0`).join('')) };
  await run('writing the changed files', [
    // The script is fixed; the key is its argument. xargs -0 passes each path as one argument.
    'sh', '-c', `cd /src && xargs -0 -r rm -f -- < ${DELETED_LIST} && rm -f ${DELETED_LIST} && printf '%s\\n' "$1" > .edk2-matrix/ready`,
    'edk2-matrix-update', i.key,
  ], async (container) => {
    await putTree(container, '/src', packTree([], [deletions], [walkSnapshot(i.snap, only)], (entry, reason) => i.log.warn(`source: left out ${entry} (${reason})`)));
  });
}
