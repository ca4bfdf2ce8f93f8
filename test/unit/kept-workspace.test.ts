/**
 * `--keep-failed`, `--shell` and `--clean` as a user runs them, against the engine in memory:
 * a failed build's workspace is kept (labelled with what the shell needs), survives the run's
 * cleanup and later runs' sweeps, is replaced by the next failure, entered with the build's
 * image and mounts, and removed by `--clean`; `--shell` refuses in one line what it cannot do.
 */
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { runToExit } from '../../pipeline/cli/main.ts';
import { matrixCommand } from '../../pipeline/cli/matrix-command.ts';
import { cleanLeftovers } from '../../pipeline/engine/leftovers.ts';
import type { Behaviour, FakeEngine } from '../helpers/fake-engine.ts';
import { builderEngine, matrixFixture } from '../helpers/fake-matrix.ts';
import { capturedStream } from '../helpers/captured-stream.ts';

interface Ran { readonly code: number; readonly stdout: string; readonly stderr: string }

/** Runs `npm run matrix` with these arguments; `terminal`: stdin and stdout are a terminal. */
async function matrix(argv: readonly string[], engine: FakeEngine, terminal = false): Promise<Ran> {
  const stdout = capturedStream();
  const stderr = capturedStream();
  if (terminal) Object.assign(stdout, { isTTY: true, rows: 24 });
  const stdin = Object.assign(Readable.from([]), { isTTY: terminal, setRawMode: () => stdin }) as unknown as NodeJS.ReadStream;
  const code = await runToExit(matrixCommand, argv, new AbortController().signal, { engine, stdout, stderr, stdin });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const failing = (variant: string) => (id: string): Partial<Behaviour> => (id === variant ? { exitCode: 2, files: undefined } : {});

const kept = (e: FakeEngine) => [...e.volumes].filter(([, l]) => l['edk2-matrix.role'] === 'kept');
const work = (e: FakeEngine) => [...e.volumes].filter(([, l]) => l['edk2-matrix.role'] === 'work');

async function matrixArgs(): Promise<string[]> {
  const f = await matrixFixture();
  return ['--config', f.file, '--out', f.out, '--cache-dir', f.cache];
}

/** The build command `--dry-run` prints for `id` (what the build container ran). */
async function dryRunBuild(args: readonly string[], id: string): Promise<string> {
  const dry = await matrix([...args, '--dry-run', '--only', id], builderEngine());
  return /^ {2}build: {2}(.*)$/m.exec(dry.stdout)![1]!;
}

beforeEach(() => {
  vi.stubEnv('GITHUB_ACTIONS', '');
});

describe('--keep-failed', () => {
  it('keeps exactly the failed variant\'s workspace, labelled with its run, key, image, source and build command', async () => {
    const args = await matrixArgs();
    const e = builderEngine(failing('x64-debug'));
    const r = await matrix([...args, '--keep-failed'], e);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('workspace kept, enter it with `npm run matrix -- --shell x64-debug`');
    const [[name, labels]] = kept(e) as [[string, Record<string, string>]];
    expect(kept(e)).toHaveLength(1);
    expect(name).toMatch(/^edk2-matrix-kept-x64-debug-/);
    expect(labels).toMatchObject({ 'edk2-matrix': '1', 'edk2-matrix.kept': '1', 'edk2-matrix.variant': 'x64-debug' });
    expect(labels['edk2-matrix.key']).toMatch(/^[0-9a-f]{64}$/);
    expect(labels['edk2-matrix.image']).toMatch(/^sha256:/);
    expect(labels['edk2-matrix.source']).toMatch(/^edk2-matrix-src-/);
    expect(labels['edk2-matrix.ccache']).toMatch(/^edk2-matrix-ccache-/);
    // The recorded command is the one the build container ran.
    const build = [...e.containers.values()].find((c) => c.spec.cmd[0] === 'edk2-build-variant' && c.spec.labels['edk2-matrix.variant'] === 'x64-debug')!;
    const command = JSON.parse(labels['edk2-matrix.command']!) as { env: Record<string, string>; args: string[] };
    expect(command.args).toEqual(build.spec.cmd.slice(1));
    expect(build.spec.env).toMatchObject(command.env);
    // The copy read the build's own work volume, which is gone with the run like every other.
    const copy = [...e.containers.values()].find((c) => c.spec.cmd[0] === 'cp')!;
    expect(copy.spec.mounts).toEqual([
      { volume: build.spec.mounts![1]!.volume, target: '/kept-from', readOnly: true },
      { volume: name, target: '/work', readOnly: false },
    ]);
    expect(work(e)).toEqual([]);
    expect(e.leftovers()).toEqual({ containers: 0, volumes: 0 });
  });

  it('keeps nothing when every build succeeds, or without --keep-failed', async () => {
    const ok = builderEngine();
    expect((await matrix([...await matrixArgs(), '--keep-failed'], ok)).code).toBe(0);
    expect(kept(ok)).toEqual([]);
    const without = builderEngine(failing('x64-debug'));
    const r = await matrix(await matrixArgs(), without);
    expect(r.code).toBe(1);
    expect(kept(without)).toEqual([]);
    expect(r.stderr).not.toContain('--shell');
  });

  it('survives the sweep of later runs, which removes a dead run\'s work volume', async () => {
    const args = await matrixArgs();
    const e = builderEngine(failing('x64-debug'));
    await matrix([...args, '--keep-failed'], e);
    // As if the run that kept it (and one that left a work volume) had died on this host.
    const dead = `${hostname()}:999999999`;
    for (const [, l] of kept(e)) l['edk2-matrix.owner'] = dead;
    e.volumes.set('edk2-matrix-work-dead', { 'edk2-matrix': '1', 'edk2-matrix.role': 'work', 'edk2-matrix.owner': dead });
    const swept = await cleanLeftovers(e, { thisHostOnly: true });
    expect(swept.volumes).toBe(1);
    expect(e.volumes.has('edk2-matrix-work-dead')).toBe(false);
    expect(kept(e)).toHaveLength(1);
    // A whole later run that builds nothing new leaves it too.
    await matrix([...args, '--only', 'ia32-debug'], e);
    expect(kept(e)).toHaveLength(1);
  });

  it('replaces the variant\'s kept workspace with the next failure\'s, and keeps one per variant', async () => {
    const args = await matrixArgs();
    const e = builderEngine(failing('x64-debug'));
    await matrix([...args, '--keep-failed'], e);
    const first = kept(e)[0]![0];
    await matrix([...args, '--keep-failed'], e);
    expect(kept(e)).toHaveLength(1);
    expect(kept(e)[0]![0]).not.toBe(first);
  });

  it('says so in the failure, and still fails the variant, when the workspace cannot be copied', async () => {
    const args = await matrixArgs();
    const e = builderEngine(failing('x64-debug'));
    const behave = e.behave;
    Object.defineProperty(e, 'behave', { value: (spec: Parameters<typeof behave>[0]) => (spec.cmd[0] === 'cp' ? { exitCode: 1, output: ['cp: No space left on device'] } : behave(spec)) });
    const r = await matrix([...args, '--keep-failed'], e);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/x64-debug: edk2 build exited with status 2; its workspace could not be kept: copying it failed \(exit 1\): cp: No space left on device/);
    expect(kept(e)).toEqual([]);
  });
});

describe('--clean', () => {
  it('removes every kept workspace and says how many', async () => {
    const args = await matrixArgs();
    const e = builderEngine(() => ({ exitCode: 2, files: undefined }));
    await matrix([...args, '--keep-failed'], e);
    expect(kept(e)).toHaveLength(2);
    const r = await matrix(['--clean'], e);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/, and 2 kept workspace\(s\)\n$/);
    expect(kept(e)).toEqual([]);
  });
});

describe('--shell', () => {
  it('refuses in one line, exit 2, when the variant has no kept workspace', async () => {
    const e = builderEngine();
    const r = await matrix(['--shell', 'x64-debug'], e, true);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('edk2-matrix: no kept workspace for x64-debug: rerun with --keep-failed\n');
    expect(e.terminalRuns).toEqual([]);
  });

  it('refuses in one line, exit 2, starting nothing, without a terminal', async () => {
    const args = await matrixArgs();
    const e = builderEngine(failing('x64-debug'));
    await matrix([...args, '--keep-failed'], e);
    const containers = e.containers.size;
    const r = await matrix(['--shell', 'x64-debug'], e);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('edk2-matrix: --shell needs a terminal\n');
    expect(r.stdout).toBe('');
    expect(e.terminalRuns).toEqual([]);
    expect(e.containers.size).toBe(containers);
  });

  it('opens the builder image with the build\'s mounts, user and network, and prints the exact build command first', async () => {
    const args = await matrixArgs();
    const e = builderEngine(failing('x64-debug'));
    await matrix([...args, '--keep-failed'], e);
    const build = [...e.containers.values()].find((c) => c.spec.cmd[0] === 'edk2-build-variant' && c.spec.labels['edk2-matrix.variant'] === 'x64-debug')!;
    const volume = kept(e)[0]![0];
    const r = await matrix(['--shell', 'x64-debug'], e, true);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`  ${await dryRunBuild(args, 'x64-debug')}\n`);
    expect(r.stdout).toContain('the build ran, in /work, with edksetup.sh sourced:');
    expect(e.terminalRuns).toHaveLength(1);
    const shell = e.terminalRuns[0]!;
    expect(shell.image).toBe(build.spec.image);
    expect(shell).toMatchObject({ user: 'builder', network: 'none', hardened: true, workingDir: '/work' });
    expect(shell.mounts).toEqual([
      build.spec.mounts![0],
      { volume, target: '/work', readOnly: false },
      build.spec.mounts![2],
    ]);
    expect(shell.cmd.slice(0, 2)).toEqual(['bash', '-c']);
    expect(shell.cmd[2]).toContain('. ./edksetup.sh');
    expect(shell.cmd.slice(4)).toEqual(build.spec.cmd.slice(1));
    const { EDK2_MATRIX_WATCHDOG: watchdog, ...buildEnv } = build.spec.env!;
    expect(watchdog).toBe('1');
    expect(shell.env).toMatchObject({ ...buildEnv, EDK2_MATRIX_CCACHE: '1', EDK2_MATRIX_VARIANT: 'x64-debug' });
    expect(shell.env).not.toHaveProperty('EDK2_MATRIX_WATCHDOG');
    expect(shell.labels).toMatchObject({ 'edk2-matrix': '1', 'edk2-matrix.role': 'shell', 'edk2-matrix.variant': 'x64-debug' });
  });

  it('uses the current builder of the same tag, saying so, when the image the build ran in is gone; compiles without a compiler cache that is gone', async () => {
    const args = await matrixArgs();
    const e = builderEngine(failing('x64-debug'));
    await matrix([...args, '--keep-failed'], e);
    const [[, labels]] = kept(e) as [[string, Record<string, string>]];
    // The builder was rebuilt under its tag (another id), and the compiler cache pruned.
    e.images.set(labels['edk2-matrix.image-tag']!, 'sha256:'.padEnd(71, 'e'));
    e.volumes.delete(labels['edk2-matrix.ccache']!);
    const r = await matrix(['--shell', 'x64-debug'], e, true);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/note: the image the build ran in \(\w{12}\) is gone; using the current edk2-matrix\/builder:\S+ \(eeeeeeeeeeee\)/);
    expect(r.stdout).toContain(`note: the compiler cache ${labels['edk2-matrix.ccache']} is gone; compiling without it`);
    expect(e.terminalRuns[0]!.image).toBe('sha256:'.padEnd(71, 'e'));
    expect(e.terminalRuns[0]!.mounts).toHaveLength(2);
    expect(e.terminalRuns[0]!.env).toMatchObject({ EDK2_MATRIX_CCACHE: '0' });
  });
});
