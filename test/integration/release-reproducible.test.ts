/**
 * A release can be rebuilt and compared byte for byte: ia32-debug built twice — once as the
 * matrix test left it in the shared cache (its artifact cache), once from nothing in a cache
 * directory of its own with `--threads 1` — and each assembled with the same tag and commit
 * gives the same SHA256SUMS and the same assets. Only the downloaded source files are seeded
 * into the cold cache (they are checked against their sha256 either way), so no network is
 * needed. Cost: one cold source preparation and one single-threaded ia32-debug build.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultCacheDir } from '../../pipeline/cli/matrix-command.ts';
import { cacheNamespace } from '../../pipeline/engine/cache-namespace.ts';
import { REPO } from '../helpers/config.ts';

const exec = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'edk2-matrix-repro-'));
const coldCache = join(work, 'cold-cache');
const CONFIG = 'test/fixtures/ci-matrix.yaml';
const ID = 'ia32-debug';

async function npm(script: string, args: readonly string[], cache?: string): Promise<string> {
  const env = { ...process.env, GITHUB_ACTIONS: '', ...(cache ? { EDK2_MATRIX_CACHE: cache } : {}) };
  const { stdout } = await exec('npm', ['run', '-s', script, '--', ...args], { cwd: REPO, maxBuffer: 64 * 1024 * 1024, env });
  return stdout;
}

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  const ns = cacheNamespace(coldCache);
  const docker = new Docker();
  const { Volumes } = await docker.listVolumes();
  for (const v of Volumes ?? []) {
    if (v.Name.startsWith(`edk2-matrix-src-${ns}-`) || v.Name === `edk2-matrix-ccache-${ns}`) await docker.getVolume(v.Name).remove().catch(() => {});
  }
}, 120_000);

describe('a release rebuilt from nothing', () => {
  it('assembles to the same SHA256SUMS and assets, byte for byte, with other threads and an empty cache', async () => {
    const downloads = join(defaultCacheDir(), 'downloads');
    mkdirSync(join(coldCache, 'downloads'), { recursive: true });
    if (existsSync(downloads)) {
      for (const f of readdirSync(downloads)) if (/^[0-9a-f]{64}-edk2_/.test(f)) cpSync(join(downloads, f), join(coldCache, 'downloads', f));
    }
    await npm('matrix', ['--config', CONFIG, '--only', ID, '--out', join(work, 'warm')]);
    await npm('matrix', ['--config', CONFIG, '--only', ID, '--out', join(work, 'cold'), '--threads', '1', '--jobs', '1', '--no-cache'], coldCache);
    // No --config: the matrix declares more variants than this one, and assemble with a matrix
    // insists on all of them (the licence texts come from the default matrix's source, the same).
    const assemble = (from: string, out: string, cache?: string) =>
      npm('release', ['assemble', '--tag', 'v2026.12.0-repro', '--commit', 'c'.repeat(40), '--out', join(work, out), '--from', join(work, from)], cache);
    await assemble('warm', 'release-warm');
    await assemble('cold', 'release-cold', coldCache);
    const files = (dir: string) => readdirSync(join(work, dir)).sort();
    expect(files('release-cold')).toEqual(files('release-warm'));
    expect(readFileSync(join(work, 'release-cold', 'SHA256SUMS'), 'utf8')).toBe(readFileSync(join(work, 'release-warm', 'SHA256SUMS'), 'utf8'));
    for (const f of files('release-warm')) {
      expect(readFileSync(join(work, 'release-cold', f)).equals(readFileSync(join(work, 'release-warm', f))), f).toBe(true);
    }
  }, 40 * 60_000);
});
