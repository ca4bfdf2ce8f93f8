/**
 * A variant's content key: the sha256 of its recipe (plan/recipe.ts: build command and
 * environment, outputs and padding, enrolments, QEMU launch, install paths, the rendered
 * descriptors and launch scripts) together with the source key (digests, patches, how it is
 * prepared) and the builder's digest (its build context, whose packages.lock pins every
 * package version: the same on every machine, unlike an image id). Whatever shapes the
 * published files is in the recipe, so nothing can be forgotten here. Knobs that only change
 * speed (threads, jobs, the compiler cache) are not in the recipe. Same key, same bytes.
 */
import { MANIFEST_FORMAT, type Recipe } from '../domain.ts';
import { sha256Hex } from '../checksums.ts';

/**
 * Bump when code that renders published files from the recipe changes what it writes (the
 * manifest's shape, padding, copying): changes the recipe does not show. The rendered-output
 * test (test/unit/output-format.test.ts) fails when that output changes without a bump.
 */
export const OUTPUT_FORMAT_VERSION = 6;

export interface KeyInputs {
  readonly recipe: Recipe;
  /** The source's key (over digests, patches, the preparation and the builder digest). */
  readonly sourceKey: string;
  /** BuilderImage.digest. */
  readonly builderDigest: string;
}

export function variantKey(i: KeyInputs): string {
  return sha256Hex(JSON.stringify({
    format: [OUTPUT_FORMAT_VERSION, MANIFEST_FORMAT],
    recipe: i.recipe,
    source: i.sourceKey,
    builder: i.builderDigest,
  }));
}
