/**
 * The exact edk2 `build` invocation for a variant, as an argv array: nothing from the
 * configuration is ever pasted into a shell string.
 */
import type { BuildPlan, Variant } from '../domain.ts';
import { archFacts } from '../platforms.ts';
import { sha256Hex } from '../checksums.ts';

export const WORKSPACE = '/work';

/** The UEFI Shell application's module, built with `-m` for images that leave it out. */
export const SHELL_MODULE = 'ShellPkg/Application/Shell/Shell.inf';

/** The builder image's wrapper: sets up the workspace, then runs edk2's `build` with its arguments unchanged. */
export const BUILD_WRAPPER = 'edk2-build-variant';

/**
 * Arguments for edk2's `build` that decide the output (the recipe's), defines and PCDs sorted
 * by name so the order never varies. `-n` is not among them: see buildArguments.
 */
export function buildArgs(variant: Variant): string[] {
  const args: string[] = [];
  for (const arch of variant.platform.buildArches) args.push('-a', arch);
  args.push('-t', variant.toolchain, '-b', variant.target, '-p', variant.platform.dsc);
  for (const [name, value] of Object.entries(variant.defines).sort(([a], [b]) => a.localeCompare(b))) args.push('-D', `${name}=${value}`);
  for (const [name, value] of Object.entries(variant.pcds).sort(([a], [b]) => a.localeCompare(b))) args.push('--pcd', `${name}=${value}`);
  return args;
}

/** edk2's platform build directory for a variant: Build/<dir>/<TARGET>_<TOOLCHAIN>. */
export function platformBuildDir(variant: Variant): string {
  return `Build/${variant.platform.buildDir}/${variant.target}_${variant.toolchain}`;
}

/**
 * Environment of the build container that decides its output: cross-compiler prefixes, the
 * source's date for __DATE__/__TIME__, and a seed for edk2's stack cookie tables derived from
 * the platform (DSC, architectures, target, toolchain): the same every build (see
 * docs/reproducibility.md on the trade-off), and the same for every variant of one platform,
 * so that their modules' AutoGen.h (which carries the cookie) match and the compiler cache
 * serves one from another.
 */
export function buildEnv(variant: Variant, sourceDateEpoch: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const arch of variant.platform.buildArches) {
    const prefix = archFacts(arch).crossPrefix;
    if (prefix) env[`${variant.toolchain}_${arch}_PREFIX`] = prefix;
  }
  env.SOURCE_DATE_EPOCH = String(sourceDateEpoch);
  env.EDK2_MATRIX_BUILD_DIR = platformBuildDir(variant);
  const identity = JSON.stringify([variant.platform.dsc, variant.platform.buildArches, variant.target, variant.toolchain]);
  env.EDK2_MATRIX_COOKIE_SEED = sha256Hex(identity).slice(0, 32);
  // An image without the built-in UEFI Shell (Debian's secure-boot images) still gets its
  // Shell.efi, built alone afterwards: verification boots it from a disk.
  if (variant.defines.BUILD_SHELL === 'FALSE') env.EDK2_MATRIX_SHELL_MODULE = SHELL_MODULE;
  return env;
}

/** Directory in the container that holds the firmware volumes of a finished build. */
export function fvDir(variant: Variant): string {
  return `${WORKSPACE}/${platformBuildDir(variant)}/FV`;
}

/** What edk2's `build` is given in this run: the recipe's arguments and the run's `-n`. */
export function buildArguments(plan: BuildPlan): string[] {
  return [...plan.recipe.build.args, '-n', String(plan.threads)];
}

/** The build as one line: its environment, then edk2's command line (what `--dry-run` shows). */
export function buildCommandLine(env: Readonly<Record<string, string>>, args: readonly string[]): string {
  return `${Object.entries(env).map(([k, v]) => `${k}=${v} `).join('')}build ${args.join(' ')}`;
}
