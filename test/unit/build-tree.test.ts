/**
 * Kept build trees (incremental builds of a working tree): what changed since a variant's last
 * build, which changes start from the kept tree and which build clean (and why), the lease that
 * keeps two runs off one tree, and that a failed or interrupted build leaves the next one clean.
 * The builds themselves are proven byte-identical in test/integration/incremental.test.ts. Also:
 * which files a working tree's next source volume takes from its previous one (tree-volume.ts).
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BuildPlan, Log, TreeContent } from '../../pipeline/domain.ts';
import {
  BUILD_TREES_DIR, buildTreeIdentity, decideStart, describeChange, leaseBuildTree, siblingWaits, treeChange,
} from '../../pipeline/edk2-build/build-tree.ts';
import { volumeUpdate } from '../../pipeline/source/tree-volume.ts';
import { pruneCaches } from '../../pipeline/cli/prune-cache.ts';
import { cacheNamespace } from '../../pipeline/engine/cache-namespace.ts';
import { LABEL, LABEL_ROLE } from '../../pipeline/engine/run-scope.ts';
import { defaultText, parse } from '../helpers/config.ts';
import { FakeEngine } from '../helpers/fake-engine.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const quiet: Log = { info: () => {}, warn: () => {} };

function plan(id = 'ia32-debug', env: Record<string, string> = { SOURCE_DATE_EPOCH: '1' }, args = ['-a', 'IA32']): BuildPlan {
  return {
    variant: { id, platform: { dsc: 'OvmfPkg/OvmfPkgIa32.dsc', buildArches: ['IA32'] }, target: 'DEBUG', toolchain: 'GCC5' },
    recipe: { build: { env, args } },
  } as unknown as BuildPlan;
}

function tree(files: Record<string, string>, root = '/home/dev/edk2'): TreeContent {
  return { root, digest: JSON.stringify(files), files: new Map(Object.entries(files).map(([p, d]) => [p, `file - ${d}`])) };
}

const T0 = tree({ 'MdePkg/Library/BaseLib/String.c': 'a', 'OvmfPkg/OvmfPkgIa32.dsc': 'b', 'BaseTools/Source/C/GenFv/GenFv.c': 'c' });

describe('what changed since a kept build', () => {
  it('names changed, added and deleted files, and changed build arguments', () => {
    const now = tree({ 'MdePkg/Library/BaseLib/String.c': 'a2', 'OvmfPkg/OvmfPkgIa32.dsc': 'b', 'MdePkg/New.c': 'n' });
    const change = treeChange(T0.files, ['-D', 'X=TRUE'], now.files, ['-D', 'X=FALSE']);
    expect(change).toEqual({
      changed: ['MdePkg/Library/BaseLib/String.c'], added: ['MdePkg/New.c'], deleted: ['BaseTools/Source/C/GenFv/GenFv.c'], argsChanged: true,
    });
    expect(describeChange(change)).toBe('1 changed, 1 added, 1 deleted files, defines or PCDs changed since its last build');
    expect(describeChange(treeChange(T0.files, [], T0.files, []))).toBe('no file changed since its last build');
    expect(describeChange({ changed: ['x'], added: [], deleted: [], argsChanged: false })).toBe('1 changed file since its last build');
  });

  it('builds incrementally for sources, headers, DSC and INF edits, added and deleted files, flipped defines', () => {
    const start = decideStart({ changed: ['OvmfPkg/OvmfPkgIa32.dsc', 'MdePkg/Include/Base.h'], added: ['A.c'], deleted: ['B.h'], argsChanged: true });
    expect(start.mode).toBe('incremental');
  });

  it("builds clean when edk2's tools change: no output's time says what a tool change does", () => {
    expect(decideStart({ changed: ['BaseTools/Source/Python/AutoGen/GenC.py'], added: [], deleted: [], argsChanged: false }))
      .toEqual({ mode: 'clean', reason: "edk2's tools changed (BaseTools/Source/Python/AutoGen/GenC.py)" });
    expect(decideStart({ changed: [], added: ['Conf/tools_def.template'], deleted: [], argsChanged: false }).mode).toBe('clean');
  });

  it('keeps one tree per variant, builder, tree place and platform build, but not per define', () => {
    const base = buildTreeIdentity(plan(), 'builder-1', '/home/dev/edk2');
    expect(buildTreeIdentity(plan('ia32-debug', { SOURCE_DATE_EPOCH: '1' }, ['-D', 'X=1']), 'builder-1', '/home/dev/edk2')).toBe(base);
    expect(buildTreeIdentity(plan('x64-debug'), 'builder-1', '/home/dev/edk2')).not.toBe(base);
    expect(buildTreeIdentity(plan(), 'builder-2', '/home/dev/edk2')).not.toBe(base);
    expect(buildTreeIdentity(plan(), 'builder-1', '/home/dev/other')).not.toBe(base);
    expect(buildTreeIdentity(plan('ia32-debug', { SOURCE_DATE_EPOCH: '2' }), 'builder-1', '/home/dev/edk2')).not.toBe(base);
  });
});

describe('the lease on a kept build tree', () => {
  const inputs = (cacheDir: string, t: TreeContent, over: Partial<Parameters<typeof leaseBuildTree>[0]> = {}) => ({
    cacheDir, namespace: 'ns', plan: plan(), builderDigest: 'b', tree: t, args: ['-a', 'IA32'], forceClean: false,
    volumeExists: async () => true, log: quiet, ...over,
  });

  it('starts clean the first time, then from the tree with what changed; a failed build leaves the next clean', async () => {
    const cache = tempDir('cache-');
    const first = (await leaseBuildTree(inputs(cache, T0)))!;
    expect(first.start).toEqual({ mode: 'clean', reason: 'no kept build yet' });
    expect(first.volume).toMatch(/^edk2-matrix-buildtree-ns-ia32-debug-[0-9a-f]{12}$/);
    await first.finish(true);

    const edited = tree({ ...Object.fromEntries([...T0.files].map(([p, d]) => [p, d.slice(7)])), 'OvmfPkg/OvmfPkgIa32.dsc': 'b2' });
    const second = (await leaseBuildTree(inputs(cache, edited)))!;
    expect(second.start.mode).toBe('incremental');
    expect(second.start.mode === 'incremental' && second.start.change.changed).toEqual(['OvmfPkg/OvmfPkgIa32.dsc']);
    await second.finish(false);

    const third = (await leaseBuildTree(inputs(cache, edited)))!;
    expect(third.start).toEqual({ mode: 'clean', reason: 'no kept build yet' });
    await third.finish(true);
    const forced = (await leaseBuildTree(inputs(cache, edited, { forceClean: true })))!;
    expect(forced.start).toEqual({ mode: 'clean', reason: '--clean-build' });
    await forced.finish(true);
    const gone = (await leaseBuildTree(inputs(cache, edited, { volumeExists: async () => false })))!;
    expect(gone.start).toEqual({ mode: 'clean', reason: 'its kept build is gone' });
    await gone.finish(true);
  });

  it('leaves a tree another live run holds to it, and takes over one whose run died', async () => {
    const cache = tempDir('cache-');
    const lease = (await leaseBuildTree(inputs(cache, T0)))!;
    const lock = join(cache, BUILD_TREES_DIR, `${lease.volume}.lock`);
    await lease.finish(true);
    writeFileSync(lock, `${process.ppid}\n`); // a live process other than this one
    expect(await leaseBuildTree(inputs(cache, T0))).toBeUndefined();
    writeFileSync(lock, '999999999\n'); // no such process
    const taken = (await leaseBuildTree(inputs(cache, T0)))!;
    expect(taken.start.mode).toBe('incremental');
    await taken.finish(true);
    expect(existsSync(lock)).toBe(false);
  });

  it("starts a variant without a kept tree from a copy of a sibling's (same platform build, other defines)", async () => {
    const cache = tempDir('cache-');
    const a = (await leaseBuildTree(inputs(cache, T0)))!;
    await a.finish(true);
    const sibling = { plan: plan('ia32-tpm2-debug', { SOURCE_DATE_EPOCH: '1' }, ['-a', 'IA32', '-D', 'TPM2_ENABLE=TRUE']), args: ['-a', 'IA32', '-D', 'TPM2_ENABLE=TRUE'] };
    const b = (await leaseBuildTree(inputs(cache, T0, sibling)))!;
    expect(b.start).toEqual({ mode: 'seed', from: a.volume, sibling: 'ia32-debug', change: { changed: [], added: [], deleted: [], argsChanged: true } });
    expect(b.volume).not.toBe(a.volume);
    // The sibling's tree is held while it is copied: its own build waits its turn (builds clean elsewhere).
    expect(await leaseBuildTree(inputs(cache, T0))).toBeUndefined();
    await b.seeded();
    const again = (await leaseBuildTree(inputs(cache, T0)))!;
    expect(again.start.mode).toBe('incremental');
    await again.finish(true);
    await b.finish(true);

    // Another platform build (another environment) is no sibling.
    const other = { plan: plan('ia32-other-debug', { SOURCE_DATE_EPOCH: '2' }) };
    const c = (await leaseBuildTree(inputs(cache, T0, other)))!;
    expect(c.start).toEqual({ mode: 'clean', reason: 'no kept build yet' });
    await c.finish(false);
    // Nor is a sibling whose change to this build must build clean (BaseTools changed since).
    const tools = tree({ 'MdePkg/Library/BaseLib/String.c': 'a', 'OvmfPkg/OvmfPkgIa32.dsc': 'b', 'BaseTools/Source/C/GenFv/GenFv.c': 'c2' });
    const third = { plan: plan('ia32-third-debug'), args: ['-a', 'IA32', '-D', 'X=1'] };
    const d = (await leaseBuildTree(inputs(cache, tools, third)))!;
    expect(d.start).toEqual({ mode: 'clean', reason: 'no kept build yet' });
    await d.finish(false);
  });

  it('has the siblings of a run without a kept tree wait for the one with a kept tree, else the first; nobody under --clean-build', async () => {
    const cache = tempDir('cache-');
    const ia32 = ['ia32-debug', 'ia32-secureboot-debug', 'ia32-network-debug'].map((id) => plan(id));
    const x64 = { ...plan('x64-debug'), variant: { ...plan('x64-debug').variant, platform: { dsc: 'OvmfPkg/OvmfPkgX64.dsc', buildArches: ['X64'] } } } as unknown as BuildPlan;
    const ins = { cacheDir: cache, namespace: 'ns', builderDigest: 'b', tree: T0, forceClean: false };
    expect([...await siblingWaits([...ia32, x64], ins)]).toEqual([['ia32-secureboot-debug', 'ia32-debug'], ['ia32-network-debug', 'ia32-debug']]);
    // ia32-network-debug was built before: it builds from its own tree, the others start after it.
    const kept = (await leaseBuildTree({ ...inputs(cache, T0), plan: ia32[2]! }))!;
    await kept.finish(true);
    expect([...await siblingWaits([...ia32, x64], ins)]).toEqual([['ia32-debug', 'ia32-network-debug'], ['ia32-secureboot-debug', 'ia32-network-debug']]);
    expect(await siblingWaits([...ia32, x64], { ...ins, forceClean: true })).toEqual(new Map());
  });

  it('builds clean from a damaged record, and says so', async () => {
    const cache = tempDir('cache-');
    const lease = (await leaseBuildTree(inputs(cache, T0)))!;
    await lease.finish(true);
    writeFileSync(join(cache, BUILD_TREES_DIR, `${lease.volume}.json`), '{"format": 1');
    const warnings: string[] = [];
    const next = (await leaseBuildTree(inputs(cache, T0, { log: { warn: (m: string) => warnings.push(m) } })))!;
    expect(next.start).toEqual({ mode: 'clean', reason: 'no kept build yet' });
    expect(warnings.join('\n')).toMatch(/kept build tree record.*building that variant clean/);
    await next.finish(true);
  });
});

describe("a working tree's next source volume", () => {
  const files = (o: Record<string, string>) => new Map(Object.entries(o));
  it('writes the files whose content or epoch changed, deletes the removed ones, and keeps BaseTools as built', () => {
    const before = files({ 'a.c': 'file - 1 1000', 'b.h': 'file - 2 1000', 'BaseTools/x.py': 'file - 3 1000' });
    const now = files({ 'a.c': 'file - 1 2000', 'c.c': 'file - 4 2000', 'BaseTools/x.py': 'file - 3 1000' });
    expect(volumeUpdate(before, now)).toEqual({ put: ['a.c', 'c.c'], deleted: ['b.h'] });
  });

  it('prepares the volume from nothing when anything under BaseTools/ or Conf/ changed', () => {
    const before = files({ 'BaseTools/x.py': 'file - 3 1000' });
    expect(volumeUpdate(before, files({ 'BaseTools/x.py': 'file x 3 1000' }))).toBeUndefined();
    expect(volumeUpdate(before, files({}))).toBeUndefined();
    expect(volumeUpdate(before, files({ ...Object.fromEntries(before), 'Conf/target.template': 'file - 5 2000' }))).toBeUndefined();
  });
});

describe('--prune-cache and kept build trees', () => {
  it('removes every kept build tree of this cache and its records, and spares another cache\'s', async () => {
    const cache = tempDir('cache-');
    const ns = cacheNamespace(cache);
    const engine = new FakeEngine(() => ({}));
    await engine.createVolume(`edk2-matrix-buildtree-${ns}-ia32-debug-0123456789ab`, { [LABEL]: '1', [LABEL_ROLE]: 'build-tree' });
    await engine.createVolume('edk2-matrix-buildtree-00000000-ia32-debug-0123456789ab', { [LABEL]: '1', [LABEL_ROLE]: 'build-tree' });
    const lease = (await leaseBuildTree({
      cacheDir: cache, namespace: ns, plan: plan(), builderDigest: 'b', tree: T0, args: [], forceClean: false, volumeExists: async () => true, log: quiet,
    }))!;
    await lease.finish(true);
    const result = await pruneCaches(engine, parse(defaultText), tempDir('out-'), cache);
    expect(result.volumes).toBe(1);
    expect([...engine.volumes.keys()]).toEqual(['edk2-matrix-buildtree-00000000-ia32-debug-0123456789ab']);
    expect(readdirSync(join(cache, BUILD_TREES_DIR))).toEqual([]);
  });
});
