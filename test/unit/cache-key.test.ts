import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.ts';
import { variantKey } from '../../pipeline/plan/cache-key.ts';
import { makeRecipe } from '../../pipeline/plan/recipe.ts';
import { buildArgs } from '../../pipeline/plan/build-command.ts';
import { ArtifactCache } from '../../pipeline/export/artifact-cache.ts';
import { parse, withMatrix } from '../helpers/config.ts';

const variants = parse(withMatrix('  arch: [X64]\n  features: [none, secureboot]\n  target: [DEBUG]\n')).variants;
const inputs = { sourceDateEpoch: 1, installPrefix: '/usr/share/x' };
const base = { recipe: makeRecipe(variants[0]!, inputs), sourceKey: 's', builderDigest: 'b'.repeat(64) };

describe('content keys', () => {
  it('leaves the thread count out of the recipe\'s build arguments', () => {
    expect(buildArgs(variants[0]!)).toEqual(['-a', 'X64', '-t', 'GCC5', '-b', 'DEBUG', '-p', 'OvmfPkg/OvmfPkgX64.dsc']);
  });

  it('changes with the source, the builder, a define, the source date and the install prefix', () => {
    const key = variantKey(base);
    expect(variantKey({ ...base, recipe: makeRecipe(variants[0]!, inputs) })).toBe(key);
    for (const change of [
      { sourceKey: 't' }, { builderDigest: 'c'.repeat(64) }, { recipe: makeRecipe(variants[1]!, inputs) },
      { recipe: makeRecipe(variants[0]!, { ...inputs, sourceDateEpoch: 2 }) }, { recipe: makeRecipe(variants[0]!, { ...inputs, installPrefix: '/opt' }) },
    ]) {
      expect(variantKey({ ...base, ...change })).not.toBe(key);
    }
  });

  it('changes when a platform fact changes (QEMU memory), though no key input names it', () => {
    const v = variants[0]!;
    const more = { ...v, platform: { ...v.platform, qemu: { ...v.platform.qemu, memoryMiB: v.platform.qemu.memoryMiB * 2 } } };
    expect(variantKey({ ...base, recipe: makeRecipe(more, inputs) })).not.toBe(variantKey(base));
  });
});

describe('artifact cache', () => {
  const log = { info: () => {}, warnings: [] as string[], warn(m: string) { this.warnings.push(m); } };

  it('returns stored files after checking their digests', async () => {
    const cache = new ArtifactCache(tempDir('ac-'));
    await cache.store('k'.repeat(64), [{ name: 'OVMF_CODE.fd', data: Buffer.from('code') }]);
    const files = await cache.lookup('k'.repeat(64), 'x64-debug', log);
    expect(files?.map((f) => [f.name, f.data.toString()])).toEqual([['OVMF_CODE.fd', 'code']]);
  });

  it('rebuilds a damaged entry: warns, removes it, reports a miss', async () => {
    const dir = tempDir('ac-');
    const cache = new ArtifactCache(dir);
    const key = 'a'.repeat(64);
    await cache.store(key, [{ name: 'OVMF_CODE.fd', data: Buffer.from('code') }]);
    writeFileSync(join(dir, 'aa', key, 'OVMF_CODE.fd'), 'c0de');
    expect(await cache.lookup(key, 'x64-debug', log)).toBeUndefined();
    expect(log.warnings.at(-1)).toMatch(/x64-debug: cache entry aaaaaaaaaaaa is damaged \(OVMF_CODE.fd does not match its sha256\); removing it and building again/);
    expect(await cache.lookup(key, 'x64-debug', log)).toBeUndefined();
  });

  it('prunes entries not kept', async () => {
    const cache = new ArtifactCache(tempDir('ac-'));
    await cache.store('b'.repeat(64), [{ name: 'f', data: Buffer.from('1') }]);
    await cache.store('c'.repeat(64), [{ name: 'f', data: Buffer.from('2') }]);
    expect(await cache.prune(new Set(['b'.repeat(64)]))).toBe(1);
    expect(await cache.lookup('b'.repeat(64), 'v', log)).toBeDefined();
  });
});
