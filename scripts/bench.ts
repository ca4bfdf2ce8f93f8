/**
 * `npm run bench`: measures, in one run on this machine,
 *   (a) the way people build by hand today: variants one after another, each in a fresh
 *       container that copies the source, rebuilds BaseTools and runs `build -n <cores>`,
 *       with no cache of any kind;
 *   (b) the pipeline cold: a new cache directory (no prepared source, no compiler cache, no
 *       artifact cache);
 *   (c) the pipeline again with nothing changed;
 *   (d) the pipeline after one define changed in one variant, and that changed variant built
 *       cold (its own empty caches) as the divisor;
 *   (b') the pipeline cold from a working tree (the same source, exported): siblings start
 *       from a copy of the first one's build tree; (d') the define of (d) changed, built
 *       incrementally from the kept tree; both proven by building again clean and comparing
 *       every published file;
 * and prints a table and writes JSON (bench-results/) with b/a, d/(that variant cold), b'/a, d'/(the same), the
 * share of cores busy in (b) (overall and per phase) and each variant's phase times (from the
 * run's timeline.json), and c in seconds.
 * Targets: b/a and b'/a ≤ 0.6, d and d' ≤ 0.35, cores busy ≥ 90 %, c ≤ 1 s. Machines are shared and noisy:
 * compare the ratios of one run, not seconds across runs.
 *
 *   npm run bench -- [--config bench/matrix.yaml] [--only IDS] [--skip-hand]
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildArgs, buildEnv } from '../pipeline/plan/build-command.ts';
import { defaultCacheDir } from '../pipeline/cli/matrix-command.ts';
import { loadConfig } from '../pipeline/config/load.ts';
import { selectVariants } from '../pipeline/config/select.ts';
import type { Index, Variant } from '../pipeline/domain.ts';
import { cacheNamespace } from '../pipeline/engine/cache-namespace.ts';
import { DockerEngine } from '../pipeline/engine/docker-engine.ts';
import { followOutputToFile } from '../pipeline/engine/output-log.ts';
import { LABEL, newRunId, RunScope } from '../pipeline/engine/run-scope.ts';
import { describeError } from '../pipeline/errors.ts';
import { ensureBuilderImage } from '../pipeline/image/builder-image.ts';
import { materializeSource, sourceIdentity } from '../pipeline/source/materialize.ts';
import { sourceKey, sourceVolumeName } from '../pipeline/source/prepare.ts';
import { TIMELINE_DATA } from '../pipeline/layout.ts';
import { formatColumns } from '../pipeline/report/columns.ts';
import { REPO, runCli, sameAsClean, type CliRun } from './bench-cli.ts';
import { RACY_MS } from '../pipeline/source/tree-snapshot.ts';

const log = { info: (m: string) => say(m), warn: (m: string) => say(`warning: ${m}`) };
function say(m: string): void {
  process.stderr.write(`bench: ${m}\n`);
}

const { values: opt } = parseArgs({
  options: {
    config: { type: 'string', default: 'bench/matrix.yaml' },
    only: { type: 'string' },
    'skip-hand': { type: 'boolean', default: false },
    // Passed to the pipeline runs (b), (c), (d): to compare schedules on one machine.
    jobs: { type: 'string' },
    threads: { type: 'string' },
  },
});
const configPath = resolve(REPO, opt.config!);
const config = loadConfig(configPath);
const variants = selectVariants(config.variants, opt.only);
const cores = availableParallelism();
const schedule = [...(opt.jobs ? ['--jobs', opt.jobs] : []), ...(opt.threads ? ['--threads', opt.threads] : [])];
const work = mkdtempSync(join(tmpdir(), 'edk2-matrix-bench-'));
const cold = join(work, 'cache');
/** Every cache directory the bench makes: their engine volumes are removed at the end. */
const colds = [cold];
// Ctrl-C: the CLI child (same process group) stops by itself; the hand build is stopped here,
// and main's cleanup removes the work dir and the cold cache's volumes.
const controller = new AbortController();
let stopping: (() => Promise<unknown>) | undefined;
// `on`, not `once`: a wrapper may relay the terminal's Ctrl-C a second time, and a second
// default SIGINT would end the bench before its cleanup.
process.on('SIGINT', () => {
  if (controller.signal.aborted) return;
  say('interrupted: cleaning up');
  controller.abort(new Error('SIGINT'));
  void stopping?.();
});

/**
 * The constant script of a hand build: build arguments arrive as "$@", never pasted in. They
 * are set aside before sourcing edksetup.sh, which reads the positional parameters it inherits
 * as its own options and stops (help text, status 1) on `-a`.
 */
const HAND_BUILD = [
  'set -e',
  'args=("$@")',
  'set --',
  'cp -a /src/. /hand/edk2/',
  'cd /hand/edk2',
  'make -C BaseTools/Source/C clean >/dev/null',
  'make -C BaseTools/Source/C -j"$(nproc)" >/dev/null',
  '. ./edksetup.sh >/dev/null',
  'build "${args[@]}"',
].join('\n');

/** (a) one variant the way the hand-written notes do it, in a fresh container. */
async function handBuild(scope: RunScope, imageId: string, sourceVolume: string, v: Variant): Promise<number> {
  const volume = `edk2-matrix-bench-hand-${scope.runId}-${v.id}`;
  await scope.createTemporaryVolume(volume);
  const env = Object.fromEntries(Object.entries(buildEnv(v, 0)).filter(([k]) => k.endsWith('_PREFIX')));
  const container = await scope.createContainer({
    image: imageId,
    cmd: ['bash', '-c', HAND_BUILD, 'hand-build', ...buildArgs(v), '-n', String(cores)],
    env,
    user: 'root',
    mounts: [{ volume: sourceVolume, target: '/src', readOnly: true }, { volume, target: '/hand', readOnly: false }],
    network: 'none',
    hardened: false,
  }, 'build');
  const t = performance.now();
  const logPath = join(work, `hand-${v.id}.log`);
  try {
    await container.start();
    const { writeError, lastLines } = await followOutputToFile(container, logPath);
    const { exitCode } = await container.wait();
    if (writeError) throw new Error(`cannot write ${logPath}: ${writeError.message}`);
    if (exitCode !== 0) throw new Error(`hand build of ${v.id} exited ${exitCode}; its last lines:\n${lastLines.join('\n')}`);
    return (performance.now() - t) / 1000;
  } finally {
    await scope.removeContainer(container);
    await scope.removeVolume(volume);
  }
}

interface TimelineData {
  readonly spans: readonly { row: string; phase: string; start: number; end: number }[];
  readonly busyByPhase: Readonly<Record<string, number>>;
}

function timelineOf(outDir: string): TimelineData {
  return JSON.parse(readFileSync(join(outDir, TIMELINE_DATA), 'utf8')) as TimelineData;
}

/** Seconds each variant spent in each phase. */
function phaseSeconds(t: TimelineData): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const s of t.spans) {
    const row = (out[s.row] ??= {});
    row[s.phase] = (row[s.phase] ?? 0) + (s.end - s.start);
  }
  return out;
}

/** One run of the matrix from the bench's working tree. */
type TreeRun = (config: string, outDir: string, ids: readonly string[], ...more: string[]) => Promise<CliRun>;

/** Builds `ids` again clean (no artifact cache) and compares every published file with `outDir`'s. */
async function proveClean(name: string, cfg: string, outDir: string, ids: readonly string[], fromTree: TreeRun): Promise<string> {
  const cleanOut = join(work, 'artifacts-clean');
  rmSync(cleanOut, { recursive: true, force: true });
  say(`${name}: built again clean, to compare`);
  const r = await fromTree(cfg, cleanOut, ids, '--clean-build', '--no-cache');
  if (r.code !== 0) throw new Error(`${name}: the clean build failed:\n${r.stderr.slice(-2000)}`);
  return sameAsClean(name, outDir, cleanOut, ids);
}

function buildSeconds(outDir: string): Record<string, number> {
  const index = JSON.parse(readFileSync(join(outDir, 'index.json'), 'utf8')) as Index;
  return Object.fromEntries(index.variants.map((v) => [v.id, v.buildSeconds ?? NaN]));
}

async function main(): Promise<void> {
  const only = ['--only', variants.map((v) => v.id).join(','), ...schedule];
  say(`${variants.length} variants (${variants.map((v) => v.id).join(', ')}), ${cores} cores; work dir ${work}`);

  // (b) cold: a new cache dir (its own engine volumes); the source files are fetched into the
  // user's cache first (on a fresh host) and copied in, so that the network does not count.
  mkdirSync(cold);
  await materializeSource(config.source, defaultCacheDir(), log, controller.signal);
  cpSync(join(defaultCacheDir(), 'downloads'), join(cold, 'downloads'), { recursive: true });
  const out = join(work, 'artifacts');
  const common = ['--config', configPath, '--out', out, '--cache-dir', cold, ...only];
  say('(b) pipeline, cold');
  const b = await runCli(common);
  if (b.code !== 0) throw new Error(`cold run failed:\n${b.stderr.slice(-2000)}`);
  const busy = /cores busy during builds: (\d+)%/.exec(b.stderr);
  const coldBuilds = buildSeconds(out);
  const coldTimeline = timelineOf(out);

  // (c) again, nothing changed.
  say('(c) pipeline, nothing changed');
  const c = await runCli(common);
  if (!/0 built, \d+ reused/.test(c.stderr)) throw new Error(`the rerun built something:\n${c.stderr.slice(-2000)}`);

  // (d) one define changed in one variant: IPv6 off in x64-secureboot-debug's feature set.
  const changed = join(work, 'changed.yaml');
  const text = readFileSync(configPath, 'utf8').replace('dockerfile: ../dockerfiles/builder', `dockerfile: ${REPO}/dockerfiles/builder`);
  const edited = text.replace('defines: { SECURE_BOOT_ENABLE: true }', 'defines: { SECURE_BOOT_ENABLE: true, NETWORK_IP6_ENABLE: false }');
  if (edited === text) throw new Error('cannot change a define: the bench matrix has no secureboot feature set');
  writeFileSync(changed, edited);
  say('(d) pipeline, one define changed in x64-secureboot-debug');
  const d = await runCli(['--config', changed, '--out', out, '--cache-dir', cold, ...only]);
  if (!/1 built, \d+ reused/.test(d.stderr)) throw new Error(`expected exactly one rebuild:\n${d.stderr.slice(-2000)}`);
  const dVariant = buildSeconds(out)['x64-secureboot-debug']!;
  const dPhases = phaseSeconds(timelineOf(out))['x64-secureboot-debug'];

  // d's divisor: the same changed variant built truly cold, in a cache directory of its own.
  const cold2 = join(work, 'cache-d');
  mkdirSync(cold2);
  cpSync(join(defaultCacheDir(), 'downloads'), join(cold2, 'downloads'), { recursive: true });
  colds.push(cold2);
  say('(d) divisor: the changed variant alone, cold');
  const dCold = await runCli(['--config', changed, '--out', join(work, 'artifacts-d'), '--cache-dir', cold2, '--only', 'x64-secureboot-debug']);
  if (dCold.code !== 0) throw new Error(`cold build of the changed variant failed:\n${dCold.stderr.slice(-2000)}`);
  const dVariantCold = buildSeconds(join(work, 'artifacts-d'))['x64-secureboot-debug']!;

  // The same from a working tree (the developer's loop, docs/incremental-builds.md): the
  // matrix's own source exported, then (b') built cold in a cache directory of its own — the
  // siblings (same DSC, other defines) each start from a copy of the first's build tree — and
  // (d') the same define changed, incremental from the kept tree. Both proven: every variant
  // built again clean (--clean-build, no artifact cache) gives the same bytes.
  const treeCache = join(work, 'cache-tree');
  mkdirSync(treeCache);
  cpSync(join(defaultCacheDir(), 'downloads'), join(treeCache, 'downloads'), { recursive: true });
  colds.push(treeCache);
  const tree = join(work, 'edk2');
  const exported = await runCli(['--config', configPath, '--cache-dir', treeCache, '--export-source', tree]);
  if (exported.code !== 0) throw new Error(`--export-source failed:\n${exported.stderr.slice(-2000)}`);
  await new Promise((r) => setTimeout(r, RACY_MS + 200));
  const treeOut = join(work, 'artifacts-tree');
  const fromTree: TreeRun = (cfg, outDir, ids, ...more) =>
    runCli(['--config', cfg, '--out', outDir, '--cache-dir', treeCache, '--source-dir', tree, '--only', ids.join(','), ...schedule, ...more]);
  const all = variants.map((v) => v.id);
  say("(b') pipeline, cold, from the exported tree");
  const bt = await fromTree(configPath, treeOut, all);
  if (bt.code !== 0) throw new Error(`cold run from the tree failed:\n${bt.stderr.slice(-2000)}`);
  const seeded = [...bt.stderr.matchAll(/(\S+): incremental build, from a copy of (\S+)'s kept build tree/g)].map((m) => `${m[1]} from ${m[2]}`);
  const btBuilds = buildSeconds(treeOut);
  const btProof = await proveClean("(b')", configPath, treeOut, all, fromTree);
  say("(d') one define changed in x64-secureboot-debug, from the tree");
  const dt = await fromTree(changed, treeOut, all);
  if (!/1 built, \d+ reused/.test(dt.stderr) || !/x64-secureboot-debug: incremental build, from its kept build tree/.test(dt.stderr)) {
    throw new Error(`expected one incremental rebuild:\n${dt.stderr.slice(-2000)}`);
  }
  const dtVariant = buildSeconds(treeOut)['x64-secureboot-debug']!;
  const dtProof = await proveClean("(d')", changed, treeOut, ['x64-secureboot-debug'], fromTree);

  // (a) by hand, one after another, each from a fresh copy with BaseTools rebuilt, no cache.
  let a: { total: number; perVariant: Record<string, number> } | undefined;
  if (!opt['skip-hand']) {
    const engine = new DockerEngine();
    const scope = new RunScope(engine, newRunId());
    stopping = () => scope.cleanup();
    try {
      const image = await ensureBuilderImage(scope, config.builder, cold, log, controller.signal);
      const volume = sourceVolumeName(sourceKey(await sourceIdentity(config.source, cold, log), image.id), cacheNamespace(cold));
      const perVariant: Record<string, number> = {};
      for (const v of variants) {
        controller.signal.throwIfAborted();
        say(`(a) by hand: ${v.id}`);
        perVariant[v.id] = await handBuild(scope, image.id, volume, v);
      }
      a = { total: Object.values(perVariant).reduce((x, y) => x + y, 0), perVariant };
    } finally {
      await scope.cleanup();
    }
  }

  const result = {
    date: new Date().toISOString(),
    cores,
    schedule: { jobs: opt.jobs ?? 'default', threads: opt.threads ?? 'default' },
    variants: variants.map((v) => v.id),
    seconds: { a: a?.total, b: b.seconds, c: c.seconds, d: d.seconds, dVariantBuild: dVariant, dVariantCold, bTree: bt.seconds, dTree: dt.seconds, dTreeVariantBuild: dtVariant },
    tree: { seeded, proofs: { bTree: btProof, dTree: dtProof }, coldPerVariant: btBuilds },
    note: '(a) includes copying the tree and rebuilding BaseTools for every variant, as the hand-written notes do',
    handPerVariant: a?.perVariant,
    coldPerVariant: coldBuilds,
    coldPhaseSeconds: phaseSeconds(coldTimeline),
    dPhaseSeconds: dPhases,
    ratios: {
      bOverA: a ? b.seconds / a.total : undefined,
      dOverVariantCold: dVariant / dVariantCold,
      bTreeOverA: a ? bt.seconds / a.total : undefined,
      dTreeOverVariantCold: dtVariant / dVariantCold,
    },
    coresBusyPercent: busy ? Number(busy[1]) : undefined,
    coresBusyByPhasePercent: Object.fromEntries(Object.entries(coldTimeline.busyByPhase).map(([k, v]) => [k, Math.round(v * 100)])),
    targets: { bOverA: 0.6, dOverVariantCold: 0.35, coresBusyPercent: 90, cSeconds: 1, bTreeOverA: 0.6, dTreeOverVariantCold: 0.35 },
  };
  const met = {
    bOverA: result.ratios.bOverA !== undefined && result.ratios.bOverA <= 0.6,
    dOverVariantCold: result.ratios.dOverVariantCold <= 0.35,
    coresBusyPercent: (result.coresBusyPercent ?? 0) >= 90,
    cSeconds: c.seconds <= 1,
    bTreeOverA: result.ratios.bTreeOverA !== undefined && result.ratios.bTreeOverA <= 0.6,
    dTreeOverVariantCold: result.ratios.dTreeOverVariantCold <= 0.35,
  };
  mkdirSync(join(REPO, 'bench-results'), { recursive: true });
  const file = join(REPO, 'bench-results', `bench-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ ...result, met }, null, 2)}\n`);

  const f = (n: number | undefined, unit = 's') => (n === undefined ? '-' : `${n.toFixed(unit === 's' ? 1 : 2)}${unit}`);
  const rows = [
    ['measure', 'value', 'target', 'met'],
    ['(a) by hand, total (copy + BaseTools + build)', f(a?.total), '', ''],
    ['(b) pipeline cold', f(b.seconds), '', ''],
    ['b/a', f(result.ratios.bOverA, ''), '≤ 0.60', met.bOverA ? 'yes' : 'no'],
    ['(c) rerun, nothing changed', f(c.seconds), '≤ 1.0s', met.cSeconds ? 'yes' : 'no'],
    ['(d) one define changed (variant build)', f(dVariant), '', ''],
    ['    that variant cold (own empty caches)', f(dVariantCold), '', ''],
    ['d / that variant cold', f(result.ratios.dOverVariantCold, ''), '≤ 0.35', met.dOverVariantCold ? 'yes' : 'no'],
    ["(b') pipeline cold, from a working tree, siblings seeded", f(bt.seconds), '', ''],
    ["b'/a", f(result.ratios.bTreeOverA, ''), '≤ 0.60', met.bTreeOverA ? 'yes' : 'no'],
    ["(d') one define changed, from the tree (variant build)", f(dtVariant), '', ''],
    ["d' / that variant cold", f(result.ratios.dTreeOverVariantCold, ''), '≤ 0.35', met.dTreeOverVariantCold ? 'yes' : 'no'],
    ['cores busy in (b)', result.coresBusyPercent === undefined ? '-' : `${result.coresBusyPercent}%`, '≥ 90%', met.coresBusyPercent ? 'yes' : 'no'],
  ];
  const phases = Object.entries(result.coldPhaseSeconds).map(([id, p]) => `  ${id}: ${Object.entries(p).map(([k, v]) => `${k} ${v.toFixed(0)}s`).join(', ')}`);
  process.stdout.write(`${formatColumns(rows)}\n\n` +
    `(b) phase seconds per variant:\n${phases.join('\n')}\n(b) cores busy by phase: ${JSON.stringify(result.coresBusyByPhasePercent)}\n` +
    `(d) phase seconds: ${JSON.stringify(dPhases)}\n` +
    `(b') seeded: ${seeded.join(', ') || 'none'}; per variant: ${JSON.stringify(btBuilds)}\n(b') ${btProof}; (d') ${dtProof}\n\nJSON: ${file}\n`);
}

/** The work dir and the cold cache's engine volumes are this bench's own: removed whatever happened. */
async function cleanup(): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  const engine = new DockerEngine();
  const found = await engine.findLabelled({ [LABEL]: '1' });
  for (const v of found.volumes) {
    if (colds.some((c) => v.id.includes(`-${cacheNamespace(c)}`))) await engine.removeVolume(v.id).catch((err: unknown) => say(`warning: ${describeError(err)}`));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${controller.signal.aborted ? 'interrupted' : describeError(err)}\n`);
  process.exitCode = controller.signal.aborted ? 130 : 1;
}).finally(cleanup);
