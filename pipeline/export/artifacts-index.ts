/**
 * artifacts/index.json and artifacts/SHA256SUMS, rebuilt from the variant directories present
 * (their manifests hold every file's digest), so they always describe exactly what is there.
 * Variant directories this matrix no longer declares are removed, as are leftovers of runs
 * that died.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FORMAT, type ArtifactFile, type BootRecord, type BuildRecord, type Index, type IndexEntry, type Manifest } from '../domain.ts';
import type { Log } from '../domain.ts';
import { publishFile } from '../host/atomic-publish.ts';
import { isFailureRecord } from './ownership.ts';
import { renderSums, sha256Hex } from '../checksums.ts';
import { BOOT_RECORD, BUILD_RECORD, FAILED_DIR, INDEX_FILE, MANIFEST_FILE, SUMS_FILE, TEMP_PREFIX } from '../layout.ts';
import { pidAlive } from '../host/pid-alive.ts';
import { listDir } from '../host/list-dir.ts';
import { checkJson, parseJson, readJsonIfPresent, readTextIfPresent } from '../host/read-json.ts';
import { DataFileError } from '../errors.ts';
import { BOOT_RECORD_KIND, bootRecordSchema, BUILD_RECORD_KIND, buildRecordSchema, MANIFEST_KIND, manifestMark, manifestSchema } from './manifest-schema.ts';
import { z } from 'zod';


export interface VariantDir {
  readonly manifest: Manifest;
  /** Files of the directory the manifest does not list: manifest.json itself, boot records. */
  readonly extras: readonly ArtifactFile[];
  readonly boot: BootRecord | undefined;
  /** build-record.json: seconds, threads, local image id (absent in directories of older runs). */
  readonly record: BuildRecord | undefined;
}

/**
 * The manifest of `dir` as published: undefined when there is none, when it is not ours (another
 * generator: a user's directory) or of another format (an older edk2-matrix: the run replaces
 * it); a damaged manifest of ours is a DataFileError.
 */
export async function readPublishedManifest(dir: string): Promise<{ manifest: Manifest; text: string } | undefined> {
  const file = join(dir, MANIFEST_FILE);
  const text = await readTextIfPresent(file, MANIFEST_KIND);
  if (text === undefined) return undefined;
  const mark = parseJson(file, text, z.unknown(), MANIFEST_KIND);
  const { success, data } = manifestMark.safeParse(mark);
  if (!success || data.generator !== 'edk2-matrix' || data.formatVersion !== MANIFEST_FORMAT) return undefined;
  return { manifest: checkJson(file, mark, manifestSchema, MANIFEST_KIND), text };
}

async function readVariantDir(dir: string): Promise<VariantDir | undefined> {
  const published = await readPublishedManifest(dir);
  if (!published) return undefined;
  const { manifest, text } = published;
  const bytes = Buffer.from(text);
  const listed = new Set(manifest.files.map((f) => f.path));
  const extras: ArtifactFile[] = [{ path: MANIFEST_FILE, sha256: sha256Hex(bytes), size: bytes.length }];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const name = entry.name;
    // Only files are described; whatever else a user put there is left alone.
    if (!entry.isFile() || listed.has(name) || name === MANIFEST_FILE || name.startsWith('.')) continue;
    const data = await readFile(join(dir, name));
    extras.push({ path: name, sha256: sha256Hex(data), size: data.length });
  }
  const boot = extras.some((f) => f.path === BOOT_RECORD) ? await readBootRecord(join(dir, BOOT_RECORD)) : undefined;
  const record = await readJsonIfPresent(join(dir, BUILD_RECORD), buildRecordSchema, BUILD_RECORD_KIND);
  return { manifest, extras, boot, record };
}

/**
 * A boot record, or undefined when it is damaged: it only says whether the last `verify` booted
 * the variant, so a damaged one counts as "not verified" (the next `verify` writes it again).
 */
async function readBootRecord(path: string): Promise<BootRecord | undefined> {
  try {
    return await readJsonIfPresent(path, bootRecordSchema, BOOT_RECORD_KIND);
  } catch (err) {
    if (err instanceof DataFileError) return undefined;
    throw err;
  }
}

/** The entries of an artifacts directory that may be variant directories, sorted. */
async function candidateDirs(outDir: string): Promise<string[]> {
  return (await listDir(outDir)).filter((name) => !name.startsWith('.') && name !== FAILED_DIR).sort();
}

/** Reads (and so checks) every published manifest, hashing nothing: a damaged one is a DataFileError. */
export async function checkPublishedManifests(outDir: string): Promise<void> {
  for (const name of await candidateDirs(outDir)) await readPublishedManifest(join(outDir, name));
}

export async function readVariantDirs(outDir: string): Promise<VariantDir[]> {
  const found: VariantDir[] = [];
  for (const name of await candidateDirs(outDir)) {
    const v = await readVariantDir(join(outDir, name));
    if (v && v.manifest.id === name) found.push(v);
  }
  return found;
}

export function makeIndex(dirs: readonly VariantDir[]): Index {
  const variants: IndexEntry[] = dirs.map(({ manifest: m, boot, record }) => ({
    id: m.id,
    key: m.key,
    buildSeconds: record?.seconds,
    arch: m.arch,
    target: m.target,
    features: m.features,
    defines: m.defines,
    files: m.files.map((f) => ({ ...f, path: `${m.id}/${f.path}` })),
    manifest: `${m.id}/${MANIFEST_FILE}`,
    descriptor: `${m.id}/${m.descriptor}`,
    boot,
  }));
  return { generator: 'edk2-matrix', formatVersion: MANIFEST_FORMAT, variants };
}

/** `sha256sum -c` format: digest, two spaces, path relative to the artifacts dir. */
export function artifactSums(dirs: readonly VariantDir[]): string {
  return renderSums(dirs.flatMap((d) => [...d.manifest.files, ...d.extras].map((f) => ({ path: `${d.manifest.id}/${f.path}`, sha256: f.sha256 }))));
}

/** Removes temporary entries whose run is no longer alive, and variants the matrix dropped. */
export async function pruneArtifacts(outDir: string, declared: ReadonlySet<string>, log: Log): Promise<void> {
  const names = await listDir(outDir);
  for (const name of names) {
    const pid = name.startsWith(TEMP_PREFIX) ? Number(name.slice(TEMP_PREFIX.length).split('-')[0]) : NaN;
    if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) {
      await rm(join(outDir, name), { recursive: true, force: true });
    }
  }
  for (const d of await readVariantDirs(outDir)) {
    if (!declared.has(d.manifest.id)) {
      log.info(`removing ${d.manifest.id}/: the matrix no longer declares it`);
      await rm(join(outDir, d.manifest.id), { recursive: true, force: true });
    }
  }
  for (const id of await listDir(join(outDir, FAILED_DIR))) {
    // Only failure records we wrote: whatever else lives in failed/ is the user's.
    if (!declared.has(id) && (await isFailureRecord(join(outDir, FAILED_DIR, id)))) await rm(join(outDir, FAILED_DIR, id), { recursive: true, force: true });
  }
}

/**
 * Keeps index.json and SHA256SUMS in step with the variant directories while a run publishes
 * them one by one: each `update` rewrites both (atomically) after the ones before it finished.
 */
export class IndexWriter {
  #last: Promise<unknown> = Promise.resolve();
  constructor(readonly outDir: string) {}

  update(): Promise<void> {
    const next = this.#last.catch(() => {}).then(() => writeIndex(this.outDir));
    this.#last = next;
    return next.then(() => {});
  }
}

export async function writeIndex(outDir: string): Promise<Index> {
  const dirs = await readVariantDirs(outDir);
  const index = makeIndex(dirs);
  await publishFile(join(outDir, INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
  await publishFile(join(outDir, SUMS_FILE), artifactSums(dirs));
  return index;
}
