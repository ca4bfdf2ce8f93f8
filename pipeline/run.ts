/**
 * One run of the matrix, stage by stage:
 * plan (source facts, define check, recipes and keys) → image → reuse → source → queue(build → export) → report.
 * Whatever happens (failure, Ctrl-C), every container and temporary volume the run made is
 * removed, and artifacts/ holds only complete variant directories.
 */
import { mkdir, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { BuildPlan, Log, MatrixConfig, SourceFacts, Variant, VariantOutcome } from './domain.ts';
import { siblingWaits } from './edk2-build/build-tree.ts';
import { ensureCcacheVolume } from './edk2-build/ccache-volume.ts';
import { cacheNamespace } from './engine/cache-namespace.ts';
import type { BuildLimits } from './edk2-build/run-build.ts';
import type { Engine } from './engine/engine.ts';
import { newRunId, RunScope } from './engine/run-scope.ts';
import { cleanLeftovers } from './engine/leftovers.ts';
import { CancelledError } from './errors.ts';
import { ArtifactCache } from './export/artifact-cache.ts';
import { checkPublishedManifests, IndexWriter, pruneArtifacts, writeIndex } from './export/artifacts-index.ts';
import { reuseArtifacts } from './export/reuse.ts';
import { markOutDir } from './export/ownership.ts';
import { builderDigest, ensureBuilderImage } from './image/builder-image.ts';
import { checkDefines } from './plan/check-defines.ts';
import { planVariants } from './plan/plan-variants.ts';
import { runVariants } from './queue/run-variants.ts';
import type { Schedule } from './queue/schedule.ts';
import { runVariantJob } from './queue/variant-job.ts';
import type { Reporter } from './report/reporter.ts';
import { Timeline } from './report/timeline.ts';
import { sourceIdentity } from './source/materialize.ts';
import { ensureSource, sourceKey } from './source/prepare.ts';
import { loadSourceFacts } from './source/source-facts.ts';

export interface RunOptions {
  readonly config: MatrixConfig;
  readonly variants: readonly Variant[];
  readonly outDir: string;
  readonly cacheDir: string;
  readonly schedule: Schedule;
  readonly timeoutMs: number;
  /** Build every selected variant even when a verified result exists. */
  readonly noCache: boolean;
  /** Build each variant twice from nothing and require identical files. */
  readonly verifyReproducible: boolean;
  /** Hash every published file instead of trusting unchanged fingerprints. */
  readonly rehash?: boolean;
  /** Keep the workspace of a variant whose build fails, for `--shell` (until `--clean`). */
  readonly keepFailed?: boolean;
  /** A working tree's variants build from nothing (not from their kept build trees). */
  readonly cleanBuild?: boolean;
  /** Where the run records what it did when (the caller draws it); a fresh one when not given. */
  readonly timeline?: Timeline;
}

export interface PlannedRun {
  readonly plans: readonly BuildPlan[];
  readonly facts: SourceFacts;
}

/**
 * The plan of a run, without touching the engine: the verified source's facts (its date, the
 * defines each DSC declares: an unknown define is refused here), then each variant's recipe
 * and content key. `--dry-run` prints exactly these plans; the run builds them.
 */
export async function planRun(config: MatrixConfig, variants: readonly Variant[], threads: number, cacheDir: string, log: Log, signal: AbortSignal): Promise<PlannedRun> {
  const facts = await loadSourceFacts(config.source, cacheDir, log, signal);
  checkDefines(config, variants, facts.defines);
  const digest = builderDigest(config.builder);
  const plans = planVariants(variants, {
    sourceKey: sourceKey(await sourceIdentity(config.source, cacheDir, log), digest),
    builderDigest: digest,
    sourceDateEpoch: facts.epoch,
    installPrefix: config.installPrefix,
    threads,
  });
  return { plans, facts };
}

export interface RunResult {
  readonly outcomes: readonly VariantOutcome[];
  readonly seconds: number;
  /** Share of all cores the build containers kept busy while builds ran; undefined if none ran. */
  readonly coresBusy: number | undefined;
  readonly timeline: Timeline;
}

export async function runMatrix(engine: Engine, opts: RunOptions, reporter: Reporter, signal: AbortSignal): Promise<RunResult> {
  const started = performance.now();
  const timeline = opts.timeline ?? new Timeline();
  timeline.sample();
  const scope = new RunScope(engine, newRunId());
  const logDir = join(opts.cacheDir, 'runs', scope.runId);
  // Ctrl-C: kill every container at once; the stages waiting on them then unwind.
  let abortCleanup: Promise<string[]> | undefined;
  const onAbort = () => {
    abortCleanup = scope.cleanup();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const info = await engine.ping();
    reporter.info(`engine: Docker ${info.version} (API ${info.apiVersion}); run ${scope.runId}; ` +
      `${opts.schedule.jobs} build${opts.schedule.jobs === 1 ? '' : 's'} at a time, -n ${opts.schedule.threads} each`);
    // What runs of this host that died left behind (a killed CLI's containers): removed first.
    const swept = await cleanLeftovers(engine, { thisHostOnly: true });
    if (swept.containers || swept.volumes) reporter.info(`removed ${swept.containers} container(s) and ${swept.volumes} volume(s) left by runs of this host that died`);
    for (const p of swept.problems) reporter.warn(`could not remove ${p}`);
    // Source first: a define the DSC does not know is a configuration error, found before any container.
    const { plans, facts } = await reporter.stage('edk2 source: verify and check defines',
      () => planRun(opts.config, opts.variants, opts.schedule.threads, opts.cacheDir, reporter, signal));
    const image = await reporter.stage('builder image', () => timeline.during(SHARED_ROW, 'image', () => ensureBuilderImage(scope, opts.config.builder, opts.cacheDir, reporter, signal)));
    throwIfAborted(signal);
    await markOutDir(opts.outDir);
    // A damaged manifest already there stops the run now, in one line, rather than every
    // publication's index update later (which would record built variants as failed).
    await checkPublishedManifests(opts.outDir);
    const cache = new ArtifactCache(join(opts.cacheDir, 'artifacts'));
    const index = new IndexWriter(opts.outDir);
    const reused = opts.noCache || opts.verifyReproducible ? new Map() : await reuseArtifacts(plans, opts.outDir, cache, reporter, index, opts.rehash);
    const reusedOutcomes: VariantOutcome[] = [...reused].map(([id, r]) => ({ id, status: 'built', seconds: 0, cpuSeconds: 0, ...r }));
    for (const o of reusedOutcomes) reporter.finished(o);
    const toBuild = plans.filter((p) => !reused.has(p.variant.id));

    let built: VariantOutcome[] = [];
    let coresBusy: number | undefined;
    if (toBuild.length) {
      const source = await reporter.stage('edk2 source', () => timeline.during(SHARED_ROW, 'source', () => ensureSource(scope, opts.config.source, image, facts.components, opts.cacheDir, reporter, signal)));
      throwIfAborted(signal);
      const ccacheVolume = await ensureCcacheVolume(engine, opts.cacheDir);
      await mkdir(logDir, { recursive: true });
      const limits: BuildLimits = {
        memoryBytes: opts.schedule.memoryBytes,
        pidsLimit: 4096,
        timeoutMs: opts.timeoutMs,
      };
      const ctx = {
        scope, image, source, limits, ccacheVolume, logDir, outDir: opts.outDir,
        cache, index, verifyReproducible: opts.verifyReproducible, keepFailed: opts.keepFailed, reporter, timeline,
        // A working tree builds incrementally in kept build trees; a reproducibility check never.
        buildTrees: source.tree && !opts.verifyReproducible
          ? { cacheDir: opts.cacheDir, namespace: cacheNamespace(opts.cacheDir), forceClean: opts.cleanBuild === true }
          : undefined,
      };
      // Siblings without a kept tree start after the one that has built, from a copy of its tree.
      const waits = ctx.buildTrees && source.tree
        ? await siblingWaits(toBuild, { ...ctx.buildTrees, builderDigest: image.digest, tree: source.tree })
        : new Map<string, string>();
      for (const [id, leader] of waits) reporter.info(`${id}: starts after ${leader}, its sibling (same DSC, other defines), from a copy of its build tree`);
      const buildStart = performance.now();
      built = await runVariants(toBuild, opts.schedule.jobs, signal, reporter, (plan, s) => runVariantJob(plan, ctx, s), waits);
      const wall = (performance.now() - buildStart) / 1000;
      const cpu = built.reduce((sum, o) => sum + (o.status === 'built' ? o.cpuSeconds : 0), 0);
      if (cpu > 0) coresBusy = cpu / (wall * availableParallelism());
    }
    // The index describes what is on disk: rewrite it unless an interrupted run published nothing
    // (then artifacts/ stays exactly as it was).
    const published = reusedOutcomes.some((o) => o.status === 'built' && o.from === 'cache') || built.some((o) => o.status === 'built');
    if (!signal.aborted) await pruneArtifacts(opts.outDir, new Set(opts.config.variants.map((v) => v.id)), reporter);
    if (!signal.aborted || published) await writeIndex(opts.outDir);
    const order = new Map(opts.variants.map((v, i) => [v.id, i]));
    const outcomes = [...reusedOutcomes, ...built].sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    return { outcomes, seconds: (performance.now() - started) / 1000, coresBusy, timeline };
  } finally {
    signal.removeEventListener('abort', onAbort);
    // After the abort's cleanup (if any): what it could not remove is tried once more.
    await abortCleanup;
    const problems = await scope.cleanup();
    for (const p of problems) reporter.warn(`could not remove ${p}; \`npm run matrix -- --clean\` will`);
    await rm(logDir, { recursive: true, force: true });
  }
}

/** The timeline's row for what all variants share: the builder image and the prepared source. */
export const SHARED_ROW = 'builder and source';

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new CancelledError();
}
