/**
 * A working tree as the source: how the matrix names it (source.path, --source-dir), what is
 * refused before anything runs, what its digest covers, that an unchanged tree is answered from
 * fingerprints without reading a file, --export-source, and a whole run against the in-memory
 * engine: built from the tree, marked local in the manifest, up to date when unchanged, rebuilt
 * when a file changes, refused by release assemble.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Command } from '../../pipeline/cli/command-context.ts';
import { runToExit } from '../../pipeline/cli/main.ts';
import { matrixCommand } from '../../pipeline/cli/matrix-command.ts';
import { parseCli } from '../../pipeline/cli/args.ts';
import { parseConfig } from '../../pipeline/config/load.ts';
import type { Log, Manifest } from '../../pipeline/domain.ts';
import { ReleaseError } from '../../pipeline/errors.ts';
import { readShard } from '../../pipeline/release/assemble.ts';
import { seriesNames } from '../../pipeline/source/export-source.ts';
import { sourceIdentity } from '../../pipeline/source/materialize.ts';
import { sourceKey, sourceVolumeName } from '../../pipeline/source/prepare.ts';
import { leftOutOfTree } from '../../pipeline/source/tree-files.ts';
import { parentDirs } from '../../pipeline/source/tree-pack.ts';
import { readTree, RACY_MS } from '../../pipeline/source/tree-snapshot.ts';
import { capturedStream } from '../helpers/captured-stream.ts';
import { DEFAULT_MATRIX, errorOf, REPO } from '../helpers/config.ts';
import type { FakeEngine } from '../helpers/fake-engine.ts';
import { builderEngine, matrixFixture } from '../helpers/fake-matrix.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const quiet: Log = { info: () => {}, warn: () => {} };
const OLD = new Date(Date.now() - 10 * RACY_MS);

function write(root: string, path: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text, { mode });
  // Older than the racy window, as a file not edited this very moment is.
  utimesSync(join(root, path), OLD, OLD);
}

/** A fake edk2 tree: edksetup.sh, BaseTools/, the two DSCs of fake-matrix.ts. */
function fakeTree(root = tempDir('tree-')): string {
  write(root, 'edksetup.sh', '# edk2\n', 0o755);
  write(root, 'BaseTools/Source/C/Makefile', 'all:\n');
  write(root, 'OvmfPkg/OvmfPkgX64.dsc', '[Defines]\n  DEFINE SECURE_BOOT_ENABLE = FALSE\n');
  write(root, 'OvmfPkg/OvmfPkgIa32.dsc', '[Defines]\n  DEFINE SECURE_BOOT_ENABLE = FALSE\n');
  write(root, 'MdePkg/Include/Base.h', '#define TRUE 1\n');
  return root;
}

const git = (dir: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false', '-C', dir, ...args], { encoding: 'utf8' }).trim();

function gitTree(): string {
  const root = fakeTree();
  git(root, 'init', '-q');
  write(root, '.gitignore', 'Build/\n*.log\n');
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', 'tree');
  return root;
}

const MATRIX = (source: string) => `version: 1
source:
${source}
builder: { dockerfile: ${REPO}dockerfiles/builder }
architectures:
  X64: { dsc: OvmfPkg/OvmfPkgX64.dsc }
  IA32: { dsc: OvmfPkg/OvmfPkgIa32.dsc }
matrix:
  arch: [X64, IA32]
  target: [DEBUG]
`;

describe('a tree in the matrix (source.path)', () => {
  it('resolves the path against the matrix file and builds it as it is', () => {
    const dir = tempDir('m-');
    fakeTree(join(dir, 'edk2'));
    const config = parseConfig(MATRIX('  path: ../m/edk2'.replace('../m', `../${dir.split('/').pop()}`)), join(dir, 'matrix.yaml'));
    expect(config.source).toEqual({ kind: 'tree', path: join(dir, 'edk2'), patches: [] });
  });

  it.each([
    ['a directory that is not there', (d: string) => join(d, 'none'), /source\.path: .*none is not a directory/],
    ['a directory that is not an edk2 tree', (d: string) => (mkdirSync(join(d, 'x')), join(d, 'x')), /is not an edk2 tree \(no edksetup\.sh and BaseTools\/ at its top\)/],
    ['a tree without a DSC the matrix builds', (d: string) => {
      const t = fakeTree(join(d, 't'));
      rmSync(join(t, 'OvmfPkg/OvmfPkgIa32.dsc'));
      return t;
    }, /has no OvmfPkg\/OvmfPkgIa32\.dsc, which the matrix builds/],
  ])('refuses %s in one line naming source.path', (_what, make, message) => {
    const dir = tempDir('m-');
    const path = make(dir);
    const text = MATRIX(`  path: ${path}`);
    const error = errorOf(() => parseConfig(text, join(dir, 'matrix.yaml'), 'matrix.yaml'));
    expect(error).toMatch(/^matrix\.yaml:3:9: source\.path: /);
    expect(error).toMatch(message);
    expect(error).toContain('--export-source DIR');
    expect(error.split('\n')).toHaveLength(1);
  });

  it('refuses patches on a tree, and a tree beside another source', () => {
    const tree = fakeTree();
    const dir = tempDir('m-');
    writeFileSync(join(dir, 'p.patch'), '');
    expect(errorOf(() => parseConfig(MATRIX(`  path: ${tree}\n  patches: [p.patch]`), join(dir, 'matrix.yaml'), 'matrix.yaml')))
      .toMatch(/source\.patches: a tree \(source\.path\) is built as it is/);
    expect(errorOf(() => parseConfig(MATRIX(`  path: ${tree}\n  git: { url: https://example.invalid/edk2, commit: ${'a'.repeat(40)} }`), join(dir, 'matrix.yaml'), 'matrix.yaml')))
      .toMatch(/source: only one of git, path may be given/);
  });
});

describe('the digest of a tree', () => {
  it('is the same for the same content, answered from fingerprints without reading a file', async () => {
    const root = fakeTree();
    const cache = tempDir('cache-');
    const first = await readTree(root, cache, quiet);
    expect(first.hashed).toBe(5);
    const again = await readTree(root, cache, quiet);
    expect(again.hashed).toBe(0);
    expect(again.digest).toBe(first.digest);
    // Another cache (another machine) agrees: the digest is of the content, not of the fingerprints.
    expect((await readTree(root, tempDir('cache-'), quiet)).digest).toBe(first.digest);
  });

  it('rehashes only the file whose fingerprint changed, and changes with its content', async () => {
    const root = fakeTree();
    const cache = tempDir('cache-');
    const before = await readTree(root, cache, quiet);
    write(root, 'MdePkg/Include/Base.h', '#define TRUE 2\n');
    const edited = await readTree(root, cache, quiet);
    expect(edited.hashed).toBe(1);
    expect(edited.digest).not.toBe(before.digest);
    // Touched, same bytes: read again, same digest.
    const t = new Date(OLD.getTime() - 5000);
    utimesSync(join(root, 'edksetup.sh'), t, t);
    const touched = await readTree(root, cache, quiet);
    expect(touched.hashed).toBe(1);
    expect(touched.digest).toBe(edited.digest);
  });

  it('covers the executable bit, new files and removed files', async () => {
    const root = fakeTree();
    const cache = tempDir('cache-');
    const seen = new Set([(await readTree(root, cache, quiet)).digest]);
    chmodSync(join(root, 'MdePkg/Include/Base.h'), 0o755);
    seen.add((await readTree(root, cache, quiet)).digest);
    write(root, 'MdePkg/New.h', '');
    seen.add((await readTree(root, cache, quiet)).digest);
    rmSync(join(root, 'MdePkg/New.h'));
    rmSync(join(root, 'OvmfPkg/OvmfPkgIa32.dsc'));
    seen.add((await readTree(root, cache, quiet)).digest);
    expect(seen.size).toBe(4);
  });

  it('gives each file the epoch its content was first seen at: kept while it stays, newer when it changes or is reverted', async () => {
    const root = fakeTree();
    const cache = tempDir('cache-');
    const epoch = (snap: Awaited<ReturnType<typeof readTree>>, path: string) => snap.files.find((f) => f.path === path)!.epochMs;
    const BASE = 'MdePkg/Include/Base.h';
    const first = await readTree(root, cache, quiet);
    expect(epoch(first, BASE) % 1000).toBe(0);
    expect(epoch(first, BASE)).toBeGreaterThan(Date.now() - 5000);
    await new Promise((r) => setTimeout(r, 1100));
    // Touched, same bytes: its epoch stays, and so does the name of the source volume.
    const t = new Date(OLD.getTime() - 5000);
    utimesSync(join(root, BASE), t, t);
    const touched = await readTree(root, cache, quiet);
    expect(epoch(touched, BASE)).toBe(epoch(first, BASE));
    expect(touched.epochDigest).toBe(first.epochDigest);
    const original = readFileSync(join(root, BASE));
    write(root, BASE, '#define TRUE 4\n');
    const edited = await readTree(root, cache, quiet);
    expect(epoch(edited, BASE)).toBeGreaterThan(epoch(first, BASE));
    expect(epoch(edited, 'edksetup.sh')).toBe(epoch(first, 'edksetup.sh'));
    await new Promise((r) => setTimeout(r, 1100));
    // Reverted, with its old time back: the content is not what was last built, so it is newer still.
    write(root, BASE, original.toString());
    const reverted = await readTree(root, cache, quiet);
    expect(reverted.digest).toBe(first.digest);
    expect(epoch(reverted, BASE)).toBeGreaterThan(epoch(edited, BASE));
    expect(reverted.epochDigest).not.toBe(first.epochDigest);
    expect(sourceVolumeName('k', 'ns', reverted.epochDigest)).not.toBe(sourceVolumeName('k', 'ns', first.epochDigest));
  });

  it('keeps no fingerprint of a file modified within the racy window: it is read again next time', async () => {
    const root = fakeTree();
    const cache = tempDir('cache-');
    await readTree(root, cache, quiet);
    writeFileSync(join(root, 'MdePkg/Include/Base.h'), '#define TRUE 3\n');
    expect((await readTree(root, cache, quiet)).hashed).toBe(1);
    expect((await readTree(root, cache, quiet)).hashed).toBe(1);
  });

  it('leaves out what edk2 and BaseTools write (Build/, Conf/, binaries, bytecode) and .git', async () => {
    const root = fakeTree();
    const cache = tempDir('cache-');
    const before = await readTree(root, cache, quiet);
    for (const p of ['Build/OvmfX64/x.efi', 'Conf/target.txt', 'BaseTools/Source/C/bin/GenFw', 'BaseTools/Source/C/GenFw/GenFw.o',
      'BaseTools/Source/Python/build/__pycache__/b.pyc', '.edk2-matrix/ready']) write(root, p, 'x');
    const after = await readTree(root, cache, quiet);
    expect(after.digest).toBe(before.digest);
    expect(after.git).toBe(false);
    expect(leftOutOfTree('MdePkg/.git')).toBe(true);
    expect(leftOutOfTree('Conformance/x')).toBe(false);
    expect(leftOutOfTree('BaseTools/Source/C/GenFw/GenFw.c')).toBe(false);
  });

  it('in a git repository: records the commit, takes untracked files, and skips ignored ones', async () => {
    const root = gitTree();
    const cache = tempDir('cache-');
    const first = await readTree(root, cache, quiet);
    expect(first.commit).toBe(git(root, 'rev-parse', 'HEAD'));
    expect(first.files.map((f) => f.path)).toContain('.gitignore');
    write(root, 'build.log', 'ignored');
    expect((await readTree(root, cache, quiet)).digest).toBe(first.digest);
    write(root, 'MdePkg/Untracked.h', 'new');
    const untracked = await readTree(root, cache, quiet);
    expect(untracked.digest).not.toBe(first.digest);
    expect(untracked.commit).toBe(first.commit);
  });

  it('names the commit in the source identity (so in the key), beside the content digest', async () => {
    const root = gitTree();
    const config = parseConfig(MATRIX(`  path: ${root}`), join(root, '..', 'matrix.yaml'));
    const identity = await sourceIdentity(config.source, tempDir('cache-'), quiet);
    const commit = git(root, 'rev-parse', 'HEAD');
    expect(identity.origin).toMatchObject({ kind: 'tree', commit });
    expect(identity.digests).toEqual([{ name: `local tree, git ${commit}`, sha256: (identity.origin as { digest: string }).digest }]);
  });

  it('leaves the content keys of the pinned sources as they were', async () => {
    // Recorded before trees existed: the default matrix's source key with a fixed builder digest.
    const config = parseConfig(readFileSync(DEFAULT_MATRIX, 'utf8'), DEFAULT_MATRIX);
    expect(sourceKey(await sourceIdentity(config.source, tempDir('cache-'), quiet), 'b'.repeat(64)))
      .toBe('aee3c9ff8f1f550e344252c5054a2147fb6fab5be73f3be8cf7ac13bc7d55e3b');
  });

  it('packs parent directories before their files', () => {
    expect(parentDirs('a/b/c.h')).toEqual(['a', 'a/b']);
    expect(parentDirs('top')).toEqual([]);
  });
});

interface Ran { readonly code: number; readonly stdout: string; readonly stderr: string }

async function run(command: Command, argv: readonly string[], engine: FakeEngine): Promise<Ran> {
  const stdout = capturedStream();
  const stderr = capturedStream();
  const code = await runToExit(command, argv, new AbortController().signal, { engine, stdout, stderr });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

function untouchable(): FakeEngine {
  const e = builderEngine();
  e.lost = true;
  return e;
}

function listing(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort() : [];
}

beforeEach(() => {
  vi.stubEnv('GITHUB_ACTIONS', '');
});

describe('npm run matrix with a tree', () => {
  it('refuses --source-dir of a directory that is not an edk2 tree, in one line, exit 2, nothing written', async () => {
    const f = await matrixFixture();
    const notATree = tempDir('x-');
    const r = await run(matrixCommand, ['--config', f.file, '--out', f.out, '--cache-dir', f.cache, '--source-dir', notATree], untouchable());
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`edk2-matrix: --source-dir: ${notATree} is not an edk2 tree (no edksetup.sh and BaseTools/ at its top) (pass an edk2 checkout, or make one with npm run matrix -- --export-source DIR)\n`);
    expect(existsSync(f.out) || existsSync(f.cache)).toBe(false);
  });

  it('refuses --export-source into a directory that is not empty, and beside --source-dir', async () => {
    const f = await matrixFixture();
    const full = tempDir('x-');
    writeFileSync(join(full, 'keep'), 'mine');
    const r = await run(matrixCommand, ['--config', f.file, '--cache-dir', f.cache, '--export-source', full], untouchable());
    expect(r).toMatchObject({ code: 2, stderr: `edk2-matrix: --export-source: ${full} exists and is not empty (name a new or empty directory (the export never overwrites anything))\n` });
    expect(listing(full)).toEqual(['keep']);
    expect(existsSync(f.cache)).toBe(false);
    expect(() => parseCli(['--export-source', 'a', '--source-dir', 'b'])).toThrow(/--export-source and --source-dir do not go together/);
  });

  it('exports the source as a git repository with one commit, patches applied, the same commit every time', async () => {
    const f = await matrixFixture();
    const patch = join(dirname(f.file), 'x64.patch');
    writeFileSync(patch, '--- a/OvmfPkg/OvmfPkgX64.dsc\n+++ b/OvmfPkg/OvmfPkgX64.dsc\n@@ -1,2 +1,3 @@\n [Defines]\n   DEFINE SECURE_BOOT_ENABLE = FALSE\n+  DEFINE PATCHED = TRUE\n');
    writeFileSync(f.file, readFileSync(f.file, 'utf8').replace('strip: 1 }', 'strip: 1 }\n  patches: [x64.patch]'));
    const dirs = [join(tempDir('e-'), 'edk2'), join(tempDir('e-'), 'edk2')];
    const commits: string[] = [];
    for (const dir of dirs) {
      const r = await run(matrixCommand, ['--config', f.file, '--cache-dir', f.cache, '--export-source', dir], untouchable());
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^exported archive edk2\.tar\.gz to .* \(git commit [0-9a-f]{12}\);\nchange it, then build it with: npm run matrix -- --source-dir /);
      expect(readFileSync(join(dir, 'OvmfPkg/OvmfPkgX64.dsc'), 'utf8')).toContain('DEFINE PATCHED = TRUE');
      expect(existsSync(join(dir, '.edk2-matrix'))).toBe(false);
      expect(git(dir, 'status', '--porcelain')).toBe('');
      expect(git(dir, 'rev-list', '--count', 'HEAD')).toBe('1');
      commits.push(git(dir, 'rev-parse', 'HEAD'));
    }
    expect(commits[0]).toBe(commits[1]);
    expect(seriesNames('# c\n\n01-a.patch -p1\n02-b.patch\n')).toEqual(['01-a.patch', '02-b.patch']);
  });

  it('builds the tree, marks it local in the manifest, is up to date from fingerprints, rebuilds an edited tree; assemble refuses it', async () => {
    const f = await matrixFixture();
    const tree = gitTree();
    const args = ['--config', f.file, '--out', f.out, '--cache-dir', f.cache, '--source-dir', tree, '--only', 'x64-debug'];
    // One engine for the three runs, as one host's: the kept build tree stays between them.
    const engine = builderEngine();
    const first = await run(matrixCommand, args, engine);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/source tree .*: 6 files, 6 hashed; git [0-9a-f]{12}/);
    expect(first.stderr).toContain('x64-debug: clean build (no kept build yet), kept for incremental builds');
    const manifest = JSON.parse(readFileSync(join(f.out, 'x64-debug', 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.source.origin).toEqual({ kind: 'tree', commit: git(tree, 'rev-parse', 'HEAD'), digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(manifest.source.description).toMatch(/^local tree \(git [0-9a-f]{12}, content [0-9a-f]{12}\)$/);

    const again = await run(matrixCommand, args, engine);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('6 files, 0 hashed (all unchanged since they were last read)');
    expect(JSON.parse(readFileSync(join(f.out, 'x64-debug', 'manifest.json'), 'utf8'))).toEqual(manifest);
    expect(again.stderr).not.toMatch(/copying the tree and building BaseTools/);

    write(tree, 'MdePkg/Include/Base.h', '#define TRUE 0\n');
    const commands = () => [...engine.containers.values()].map((c) => c.spec.cmd.join(' '));
    const before = commands().length;
    const edited = await run(matrixCommand, args, engine);
    expect(edited.code).toBe(0);
    expect(edited.stderr).toContain('6 files, 1 hashed');
    // The tree's previous volume is copied and the one changed file written: BaseTools is not built again.
    expect(edited.stderr).toMatch(/1 file written, 0 deleted, into a copy of volume edk2-matrix-src-\S+ \(BaseTools as built there\)/);
    const ran = commands().slice(before);
    expect(ran.some((c) => c.startsWith('cp -a -- /from/. /src/'))).toBe(true);
    expect(ran.some((c) => c.includes('edk2-matrix-update'))).toBe(true);
    expect(ran.some((c) => c.startsWith('edk2-prepare-source'))).toBe(false);
    expect([...engine.volumes.keys()].filter((v) => v.startsWith('edk2-matrix-src-'))).toHaveLength(1);
    expect(edited.stderr).toContain('x64-debug: incremental build, from its kept build tree: 1 changed file since its last build');
    const rebuilt = JSON.parse(readFileSync(join(f.out, 'x64-debug', 'manifest.json'), 'utf8')) as Manifest;
    expect(rebuilt.key).not.toBe(manifest.key);
    expect(rebuilt.source.origin).not.toEqual(manifest.source.origin);

    const refused = await readShard(f.out, quiet).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ReleaseError);
    expect((refused as Error).message).toMatch(/x64-debug: was built from a local tree \(local tree \(git .*\)\), which no one else can rebuild$/);
  });

  it('builds a cold group of siblings one after the other: the first clean, the others from a copy of its build tree', async () => {
    const f = await matrixFixture();
    writeFileSync(f.file, readFileSync(f.file, 'utf8').replace('matrix:\n', 'features:\n  secureboot: { defines: { SECURE_BOOT_ENABLE: true } }\nmatrix:\n')
      + '  include:\n    - { arch: X64, features: secureboot }\n');
    const tree = gitTree();
    const engine = builderEngine();
    const ran = await run(matrixCommand, ['--config', f.file, '--out', f.out, '--cache-dir', f.cache, '--source-dir', tree, '--jobs', '2'], engine);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toContain('x64-secureboot-debug: starts after x64-debug, its sibling (same DSC, other defines), from a copy of its build tree');
    expect(ran.stderr).toContain('x64-debug: clean build (no kept build yet), kept for incremental builds');
    expect(ran.stderr).toContain('ia32-debug: clean build (no kept build yet), kept for incremental builds');
    expect(ran.stderr).toMatch(/x64-secureboot-debug: incremental build, from a copy of x64-debug's kept build tree: no file changed, defines or PCDs changed against x64-debug's/);
    expect(ran.stderr).toMatch(/3 built/);
    // A second run: each has its own kept tree, nobody waits.
    const again = await run(matrixCommand, ['--config', f.file, '--out', f.out, '--cache-dir', f.cache, '--source-dir', tree, '--jobs', '2', '--no-cache'], engine);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('starts after');
    expect(again.stderr).toContain('x64-secureboot-debug: incremental build, from its kept build tree');
  });
});
