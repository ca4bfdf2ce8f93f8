/** What the benchmarks share: one run of the matrix CLI as a child process, timed, its stderr kept; the comparison with a clean build. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { differingDigests, publishedDigests } from '../pipeline/edk2-build/compare-builds.ts';

export const REPO = resolve(import.meta.dirname, '..');

export interface CliRun {
  readonly seconds: number;
  readonly code: number | null;
  readonly stderr: string;
}

export function runCli(args: readonly string[]): Promise<CliRun> {
  return new Promise((done) => {
    const t = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'pipeline/cli/matrix.ts', ...args], { cwd: REPO, env: { ...process.env, GITHUB_ACTIONS: '' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.stdout.resume();
    child.on('close', (code) => done({ seconds: (performance.now() - t) / 1000, code, stderr }));
  });
}

/**
 * The proof of an incremental (or seeded) build: every published file of `ids` in `built` is the
 * same as in `clean`, a clean build of the same tree. Throws naming the files that differ.
 */
export function sameAsClean(name: string, built: string, clean: string, ids: readonly string[]): string {
  const files = publishedDigests(built, ids);
  const differ = differingDigests(files, publishedDigests(clean, ids));
  if (differ.length) throw new Error(`${name}: differs from the clean build in ${differ.join(', ')}`);
  return `${Object.keys(files).length} files identical to clean builds`;
}
