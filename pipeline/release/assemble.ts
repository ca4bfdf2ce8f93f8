/**
 * `release assemble`: merges the artifacts directories of CI shards into one release (the
 * layout of docs/architecture.md, "The release"). Every file of every variant is re-verified
 * against its manifest and every shard is checked against the others (same source, same
 * builder image, no variant twice, every declared variant present) before anything is
 * written; the release is written into a temporary sibling and renamed into place at once.
 *
 * Reproducible: the archives, index.json, the SBOMs and SHA256SUMS depend only on the tag,
 * the source, the builder and the firmware, never on the run that built them. What differs by
 * nature (build logs, timings, boot results: the run records) stays in the artifacts
 * directories and the CI shards; a release carries none of it. A variant is still released
 * only when its boot verification (if any) succeeded.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { sha256Hex, renderSums } from '../checksums.ts';
import type { ArtifactFile, MatrixConfig, ReleaseAsset, ReleaseInputs, ReleaseIndex, ReleaseInfo, ReleaseVariant } from '../domain.ts';
import { RELEASE_FORMAT } from '../domain.ts';
import { ReleaseError } from '../errors.ts';
import { checkFiles } from '../export/artifact-cache.ts';
import { makeIndex, readVariantDirs, type VariantDir } from '../export/artifacts-index.ts';
import { archiveName, FAILED_DIR, INDEX_FILE, MANIFEST_FILE, PROVENANCE_FILE, RUN_RECORDS, sbomName, SUMS_FILE, TEMP_PREFIX } from '../layout.ts';
import type { Log } from '../domain.ts';
import type { SourceNotices } from '../source/source-notices.ts';
import { GENERATOR_VERSION } from '../version.ts';
import { provenanceStatement, type BuildRun } from './provenance.ts';
import { variantLicences } from './licences.ts';
import { variantSbom } from './sbom.ts';
import { writeVariantArchive } from './variant-archive.ts';


export interface AssembleOptions {
  /** Artifacts directories written by `npm run matrix`, one per shard. */
  readonly from: readonly string[];
  readonly out: string;
  /** With it: every variant it declares must be present, and its digest goes into the provenance. */
  readonly config: { readonly matrix: MatrixConfig; readonly shownPath: string } | undefined;
  /** The config's matrix and files (carried in index.json for `rebuild`) and the keys it plans. */
  readonly inputs?: { readonly carried: ReleaseInputs; readonly keys: ReadonlyMap<string, string> } | undefined;
  readonly tag: string | undefined;
  readonly commit: string | undefined;
  /** Overrides the date the variants were built with (their SOURCE_DATE_EPOCH). */
  readonly sourceDateEpoch: number | undefined;
  readonly run: BuildRun;
  /** Licence texts and patch series of the source the shards were built from (source/source-notices.ts). */
  readonly notices: SourceNotices;
  readonly log: Log;
}

export interface ShardVariant {
  readonly shard: string;
  readonly dir: VariantDir;
  /** What goes into the archive: the manifest's files but run records, and manifest.json (licence texts are added later). */
  readonly files: { readonly name: string; readonly data: Buffer }[];
}

export async function readShard(shard: string, log: Log): Promise<ShardVariant[]> {
  const found = await readVariantDirs(shard);
  if (found.length === 0) {
    throw new ReleaseError(`shard ${shard}`, 'holds no variant directory with an edk2-matrix manifest', 'pass artifacts directories written by npm run matrix (--out)');
  }
  const failed = await readdir(join(shard, FAILED_DIR)).catch(() => [] as string[]);
  if (failed.length) log.warn(`shard ${shard}: failed/ holds ${failed.join(', ')}; failed builds are not released`);
  const out: ShardVariant[] = [];
  for (const dir of found) {
    const m = dir.manifest;
    const where = join(shard, m.id);
    if (m.source.origin.kind === 'tree') {
      throw new ReleaseError(`shard ${shard}: ${m.id}`, `was built from a local tree (${m.source.description}), which no one else can rebuild`,
        'release what the matrix\'s pinned source builds (npm run matrix without --source-dir)');
    }
    const { data, problem } = await checkFiles(where, m.files);
    if (problem) throw new ReleaseError(`shard ${shard}: ${m.id}`, `${problem}`, 'a shard\'s files must be exactly what its build published: rebuild that shard');
    if (dir.boot && !dir.boot.ok) throw new ReleaseError(`shard ${shard}: ${m.id}`, `its boot verification failed (${dir.boot.reason})`, 'only firmware that boots is released');
    const left = dir.extras.filter((f) => f.path !== MANIFEST_FILE && !RUN_RECORDS.includes(f.path)).map((f) => f.path);
    if (left.length) log.warn(`${m.id}: leaving out ${left.join(', ')} (not in its manifest)`);
    // A manifest written before run records left it still lists its build log: the archive must
    // then carry it (the manifest inside names it), and that archive is not reproducible.
    const listedRecords = m.files.filter((f) => RUN_RECORDS.includes(f.path)).map((f) => f.path);
    if (listedRecords.length) log.warn(`${m.id}: its manifest lists ${listedRecords.join(', ')}, whose bytes depend on the run: its archive will not be reproducible (rebuild it with this edk2-matrix)`);
    const files = [
      ...m.files.map((f) => ({ name: f.path, data: data.get(f.path)! })),
      { name: MANIFEST_FILE, data: await readFile(join(where, MANIFEST_FILE)) },
    ];
    out.push({ shard, dir, files });
  }
  return out;
}

/** Refuses duplicates and mixed sources or images, naming the two shards that disagree. */
function checkConsistent(all: readonly ShardVariant[], config: AssembleOptions['config'], inputs: AssembleOptions['inputs'], notices: SourceNotices): void {
  const first = all[0]!;
  const seen = new Map<string, ShardVariant>();
  for (const v of all) {
    const id = v.dir.manifest.id;
    const twice = seen.get(id);
    if (twice) throw new ReleaseError(`variant ${id}`, `is in two shards: ${twice.shard} and ${v.shard}`, 'each variant is built by one shard');
    seen.set(id, v);
    const [a, b] = [first.dir.manifest, v.dir.manifest];
    if (JSON.stringify(a.source.digests) !== JSON.stringify(b.source.digests)) {
      throw new ReleaseError(`variant ${id}`, `was built from ${b.source.description} (${v.shard}), ${a.id} from ${a.source.description} (${first.shard}): one release, one source`);
    }
    if (a.builder.digest !== b.builder.digest) {
      throw new ReleaseError(`variant ${id}`, `was built by builder ${b.builder.digest.slice(0, 12)} (${v.shard}), ${a.id} by ${a.builder.digest.slice(0, 12)} (${first.shard}): one release, one builder (its Dockerfile and packages.lock)`,
        'build every shard from the same commit');
    }
    if (JSON.stringify(notices.digests) !== JSON.stringify(b.source.digests)) {
      throw new ReleaseError(`variant ${id}`, `was built from ${b.source.description}, but the licence texts were read from another source`,
        'pass --config with the matrix the shards were built from');
    }
    if (a.build.env.SOURCE_DATE_EPOCH !== b.build.env.SOURCE_DATE_EPOCH) {
      throw new ReleaseError(`variant ${id}`, `has SOURCE_DATE_EPOCH ${b.build.env.SOURCE_DATE_EPOCH}, ${a.id} ${a.build.env.SOURCE_DATE_EPOCH}`);
    }
  }
  if (inputs) {
    for (const v of all) {
      const { id, key } = v.dir.manifest;
      if (inputs.keys.get(id) !== key) {
        throw new ReleaseError(`variant ${id}`, `was built with key ${key.slice(0, 12)}… (${v.shard}), but ${config?.shownPath ?? 'the matrix'} plans ${inputs.keys.get(id)?.slice(0, 12) ?? 'no such variant'}…: the release could not be rebuilt from it`,
          'assemble with the matrix and the edk2-matrix commit the shards were built from');
      }
    }
  }
  if (config) {
    const declared = config.matrix.variants.map((v) => v.id);
    const missing = declared.filter((id) => !seen.has(id));
    if (missing.length) throw new ReleaseError(`variant ${missing[0]}`, `is declared in ${config.shownPath} but no shard built it${missing.length > 1 ? ` (nor ${missing.slice(1).join(', ')})` : ''}`, 'a release holds the whole matrix: rerun the failed shards');
    const unknown = [...seen.keys()].filter((id) => !declared.includes(id));
    if (unknown.length) throw new ReleaseError(`variant ${unknown[0]}`, `is not declared in ${config.shownPath}`, 'assemble the shards of one matrix');
  }
}

/** A variant's release assets (archive, SBOM) written into `dir`, its index entry, and what its archive holds. */
export async function writeVariantAssets(dir: string, v: ShardVariant, info: ReleaseInfo, notices: SourceNotices):
  Promise<{ assets: ReleaseAsset[]; entry: ReleaseVariant; archived: { name: string; data: Buffer }[] }> {
  const m = v.dir.manifest;
  const licences = variantLicences(m, notices.licenceFiles);
  const archived = [...v.files, ...licences.map((l) => ({ name: l.file, data: l.data }))];
  const files: ArtifactFile[] = archived.map((f) => ({ path: f.name, sha256: sha256Hex(f.data), size: f.data.length }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const archive = await writeVariantArchive(join(dir, archiveName(m.id)), m.id, archived, info.sourceDateEpoch);
  const sbom = `${JSON.stringify(variantSbom(m, files, info, { licences, patches: notices.patches }), null, 2)}\n`;
  await writeFile(join(dir, sbomName(m.id)), sbom);
  // The artifacts index's run-dependent fields (build seconds, boot result) stay out of a release.
  const { buildSeconds: _seconds, boot: _boot, ...entry } = makeIndex([v.dir]).variants[0]!;
  return {
    assets: [
      { name: archiveName(m.id), kind: 'archive', variant: m.id, ...archive },
      { name: sbomName(m.id), kind: 'sbom', variant: m.id, sha256: sha256Hex(sbom), size: Buffer.byteLength(sbom) },
    ],
    entry: { ...entry, files: files.map((f) => ({ ...f, path: `${m.id}/${f.path}` })) },
    archived,
  };
}

export interface Assembled {
  readonly dir: string;
  readonly index: ReleaseIndex;
  readonly assets: readonly { name: string; size: number }[];
}

export async function assembleRelease(opts: AssembleOptions): Promise<Assembled> {
  const out = resolve(opts.out);
  const existing = await readdir(out).catch(() => undefined);
  if (existing && existing.length) throw new ReleaseError(`output ${out}`, 'is not empty', 'assemble into a new directory; a release is never overwritten');
  const all: ShardVariant[] = [];
  for (const shard of opts.from) all.push(...(await readShard(resolve(shard), opts.log)));
  checkConsistent(all, opts.config, opts.inputs, opts.notices);
  all.sort((a, b) => (a.dir.manifest.id < b.dir.manifest.id ? -1 : 1));

  const m0 = all[0]!.dir.manifest;
  const info: ReleaseInfo = {
    tag: opts.tag,
    commit: opts.commit,
    matrix: opts.config ? { path: opts.config.shownPath, sha256: sha256Hex(await readFile(opts.config.matrix.file)) } : undefined,
    sourceDateEpoch: opts.sourceDateEpoch ?? Number(m0.build.env.SOURCE_DATE_EPOCH ?? 0),
    source: m0.source,
    builder: { digest: m0.builder.digest, lock: m0.builder.lock, snapshot: m0.builder.snapshot },
    generatorVersion: GENERATOR_VERSION,
    inputs: opts.inputs?.carried,
  };

  await mkdir(dirname(out), { recursive: true });
  const temp = join(dirname(out), `${TEMP_PREFIX}${process.pid}-release-${basename(out)}`);
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp);
  try {
    const assets: ReleaseAsset[] = [];
    const variants: ReleaseVariant[] = [];
    for (const v of all) {
      const made = await writeVariantAssets(temp, v, info, opts.notices);
      assets.push(...made.assets);
      variants.push(made.entry);
      opts.log.info(`${v.dir.manifest.id}: ${made.assets[0]!.name} ${made.assets[0]!.size} bytes (${made.archived.length} files)`);
    }
    const index: ReleaseIndex = { generator: 'edk2-matrix-release', formatVersion: RELEASE_FORMAT, release: info, assets, variants };
    const indexText = `${JSON.stringify(index, null, 2)}\n`;
    await writeFile(join(temp, INDEX_FILE), indexText);
    const subjects = [{ name: INDEX_FILE, sha256: sha256Hex(indexText) }, ...assets.map((a) => ({ name: a.name, sha256: a.sha256 }))];
    const provenance = `${JSON.stringify(provenanceStatement(index, subjects, opts.run))}\n`;
    await writeFile(join(temp, PROVENANCE_FILE), provenance);
    // The provenance is not in SHA256SUMS: it names the CI run that made the release, so two
    // honest builds of one tag would differ there. It is an attestation beside the release,
    // authenticated by its own signatures (DSSE, added by `sign`).
    await writeFile(join(temp, SUMS_FILE), renderSums(subjects.map((s) => ({ path: s.name, sha256: s.sha256 }))));
    // An empty output directory (made by the user or CI) is replaced; a non-empty one was refused above.
    if (existing) await rm(out, { recursive: true, force: true });
    await rename(temp, out);
    const sizes = await Promise.all((await readdir(out)).sort().map(async (name) => ({ name, size: (await stat(join(out, name))).size })));
    return { dir: out, index, assets: sizes };
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}
