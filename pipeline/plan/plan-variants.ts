/** The plan stage: every selected variant with its content key and build environment. */
import type { BuildPlan, Variant } from '../domain.ts';
import { buildArgs, buildEnv } from './build-command.ts';
import { variantKey } from './cache-key.ts';

export interface PlanInputs {
  readonly sourceKey: string;
  readonly builderDigest: string;
  readonly sourceDateEpoch: number;
  readonly installPrefix: string;
  /** edk2's `-n`: how many modules one build compiles at once. Not part of the key. */
  readonly threads: number;
}

export function planVariants(variants: readonly Variant[], i: PlanInputs): BuildPlan[] {
  return variants.map((variant) => ({
    variant,
    key: variantKey({ variant, ...i }),
    argv: ['build', ...buildArgs(variant, i.threads)],
    env: buildEnv(variant, i.sourceDateEpoch),
    installPrefix: i.installPrefix,
  }));
}
