/** The plan stage: every selected variant's recipe and content key, and the run's threads. */
import type { BuildPlan, Variant } from '../domain.ts';
import { variantKey } from './cache-key.ts';
import { makeRecipe } from './recipe.ts';

export interface PlanInputs {
  readonly sourceKey: string;
  readonly builderDigest: string;
  readonly sourceDateEpoch: number;
  readonly installPrefix: string;
  /** edk2's `-n`: how many modules one build compiles at once. Not part of the key. */
  readonly threads: number;
}

export function planVariants(variants: readonly Variant[], i: PlanInputs): BuildPlan[] {
  return variants.map((variant) => {
    const recipe = makeRecipe(variant, i);
    return { variant, recipe, key: variantKey({ recipe, sourceKey: i.sourceKey, builderDigest: i.builderDigest }), threads: i.threads };
  });
}
