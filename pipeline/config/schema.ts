/**
 * The shape of matrix.yaml, schema version 1. Messages here are what a user reads after
 * `file:line:col: key:`, so each says what is expected.
 */
import { z } from 'zod';
import { ARCHES, TARGETS } from '../domain.ts';

export const DEFINE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** `TokenSpaceGuid.PcdName`, optionally with a structure field: `Guid.PcdName.Field`. */
export const PCD_NAME = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
/** Define values reach edk2's command line as one argv element: no blanks, quotes or `$`. */
export const DEFINE_VALUE = /^[A-Za-z0-9_.:/+,=-]*$/;
/** PCD values may be strings (`L"text"`) but not control characters. */
export const PCD_VALUE = /^[\x20-\x7e]*$/;
export const FEATURE_NAME = /^[a-z][a-z0-9]*$/;
const SHA256 = /^[0-9a-f]{64}$/;
const COMMIT = /^[0-9a-f]{40}$/;

const scalarValue = (text: z.ZodString) => z.union([z.boolean(), z.number(), text], {
  error: 'expected true, false, a number or a string',
});

const defines = z.record(
  z.string().regex(DEFINE_NAME, 'a define name is letters, digits and _, not starting with a digit'),
  scalarValue(z.string().regex(DEFINE_VALUE, 'a define value is letters, digits and _ . : / + , = - (no blanks or quotes)')),
  { error: 'expected a map of NAME: value' },
);

const pcds = z.record(
  z.string().regex(PCD_NAME, 'a PCD name is TokenSpaceGuid.PcdName'),
  scalarValue(z.string().regex(PCD_VALUE, 'a PCD value is printable ASCII on one line')),
  { error: 'expected a map of TokenSpaceGuid.PcdName: value' },
);

const sha256 = z.string({ error: 'expected a sha256 (64 lowercase hex digits)' }).regex(SHA256, 'expected a sha256 (64 lowercase hex digits)');
const text = (what: string) => z.string({ error: `expected ${what}` }).min(1, `expected ${what}`);
const arch = z.enum(ARCHES, { error: `expected one of ${ARCHES.join(', ')}` });
const target = z.enum(TARGETS, { error: `expected one of ${TARGETS.join(', ')}` });
const patches = z.array(text('a patch file path'), { error: 'expected a list of patch files' });
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item)]);

export const debianSource = z.strictObject({
  package: text('a Debian source package name'),
  version: text('a Debian version, e.g. 2025.02-8+deb13u1'),
  mirror: z.url({ error: 'expected a mirror URL' }).optional(),
  files: z
    .array(z.strictObject({ name: text('a file name'), sha256 }), { error: 'expected a list of {name, sha256}' })
    .min(1, 'list at least the orig tarball'),
});

export const archiveSource = z.strictObject({
  url: text('a URL or a path to a .tar.gz, .tar.xz or .tar archive')
    .regex(/\.(tar\.xz|txz|tar\.gz|tgz|tar)$/, 'expected a .tar.xz, .tar.gz or .tar archive (other formats cannot be checked entry by entry)'),
  sha256,
  strip: z.number().int().min(0).max(8).default(1),
});

export const gitSource = z.strictObject({
  // Never an option: git reads an argument starting with - as one (e.g. --upload-pack=...).
  url: text('a git URL').regex(/^[^-\s][^\s]*$/, 'a git URL (not starting with - and without blanks)'),
  commit: z.string({ error: 'expected a full 40-hex commit id' }).regex(COMMIT, 'expected a full 40-hex commit id (a branch or tag is not pinned)'),
  submodules: z.boolean({ error: 'expected true or false' }).default(true),
});

export const sourceSchema = z.strictObject({
  debian: debianSource.optional(),
  archive: archiveSource.optional(),
  git: gitSource.optional(),
  /** A working tree on this machine, built as it is (uncommitted changes included). */
  path: text('a directory holding an edk2 tree, relative to this file').optional(),
  patches: patches.default([]),
});

export const builderSchema = z.strictObject({
  dockerfile: text('a directory holding a Dockerfile, relative to this file'),
  base: text('a base image reference').regex(/^[a-z0-9][a-z0-9._/:@-]*$/, 'a base image reference such as debian:trixie').default('debian:trixie'),
  // Passed to mmdebstrap as an argument: a suite name, never an option.
  suite: text('a Debian suite').regex(/^[a-z][a-z0-9.-]*$/, 'a Debian suite name such as trixie').default('trixie'),
  mirror: z.url({ error: 'expected a mirror URL' }).optional(),
  network: text('a Docker network mode (host, bridge, ...)').default('host'),
  snapshot: z.string({ error: 'expected a timestamp like 20251120T000000Z' })
    .regex(/^\d{8}T\d{6}Z$/, 'expected a timestamp like 20251120T000000Z').optional(),
});

export const installSchema = z.strictObject({
  prefix: z.string({ error: 'expected an absolute directory' })
    .regex(/^\/[^\s]*$/, 'expected an absolute directory without blanks, e.g. /usr/share/edk2/{arch}')
    .default('/usr/share/edk2-matrix/{id}'),
});

export const architectureSchema = z.strictObject({
  dsc: text('a platform DSC path, e.g. OvmfPkg/OvmfPkgX64.dsc'),
  defines: defines.default({}),
  pcds: pcds.default({}),
});

export const featureSchema = z.strictObject({
  description: z.string().optional(),
  defines: defines.default({}),
  pcds: pcds.default({}),
  /** Per-architecture platform DSC this feature needs (SMM needs OvmfPkgIa32X64.dsc). */
  dsc: z.partialRecord(arch, text('a platform DSC path')).default({}),
  /** Key sets enrolled into extra variable stores: microsoft, snakeoil, or names under `keysets`. */
  enroll: z.array(z.string({ error: 'expected a key set name' }).regex(FEATURE_NAME, 'a key set name is lowercase letters and digits'),
    { error: 'expected a list of key set names (microsoft, snakeoil, or your own under keysets)' }).default([]),
});

const certFile = z.strictObject({
  file: text('a PEM certificate file, relative to this file'),
  sha256,
});

/** Your own Secure Boot key set: PEM certificates, each pinned by sha256. */
export const keySetSchema = z.strictObject({
  pk: certFile,
  kek: z.array(certFile, { error: 'expected a list of {file, sha256}' }).min(1, 'list at least one KEK certificate'),
  db: z.array(certFile, { error: 'expected a list of {file, sha256}' }).min(1, 'list at least one db certificate'),
});

/** A feature combination: `none`, a set name, or names joined with `+`. */
const combination = text('a feature set name, names joined with +, or none');

export const selectorSchema = z.strictObject({
  arch: oneOrMany(arch).optional(),
  features: oneOrMany(combination).optional(),
  target: oneOrMany(target).optional(),
});

export const matrixSchema = z.strictObject({
  arch: z.array(arch, { error: 'expected a list of architectures' }).min(1, 'list at least one architecture'),
  features: z.array(combination, { error: 'expected a list of feature combinations' }).min(1).default(['none']),
  target: z.array(target, { error: 'expected a list of targets' }).min(1, 'list at least one target'),
  exclude: z.array(selectorSchema, { error: 'expected a list of {arch, features, target}' }).default([]),
  include: z.array(selectorSchema, { error: 'expected a list of {arch, features, target}' }).default([]),
});

export const configSchema = z.strictObject({
  version: z.literal(1, { error: 'expected 1 (the only schema version)' }),
  source: sourceSchema,
  builder: builderSchema,
  install: installSchema.default({ prefix: '/usr/share/edk2-matrix/{id}' }),
  toolchain: z.string({ error: 'expected an edk2 toolchain tag' }).regex(/^[A-Z][A-Z0-9_]*$/, 'expected an edk2 toolchain tag such as GCC5').default('GCC5'),
  defines: defines.default({}),
  pcds: pcds.default({}),
  architectures: z.partialRecord(arch, architectureSchema, { error: 'expected a map of architecture: {dsc}' }),
  features: z.record(
    z.string().regex(FEATURE_NAME, 'a feature set name is lowercase letters and digits'),
    featureSchema,
    { error: 'expected a map of name: {defines, pcds}' },
  ).default({}),
  keysets: z.record(z.string().regex(FEATURE_NAME, 'a key set name is lowercase letters and digits'), keySetSchema,
    { error: 'expected a map of name: {pk, kek, db}' }).default({}),
  matrix: matrixSchema,
});

export type RawConfig = z.output<typeof configSchema>;
export type RawSelector = z.output<typeof selectorSchema>;
