/**
 * The developer's loop against the real engine: `--export-source` writes the ci matrix's
 * prepared source as a git repository; `--source-dir` builds one cheap variant from it, marked
 * local (commit and content digest) in its manifest; a rerun with nothing changed is up to
 * date, decided from fingerprints (0 files read, not a timing); one edited file rebuilds it;
 * `release assemble` refuses the result. Uses the shared cache (source files, builder image)
 * that matrix-build fills; removes the source volumes and the fingerprint file it made.
 */
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir } from '../../pipeline/cli/matrix-command.ts';
import type { Manifest } from '../../pipeline/domain.ts';
import { DockerEngine } from '../../pipeline/engine/docker-engine.ts';
import { fingerprintFile, RACY_MS } from '../../pipeline/source/tree-snapshot.ts';
import { REPO } from '../helpers/config.ts';
import { removeKeptTrees } from '../helpers/kept-trees.ts';

const exec = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'edk2-matrix-tree-'));
const tree = join(work, 'edk2');
const out = join(work, 'artifacts');
const VARIANT = 'ia32-debug';
const volumes = new Set<string>();

interface Result { code: number; stdout: string; stderr: string }

async function npm(script: string, args: readonly string[]): Promise<Result> {
  let r: Result;
  try {
    const { stdout, stderr } = await exec('npm', ['run', '-s', script, '--', ...args],
      { cwd: REPO, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GITHUB_ACTIONS: '' } });
    r = { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as Result;
    r = { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
  for (const m of r.stderr.matchAll(/in volume (edk2-matrix-src-\S+)/g)) volumes.add(m[1]!);
  return r;
}

const matrix = (...args: string[]) => npm('matrix', ['--config', 'test/fixtures/ci-matrix.yaml', '--out', out, '--source-dir', tree, '--only', VARIANT, ...args]);
const manifest = () => JSON.parse(readFileSync(join(out, VARIANT, 'manifest.json'), 'utf8')) as Manifest;

let exported: Result;
let exportedStatus = '';
let exportedCommits = '';
let first: Result;
beforeAll(async () => {
  exported = await npm('matrix', ['--config', 'test/fixtures/ci-matrix.yaml', '--export-source', tree]);
  if (exported.code === 0) {
    exportedCommits = execFileSync('git', ['-C', tree, 'rev-list', '--count', 'HEAD']).toString().trim();
    exportedStatus = execFileSync('git', ['-C', tree, 'status', '--porcelain']).toString();
    // The export is the same bytes every time, and the cache outlives a run: a line of this run's
    // own makes the tree one no earlier run built, so "built" and "rebuilt" below are this run's.
    appendFileSync(join(tree, 'OvmfPkg/OvmfPkgIa32.dsc'), `\n# source-tree test run ${process.pid}-${Date.now()}\n`);
  }
  // Files the export patched were written just now: a fingerprint is kept only once a file is
  // older than the racy window, so the first build starts after it (else the rerun reads them again).
  await new Promise((r) => setTimeout(r, RACY_MS + 200));
  first = await matrix();
}, 60 * 60_000);

afterAll(async () => {
  const engine = new DockerEngine();
  // The variant's kept build tree (incremental builds of a working tree) before the source volumes.
  await removeKeptTrees(engine, defaultCacheDir(), tree);
  for (const v of volumes) await engine.removeVolume(v).catch(() => {});
  rmSync(fingerprintFile(defaultCacheDir(), tree), { force: true });
  rmSync(work, { recursive: true, force: true });
}, 5 * 60_000);

describe('building a working tree (--export-source, --source-dir)', () => {
  it('exports the prepared source as a git repository with one commit', () => {
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/^exported debian edk2 \S+ to .*\(git commit [0-9a-f]{12}\)/);
    expect(existsSync(join(tree, 'edksetup.sh'))).toBe(true);
    expect(exportedCommits).toBe('1');
    expect(exportedStatus).toBe('');
  });

  it('builds the tree and marks the artifacts as built from a local tree, with its commit and digest', () => {
    expect(first.code, first.stderr.slice(-3000)).toBe(0);
    expect(first.stderr).toMatch(/copying the tree and building BaseTools/);
    const m = manifest();
    const commit = execFileSync('git', ['-C', tree, 'rev-parse', 'HEAD']).toString().trim();
    expect(m.source.origin).toEqual({ kind: 'tree', commit, digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(m.source.digests).toEqual([{ name: `local tree, git ${commit}`, sha256: (m.source.origin as { digest: string }).digest }]);
  });

  it('is up to date when nothing changed, decided from fingerprints without reading a file', async () => {
    const before = manifest();
    const again = await matrix();
    expect(again.code, again.stderr.slice(-3000)).toBe(0);
    expect(again.stderr).toMatch(/source tree .*: \d+ files, 0 hashed \(all unchanged since they were last read\)/);
    expect(again.stderr).toMatch(/0 built, 1 reused/);
    expect(manifest()).toEqual(before);
  }, 5 * 60_000);

  it('rebuilds after one file is edited, reading only that file', async () => {
    const before = manifest();
    appendFileSync(join(tree, 'OvmfPkg/OvmfPkgIa32.dsc'), '\n# edited by the source-tree test\n');
    const edited = await matrix();
    expect(edited.code, edited.stderr.slice(-3000)).toBe(0);
    expect(edited.stderr).toMatch(/source tree .*: \d+ files, 1 hashed/);
    expect(edited.stderr).toMatch(/1 built, 0 reused/);
    const after = manifest();
    expect(after.key).not.toBe(before.key);
    expect(after.source.origin).not.toEqual(before.source.origin);
  }, 60 * 60_000);

  it('release assemble refuses artifacts built from a local tree, in one line', async () => {
    const r = await npm('release', ['assemble', '--from', out, '--out', join(work, 'release')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ia32-debug: was built from a local tree \(local tree \(git [0-9a-f]{12}, content [0-9a-f]{12}\)\), which no one else can rebuild/);
    expect(existsSync(join(work, 'release'))).toBe(false);
  }, 10 * 60_000);
});
