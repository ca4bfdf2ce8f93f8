/**
 * Schemas of the records a variant directory holds and the pipeline reads back: manifest.json
 * and boot.json. The compiler checks each against its domain type (both ways), so a field added
 * to `Manifest` or `BootRecord` and not here, or the other way round, does not compile.
 */
import { z } from 'zod';
import { ARCHES, MANIFEST_FORMAT, TARGETS, type BootRecord, type BuildRecord, type Manifest } from '../domain.ts';
import { absentOr, type Holds, type JsonFileKind, type SameShape } from '../host/read-json.ts';
import { sourceComponentSchema } from '../source/source-facts.ts';

const list = <T extends z.ZodType>(item: T) => z.array(item).readonly();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 in hex');
const assignments = z.record(z.string(), z.string());

/** A file of a variant directory with its digest (in manifests and artifact cache entries). */
export const artifactFileSchema = z.object({ path: z.string().min(1), sha256, size: z.number().int().nonnegative() });

const sourceOrigin = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('debian'), package: z.string(), version: z.string() }),
  z.object({ kind: z.literal('archive'), location: z.string() }),
  z.object({ kind: z.literal('git'), url: z.string(), commit: z.string() }),
  z.object({ kind: z.literal('tree'), commit: absentOr(z.string()), digest: sha256 }),
]);

const enrolledStore = z.object({
  keySet: z.string(),
  varsTemplate: z.string(),
  descriptor: z.string(),
  launch: z.string(),
  certificates: list(z.object({ variable: z.enum(['PK', 'KEK', 'db']), owner: z.string(), subject: z.string(), sha256 })),
});

export const manifestSchema = z.object({
  generator: z.literal('edk2-matrix'),
  formatVersion: z.literal(MANIFEST_FORMAT),
  id: z.string().min(1),
  key: z.string().min(1),
  arch: z.enum(ARCHES),
  target: z.enum(TARGETS),
  toolchain: z.string(),
  features: list(z.string()),
  dsc: z.string(),
  defines: assignments,
  pcds: assignments,
  build: z.object({
    args: list(z.string()),
    env: z.record(z.string(), z.string()),
  }),
  source: z.object({
    description: z.string(),
    origin: sourceOrigin,
    key: z.string(),
    // A git source is pinned by its commit (40 hex digits, or 64 in a SHA-256 repository).
    digests: list(z.object({ name: z.string(), sha256: z.union([sha256, z.string().regex(/^[0-9a-f]{40}$/, 'expected a git commit in hex')]) })),
    components: list(sourceComponentSchema),
  }),
  builder: z.object({
    digest: z.string(),
    lock: z.string(),
    snapshot: absentOr(z.string()),
    packages: list(z.string()),
  }),
  files: list(artifactFileSchema),
  qemu: z.object({
    binary: z.string(), code: z.string(), varsTemplate: z.string(), argv: list(z.string()),
    removableBootFile: z.string(), kvmHostArch: absentOr(z.enum(['x64', 'arm64'])),
  }),
  descriptor: z.string(),
  enrolled: list(enrolledStore),
});

const bootAttemptSchema = z.object({
  ok: z.boolean(),
  secondsToShell: absentOr(z.number().nonnegative()),
  accel: z.enum(['tcg', 'kvm']),
  shellDisk: z.boolean(),
  reason: absentOr(z.string()),
  qemu: absentOr(z.object({ version: z.string(), where: z.enum(['host', 'image']) })),
});

export const bootRecordSchema = bootAttemptSchema.extend({
  at: z.string(),
  boots: absentOr(list(bootAttemptSchema)),
});

export const buildRecordSchema = z.object({
  id: z.string().min(1),
  key: z.string().min(1),
  seconds: z.number().nonnegative(),
  threads: z.number().int().positive(),
  image: z.string(),
  reproducible: absentOr(z.boolean()),
  start: absentOr(z.string()),
});

/** Only what says whose manifest it is and in which format: checked before the whole schema. */
export const manifestMark = z.object({ generator: z.unknown(), formatVersion: z.unknown() }).partial();

export const MANIFEST_KIND: JsonFileKind = {
  what: 'variant manifest',
  hint: 'remove that variant directory (the next run builds it again), or restore the file',
};
export const BUILD_RECORD_KIND: JsonFileKind = {
  what: 'build record',
  hint: 'remove that variant directory (the next run builds it again), or restore the file',
};
export const BOOT_RECORD_KIND: JsonFileKind = {
  what: 'boot record',
  hint: 'remove it, or run `npm run verify` to boot the variant and record it again',
};

// Compile-time checks: each fails to compile when the schema and the type part ways.
export type ManifestSchemaIsManifest = Holds<SameShape<z.output<typeof manifestSchema>, Manifest>>;
export type BootRecordSchemaIsBootRecord = Holds<SameShape<z.output<typeof bootRecordSchema>, BootRecord>>;
export type BuildRecordSchemaIsBuildRecord = Holds<SameShape<z.output<typeof buildRecordSchema>, BuildRecord>>;
