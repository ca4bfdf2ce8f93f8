/**
 * Fault drills against the real engine: a build container killed, out of memory or out of
 * time fails its variant with the reason and its log while the rest finish; Ctrl-C stops and
 * removes everything within 10 seconds and leaves artifacts/ as it was; an unreachable engine
 * and a patch that does not apply get clear errors; an engine lost mid-run fails the run
 * cleanly; --clean removes what dead runs left; build containers run isolated.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { constants, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultCacheDir } from '../../pipeline/cli/matrix-command.ts';
import { manifestSchema } from '../../pipeline/export/manifest-schema.ts';
import { MANIFEST_FORMAT } from '../../pipeline/domain.ts';
import { defaultText, REPO } from '../helpers/config.ts';
import { snapshot } from '../helpers/snapshot.ts';

const docker = new Docker();
/** How long a build may outlive a CLI killed outright (docs/safety.md). */
const GRACE_SECONDS = 10;
const work = mkdtempSync(join(tmpdir(), 'edk2-matrix-drill-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  /** Exit status as a shell reports it (128 + n for a process ended by signal n). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Milliseconds from the signal (if one was sent) to the exit. */
  readonly afterSignalMs: number | undefined;
}

/**
 * Runs the CLI; `during` may act on the run while it goes (returns when it is done acting).
 * The CLI runs as users start it, `npm run matrix`, in a process group of its own: `during`
 * gets that group's id, so that a signal can reach every process in it, as a terminal's Ctrl-C does.
 */
function cli(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; during?: (group: number, signalled: () => void, child: ChildProcessWithoutNullStreams) => Promise<void> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '-s', 'matrix', '--', ...args], { cwd: REPO, detached: true, env: { ...process.env, GITHUB_ACTIONS: '', ...opts.env } });
    let stdout = '';
    let stderr = '';
    let signalledAt: number | undefined;
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const acting = opts.during?.(child.pid!, () => (signalledAt = performance.now()), child) ?? Promise.resolve();
    // A drill whose own action failed (no build container showed up) stops the run and fails with that reason.
    acting.catch(() => process.kill(-child.pid!, 'SIGKILL'));
    // What a shell reports: a process ended by a signal exits 128 + its number (npm re-raises the CLI's SIGINT).
    child.on('close', (exit, signal) => {
      acting.then(() => resolve({ code: exit ?? 128 + constants.signals[signal!], stdout, stderr, afterSignalMs: signalledAt && performance.now() - signalledAt }), reject);
    });
  });
}

/** Waits for the build container of `variant` to be running; returns its id. */
async function runningBuild(variant: string, timeoutMs = 240_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const [c] = await docker.listContainers({ filters: { label: ['edk2-matrix.role=build', `edk2-matrix.variant=${variant}`], status: ['running'] } });
    if (c) return c.Id;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no running build container for ${variant}`);
}

async function leftovers(runLabel?: string): Promise<number> {
  const label = [runLabel ? `edk2-matrix.run=${runLabel}` : 'edk2-matrix=1'];
  const containers = await docker.listContainers({ all: true, filters: { label } });
  const volumes = (await docker.listVolumes({ filters: { label: [...label, 'edk2-matrix.role=work'] } })).Volumes ?? [];
  return containers.length + volumes.length;
}

async function sourceVolumes(): Promise<string[]> {
  return ((await docker.listVolumes({ filters: { label: ['edk2-matrix.role=source'] } })).Volumes ?? []).map((v) => v.Name).sort();
}


/** An artifacts dir with an earlier publication in it. */
function earlierArtifacts(name: string): string {
  const out = join(work, name);
  mkdirSync(join(out, 'x64-debug'), { recursive: true });
  writeFileSync(join(out, 'x64-debug', 'OVMF_CODE.fd'), 'earlier build');
  // Marked as ours, as an earlier run leaves it: an index and a manifest of our format.
  writeFileSync(join(out, 'x64-debug', 'manifest.json'), `${JSON.stringify(manifestSchema.parse({
    generator: 'edk2-matrix', formatVersion: MANIFEST_FORMAT, id: 'x64-debug', key: 'earlier', arch: 'X64', target: 'DEBUG', toolchain: 'GCC5', features: [], dsc: 'OvmfPkg/OvmfPkgX64.dsc', defines: {}, pcds: {},
    build: { args: [], env: {} },
    source: { description: 'earlier', origin: { kind: 'archive', location: 'earlier.tar.xz' }, key: 'earlier', digests: [], components: [] },
    builder: { digest: 'earlier', lock: 'earlier', packages: [] },
    files: [{ path: 'OVMF_CODE.fd', sha256: createHash('sha256').update('earlier build').digest('hex'), size: 13 }],
    qemu: { binary: 'qemu-system-x86_64', code: 'OVMF_CODE.fd', varsTemplate: 'OVMF_VARS.fd', argv: [], removableBootFile: 'BOOTX64.EFI', kvmHostArch: 'x64' }, descriptor: 'none.json', enrolled: [],
  }))}\n`);
  writeFileSync(join(out, 'index.json'), `{"generator":"edk2-matrix","formatVersion":${MANIFEST_FORMAT},"variants":[]}\n`);
  return out;
}

/**
 * A stand-in for the engine's socket that forwards to the real one until `lose()`, which drops
 * every connection and stops answering: to the pipeline, the engine is gone.
 */
async function engineProxy(path: string): Promise<{ host: string; lose: () => void }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const engine = createConnection('/var/run/docker.sock');
    for (const s of [client, engine]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(engine).pipe(client);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    host: `unix://${path}`,
    lose: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

describe('fault drills against the real engine', () => {
  it('fails a killed build with the reason and its log, finishes the other, and runs builds isolated', async () => {
    const out = join(work, 'killed');
    let inspected: Docker.ContainerInspectInfo | undefined;
    const run = await cli(['--only', 'x64-debug,ia32-debug', '--no-cache', '--jobs', '2', '--threads', '2', '--out', out], {
      during: async () => {
        const id = await runningBuild('x64-debug');
        inspected = await docker.getContainer(id).inspect();
        await new Promise((r) => setTimeout(r, 10_000));
        await docker.getContainer(id).kill();
      },
    });
    expect(run.stderr).toMatch(/x64-debug\s+failed .*x64-debug: killed \(SIGKILL\) while building/);
    expect(run.stderr).toMatch(/ia32-debug\s+built/);
    expect(run.code).toBe(1);
    expect(readFileSync(join(out, 'failed', 'x64-debug', 'error.txt'), 'utf8')).toMatch(/killed \(SIGKILL\)/);
    expect(readFileSync(join(out, 'failed', 'x64-debug', 'build.log'), 'utf8').length).toBeGreaterThan(0);
    expect(existsSync(join(out, 'ia32-debug', 'OVMF_CODE.fd'))).toBe(true);

    // Isolation, as the engine saw the build container.
    const hc = inspected!.HostConfig;
    expect(inspected!.Config.User).toBe('builder');
    expect(hc.NetworkMode).toBe('none');
    expect(hc.CapDrop).toEqual(['ALL']);
    expect(hc.SecurityOpt).toEqual(['no-new-privileges']);
    expect(hc.ReadonlyRootfs).toBe(true);
    expect(hc.Memory).toBeGreaterThan(0);
    expect(hc.PidsLimit).toBeGreaterThan(0);
    expect(Object.keys(hc.Tmpfs ?? {})).toEqual(['/tmp']);
    expect(inspected!.Mounts.find((m) => m.Destination === '/src')?.RW).toBe(false);
    expect(inspected!.Config.Labels).toMatchObject({ 'edk2-matrix': '1', 'edk2-matrix.role': 'build', 'edk2-matrix.variant': 'x64-debug' });
    expect(await leftovers(inspected!.Config.Labels['edk2-matrix.run'])).toBe(0);
  }, 900_000);

  it('fails a build that runs out of memory, saying so', async () => {
    const run = await cli(['--only', 'x64-debug', '--no-cache', '--memory', '0.1', '--out', join(work, 'oom')]);
    expect(run.stderr).toMatch(/x64-debug\s+failed .*out of memory \(limit 0\.10 GiB; --memory\)/);
    expect(run.code).toBe(1);
  }, 300_000);

  it('stops a build that exceeds its timeout', async () => {
    const run = await cli(['--only', 'arm-debug', '--no-cache', '--timeout', '15s', '--out', join(work, 'timeout')]);
    expect(run.stderr).toMatch(/arm-debug\s+failed .*timed out after 0\.25 min \(--timeout\)/);
    expect(run.code).toBe(1);
  }, 300_000);

  it.each([
    ['Ctrl-C (SIGINT to the process group)', 'SIGINT', false],
    ['a closed terminal (SIGHUP)', 'SIGHUP', false],
    ['SIGQUIT', 'SIGQUIT', false],
    ['SIGINT after the parent stopped reading its output (closed pipes)', 'SIGINT', true],
  ] as const)('on %s removes every container within 10 seconds and leaves artifacts as they were', async (_what, sig, closePipes) => {
    const out = earlierArtifacts(`interrupted-${sig}-${closePipes}`);
    const before = snapshot(out);
    let runLabel = '';
    const run = await cli(['--only', 'x64-debug', '--no-cache', '--out', out], {
      during: async (group, signalled, child) => {
        const id = await runningBuild('x64-debug');
        runLabel = (await docker.getContainer(id).inspect()).Config.Labels['edk2-matrix.run']!;
        // The CLI's progress now goes to pipes nobody reads: its next writes fail with EPIPE.
        if (closePipes) {
          child.stdout.destroy();
          child.stderr.destroy();
        }
        await new Promise((r) => setTimeout(r, 5_000));
        signalled();
        process.kill(-group, sig); // every process of the run, as a terminal does
      },
    });
    // npm itself may die of the signal (128 + n) before the CLI exits 130 after its cleanup.
    expect([130, 128 + constants.signals[sig]]).toContain(run.code);
    expect(run.afterSignalMs).toBeLessThan(10_000);
    expect(await leftovers(runLabel)).toBe(0);
    expect(snapshot(out)).toEqual(before);
    expect(existsSync(join(defaultCacheDir(), 'runs', runLabel))).toBe(false);
  }, 900_000);

  it('stops the build by itself when the CLI is killed outright (SIGKILL), and the next run removes what was left', async () => {
    let runLabel = '';
    let container = '';
    let killedAt = 0;
    const run = await cli(['--only', 'x64-debug', '--no-cache', '--out', join(work, 'sigkill')], {
      during: async (group, signalled) => {
        container = await runningBuild('x64-debug');
        runLabel = (await docker.getContainer(container).inspect()).Config.Labels['edk2-matrix.run']!;
        await new Promise((r) => setTimeout(r, 5_000));
        signalled();
        killedAt = performance.now();
        process.kill(-group, 'SIGKILL'); // npm and the CLI: no handler runs, nothing is cleaned up
      },
    });
    expect(run.code).toBe(137);
    // The build container notices that its run is gone (its held stdin closes) and stops.
    let running = true;
    while (running && performance.now() - killedAt < 60_000) {
      running = (await docker.getContainer(container).inspect()).State.Running;
      if (running) await new Promise((r) => setTimeout(r, 250));
    }
    const stoppedAfter = (performance.now() - killedAt) / 1000;
    process.stderr.write(`SIGKILL drill: build container stopped ${stoppedAfter.toFixed(1)} s after the CLI was killed\n`);
    expect(running).toBe(false);
    expect(stoppedAfter).toBeLessThan(GRACE_SECONDS);
    expect(await leftovers(runLabel)).toBeGreaterThan(0);
    // The next run on this host removes the dead run's container and volume, and says so.
    const next = await cli(['--config', 'test/fixtures/release-matrix.yaml', '--only', 'ia32-debug', '--out', join(work, 'after-sigkill')]);
    expect(next.stderr).toMatch(/removed 1 container\(s\) and 1 volume\(s\) left by runs of this host that died/);
    expect(await leftovers(runLabel)).toBe(0);
  }, 900_000);

  it('says how to start an engine when none answers, and touches nothing', async () => {
    const out = earlierArtifacts('no-engine');
    const before = snapshot(out);
    const run = await cli(['--only', 'x64-debug', '--out', out], { env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe('edk2-matrix: no container engine answers at unix:///nonexistent/docker.sock (ENOENT) ' +
      '(start one with `sudo scripts/setup-host.sh` (installs and starts Docker), or set DOCKER_HOST)');
    expect(snapshot(out)).toEqual(before);
  }, 60_000);

  it('fails cleanly when the engine is lost mid-run: starts nothing more, keeps earlier artifacts, says to --clean', async () => {
    const out = earlierArtifacts('engine-lost');
    const proxy = await engineProxy(join(work, 'engine.sock'));
    let runLabel = '';
    const run = await cli(['--only', 'x64-debug,ia32-debug', '--no-cache', '--jobs', '1', '--out', out], {
      env: { DOCKER_HOST: proxy.host },
      during: async (_pid, signalled) => {
        const id = await runningBuild('x64-debug');
        runLabel = (await docker.getContainer(id).inspect()).Config.Labels['edk2-matrix.run']!;
        await new Promise((r) => setTimeout(r, 5_000));
        signalled();
        proxy.lose();
      },
    });
    expect(run.code).toBe(1);
    expect(run.afterSignalMs).toBeLessThan(30_000);
    expect(run.stderr).toMatch(/x64-debug\s+failed .*lost the container engine at unix:\/\/\S+engine\.sock while \w+/);
    expect(run.stderr).toMatch(/ia32-debug\s+failed .*while ia32-debug waited its turn/);
    expect(run.stderr).not.toMatch(/ia32-debug: building/);
    expect(run.stderr).toMatch(/`npm run matrix -- --clean`/);
    // The earlier publication is untouched, no half-written directory, the failure is kept.
    expect(readFileSync(join(out, 'x64-debug', 'OVMF_CODE.fd'), 'utf8')).toBe('earlier build');
    expect(readdirSync(out).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(readFileSync(join(out, 'failed', 'x64-debug', 'error.txt'), 'utf8')).toMatch(/lost the container engine/);
    // Once the engine answers again, --clean removes what the run left in it.
    expect(await leftovers(runLabel)).toBeGreaterThan(0);
    expect((await cli(['--clean'])).code).toBe(0);
    expect(await leftovers(runLabel)).toBe(0);
  }, 900_000);

  it('names the patch and the file when a patch does not apply, and keeps no half-made source', async () => {
    const dir = join(work, 'badpatch');
    mkdirSync(dir);
    writeFileSync(join(dir, 'break-ovmf.patch'), [
      '--- a/OvmfPkg/OvmfPkgX64.dsc',
      '+++ b/OvmfPkg/OvmfPkgX64.dsc',
      '@@ -1,3 +1,3 @@',
      '-this line is not in the file',
      '+nor is this one',
      ' and neither is this',
      '',
    ].join('\n'));
    const config = join(dir, 'matrix.yaml');
    writeFileSync(config, defaultText
      .replace('dockerfile: dockerfiles/builder', `dockerfile: ${REPO}dockerfiles/builder`)
      .replace('patches: []', 'patches: [break-ovmf.patch]'));
    const before = await leftovers();
    const sourcesBefore = await sourceVolumes();
    const run = await cli(['--config', config, '--only', 'x64-debug', '--out', join(dir, 'artifacts')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/patch \/src\/\.edk2-matrix\/patches\/0001-break-ovmf\.patch does not apply to OvmfPkg\/OvmfPkgX64\.dsc/);
    expect(existsSync(join(dir, 'artifacts', 'x64-debug'))).toBe(false);
    expect(await sourceVolumes()).toEqual(sourcesBefore);
    expect(await leftovers()).toBe(before);
  }, 600_000);

  it('--clean removes what a dead run left and spares a live one', async () => {
    const image = (await docker.listImages({ filters: { label: ['edk2-matrix.role=builder'] } }))[0]!.Id;
    const labels = (owner: string) => ({ 'edk2-matrix': '1', 'edk2-matrix.run': 'drill', 'edk2-matrix.owner': owner, 'edk2-matrix.role': 'build' });
    const dead = await docker.createContainer({ Image: image, Cmd: ['true'], Labels: labels(`${hostname()}:999999999`) });
    const live = await docker.createContainer({ Image: image, Cmd: ['true'], Labels: labels(`${hostname()}:${process.pid}`) });
    await docker.createVolume({ Name: 'edk2-matrix-work-drill', Labels: { ...labels(`${hostname()}:999999999`), 'edk2-matrix.role': 'work' } });
    const run = await cli(['--clean']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/removed [1-9]\d* container\(s\) and [1-9]\d* volume\(s\) left by earlier runs; spared 1 of a run still going/);
    await expect(docker.getContainer(dead.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await expect(docker.getVolume('edk2-matrix-work-drill').inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect((await docker.getContainer(live.id).inspect()).Id).toBe(live.id);
    await docker.getContainer(live.id).remove();
  }, 60_000);
});
