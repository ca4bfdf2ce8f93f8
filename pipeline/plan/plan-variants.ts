/** The plan stage: every selected variant with its content key and build environment. */
import type { BuildPlan, Variant } from '../domain.ts';
import { buildEnv } from './build-command.ts';
import { variantKey } from './cache-key.ts';

export interface PlanInputs {
  readonly sourceKey: string;
  readonly builderDigest: string;
  readonly sourceDateEpoch: number;
  readonly installPrefix: string;
}

export function planVariants(variants: readonly Variant[], i: PlanInputs): BuildPlan[] {
  return variants.map((variant) => ({
    variant,
    key: variantKey({ variant, ...i }),
    env: buildEnv(variant, i.sourceDateEpoch),
  }));
}
