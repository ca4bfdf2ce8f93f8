/**
 * One variant's job in the queue: build it (twice, from nothing, when reproducibility is being
 * verified), collect its files, store them in the artifact cache, publish them. A failure is
 * kept under failed/<id>/ with its log, and never touches the variant's earlier publication.
 */
import { join } from 'node:path';
import type { BuildPlan, BuilderImage, PreparedSource } from '../domain.ts';
import { moduleDigests } from '../edk2-build/module-digests.ts';
import { enrollKeySets } from '../edk2-build/enroll-keys.ts';
import { withBuild, type BuildLimits } from '../edk2-build/run-build.ts';
import { copyBuildTree, describeChange, leaseBuildTree, type BuildStart, type BuildTreeLease } from '../edk2-build/build-tree.ts';
import { LABEL_VARIANT } from '../engine/run-scope.ts';
import type { RunScope } from '../engine/run-scope.ts';
import { BuildError, CancelledError, describeError, EngineLostError, ExportError, ReproducibilityError } from '../errors.ts';
import type { ArtifactCache } from '../export/artifact-cache.ts';
import type { IndexWriter } from '../export/artifacts-index.ts';
import { collectVariantFiles, publishVariant, recordFailure } from '../export/export-variant.ts';
import { RUN_RECORDS } from '../layout.ts';
import type { PublishFile } from '../host/atomic-publish.ts';
import type { Reporter } from '../report/reporter.ts';
import { phaseOfLine, type Timeline } from '../report/timeline.ts';
import { differingFiles, differingModules } from '../edk2-build/compare-builds.ts';

export interface JobContext {
  readonly scope: RunScope;
  readonly image: BuilderImage;
  readonly source: PreparedSource;
  readonly limits: BuildLimits;
  readonly ccacheVolume: string | undefined;
  readonly logDir: string;
  readonly outDir: string;
  readonly cache: ArtifactCache | undefined;
  /** Rewrites index.json and SHA256SUMS after each publication. */
  readonly index: IndexWriter;
  readonly verifyReproducible: boolean;
  /** Keep a failed build's workspace for `--shell`. */
  readonly keepFailed?: boolean;
  /** A working tree's builds: each variant's kept build tree (build-tree.ts); undefined: none. */
  readonly buildTrees?: { readonly cacheDir: string; readonly namespace: string; readonly forceClean: boolean };
  readonly reporter: Reporter;
  readonly timeline: Timeline;
}

interface OneBuild {
  readonly files: PublishFile[];
  readonly modules: Map<string, string> | undefined;
  readonly cpuNanos: number;
  readonly logPath: string;
}

async function buildOnce(plan: BuildPlan, ctx: JobContext, signal: AbortSignal, suffix: string): Promise<OneBuild> {
  const logPath = join(ctx.logDir, `${plan.variant.id}${suffix}.log`);
  const row = suffix ? `${plan.variant.id} (again)` : plan.variant.id;
  const started = performance.now();
  // A reproducibility check builds from nothing: the compiler cache would only replay the first build.
  const ccacheVolume = ctx.verifyReproducible ? undefined : ctx.ccacheVolume;
  ctx.timeline.enter(row, 'setup');
  const lease = await takeBuildTree(plan, ctx, signal);
  let ok = false;
  try {
    const { result, cpuNanos } = await withBuild(ctx.scope, {
      plan, image: ctx.image, source: ctx.source, limits: ctx.limits, ccacheVolume, logPath, keepFailed: ctx.keepFailed, workVolume: lease?.volume,
      onLine: (l) => {
        ctx.reporter.line(plan.variant.id, l);
        const phase = phaseOfLine(l);
        if (phase) ctx.timeline.enter(row, phase);
      },
    }, signal, async ({ container, workVolume }) => {
      // Key sets go into copies of the built variable store, in the same workspace.
      if (plan.variant.keySets.length) await enrollKeySets(ctx.scope, ctx.image, plan, workVolume, logPath, signal);
      ctx.timeline.enter(row, 'export');
      return {
        files: await collectVariantFiles({
          plan, container, seconds: (performance.now() - started) / 1000, source: ctx.source, image: ctx.image, logPath,
          start: lease ? startRecord(lease.start) : undefined,
        }, ctx.verifyReproducible ? true : undefined),
        modules: ctx.verifyReproducible ? await moduleDigests(ctx.scope, ctx.image, plan, workVolume) : undefined,
      };
    });
    ok = true;
    return { ...result, cpuNanos, logPath };
  } finally {
    await lease?.finish(ok);
    if (suffix) ctx.timeline.leave(row);
  }
}

/**
 * The variant's kept build tree, ready to build in: as it is, a copy of a sibling's, or emptied
 * (made anew) for a clean start.
 * Undefined when the source is no working tree, or another run holds the tree (then this build
 * is clean in a volume of its own, and says so).
 */
async function takeBuildTree(plan: BuildPlan, ctx: JobContext, signal: AbortSignal): Promise<BuildTreeLease | undefined> {
  const id = plan.variant.id;
  const tree = ctx.source.tree;
  if (!ctx.buildTrees || !tree) return undefined;
  const engine = ctx.scope.engine;
  const lease = await leaseBuildTree({
    ...ctx.buildTrees, plan, builderDigest: ctx.image.digest, tree, args: plan.recipe.build.args,
    volumeExists: (name) => engine.volumeExists(name), log: ctx.reporter,
  });
  if (!lease) {
    ctx.reporter.info(`${id}: its kept build tree is in use by another run; building clean without it`);
    return undefined;
  }
  try {
    const { start } = lease;
    if (start.mode === 'incremental') {
      ctx.reporter.info(`${id}: incremental build, from its kept build tree: ${describeChange(start.change)}`);
    } else {
      if (await engine.volumeExists(lease.volume)) await engine.removeVolume(lease.volume);
      await engine.createVolume(lease.volume, ctx.scope.labels('build-tree', { [LABEL_VARIANT]: id }));
      if (start.mode === 'seed') {
        await copyBuildTree(ctx.scope, ctx.image.id, start.from, lease.volume, signal);
        await lease.seeded();
        ctx.reporter.info(`${id}: incremental build, from a copy of ${start.sibling}'s kept build tree: ${describeChange(start.change, `against ${start.sibling}'s`)}`);
      } else {
        ctx.reporter.info(`${id}: clean build (${start.reason}), kept for incremental builds`);
      }
    }
    return lease;
  } catch (err) {
    await lease.finish(false);
    throw err;
  }
}

export async function runVariantJob(plan: BuildPlan, ctx: JobContext, signal: AbortSignal): Promise<{ dir: string; cpuNanos: number }> {
  const id = plan.variant.id;
  let logPath: string | undefined;
  let secondLogPath: string | undefined;
  try {
    const first = await buildOnce(plan, ctx, signal, '');
    logPath = first.logPath;
    let cpuNanos = first.cpuNanos;
    if (ctx.verifyReproducible) {
      ctx.reporter.info(`${id}: built once; building again from nothing to compare`);
      const second = await buildOnce(plan, ctx, signal, '.second');
      secondLogPath = second.logPath;
      cpuNanos += second.cpuNanos;
      const files = differingFiles(first.files, second.files, RUN_RECORDS);
      if (files.length) throw new ReproducibilityError(id, files, differingModules(first.modules!, second.modules!));
      const compared = first.files.filter((f) => !RUN_RECORDS.includes(f.name)).length;
      ctx.reporter.info(`${id}: reproducible (${compared} files identical across two clean builds)`);
    }
    if (ctx.cache) {
      await ctx.cache.store(plan.key, first.files).catch((err: unknown) =>
        ctx.reporter.warn(`${id}: could not store it in the artifact cache (${describeError(err)}); it is published all the same`));
    }
    ctx.timeline.enter(id, 'export');
    const dir = await publishVariant(ctx.outDir, id, plan.key, first.files, ctx.reporter);
    await ctx.index.update();
    ctx.timeline.leave(id);
    return { dir, cpuNanos };
  } catch (err) {
    ctx.timeline.leave(id);
    if (err instanceof CancelledError || signal.aborted) throw err;
    const log = err instanceof BuildError ? err.logPath : logPath;
    const reason = err instanceof BuildError ? `${id}: ${err.reason}` : describeError(err);
    const kept = await recordFailure(ctx.outDir, id, reason, log, secondLogPath);
    if (err instanceof BuildError) throw new BuildError(err.variantId, err.kind, err.reason, err.exitStatus, kept, err.lastLines, { cause: err.cause });
    if (err instanceof ReproducibilityError || err instanceof EngineLostError) throw err;
    throw new ExportError(id, `${describeError(err)}; log: ${kept}`, undefined, { cause: err });
  }
}

/** build-record.json's `start`. */
function startRecord(start: BuildStart): string {
  switch (start.mode) {
    case 'incremental': return 'incremental';
    case 'seed': return `incremental, from a copy of ${start.sibling}'s kept build tree`;
    case 'clean': return `clean: ${start.reason}`;
  }
}
