/**
 * Incremental builds of a working tree, proven against the real engine for one architecture
 * (IA32; `npm run bench:tree` proves the matrix's): the variant's edk2 build tree is kept
 * between runs, and after each class of change the incremental result is byte-identical, file
 * for file (all but the run records), to a clean build of the same tree:
 *
 *   edit    a .c in a driver (PartitionDxe), a .c in a library every module links (BaseLib),
 *           a header (the driver's), a PCD in the DSC, a file added to an .inf with a new header;
 *   revert  the file removed from the .inf, both new files deleted, every edit reverted: the
 *           tree is the base tree again, so its clean build is the base build;
 *   seed    a sibling variant (same DSC, two defines flipped: a module out, another in), with
 *           no kept tree of its own, starts from a copy of the first one's;
 *   back    the first variant, its kept tree set aside, starts from a copy of the sibling's
 *           (the defines flipped back): the base build again.
 *
 * Every run passes --no-cache (a tree seen before would otherwise come from the artifact
 * cache, and nothing would be built). Uses the shared cache (source files, builder image,
 * compiler cache) that matrix-build fills; removes the volumes and files it made.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir } from '../../pipeline/cli/matrix-command.ts';
import { DockerEngine } from '../../pipeline/engine/docker-engine.ts';
import { BUILD_LOG } from '../../pipeline/layout.ts';
import { fingerprintFile, RACY_MS } from '../../pipeline/source/tree-snapshot.ts';
import { BUILD_TREES_DIR } from '../../pipeline/edk2-build/build-tree.ts';
import { publishedDigests } from '../../pipeline/edk2-build/compare-builds.ts';
import { REPO } from '../helpers/config.ts';
import { removeKeptTrees } from '../helpers/kept-trees.ts';

const exec = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'edk2-matrix-incremental-'));
const tree = join(work, 'edk2');
const VARIANT = 'ia32-debug';
const CI_MATRIX = join(REPO, 'test/fixtures/ci-matrix.yaml');
const volumes = new Set<string>();

interface Result { code: number; stderr: string; out: string; variant: string; seconds: number }

async function matrix(name: string, config: string, ...args: string[]): Promise<Result> {
  return matrixOf(VARIANT, name, config, ...args);
}

async function matrixOf(variant: string, name: string, config: string, ...args: string[]): Promise<Result> {
  const out = join(work, `out-${name}`);
  const started = performance.now();
  let code = 0;
  let stderr: string;
  try {
    ({ stderr } = await exec('npm', ['run', '-s', 'matrix', '--', '--config', config, '--out', out, '--source-dir', tree, '--only', variant, '--no-cache', ...args],
      { cwd: REPO, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GITHUB_ACTIONS: '' } }));
  } catch (err) {
    const e = err as { code: number; stderr: string };
    code = e.code;
    stderr = e.stderr;
  }
  for (const m of stderr.matchAll(/in volume (edk2-matrix-src-\S+)/g)) volumes.add(m[1]!);
  return { code, stderr, out, variant, seconds: (performance.now() - started) / 1000 };
}

/** Every published file of the variant but the run records (and the publication's own fingerprints), by its sha256. */
const published = (r: Result) => publishedDigests(r.out, [r.variant]);

const buildLog = (r: Result) => readFileSync(join(r.out, r.variant, BUILD_LOG), 'utf8');
/** Whether edk2 compiled the DXE core's dispatcher in that build (no edit here touches it). */
const compiledDispatcher = (r: Result) => /-c -o \S+\/DxeMain\/OUTPUT\/Dispatcher\/Dispatcher\.obj/.test(buildLog(r));

// ─── the edits, on the tree's own bytes (edk2's .inf and .dsc files end lines with CRLF) ───

const originals = new Map<string, Buffer>();
function edit(path: string, change: (text: string, nl: string) => string): void {
  const file = join(tree, path);
  const before = readFileSync(file);
  if (!originals.has(path)) originals.set(path, before);
  const text = before.toString('utf8');
  const after = change(text, text.includes('\r\n') ? '\r\n' : '\n');
  if (after === text) throw new Error(`the edit of ${path} changed nothing: the test no longer fits this edk2`);
  writeFileSync(file, after);
}
function replaceOnce(text: string, find: string | RegExp, by: (m: string) => string): string {
  const m = typeof find === 'string' ? (text.includes(find) ? find : undefined) : find.exec(text)?.[0];
  if (m === undefined) return text;
  return text.replace(m, by(m));
}

const PARTITION = 'MdeModulePkg/Universal/Disk/PartitionDxe';

function editEverything(): void {
  // A driver's .c, and a new header it includes; a new .c added to its .inf.
  edit(`${PARTITION}/Partition.c`, (t, nl) => replaceOnce(
    replaceOnce(t, '#include "Partition.h"', (m) => `${m}${nl}#include "Extra.h"${nl}UINTN EFIAPI Edk2MatrixExtra (VOID);`),
    /PartitionDriverBindingSupported \([\s\S]*?EFI_STATUS\s+Status;/, (m) => `${m}${nl}  if (Edk2MatrixExtra () == EDK2_MATRIX_EXTRA) { return EFI_DEVICE_ERROR; }`));
  writeFileSync(join(tree, PARTITION, 'Extra.h'), '#define EDK2_MATRIX_EXTRA 4\n');
  writeFileSync(join(tree, PARTITION, 'Extra.c'),
    '#include "Partition.h"\n#include "Extra.h"\nUINTN EFIAPI Edk2MatrixExtra (VOID) { DEBUG ((DEBUG_INFO, "extra\\n")); return EDK2_MATRIX_EXTRA - 1; }\n');
  edit(`${PARTITION}/PartitionDxe.inf`, (t, nl) => replaceOnce(t, `  Partition.c${nl}`, (m) => `${m}  Extra.c${nl}`));
  // The driver's own header.
  edit(`${PARTITION}/Partition.h`, (t) => replaceOnce(t, "SIGNATURE_32 ('P', 'a', 'r', 't')", () => "SIGNATURE_32 ('P', 'a', 'r', 'x')"));
  // A library every module links.
  edit('MdePkg/Library/BaseLib/String.c', (t, nl) => replaceOnce(t, /StrLen \([\s\S]*?ASSERT \(String != NULL\);/, (m) => `${m}${nl}  if (String == (CONST CHAR16 *)(UINTN)1) {${nl}    return 7;${nl}  }`));
  // A PCD in the DSC.
  edit('OvmfPkg/OvmfPkgIa32.dsc', (t) => replaceOnce(t, 'PcdStatusCodeMemorySize|1', () => 'PcdStatusCodeMemorySize|2'));
}

function revertEverything(): void {
  unlinkSync(join(tree, PARTITION, 'Extra.c'));
  unlinkSync(join(tree, PARTITION, 'Extra.h'));
  for (const [path, bytes] of originals) writeFileSync(join(tree, path), bytes);
}

const SIBLING = 'ia32-flip-debug';

/** The CI matrix with a sibling of IA32's: its two defines flipped (iSCSI out, PVSCSI in). */
function siblingMatrix(): string {
  const text = readFileSync(CI_MATRIX, 'utf8')
    .replace('dockerfile: ../../dockerfiles/builder', `dockerfile: ${join(REPO, 'dockerfiles/builder')}`)
    .replaceAll('file: secureboot/', `file: ${join(REPO, 'test/fixtures/secureboot')}/`)
    .replace('  broken:\n', '  flip:\n    defines: { NETWORK_ISCSI_ENABLE: false, PVSCSI_ENABLE: true }\n  broken:\n')
    .replace('    - { arch: X64, features: broken }', '    - { arch: X64, features: broken }\n    - { arch: IA32, features: flip }');
  if (!text.includes('features: flip }') || !text.includes('PVSCSI_ENABLE')) throw new Error('ci-matrix.yaml no longer reads as this test expects');
  const file = join(work, 'sibling.yaml');
  writeFileSync(file, text);
  return file;
}

/** Sets a variant's kept tree aside (as if it had none): its record goes, its volume stays until the end. */
function forgetKeptTree(variant: string): void {
  const dir = join(defaultCacheDir(), BUILD_TREES_DIR);
  const records = readdirSync(dir).filter((f) => f.endsWith('.json') && f.includes(`-${variant}-`)
    && readFileSync(join(dir, f), 'utf8').includes(JSON.stringify(tree)));
  expect(records).toHaveLength(1);
  rmSync(join(dir, records[0]!));
}

const INCREMENTAL = new RegExp(`${VARIANT}: incremental build, from its kept build tree`);
let base: Result;

beforeAll(async () => {
  await exec('npm', ['run', '-s', 'matrix', '--', '--config', CI_MATRIX, '--export-source', tree], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 });
  // A tree no earlier run has seen (the export is the same bytes every time; its kept trees and
  // artifacts would otherwise be an earlier run's).
  appendFileSync(join(tree, 'OvmfPkg/OvmfPkgIa32.dsc'), `\r\n# incremental test run ${process.pid}-${Date.now()}\r\n`);
  await new Promise((r) => setTimeout(r, RACY_MS + 200));
  base = await matrix('base', CI_MATRIX);
}, 60 * 60_000);

afterAll(async () => {
  const engine = new DockerEngine();
  const cacheDir = defaultCacheDir();
  await removeKeptTrees(engine, cacheDir, tree);
  for (const v of volumes) await engine.removeVolume(v).catch(() => {});
  rmSync(fingerprintFile(cacheDir, tree), { force: true });
  rmSync(work, { recursive: true, force: true });
}, 5 * 60_000);

describe('incremental builds of a working tree (IA32)', () => {
  it('builds the base tree clean the first time, and keeps its build tree', () => {
    expect(base.code, base.stderr.slice(-3000)).toBe(0);
    expect(base.stderr).toContain(`${VARIANT}: clean build (no kept build yet), kept for incremental builds`);
    expect(compiledDispatcher(base)).toBe(true);
  });

  it('after a driver, a library, a header, a PCD and a new file in an .inf: identical to a clean build, recompiling only what they touch', async () => {
    editEverything();
    const incremental = await matrix('edit', CI_MATRIX);
    expect(incremental.code, incremental.stderr.slice(-3000)).toBe(0);
    expect(incremental.stderr).toMatch(new RegExp(`${INCREMENTAL.source}: 5 changed, 2 added files since its last build`));
    expect(compiledDispatcher(incremental)).toBe(false);
    const clean = await matrix('edit-clean', CI_MATRIX, '--clean-build');
    expect(clean.code, clean.stderr.slice(-3000)).toBe(0);
    expect(clean.stderr).toContain(`${VARIANT}: clean build (--clean-build), kept for incremental builds`);
    expect(compiledDispatcher(clean)).toBe(true);
    expect(published(incremental)).toEqual(published(clean));
    expect(published(incremental)).not.toEqual(published(base));
    console.log(`incremental ${incremental.seconds.toFixed(0)} s, clean ${clean.seconds.toFixed(0)} s (warm compiler cache)`);
  }, 60 * 60_000);

  it('after the file is removed from the .inf, deleted, and every edit reverted: identical to the base build', async () => {
    revertEverything();
    const reverted = await matrix('revert', CI_MATRIX);
    expect(reverted.code, reverted.stderr.slice(-3000)).toBe(0);
    expect(reverted.stderr).toMatch(new RegExp(`${INCREMENTAL.source}: 5 changed, 2 deleted files since its last build`));
    expect(published(reverted)).toEqual(published(base));
  }, 60 * 60_000);

  it("starts a sibling with other defines from a copy of the variant's kept tree, and back: identical to the clean builds", async () => {
    const config = siblingMatrix();
    const seeded = await matrixOf(SIBLING, 'seed', config);
    expect(seeded.code, seeded.stderr.slice(-3000)).toBe(0);
    expect(seeded.stderr).toContain(`${SIBLING}: incremental build, from a copy of ${VARIANT}'s kept build tree: no file changed, defines or PCDs changed against ${VARIANT}'s`);
    const clean = await matrixOf(SIBLING, 'seed-clean', config, '--clean-build');
    expect(clean.code, clean.stderr.slice(-3000)).toBe(0);
    expect(published(seeded)).toEqual(published(clean));
    const code = published(seeded)[`${SIBLING}/OVMF_CODE.fd`];
    expect(code).toMatch(/^[0-9a-f]{64}$/);
    expect(code).not.toBe(published(base)[`${VARIANT}/OVMF_CODE.fd`]);

    forgetKeptTree(VARIANT);
    const back = await matrix('back', CI_MATRIX);
    expect(back.code, back.stderr.slice(-3000)).toBe(0);
    expect(back.stderr).toContain(`${VARIANT}: incremental build, from a copy of ${SIBLING}'s kept build tree: no file changed, defines or PCDs changed against ${SIBLING}'s`);
    expect(published(back)).toEqual(published(base));
    console.log(`seeded ${seeded.seconds.toFixed(0)} s, clean ${clean.seconds.toFixed(0)} s, back ${back.seconds.toFixed(0)} s`);
  }, 60 * 60_000);
});
