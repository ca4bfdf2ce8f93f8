/**
 * One run of the matrix, stage by stage: image → source → queue(build → export) → report.
 * Whatever happens (failure, Ctrl-C), every container and temporary volume the run made is
 * removed, and artifacts/ holds only complete variant directories.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { MatrixConfig, Variant, VariantOutcome } from './domain.ts';
import { withBuild, type BuildLimits } from './build/run-build.ts';
import type { Engine } from './engine/engine.ts';
import { newRunId, RunScope } from './engine/run-scope.ts';
import { BuildError, CancelledError, describeError, ExportError } from './errors.ts';
import { pruneArtifacts, writeIndex } from './export/artifacts-index.ts';
import { exportVariant, recordFailure } from './export/export-variant.ts';
import { ensureBuilderImage } from './image/builder-image.ts';
import { runVariants } from './queue/run-variants.ts';
import type { Schedule } from './queue/schedule.ts';
import type { Reporter } from './report/reporter.ts';
import { checkDefines } from './plan/check-defines.ts';
import { loadDefineCatalog } from './source/define-catalog.ts';
import { ensureSource } from './source/prepare.ts';

export interface RunOptions {
  readonly config: MatrixConfig;
  readonly variants: readonly Variant[];
  readonly outDir: string;
  readonly cacheDir: string;
  readonly schedule: Schedule;
  readonly timeoutMs: number;
}

export interface RunResult {
  readonly outcomes: readonly VariantOutcome[];
  readonly seconds: number;
}

export async function runMatrix(engine: Engine, opts: RunOptions, reporter: Reporter, signal: AbortSignal): Promise<RunResult> {
  const started = performance.now();
  const scope = new RunScope(engine, newRunId());
  const logDir = join(opts.cacheDir, 'runs', scope.runId);
  // Ctrl-C: kill every container at once; the stages waiting on them then unwind.
  const onAbort = () => void scope.cleanup();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const info = await engine.ping();
    reporter.info(`engine: Docker ${info.version} (API ${info.apiVersion}); run ${scope.runId}; ` +
      `${opts.schedule.jobs} build${opts.schedule.jobs === 1 ? '' : 's'} at a time, -n ${opts.schedule.threads} each`);
    // Source first: a define the DSC does not know is a configuration error, found before any container.
    const catalog = await reporter.stage('edk2 source: verify and check defines', () => loadDefineCatalog(opts.config.source, opts.cacheDir, reporter, signal));
    checkDefines(opts.config, opts.variants, catalog);
    const image = await reporter.stage('builder image', () => ensureBuilderImage(scope, opts.config.builder, opts.cacheDir, reporter, signal));
    throwIfAborted(signal);
    const source = await reporter.stage('edk2 source', () => ensureSource(scope, opts.config.source, image, opts.cacheDir, reporter, signal));
    throwIfAborted(signal);

    await mkdir(opts.outDir, { recursive: true });
    await mkdir(logDir, { recursive: true });
    await pruneArtifacts(opts.outDir, new Set(opts.config.variants.map((v) => v.id)), reporter);
    const limits: BuildLimits = {
      threads: opts.schedule.threads,
      memoryBytes: opts.schedule.memoryBytes,
      pidsLimit: 4096,
      timeoutMs: opts.timeoutMs,
    };
    const outcomes = await runVariants(opts.variants, opts.schedule.jobs, signal, reporter, async (variant, variantSignal) => {
      const logPath = join(logDir, `${variant.id}.log`);
      const t = performance.now();
      try {
        const dir = await withBuild(scope, { variant, image, source, limits, logPath, onLine: (l) => reporter.line(variant.id, l) }, variantSignal,
          (container, buildArgv) => exportVariant({
            variant, container, buildArgv, seconds: (performance.now() - t) / 1000, source, image, logPath, outDir: opts.outDir, installPrefix: opts.config.installPrefix,
          }));
        return { dir };
      } catch (err) {
        if (err instanceof CancelledError || variantSignal.aborted) throw err;
        const kept = await recordFailure(opts.outDir, variant.id, describeError(err), logPath);
        throw err instanceof BuildError
          ? new BuildError(err.variantId, err.reason, err.exitStatus, kept, err.lastLines, { cause: err.cause })
          : new ExportError(variant.id, `${describeError(err)}; log: ${kept}`, undefined, { cause: err });
      }
    });
    // Publish the index even when cancelled: it must describe what is on disk.
    await writeIndex(opts.outDir);
    return { outcomes, seconds: (performance.now() - started) / 1000 };
  } finally {
    signal.removeEventListener('abort', onAbort);
    const problems = await scope.cleanup();
    for (const p of problems) reporter.warn(`could not remove ${p}; \`npm run matrix -- --clean\` will`);
    await rm(logDir, { recursive: true, force: true });
  }
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new CancelledError();
}
