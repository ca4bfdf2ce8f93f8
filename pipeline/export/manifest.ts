/**
 * A variant's manifest: what was built (the recipe), from what, with what, and how to boot it.
 * It holds only what the inputs decide, so two honest builds write the same bytes; what the
 * run decided (seconds, threads, the local image id) goes to build-record.json.
 */
import { MANIFEST_FORMAT, type ArtifactFile, type BuildPlan, type BuilderImage, type BuildRecord, type EnrolledStore, type Manifest, type PreparedSource } from '../domain.ts';
import { sha256Hex } from '../checksums.ts';

export interface NamedData {
  readonly name: string;
  readonly data: Buffer;
}

export function describeFile(f: NamedData): ArtifactFile {
  return { path: f.name, sha256: sha256Hex(f.data), size: f.data.length };
}

export interface ManifestInputs {
  readonly plan: BuildPlan;
  readonly source: PreparedSource;
  readonly image: BuilderImage;
  /** Every file of the variant directory but manifest.json, sorted by name. */
  readonly files: readonly ArtifactFile[];
  readonly enrolled: readonly EnrolledStore[];
}

export function makeManifest(i: ManifestInputs): Manifest {
  const r = i.plan.recipe;
  return {
    generator: 'edk2-matrix',
    formatVersion: MANIFEST_FORMAT,
    id: r.id,
    key: i.plan.key,
    arch: r.arch,
    target: r.target,
    toolchain: r.toolchain,
    features: r.features,
    dsc: r.dsc,
    defines: r.defines,
    pcds: r.pcds,
    build: { args: r.build.args, env: r.build.env },
    source: { description: i.source.description, origin: i.source.origin, key: i.source.key, digests: i.source.digests, components: i.source.components },
    builder: { digest: i.image.digest, lock: i.image.lock, snapshot: i.image.snapshot, packages: i.image.packages },
    files: i.files,
    qemu: r.qemu,
    descriptor: r.descriptor,
    enrolled: i.enrolled,
  };
}

export interface RecordInputs {
  readonly plan: BuildPlan;
  readonly seconds: number;
  readonly image: BuilderImage;
  /** True or false when two clean builds were compared; undefined when not checked. */
  readonly reproducible: boolean | undefined;
  /** BuildRecord.start. */
  readonly start?: string;
}

export function makeBuildRecord(i: RecordInputs): BuildRecord {
  return {
    id: i.plan.recipe.id,
    key: i.plan.key,
    seconds: Math.round(i.seconds * 10) / 10,
    threads: i.plan.threads,
    image: i.image.id,
    reproducible: i.reproducible,
    start: i.start,
  };
}
