/**
 * The commands as a user runs them (arguments in, exit status and output out), against the
 * engine in memory: usage errors, --help, --list --json, a build that succeeds, fails or is
 * interrupted. runToExit is what main.ts runs; the streams are captured.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Command } from '../../pipeline/cli/command-context.ts';
import { runToExit } from '../../pipeline/cli/main.ts';
import { matrixCommand } from '../../pipeline/cli/matrix-command.ts';
import { verifyCommand } from '../../pipeline/cli/verify-command.ts';
import type { Behaviour, FakeEngine } from '../helpers/fake-engine.ts';
import { builderEngine, matrixFixture } from '../helpers/fake-matrix.ts';
import { capturedStream } from '../helpers/captured-stream.ts';
import { tempDir } from '../helpers/temp-dir.ts';

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(command: Command, argv: readonly string[], engine: FakeEngine, signal = new AbortController().signal): Promise<Ran> {
  const stdout = capturedStream();
  const stderr = capturedStream();
  const code = await runToExit(command, argv, signal, { engine, stdout, stderr });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** An engine every request to fails: what must not touch the engine shows it by passing. */
function untouchable(): FakeEngine {
  const e = builderEngine();
  e.lost = true;
  return e;
}

/** A matrix of x64-debug and ia32-debug, with its artifacts and cache directories. */
async function matrixArgs(): Promise<{ args: string[]; out: string }> {
  const f = await matrixFixture();
  return { args: ['--config', f.file, '--out', f.out, '--cache-dir', f.cache], out: f.out };
}

beforeEach(() => {
  // The reporter would write a step summary when the tests themselves run in GitHub Actions.
  vi.stubEnv('GITHUB_ACTIONS', '');
});

describe('npm run matrix, from arguments to exit status', () => {
  it('prints --help on stdout and exits 0 without touching the engine', async () => {
    const r = await run(matrixCommand, ['--help'], untouchable());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run matrix -- \[options\]\n/);
    expect(r.stdout).toContain('  --timeout TIME     how long a variant may build before it is stopped: 90s, 45m, 1h30m (default: 1h)\n');
    expect(r.stdout).toMatch(/ {2}-h, --help {9}this help\n/);
    expect(r.stderr).toBe('');
  });

  it.each([
    [['--fast'], '--fast: no such option (see npm run matrix -- --help)'],
    [['--timeout', 'soon'], '--timeout: "soon" is not a duration (e.g. --timeout 90s, 45m or 1h30m; see npm run matrix -- --help)'],
    [['--timeout', '90'], '--timeout: "90" has no unit (e.g. --timeout 90s, 45m or 1h30m; see npm run matrix -- --help)'],
    [['--jobs', '0'], '--jobs: "0" is not a whole number of at least 1 (e.g. --jobs 4; see npm run matrix -- --help)'],
    [['--memory', '-1'], '--memory: "-1" is not a positive number of GiB (e.g. --memory 4 or 2.5; see npm run matrix -- --help)'],
    [['--out', '--list'], '--out: needs a value (e.g. --out DIR; see npm run matrix -- --help)'],
    [['--list=yes'], '--list: takes no value (given "yes") (see npm run matrix -- --help)'],
    [['x64-debug'], '"x64-debug": unexpected argument (options start with --) (see npm run matrix -- --help)'],
    [['--json'], '--json only goes with --list (use --list --json)'],
  ])('refuses %j with one line on stderr and exit status 2', async (args, line) => {
    const r = await run(matrixCommand, args, untouchable());
    expect(r).toEqual({ code: 2, stdout: '', stderr: `edk2-matrix: ${line}\n` });
  });

  it('refuses an --only that matches no variant, naming the variants there are', async () => {
    const { args } = await matrixArgs();
    const r = await run(matrixCommand, [...args, '--only', 'ppc64-*', '--list'], untouchable());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^edk2-matrix: --only ppc64-\* matches no variant \(variants: x64-debug, ia32-debug.*\)\n$/);
  });

  it('lists the variants as JSON with --list --json, without touching the engine', async () => {
    const { args } = await matrixArgs();
    const r = await run(matrixCommand, [...args, '--list', '--json', '--only', 'x64-*'], untouchable());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{
      id: 'x64-debug', arch: 'X64', target: 'DEBUG', features: [], defines: {}, pcds: {}, dsc: 'OvmfPkg/OvmfPkgX64.dsc',
    }]);
  });

  it('builds and publishes every variant and exits 0, leaving nothing in the engine', async () => {
    const { args, out } = await matrixArgs();
    const engine = builderEngine();
    const r = await run(matrixCommand, args, engine);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(out, 'x64-debug', 'manifest.json'))).toBe(true);
    expect(existsSync(join(out, 'ia32-debug', 'manifest.json'))).toBe(true);
    expect(engine.leftovers()).toEqual({ containers: 0, volumes: 0 });
  });

  it('exits 1 when a variant fails to build, and names it', async () => {
    const { args, out } = await matrixArgs();
    const engine = builderEngine((id): Partial<Behaviour> => (id === 'ia32-debug' ? { exitCode: 2, files: undefined } : {}));
    const r = await run(matrixCommand, args, engine);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ia32-debug.*failed/);
    expect(existsSync(join(out, 'x64-debug', 'manifest.json'))).toBe(true);
  });

  it('exits 130 when interrupted mid-build, with every container removed', async () => {
    const { args } = await matrixArgs();
    const engine = builderEngine(() => ({ ms: 10_000 }));
    const controller = new AbortController();
    const timer = setInterval(() => {
      if ([...engine.containers.values()].some((c) => c.spec.cmd[0] === 'edk2-build-variant' && c.running)) {
        clearInterval(timer);
        controller.abort(new Error('SIGINT'));
      }
    }, 1);
    const r = await run(matrixCommand, args, engine, controller.signal);
    expect(r.code).toBe(130);
    expect(engine.leftovers()).toEqual({ containers: 0, volumes: 0 });
  });

  it('takes --timeout as a duration: a build longer than it fails as timed out', async () => {
    const { args } = await matrixArgs();
    const r = await run(matrixCommand, [...args, '--only', 'x64-debug', '--timeout', '0.05s'], builderEngine(() => ({ ms: 10_000 })));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/x64-debug.*timed out/);
  });
});

describe('npm run verify, from arguments to exit status', () => {
  it('prints --help from the same declarations', async () => {
    const r = await run(verifyCommand, ['-h'], untouchable());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run verify -- \[options\]\n/);
    expect(r.stdout).toContain('  --timeout TIME     how long a boot may take: 90s, 5m (default: 5m)\n');
  });

  it.each([
    [['--timeout', '30'], '--timeout: "30" has no unit (e.g. --timeout 90s, 45m or 1h30m; see npm run verify -- --help)'],
    [['--accel', 'fast'], '--accel: "fast" is not one of auto, tcg, kvm (e.g. --accel auto; see npm run verify -- --help)'],
    [['--jobs', '1.5'], '--jobs: "1.5" is not a whole number of at least 1 (e.g. --jobs 4; see npm run verify -- --help)'],
  ])('refuses %j with one line and exit status 2', async (args, line) => {
    const r = await run(verifyCommand, args, untouchable());
    expect(r).toEqual({ code: 2, stdout: '', stderr: `edk2-matrix: ${line}\n` });
  });

  it('refuses an artifacts directory that is not there', async () => {
    const missing = join(tempDir('verify-'), 'none');
    const r = await run(verifyCommand, ['--out', missing], untouchable());
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`edk2-matrix: no artifacts directory at ${missing} (build first with npm run matrix, or pass --out)\n`);
  });
});
