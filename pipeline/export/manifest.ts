/** A variant's manifest: what was built, from what, with what, and how to boot it. */
import { MANIFEST_FORMAT, type ArtifactFile, type EnrolledStore, type BuildPlan, type BuilderImage, type Manifest, type PreparedSource, type Variant } from '../domain.ts';
import { descriptorFileName } from './firmware-descriptor.ts';
import { qemuLaunch } from './qemu-launch.ts';
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
  readonly seconds: number;
  /** True or false when two clean builds were compared; undefined when not checked. */
  readonly reproducible: boolean | undefined;
  readonly source: PreparedSource;
  readonly image: BuilderImage;
  /** Every file of the variant directory but manifest.json, sorted by name. */
  readonly files: readonly ArtifactFile[];
  readonly enrolled: readonly EnrolledStore[];
}

/** What launch.sh is rendered from: the variant and how QEMU boots it. */
export type LaunchFacts = Pick<Manifest, 'id' | 'arch' | 'target' | 'features' | 'qemu'>;

export function launchFacts(v: Variant): LaunchFacts {
  return { id: v.id, arch: v.arch, target: v.target, features: v.features, qemu: qemuLaunch(v, v.platform.code.published, v.platform.vars.published) };
}

export function makeManifest(i: ManifestInputs): Manifest {
  const v = i.plan.variant;
  return {
    generator: 'edk2-matrix',
    formatVersion: MANIFEST_FORMAT,
    id: v.id,
    key: i.plan.key,
    arch: v.arch,
    target: v.target,
    toolchain: v.toolchain,
    features: v.features,
    dsc: v.platform.dsc,
    defines: v.defines,
    pcds: v.pcds,
    build: { argv: i.plan.argv, env: i.plan.env, seconds: Math.round(i.seconds * 10) / 10, reproducible: i.reproducible },
    source: { description: i.source.description, origin: i.source.origin, key: i.source.key, digests: i.source.digests, components: i.source.components },
    builder: { image: i.image.id, digest: i.image.digest, lock: i.image.lock, snapshot: i.image.snapshot, packages: i.image.packages },
    files: i.files,
    qemu: launchFacts(v).qemu,
    descriptor: descriptorFileName(v),
    enrolled: i.enrolled,
  };
}
