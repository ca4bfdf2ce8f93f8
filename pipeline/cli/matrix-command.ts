/**
 * `npm run matrix`: reads the matrix, then lists, plans or builds it.
 * Exit status: 0 all built, 1 a failure, 2 bad input (nothing was touched), 130 interrupted.
 */
import { homedir } from 'node:os';
import { availableParallelism, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { buildArguments, buildCommandLine } from '../plan/build-command.ts';
import { HELP, parseCli, type CliOptions } from './args.ts';
import { loadConfig } from '../config/load.ts';
import { selectVariants } from '../config/select.ts';
import type { BuildPlan, MatrixConfig, Variant } from '../domain.ts';
import { edk2TreeProblem } from '../config/edk2-tree.ts';
import { UsageError } from '../errors.ts';
import { exportSource, exportTargetProblem } from '../source/export-source.ts';
import { cleanLeftovers } from '../engine/leftovers.ts';
import { removeKeptWorkspaces } from '../edk2-build/kept-workspace.ts';
import { openKeptShell } from './kept-shell-command.ts';
import { pruneCaches } from './prune-cache.ts';
import { commandIo, type CommandContext } from './command-context.ts';
import { schedule } from '../queue/schedule.ts';
import { createReporter } from '../report/create-reporter.ts';
import { planRun, runMatrix } from '../run.ts';
import { checkOutDir } from '../export/ownership.ts';
import { builderOnly, updateLock } from './builder-commands.ts';
import { drawTimeline } from '../report/draw-timeline.ts';
import { formatColumns } from '../report/columns.ts';
import { verifyTable } from '../verify/verify-table.ts';
import { VERIFY_TIMEOUT_MS, verifyArtifacts } from '../verify/verify-artifacts.ts';
import { qemuImageSpec } from '../image/qemu-image.ts';

export function defaultCacheDir(): string {
  return process.env.EDK2_MATRIX_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'edk2-matrix');
}

function listVariants(variants: readonly Variant[], json: boolean): string {
  if (json) {
    return `${JSON.stringify(variants.map((v) => ({
      id: v.id, arch: v.arch, target: v.target, features: v.features, defines: v.defines, pcds: v.pcds, dsc: v.platform.dsc,
    })), null, 2)}\n`;
  }
  const rows = [['id', 'arch', 'target', 'dsc', 'defines'], ...variants.map((v) => [
    v.id, v.arch, v.target, v.platform.dsc, Object.entries(v.defines).map(([k, val]) => `${k}=${val}`).join(' ') || '-',
  ])];
  return `${formatColumns(rows)}\n`;
}

/** Each plan as the run would build it: content key, the exact command and environment, outputs, QEMU. */
export function dryRunText(plans: readonly BuildPlan[]): string {
  return plans.map(({ recipe, key, ...plan }) => [
    `${recipe.id}:`,
    `  key:    ${key}`,
    `  build:  ${buildCommandLine(recipe.build.env, buildArguments({ recipe, key, ...plan }))}`,
    ...recipe.enrolments.map((e) => `  enroll: ${e.argv.join(' ')}`),
    `  export: ${recipe.outputs.map((o) => `${o.name}${o.padTo ? ` (padded to ${o.padTo} bytes)` : ''}${o.optional ? ' (if built)' : ''}`).join(', ')}`,
    `          ${recipe.rendered.map((r) => r.name).join(', ')}`,
    `  qemu:   ${recipe.qemu.argv.join(' ')}`,
  ].join('\n')).join('\n') + '\n';
}

/** The matrix with `--source-dir DIR` as its source, refused (exit 2) when DIR cannot be built as the matrix's edk2 tree. */
export function withSourceDir(config: MatrixConfig, dir: string | undefined): MatrixConfig {
  if (dir === undefined) return config;
  const path = resolve(dir);
  const problem = edk2TreeProblem(path, config.variants);
  if (problem) throw new UsageError(`--source-dir: ${problem}`, 'pass an edk2 checkout, or make one with npm run matrix -- --export-source DIR');
  return { ...config, source: { kind: 'tree', path, patches: [] } };
}

async function exportCommand(config: MatrixConfig, dir: string, cacheDirOpt: string | undefined, io: ReturnType<typeof commandIo>, signal: AbortSignal): Promise<number> {
  if (config.source.kind === 'tree') throw new UsageError(`--export-source: the matrix's source is already a tree (${config.source.path})`, 'work in that tree');
  const target = resolve(dir);
  const problem = await exportTargetProblem(target);
  if (problem) throw new UsageError(`--export-source: ${problem}`, 'name a new or empty directory (the export never overwrites anything)');
  const reporter = createReporter(io.stderr);
  const done = await exportSource(config.source, target, resolve(cacheDirOpt ?? defaultCacheDir()), reporter, signal);
  io.stdout.write(`exported ${done.description} to ${done.dir} (git commit ${done.commit.slice(0, 12)});\n` +
    `change it, then build it with: npm run matrix -- --source-dir ${dir}\n`);
  return 0;
}

export async function matrixCommand(argv: readonly string[], signal: AbortSignal, ctx: CommandContext = {}): Promise<number> {
  const opts: CliOptions = parseCli(argv);
  const io = commandIo(ctx);
  const { stdout, stderr, engine: engineOf } = io;
  if (opts.help) {
    stdout.write(HELP);
    return 0;
  }
  if (opts.shell !== undefined) return openKeptShell(opts.shell, io, signal);
  if (opts.clean) {
    const engine = engineOf();
    await engine.ping();
    const r = await cleanLeftovers(engine);
    const kept = await removeKeptWorkspaces(engine);
    stdout.write(`removed ${r.containers} container(s) and ${r.volumes} volume(s) left by earlier runs` +
      `${r.spared ? `; spared ${r.spared} of a run still going` : ''}, and ${kept.removed} kept workspace(s)\n`);
    for (const p of [...r.problems, ...kept.problems]) stderr.write(`edk2-matrix: could not remove ${p}\n`);
    return r.problems.length || kept.problems.length ? 1 : 0;
  }
  const loaded = withSourceDir(loadConfig(opts.config), opts.sourceDir);
  const config = opts.snapshot ? { ...loaded, builder: { ...loaded.builder, snapshot: opts.snapshot } } : loaded;
  if (opts.exportSource !== undefined) return exportCommand(config, opts.exportSource, opts.cacheDir, io, signal);
  const variants = selectVariants(config.variants, opts.only);
  const plan = schedule({
    cores: availableParallelism(), memoryBytes: totalmem(), variants: variants.length, jobs: opts.jobs, threads: opts.threads,
    buildMemoryBytes: opts.memory === undefined ? undefined : Math.round(opts.memory * 2 ** 30),
  });
  if (opts.list) {
    stdout.write(listVariants(variants, opts.json));
    return 0;
  }
  const outDir = resolve(opts.out);
  const cacheDir = resolve(opts.cacheDir ?? defaultCacheDir());
  const reporter = createReporter(stderr);
  if (opts.dryRun) {
    // The same plans the run builds: the source is verified (downloaded if need be) for its date and defines.
    const { plans } = await planRun(config, variants, plan.threads, cacheDir, reporter, signal);
    stdout.write(dryRunText(plans));
    return 0;
  }
  const engine = engineOf();
  if (opts.updateBuilderLock) {
    stdout.write(await updateLock(engine, config.builder, reporter, signal));
    return 0;
  }
  if (opts.builderOnly) {
    stdout.write(await builderOnly(engine, config.builder, cacheDir, reporter, signal));
    return 0;
  }
  if (opts.pruneCache) {
    await engine.ping();
    const r = await pruneCaches(engine, config, outDir, cacheDir);
    stdout.write(`removed ${r.artifactEntries} artifact cache entr${r.artifactEntries === 1 ? 'y' : 'ies'}, ${r.volumes} volume(s), ` +
      `${r.images} builder image(s) and ${r.files} cached file(s) the artifacts in ${outDir} do not use\n`);
    return 0;
  }

  await checkOutDir(outDir);
  const result = await runMatrix(engine, {
    config, variants, outDir, cacheDir, schedule: plan, timeoutMs: opts.timeout,
    noCache: opts.noCache, verifyReproducible: opts.verifyReproducible, rehash: opts.rehash, keepFailed: opts.keepFailed, cleanBuild: opts.cleanBuild,
  }, reporter, signal);
  reporter.summary(result, outDir);
  const built = result.outcomes.filter((o) => o.status === 'built').map((o) => o.id);
  let bootFailed = false;
  if (opts.verify && built.length && !signal.aborted) {
    const outcomes = await verifyArtifacts({
      outDir, only: new Set(built), jobs: availableParallelism(), timeoutMs: VERIFY_TIMEOUT_MS, accel: 'auto', timeline: result.timeline,
      qemu: 'auto', qemuImage: { engine, spec: qemuImageSpec(config.builder), cacheDir },
    }, reporter, signal);
    stderr.write(`\n${verifyTable(outcomes)}\n`);
    bootFailed = outcomes.some((o) => !o.ok);
  }
  result.timeline.stop();
  if (result.timeline.spans.some((s) => s.phase !== 'image' && s.phase !== 'source') && !signal.aborted) {
    stderr.write(`${await drawTimeline(result.timeline, outDir)}\n`);
  }
  return result.outcomes.some((o) => o.status !== 'built') || bootFailed ? 1 : 0;
}

