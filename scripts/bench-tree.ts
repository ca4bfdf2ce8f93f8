/**
 * `npm run bench:tree`: the developer's loop, measured in one run on this machine, and proven:
 *   (e) the matrix built cold from a working tree (the matrix's own source, exported with
 *       --export-source) in a new cache directory: no compiler cache, no kept build trees;
 *   (h) the same again with nothing changed (decided from file fingerprints);
 *   (f) after a one-line change in a driver every platform carries (PartitionDxe);
 *   (g) after a one-line change in a library every module links (BaseLib);
 * and after (f) and (g), every variant built again clean (--clean-build) and compared, file for
 * file (all but the run records), with its incremental build: the proof, on every architecture
 * of the matrix, that test/integration/incremental.test.ts gives for IA32.
 * Targets: f/e ≤ 0.15, g/e ≤ 0.6, h ≤ 2 s. Prints a table and writes JSON (bench-results/).
 *
 *   npm run bench:tree -- [--config matrix.yaml] [--only IDS] [--jobs N --threads N]
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultCacheDir } from '../pipeline/cli/matrix-command.ts';
import { loadConfig } from '../pipeline/config/load.ts';
import { selectVariants } from '../pipeline/config/select.ts';
import type { Index } from '../pipeline/domain.ts';
import { cacheNamespace } from '../pipeline/engine/cache-namespace.ts';
import { DockerEngine } from '../pipeline/engine/docker-engine.ts';
import { LABEL } from '../pipeline/engine/run-scope.ts';
import { describeError } from '../pipeline/errors.ts';
import { formatColumns } from '../pipeline/report/columns.ts';
import { REPO, runCli, sameAsClean, type CliRun } from './bench-cli.ts';
import { materializeSource } from '../pipeline/source/materialize.ts';
import { RACY_MS } from '../pipeline/source/tree-snapshot.ts';

function say(m: string): void {
  process.stderr.write(`bench:tree: ${m}\n`);
}

const { values: opt } = parseArgs({
  options: {
    config: { type: 'string', default: 'matrix.yaml' },
    only: { type: 'string' },
    jobs: { type: 'string' },
    threads: { type: 'string' },
  },
});
const configPath = resolve(REPO, opt.config!);
const config = loadConfig(configPath);
const variants = selectVariants(config.variants, opt.only);
const work = mkdtempSync(join(tmpdir(), 'edk2-matrix-bench-tree-'));
const cache = join(work, 'cache');
const tree = join(work, 'edk2');
const out = join(work, 'artifacts');
const cleanOut = join(work, 'artifacts-clean');

const schedule = [...(opt.jobs ? ['--jobs', opt.jobs] : []), ...(opt.threads ? ['--threads', opt.threads] : [])];
const common = ['--config', configPath, '--cache-dir', cache, '--source-dir', tree, '--only', variants.map((v) => v.id).join(','), ...schedule];

async function step(name: string, args: readonly string[], expect: RegExp): Promise<CliRun> {
  say(name);
  const r = await runCli([...common, ...args]);
  if (r.code !== 0) throw new Error(`${name} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
  if (!expect.test(r.stderr)) throw new Error(`${name}: expected ${expect} in its output:\n${r.stderr.slice(-3000)}`);
  return r;
}

/** Builds every variant clean and compares it with what the incremental run published. */
async function prove(name: string): Promise<string> {
  rmSync(cleanOut, { recursive: true, force: true });
  await step(`${name}: every variant again, clean, to compare`, ['--out', cleanOut, '--clean-build', '--no-cache'], /0 failed/);
  return sameAsClean(name, out, cleanOut, variants.map((v) => v.id));
}

function edit(path: string, find: RegExp, add: (nl: string) => string): void {
  const file = join(tree, path);
  const text = readFileSync(file, 'utf8');
  const nl = text.includes('\r\n') ? '\r\n' : '\n';
  const m = find.exec(text);
  if (!m) throw new Error(`cannot make the edit in ${path}: this edk2 no longer has ${find}`);
  writeFileSync(file, text.replace(m[0], `${m[0]}${add(nl)}`));
}

async function main(): Promise<void> {
  say(`${variants.length} variants, ${availableParallelism()} cores; work dir ${work}`);
  mkdirSync(cache);
  // The source files come from the user's cache (fetched there first on a fresh host).
  await materializeSource(config.source, defaultCacheDir(), { info: say, warn: say }, new AbortController().signal);
  cpSync(join(defaultCacheDir(), 'downloads'), join(cache, 'downloads'), { recursive: true });
  const exported = await runCli(['--config', configPath, '--cache-dir', cache, '--export-source', tree]);
  if (exported.code !== 0) throw new Error(`--export-source failed:\n${exported.stderr.slice(-2000)}`);
  await new Promise((r) => setTimeout(r, RACY_MS + 200));

  const e = await step('(e) every variant, cold, from the tree', ['--out', out], /0 failed/);
  const h = await step('(h) again, nothing changed', ['--out', out], /0 built, \d+ reused/);

  edit('MdeModulePkg/Universal/Disk/PartitionDxe/Partition.c', /PartitionDriverBindingSupported \([\s\S]*?EFI_STATUS\s+Status;/,
    (nl) => `${nl}  DEBUG ((DEBUG_INFO, "edk2-matrix bench: a one-line change\\n"));`);
  const f = await step('(f) a one-line change in PartitionDxe', ['--out', out], /incremental build/);
  const fProof = await prove('(f)');

  edit('MdePkg/Library/BaseLib/String.c', /StrLen \([\s\S]*?ASSERT \(String != NULL\);/,
    (nl) => `${nl}  if (String == (CONST CHAR16 *)(UINTN)1) {${nl}    return 7;${nl}  }`);
  const g = await step('(g) a one-line change in BaseLib', ['--out', out], /incremental build/);
  const gProof = await prove('(g)');

  const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as Index;
  const result = {
    date: new Date().toISOString(),
    cores: availableParallelism(),
    variants: variants.map((v) => v.id),
    seconds: { e: e.seconds, h: h.seconds, f: f.seconds, g: g.seconds },
    ratios: { fOverE: f.seconds / e.seconds, gOverE: g.seconds / e.seconds },
    proofs: { f: fProof, g: gProof },
    gVariantSeconds: Object.fromEntries(index.variants.map((v) => [v.id, v.buildSeconds])),
    targets: { fOverE: 0.15, gOverE: 0.6, hSeconds: 2 },
  };
  const met = { fOverE: result.ratios.fOverE <= 0.15, gOverE: result.ratios.gOverE <= 0.6, hSeconds: h.seconds <= 2 };
  mkdirSync(join(REPO, 'bench-results'), { recursive: true });
  const file = join(REPO, 'bench-results', `bench-tree-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ ...result, met }, null, 2)}\n`);
  const s = (n: number) => `${n.toFixed(1)}s`;
  process.stdout.write(`${formatColumns([
    ['measure', 'value', 'target', 'met'],
    ['(e) cold, from the tree', s(e.seconds), '', ''],
    ['(h) rerun, nothing changed', s(h.seconds), '≤ 2.0s', met.hSeconds ? 'yes' : 'no'],
    ['(f) one line in PartitionDxe', s(f.seconds), '', ''],
    ['f/e', result.ratios.fOverE.toFixed(3), '≤ 0.15', met.fOverE ? 'yes' : 'no'],
    ['(g) one line in BaseLib', s(g.seconds), '', ''],
    ['g/e', result.ratios.gOverE.toFixed(3), '≤ 0.60', met.gOverE ? 'yes' : 'no'],
  ])}\n\n(f) against clean builds: ${fProof}\n(g) against clean builds: ${gProof}\nper variant in (g), seconds: ${JSON.stringify(result.gVariantSeconds)}\n\nJSON: ${file}\n`);
}

/** The work dir and the cache's engine volumes are this bench's own: removed whatever happened. */
async function cleanup(): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  const engine = new DockerEngine();
  const found = await engine.findLabelled({ [LABEL]: '1' });
  for (const v of found.volumes) {
    if (v.id.includes(`-${cacheNamespace(cache)}`)) await engine.removeVolume(v.id).catch((err: unknown) => say(`warning: ${describeError(err)}`));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:tree: ${describeError(err)}\n`);
  process.exitCode = 1;
}).finally(cleanup);
