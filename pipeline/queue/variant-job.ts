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
  try {
    const { result, cpuNanos } = await withBuild(ctx.scope, {
      plan, image: ctx.image, source: ctx.source, limits: ctx.limits, ccacheVolume, logPath, keepFailed: ctx.keepFailed,
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
        }, ctx.verifyReproducible ? true : undefined),
        modules: ctx.verifyReproducible ? await moduleDigests(ctx.scope, ctx.image, plan, workVolume) : undefined,
      };
    });
    return { ...result, cpuNanos, logPath };
  } finally {
    if (suffix) ctx.timeline.leave(row);
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
