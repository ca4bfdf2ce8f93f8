/** What the benchmarks share: one run of the matrix CLI as a child process, timed, its stderr kept. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

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
