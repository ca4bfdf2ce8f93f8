/**
 * `npm run rebuild`: a published release built again from the release alone, and compared.
 * verify the chain → write back the matrix and files the release carries → plan them (the keys
 * must be the release's, or this edk2-matrix differs and says so) → build every variant from
 * nothing in a cache directory of its own → assemble its assets as the release did → compare
 * every file and asset byte for byte → a verification summary, signed when a key is given.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ReleaseIndex } from '../domain.ts';
import type { Engine } from '../engine/engine.ts';
import { cacheNamespace } from '../engine/cache-namespace.ts';
import { LABEL } from '../engine/run-scope.ts';
import { selectVariants } from '../config/select.ts';
import { ReleaseError, UsageError } from '../errors.ts';
import { readVariantDirs } from '../export/artifacts-index.ts';
import { INDEX_FILE, TEMP_PREFIX } from '../layout.ts';
import type { Schedule } from '../queue/schedule.ts';
import { readShard, writeVariantAssets } from '../release/assemble.ts';
import type { SecretKey } from '../release/minisign.ts';
import { defaultVerifierId, rebuildAttestationName, rebuildStatement, VSA_PREDICATE_TYPE, signRebuildAttestation, type RebuildDifference } from '../release/rebuild-attestation.ts';
import { planInputs } from '../release/release-inputs.ts';
import type { ReleaseReader } from '../release/release-reader.ts';
import type { TrustStore } from '../release/trust.ts';
import { PLAIN_NAME } from '../release/variant-archive.ts';
import { verifyRelease } from '../release/verify-release.ts';
import type { Reporter } from '../report/reporter.ts';
import { runMatrix } from '../run.ts';
import { loadSourceNotices } from '../source/source-notices.ts';
import { GENERATOR_VERSION } from '../version.ts';
import { archiveFiles, compareVariant, type VariantComparison } from './compare-variant.ts';

export interface RebuildOptions {
  readonly reader: ReleaseReader;
  readonly trust: TrustStore;
  /** `--only`: ids or globs of the release's variants (all when undefined). */
  readonly only: string | undefined;
  /** A new directory for the inputs, the rebuilt artifacts, their assets and the attestation (default: rebuild-<tag>). */
  readonly out: string | undefined;
  /** A cache directory to build in; undefined: a fresh one, removed (with its engine volumes) at the end. */
  readonly cacheDir: string | undefined;
  readonly key: SecretKey | undefined;
  readonly verifierId: string | undefined;
  /** Where the release is, as the attestation names it (default: the location given). */
  readonly resourceUri: string | undefined;
  /** The --out of an earlier rebuild of the same inputs: compare with its artifacts instead of building again. */
  readonly compareWith: string | undefined;
  /** A cache directory whose downloads may hold the source files (checked by sha256 either way). */
  readonly downloadsFrom: string | undefined;
  /** How many builds at once and with how many threads, for this many variants. */
  readonly schedule: (variants: number) => Schedule;
  readonly timeoutMs: number;
}

export interface RebuildReport {
  readonly index: ReleaseIndex;
  readonly location: string;
  readonly comparisons: readonly VariantComparison[];
  /** Variants whose build failed, with the reason. */
  readonly failed: readonly { readonly id: string; readonly reason: string }[];
  /** Variants this edk2-matrix plans another key for than the release records. */
  readonly otherKeys: readonly string[];
  readonly passed: boolean;
  /** The directory written (--out). */
  readonly out: string;
  /** Path of the signed attestation, when a key was given. */
  readonly attestation: string | undefined;
}

/** The unsigned verdict a rebuild leaves in its --out, for `--sign`. */
export const STATEMENT_FILE = 'statement.json';

/** Signs the statement a rebuild left in `dir`; returns the attestation's path. */
export async function signStatement(dir: string, key: SecretKey): Promise<string> {
  const file = join(dir, STATEMENT_FILE);
  const text = await readFile(file, 'utf8').catch(() => {
    throw new UsageError(`${file}: no rebuild statement there`, 'give the --out directory of a rebuild');
  });
  let statement: { _type?: unknown; predicateType?: unknown; subject?: unknown; predicate?: { inputAttestations?: unknown } };
  try {
    statement = JSON.parse(text) as typeof statement;
  } catch (err) {
    throw new UsageError(`${file}: not JSON (${(err as Error).message})`, 'sign only the statement.json a rebuild wrote');
  }
  // Only what a rebuild writes is signed: a statement of its type, about assets, bound to a release.
  if (statement._type !== 'https://in-toto.io/Statement/v1' || statement.predicateType !== VSA_PREDICATE_TYPE
    || !Array.isArray(statement.subject) || !Array.isArray(statement.predicate?.inputAttestations)) {
    throw new UsageError(`${file}: not a rebuild verification summary`, 'sign only the statement.json a rebuild wrote');
  }
  const path = join(dir, rebuildAttestationName(key.keyId));
  await writeFile(path, `${JSON.stringify(signRebuildAttestation(key, statement))}\n`);
  return path;
}

/** Removes what a throw-away cache directory left in the engine (its source and compiler cache volumes). */
async function removeCacheVolumes(engine: Engine, cacheDir: string): Promise<void> {
  const ns = cacheNamespace(cacheDir);
  const found = await engine.findLabelled({ [LABEL]: '1' });
  for (const v of found.volumes) if (v.id.includes(`-${ns}`)) await engine.removeVolume(v.id);
}

function differencesOf(comparisons: readonly VariantComparison[], failed: RebuildReport['failed']): RebuildDifference[] {
  return [
    ...failed.map((f) => ({ variant: f.id, file: '(the whole variant)', reason: `not rebuilt: ${f.reason}` })),
    ...comparisons.flatMap((c) => [
      ...c.differences.map((d) => ({ variant: c.id, file: d.file, modules: d.modules, reason: d.reason })),
      ...c.assets.filter((a) => a.rebuilt !== a.published).map((a) => ({ variant: c.id, file: a.name, reason: 'asset differs' })),
    ]),
  ];
}

/**
 * The source files a fresh cache needs, copied from another cache's downloads when it has
 * them: they are checked against the release's sha256 when used, so this saves only the
 * download, never a check.
 */
async function seedDownloads(from: string, cacheDir: string, digests: readonly string[]): Promise<void> {
  const dir = join(from, 'downloads');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => digests.includes(n.split('-')[0]!));
  if (!names.length) return;
  await mkdir(join(cacheDir, 'downloads'), { recursive: true });
  for (const n of names) await copyFile(join(dir, n), join(cacheDir, 'downloads', n));
}

/** The artifacts of an earlier rebuild (its --out) holding every variant asked for, with the release's keys. */
async function earlierRebuild(dir: string, index: ReleaseIndex, ids: readonly string[]): Promise<string> {
  const artifacts = join(resolve(dir), 'artifacts');
  const found = new Map((await readVariantDirs(artifacts)).map((d) => [d.manifest.id, d.manifest.key]));
  for (const id of ids) {
    const key = index.variants.find((v) => v.id === id)!.key;
    if (!found.has(id)) throw new UsageError(`--compare-with ${dir}: holds no rebuild of ${id}`, 'give the --out of an earlier rebuild of this variant, or rebuild it');
    if (found.get(id) !== key) throw new UsageError(`--compare-with ${dir}: its ${id} was built with key ${found.get(id)!.slice(0, 12)}…, the release records ${key.slice(0, 12)}…`, 'an earlier rebuild counts only for the same inputs: rebuild it');
  }
  return artifacts;
}

export async function rebuildRelease(engine: Engine, opts: RebuildOptions, reporter: Reporter, signal: AbortSignal): Promise<RebuildReport> {
  const head = await verifyRelease(opts.reader, opts.trust, { only: new Set(), signal });
  // The tag is the publisher's text: a plain name only, never a path.
  const tag = head.index.release.tag;
  const out = resolve(opts.out ?? `rebuild-${tag && PLAIN_NAME.test(tag) ? tag : 'release'}`);
  const existing = await readdir(out).catch(() => undefined);
  if (existing?.length) throw new UsageError(`${out}: is not empty`, 'rebuild into a new directory (--out DIR); a rebuild never overwrites one');
  const ids = selectVariants(head.index.variants, opts.only).map((v) => v.id);
  const inputs = head.index.release.inputs;
  if (!inputs) {
    throw new ReleaseError(INDEX_FILE, 'records no inputs: the release was assembled without --config',
      'only a release assembled with the matrix it was built from (release assemble --config) can be rebuilt from the release alone');
  }
  const verified = await verifyRelease(opts.reader, opts.trust, { only: new Set(ids), signal });
  const sumsSha256 = verified.sumsSha256;
  const info = verified.index.release;
  reporter.info(`release ${info.tag ?? '(untagged)'} at ${opts.reader.location}: verified (key ${verified.keyId}); rebuilding ${ids.join(', ')}`);

  await mkdir(out, { recursive: true });
  const cacheDir = opts.cacheDir ? resolve(opts.cacheDir) : await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}rebuild-cache-`));
  try {
    if (opts.downloadsFrom && !opts.cacheDir) await seedDownloads(opts.downloadsFrom, cacheDir, head.index.release.source.digests.map((d) => d.sha256));
    const planned = await reporter.stage('inputs: the release\'s matrix, planned',
      () => planInputs(inputs, join(out, 'inputs'), cacheDir, reporter, signal, true));
    const otherKeys: string[] = [];
    for (const v of verified.index.variants.filter((x) => ids.includes(x.id))) {
      const mine = planned.keys.get(v.id);
      if (mine === undefined) throw new ReleaseError(INDEX_FILE, `lists variant ${v.id}, which the matrix it carries does not declare`);
      if (mine !== v.key) otherKeys.push(v.id);
    }
    if (otherKeys.length) {
      reporter.warn(`${otherKeys.join(', ')}: this edk2-matrix (${GENERATOR_VERSION}) plans other keys than the release records ` +
        `(made by edk2-matrix ${info.generatorVersion}${info.commit ? ` at ${info.commit.slice(0, 12)}` : ''}): its recipe or output format differs; ` +
        'building with this version and comparing what it can (for a true rebuild, use the edk2-matrix commit the release names)');
    }
    const config = planned.config;
    const variants = config.variants.filter((v) => ids.includes(v.id));
    let artifacts = join(out, 'artifacts');
    let failed: { id: string; reason: string }[] = [];
    let built: string[] = ids;
    if (opts.compareWith) {
      artifacts = await earlierRebuild(opts.compareWith, verified.index, ids);
      reporter.info(`comparing with the rebuild in ${artifacts} (same keys), building nothing`);
    } else {
      const run = await runMatrix(engine, {
        config, variants, outDir: artifacts, cacheDir, schedule: opts.schedule(variants.length), timeoutMs: opts.timeoutMs,
        noCache: true, verifyReproducible: false,
      }, reporter, signal);
      reporter.summary(run, artifacts);
      failed = run.outcomes.filter((o) => o.status !== 'built').map((o) => ({ id: o.id, reason: o.status === 'failed' ? o.error.message : o.status }));
      built = run.outcomes.filter((o) => o.status === 'built').map((o) => o.id);
    }
    const notices = await loadSourceNotices(planned.config.source, cacheDir, reporter, signal);
    const assetsDir = join(out, 'assets');
    await mkdir(assetsDir, { recursive: true });
    const comparisons: VariantComparison[] = [];
    const shard = built.length ? await readShard(artifacts, reporter) : [];
    for (const v of shard.filter((s) => built.includes(s.dir.manifest.id))) {
      const id = v.dir.manifest.id;
      const entry = verified.index.variants.find((x) => x.id === id)!;
      const maxBytes = entry.files.reduce((n, f) => n + f.size, 0);
      const publishedFiles = await archiveFiles(verified.archives.get(id)!, id, maxBytes);
      const made = await writeVariantAssets(assetsDir, v, info, notices);
      comparisons.push(await compareVariant(id,
        { files: publishedFiles, assets: verified.index.assets.filter((a) => a.variant === id) },
        { files: made.archived, assets: made.assets }));
    }
    const passed = failed.length === 0 && comparisons.length === ids.length && comparisons.every((c) => c.identical);

    // The verdict, unsigned (statement.json: `--sign` signs it later, where the key is), and signed when a key is here.
    const subjects = verified.index.assets.filter((a) => ids.includes(a.variant)).map((a) => ({ name: a.name, sha256: a.sha256 }));
    const statement = rebuildStatement({
      location: opts.resourceUri ?? opts.reader.location, sumsSha256, subjects, passed,
      differences: differencesOf(comparisons, failed),
      verifierId: opts.verifierId ?? (opts.key ? defaultVerifierId(opts.key.keyId) : 'urn:edk2-matrix:rebuilder'),
      time: new Date(),
    });
    // A verdict counts only for the release's own recipe: rebuilt by another edk2-matrix, a
    // difference may be the version's, not the release's, and is not signed as FAILED.
    let attestation: string | undefined;
    if (otherKeys.length) {
      reporter.warn(`no statement or attestation written: ${otherKeys.join(', ')} planned with other keys than the release's (check out its edk2-matrix commit to attest)`);
    } else {
      await writeFile(join(out, STATEMENT_FILE), `${JSON.stringify(statement, null, 2)}\n`);
      attestation = opts.key ? await signStatement(out, opts.key) : undefined;
    }
    return { index: verified.index, location: opts.reader.location, out, comparisons, failed, otherKeys, passed, attestation };
  } finally {
    if (!opts.cacheDir) {
      await removeCacheVolumes(engine, cacheDir).catch((err: unknown) => reporter.warn(`could not remove the rebuild's engine volumes: ${(err as Error).message}`));
      await rm(cacheDir, { recursive: true, force: true });
    }
  }
}
