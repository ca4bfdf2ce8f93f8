/**
 * The run's orchestration against an engine in memory (test/helpers/fake-engine.ts): what is
 * built, published, failed, cancelled and cleaned up, at every stage, in milliseconds. The
 * real-engine drills (test/integration/fault-drills.test.ts) prove the same with Docker.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { DataFileError } from '../../pipeline/errors.ts';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest, VariantOutcome } from '../../pipeline/domain.ts';
import type { ContainerSpec } from '../../pipeline/engine/engine.ts';
import type { Reporter } from '../../pipeline/report/reporter.ts';
import { planRun, runMatrix } from '../../pipeline/run.ts';
import { buildCommandLine } from '../../pipeline/plan/build-command.ts';
import { dryRunText } from '../../pipeline/cli/matrix-command.ts';
import type { FakeEngine } from '../helpers/fake-engine.ts';
import { builderEngine as engine, matrixFixture as fixture } from '../helpers/fake-matrix.ts';

function reporter(): Reporter & { outcomes: VariantOutcome[] } {
  const outcomes: VariantOutcome[] = [];
  return {
    outcomes, info() {}, warn() {}, queued() {}, started() {}, line() {}, summary() {},
    stage: <T>(_: string, work: () => Promise<T>) => work(),
    finished: (o: VariantOutcome) => void outcomes.push(o),
  };
}

async function run(e: FakeEngine, f: Awaited<ReturnType<typeof fixture>>, signal = new AbortController().signal) {
  return runMatrix(e, {
    config: f.config, variants: f.config.variants, outDir: f.out, cacheDir: f.cache,
    schedule: { jobs: 1, threads: 1, memoryBytes: 2 ** 30 }, timeoutMs: 60_000, noCache: false, verifyReproducible: false,
  }, reporter(), signal);
}

/** Aborts once a container running `cmd` has started. */
function abortWhen(e: FakeEngine, cmd: string, controller: AbortController): void {
  const timer = setInterval(() => {
    if ([...e.containers.values()].some((c) => c.spec.cmd[0] === cmd && c.running)) {
      clearInterval(timer);
      controller.abort(new Error('SIGINT'));
    }
  }, 1);
}

describe('a run against an engine in memory', () => {
  it('builds and publishes every variant, and leaves no container or work volume', async () => {
    const f = await fixture();
    const e = engine();
    const result = await run(e, f);
    expect(result.outcomes.map((o) => [o.id, o.status])).toEqual([['x64-debug', 'built'], ['ia32-debug', 'built']]);
    expect(JSON.parse(readFileSync(join(f.out, 'index.json'), 'utf8')).variants.map((v: { id: string }) => v.id)).toEqual(['ia32-debug', 'x64-debug']);
    expect(e.leftovers()).toEqual({ containers: 0, volumes: 0 });
  });

  it('publishes the others when one variant fails, and keeps the failure\'s reason', async () => {
    const f = await fixture();
    const result = await run(engine((id) => (id === 'x64-debug' ? { exitCode: 2, files: undefined } : {})), f);
    expect(result.outcomes.map((o) => [o.id, o.status])).toEqual([['x64-debug', 'failed'], ['ia32-debug', 'built']]);
    expect(readFileSync(join(f.out, 'failed', 'x64-debug', 'error.txt'), 'utf8')).toMatch(/edk2 build exited with status 2/);
  });

  it('on Ctrl-C during a build kills and removes its container and volume, starts nothing more, publishes nothing', async () => {
    const f = await fixture();
    const e = engine(() => ({ ms: 10_000 }));
    const controller = new AbortController();
    abortWhen(e, 'edk2-build-variant', controller);
    const started = performance.now();
    const result = await run(e, f, controller.signal);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(result.outcomes.map((o) => o.status)).toEqual(['cancelled', 'cancelled']);
    expect([...e.containers.values()].filter((c) => c.spec.cmd[0] === 'edk2-build-variant')).toHaveLength(1);
    expect(e.leftovers()).toEqual({ containers: 0, volumes: 0 });
    expect(existsSync(join(f.out, 'x64-debug'))).toBe(false);
  });

  it('on Ctrl-C while the source is prepared removes the container and the unfinished source volume', async () => {
    const f = await fixture();
    const e = engine();
    const behave = e.behave;
    Object.defineProperty(e, 'behave', { value: (spec: ContainerSpec) => (spec.cmd[0] === 'edk2-prepare-source' ? { ms: 10_000 } : behave(spec)) });
    const controller = new AbortController();
    abortWhen(e, 'edk2-prepare-source', controller);
    await expect(run(e, f, controller.signal)).rejects.toThrow();
    expect(e.leftovers()).toEqual({ containers: 0, volumes: 0 });
    expect([...e.volumes.values()].filter((l) => l['edk2-matrix.role'] === 'source')).toEqual([]);
    expect([...e.containers.values()].filter((c) => c.spec.cmd[0] === 'edk2-build-variant')).toEqual([]);
  });

  it('when the engine is lost mid-build fails the running variant and the queued one without starting it', async () => {
    const f = await fixture();
    const e = engine(() => ({ ms: 50 }));
    const timer = setInterval(() => {
      if ([...e.containers.values()].some((c) => c.spec.cmd[0] === 'edk2-build-variant' && c.running)) {
        clearInterval(timer);
        e.lost = true;
      }
    }, 1);
    const result = await run(e, f);
    expect(result.outcomes.map((o) => [o.id, o.status])).toEqual([['x64-debug', 'failed'], ['ia32-debug', 'failed']]);
    const reasons = result.outcomes.map((o) => (o.status === 'failed' ? o.error.message : ''));
    expect(reasons[0]).toMatch(/lost the container engine/);
    expect(reasons[1]).toMatch(/while ia32-debug waited its turn/);
    expect([...e.containers.values()].filter((c) => c.spec.cmd[0] === 'edk2-build-variant')).toHaveLength(1);
  });

  it('publishes from the artifact cache on a rerun and starts no container', async () => {
    const f = await fixture();
    const e = engine();
    await run(e, f);
    const before = e.containers.size;
    const again = await run(e, f);
    expect(again.outcomes.map((o) => o.status === 'built' && o.from)).toEqual(['up to date', 'up to date']);
    // The builder's package probe is cached: nothing at all starts.
    expect(e.containers.size).toBe(before);
  });

  it('rebuilds and re-exports a variant when one platform fact (QEMU memory) changes, and only that variant', async () => {
    const f = await fixture();
    const e = engine();
    await run(e, f);
    const x64 = f.config.variants.find((v) => v.id === 'x64-debug')!;
    const before = JSON.parse(readFileSync(join(f.out, 'x64-debug', 'manifest.json'), 'utf8')) as Manifest;
    const more = { ...x64, platform: { ...x64.platform, qemu: { ...x64.platform.qemu, memoryMiB: 4096 } } };
    const changed = { ...f, config: { ...f.config, variants: f.config.variants.map((v) => (v.id === 'x64-debug' ? more : v)) } };
    const again = await run(e, changed);
    expect(again.outcomes.map((o) => o.status === 'built' && [o.id, o.from])).toEqual([['x64-debug', 'built'], ['ia32-debug', 'up to date']]);
    const after = JSON.parse(readFileSync(join(f.out, 'x64-debug', 'manifest.json'), 'utf8')) as Manifest;
    expect(after.key).not.toBe(before.key);
    expect(after.qemu.argv.join(' ')).toContain('-m 4096');
    expect(readFileSync(join(f.out, 'x64-debug', 'launch.sh'), 'utf8')).toContain("'4096'");
  });

  it('--dry-run prints, byte for byte, the command and environment the build container ran', async () => {
    const f = await fixture();
    const e = engine();
    await run(e, f);
    const { plans } = await planRun(f.config, f.config.variants, 1, f.cache, reporter(), new AbortController().signal);
    for (const plan of plans) {
      const build = [...e.containers.values()].find((c) => c.spec.cmd[0] === 'edk2-build-variant' && c.spec.labels['edk2-matrix.variant'] === plan.recipe.id)!;
      // What the container ran, less the two knobs that only change speed and robustness.
      const { EDK2_MATRIX_CCACHE: _ccache, EDK2_MATRIX_WATCHDOG: _watchdog, ...env } = build.spec.env!;
      const ran = buildCommandLine(env, build.spec.cmd.slice(1));
      const printed = dryRunText(plans).split('\n').find((l) => l.startsWith('  build:  ') && l.includes(plan.recipe.dsc) && l.includes(plan.recipe.target))!;
      expect(printed).toBe(`  build:  ${ran}`);
      expect(JSON.parse(readFileSync(join(f.out, plan.recipe.id, 'manifest.json'), 'utf8')).key).toBe(plan.key);
    }
  });

  it('stops before any build, in one line, when a manifest already published is damaged', async () => {
    const f = await fixture();
    const e = engine();
    await run(e, f);
    writeFileSync(join(f.out, 'ia32-debug', 'manifest.json'), '{"generator":"edk2-matrix","formatVersion":2,"id":"ia32-debug"');
    const builds = () => [...e.containers.values()].filter((c) => c.spec.cmd[0] === 'edk2-build-variant').length;
    const before = builds();
    // x64-debug would be built again (another QEMU memory: another key); ia32-debug's manifest is damaged.
    // Only x64-debug is selected, so nothing reads ia32-debug's manifest on the way, but the index would.
    const variants = f.config.variants.filter((v) => v.id === 'x64-debug').map((v) => ({ ...v, platform: { ...v.platform, qemu: { ...v.platform.qemu, memoryMiB: 2048 } } }));
    const err = (await run(e, { ...f, config: { ...f.config, variants } }).catch((x: unknown) => x)) as DataFileError;
    expect(err).toBeInstanceOf(DataFileError);
    expect(err.message).toMatch(/ia32-debug\/manifest.json: this variant manifest is not JSON/);
    expect(builds()).toBe(before);
  });
});
