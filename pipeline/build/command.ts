/**
 * The exact edk2 `build` invocation for a variant, as an argv array: nothing from the
 * configuration is ever pasted into a shell string.
 */
import type { Arch, Variant } from '../domain.ts';

export const WORKSPACE = '/work';

const crossPrefix: Partial<Record<Arch, string>> = {
  AARCH64: 'aarch64-linux-gnu-',
  ARM: 'arm-linux-gnueabi-',
};

/** Arguments for edk2's `build`, defines and PCDs sorted by name so the order never varies. */
export function buildArgs(variant: Variant, threads: number): string[] {
  const args: string[] = [];
  for (const arch of variant.platform.buildArches) args.push('-a', arch);
  args.push('-t', variant.toolchain, '-b', variant.target, '-p', variant.platform.dsc, '-n', String(threads));
  for (const [name, value] of Object.entries(variant.defines).sort(([a], [b]) => a.localeCompare(b))) args.push('-D', `${name}=${value}`);
  for (const [name, value] of Object.entries(variant.pcds).sort(([a], [b]) => a.localeCompare(b))) args.push('--pcd', `${name}=${value}`);
  return args;
}

/** Environment of the build container: cross-compiler prefixes for the toolchain. */
export function buildEnv(variant: Variant): Record<string, string> {
  const env: Record<string, string> = {};
  for (const arch of variant.platform.buildArches) {
    const prefix = crossPrefix[arch];
    if (prefix) env[`${variant.toolchain}_${arch}_PREFIX`] = prefix;
  }
  return env;
}

/** Directory in the container that holds the firmware volumes of a finished build. */
export function fvDir(variant: Variant): string {
  return `${WORKSPACE}/Build/${variant.platform.buildDir}/${variant.target}_${variant.toolchain}/FV`;
}
