/**
 * A variant's content key: sha256 over everything that decides its published bytes — the
 * source (digests, patches, how it is prepared), the builder (its build context, whose
 * packages.lock pins every package version: the same on every machine, unlike an image id),
 * the exact build command and environment, the install prefix (it is in the descriptor) and
 * the output format version. Knobs that only change speed (threads, jobs, the compiler cache)
 * are left out on purpose. Same key, same bytes, on any machine.
 */
import { MANIFEST_FORMAT, type Variant } from '../domain.ts';
import { buildArgs, buildEnv } from './build-command.ts';
import { sha256Hex } from '../checksums.ts';

/** Bump when the files a variant publishes change for the same inputs. */
export const OUTPUT_FORMAT_VERSION = 5;

export interface KeyInputs {
  readonly variant: Variant;
  /** The source's key (over digests, patches, the preparation and the builder digest). */
  readonly sourceKey: string;
  /** BuilderImage.digest. */
  readonly builderDigest: string;
  readonly sourceDateEpoch: number;
  readonly installPrefix: string;
}

/** Build arguments without `-n THREADS`, which does not change the output. */
export function keyedBuildArgs(variant: Variant): string[] {
  const args = buildArgs(variant, 1);
  const n = args.indexOf('-n');
  return [...args.slice(0, n), ...args.slice(n + 2)];
}

export function variantKey(i: KeyInputs): string {
  const material = {
    format: [OUTPUT_FORMAT_VERSION, MANIFEST_FORMAT],
    id: i.variant.id,
    source: i.sourceKey,
    builder: i.builderDigest,
    build: keyedBuildArgs(i.variant),
    env: buildEnv(i.variant, i.sourceDateEpoch),
    install: i.installPrefix,
    // Key sets: their names, owners and certificates (a file by its digest; one the builder
    // image carries by its path, the image being pinned by the builder digest).
    keys: i.variant.keySets.map((k) => [k.name, ...[k.pk, ...k.kek, ...k.db].map((c) => [c.owner, c.source.kind === 'file' ? c.source.sha256 : c.source.path])]),
  };
  return sha256Hex(JSON.stringify(material));
}
