import { describe, expect, it } from 'vitest';
import { buildArgs, buildArguments, buildEnv, fvDir } from '../../pipeline/plan/build-command.ts';
import { selectVariants } from '../../pipeline/config/select.ts';
import { schedule } from '../../pipeline/queue/schedule.ts';
import { planVariants } from '../../pipeline/plan/plan-variants.ts';
import { defaultText, errorOf, parse, withMatrix } from '../helpers/config.ts';

const GiB = 2 ** 30;
const variants = parse(withMatrix('  arch: [X64, AARCH64, ARM]\n  features: [none, secureboot+network]\n  target: [DEBUG]\n')).variants;

describe('build command', () => {
  it('passes arch, toolchain, target, platform, then defines sorted by name', () => {
    const v = variants.find((x) => x.id === 'x64-secureboot-network-debug')!;
    expect(buildArgs(v)).toEqual([
      '-a', 'X64', '-t', 'GCC5', '-b', 'DEBUG', '-p', 'OvmfPkg/OvmfPkgX64.dsc',
      '-D', 'NETWORK_HTTP_BOOT_ENABLE=TRUE', '-D', 'NETWORK_IP6_ENABLE=TRUE', '-D', 'NETWORK_TLS_ENABLE=TRUE', '-D', 'SECURE_BOOT_ENABLE=TRUE',
    ]);
  });

  it('sets the cross-compiler prefix for ARM targets only', () => {
    expect(buildEnv(variants.find((x) => x.id === 'arm-debug')!, 1)).toMatchObject({ GCC5_ARM_PREFIX: 'arm-linux-gnueabi-' });
    expect(Object.keys(buildEnv(variants.find((x) => x.id === 'x64-debug')!, 1)).filter((k) => k.endsWith('_PREFIX'))).toEqual([]);
  });

  it('dates the build by the source and seeds stack cookies by the platform, not by the clock', () => {
    const x64 = variants.find((x) => x.id === 'x64-debug')!;
    const env = buildEnv(x64, 1740000000);
    expect(env).toMatchObject({ SOURCE_DATE_EPOCH: '1740000000', EDK2_MATRIX_BUILD_DIR: 'Build/OvmfX64/DEBUG_GCC5' });
    expect(buildEnv(x64, 1740000000)).toEqual(env);
    const seed = (id: string) => buildEnv(variants.find((x) => x.id === id)!, 1740000000).EDK2_MATRIX_COOKIE_SEED;
    // Variants of one platform share the seed (their AutoGen.h match, the compiler cache hits)...
    expect(seed('x64-secureboot-network-debug')).toBe(env.EDK2_MATRIX_COOKIE_SEED);
    // ...other platforms and targets do not.
    expect(new Set([seed('x64-debug'), seed('aarch64-debug'), seed('arm-debug')]).size).toBe(3);
  });

  it('finds firmware volumes in the DSC output directory', () => {
    expect(fvDir(variants.find((x) => x.id === 'aarch64-debug')!)).toBe('/work/Build/ArmVirtQemu-AARCH64/DEBUG_GCC5/FV');
  });
});

describe('plan', () => {
  const inputs = { sourceKey: 's', builderDigest: 'b'.repeat(64), sourceDateEpoch: 1, installPrefix: '/usr/share/x/{id}', threads: 2 };

  it('carries the whole recipe: build arguments, environment, install paths; the run\'s threads beside it', () => {
    const [plan] = planVariants([variants[0]!], inputs);
    expect(plan).toMatchObject({ variant: variants[0], key: expect.stringMatching(/^[0-9a-f]{64}$/), threads: 2 });
    expect(plan!.recipe.build).toEqual({ args: buildArgs(variants[0]!), env: buildEnv(variants[0]!, 1), dir: 'Build/OvmfX64/DEBUG_GCC5' });
    expect(plan!.recipe.install).toEqual({ prefix: '/usr/share/x/{id}', dir: '/usr/share/x/x64-debug' });
    expect(buildArguments(plan!)).toEqual([...buildArgs(variants[0]!), '-n', '2']);
  });

  it('keys a variant the same whatever the threads, since -n does not change the output', () => {
    const [two] = planVariants([variants[0]!], inputs);
    const [eight] = planVariants([variants[0]!], { ...inputs, threads: 8 });
    expect(buildArguments(eight!)).toContain('8');
    expect(eight!.recipe).toEqual(two!.recipe);
    expect(eight!.key).toBe(two!.key);
  });
});

describe('--only', () => {
  it('selects by id and glob, keeping matrix order', () => {
    expect(selectVariants(variants, 'arm-debug,x64-*').map((v) => v.id)).toEqual(['x64-debug', 'x64-secureboot-network-debug', 'arm-debug']);
  });

  it('rejects a pattern that matches nothing and lists the variants', () => {
    expect(errorOf(() => selectVariants(parse(defaultText).variants, 'ppc64*'))).toMatch(
      /^--only ppc64\* matches no variant \(variants: x64-debug, ia32-debug, .*, aarch64-secureboot-tpm2-network-release \(npm run matrix -- --list\)\)$/);
  });
});

describe('scheduling', () => {
  it('builds two variants side by side on a 2-core machine, each with both cores, to fill single-threaded phases', () => {
    expect(schedule({ cores: 2, memoryBytes: 24 * GiB, variants: 4 })).toEqual({ jobs: 2, threads: 2, memoryBytes: 8 * GiB });
  });

  it('gives a lone variant every core, and runs one build at a time when memory allows no more', () => {
    expect(schedule({ cores: 2, memoryBytes: 24 * GiB, variants: 1 })).toMatchObject({ jobs: 1, threads: 2 });
    expect(schedule({ cores: 8, memoryBytes: 24 * GiB, variants: 1 })).toMatchObject({ jobs: 1, threads: 8 });
    expect(schedule({ cores: 2, memoryBytes: 3 * GiB, variants: 4 })).toMatchObject({ jobs: 1, threads: 2 });
  });

  it('runs builds side by side on larger machines', () => {
    expect(schedule({ cores: 16, memoryBytes: 64 * GiB, variants: 10 })).toMatchObject({ jobs: 8, threads: 2 });
  });

  it('never runs more builds than variants or than memory allows', () => {
    expect(schedule({ cores: 16, memoryBytes: 64 * GiB, variants: 3 }).jobs).toBe(3);
    expect(schedule({ cores: 16, memoryBytes: 5 * GiB, variants: 10 }).jobs).toBe(2);
  });

  it('takes the user\'s jobs and threads as given', () => {
    expect(schedule({ cores: 2, memoryBytes: 24 * GiB, variants: 4, jobs: 2, threads: 1 })).toMatchObject({ jobs: 2, threads: 1 });
  });
});
