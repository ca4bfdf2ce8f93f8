/**
 * A locked image (the builder, and verification's QEMU image): built from its dockerfile
 * directory on the base image, every package at the version its packages.lock pins, from the
 * archive matrix.yaml or the host configures (or a dated snapshot of it). Before anything is
 * built, the lock is checked against the archive's index: a pinned version the archive no
 * longer serves is one line naming it and the ways out. After the build, the image must hold
 * exactly what the lock says. `updateImageLock` writes a new lock from the archive's newest
 * versions. Each kind of image has its own repository, label role and lock command.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readCachedJson, type JsonFileKind } from '../host/read-json.ts';
import type { BuilderImage, BuilderSpec } from '../domain.ts';
import { LABEL, LABEL_ROLE, type Role, type RunScope } from '../engine/run-scope.ts';
import { ImageError } from '../errors.ts';
import type { Log } from '../domain.ts';
import { sha256Hex } from '../checksums.ts';
import { builderArchive, debianArch, servedVersions, type AptArchive } from './apt-archive.ts';
import { ensureBaseImage } from './base-image.ts';
import { contextDigest, packContext, readContext, type ContextFile } from './build-context.ts';
import { BUILDER_LOCK_HEADER, diffLocks, LOCK_FILE, LockFormatError, lockDigest, parseLock, renderLock, unavailable, type Lock, type LockDiff } from './builder-lock.ts';

/** What tells one kind of locked image from another: its name in messages, tags, labels and lock. */
export interface ImageKind {
  /** In messages: `builder image ...`, `builder lock ...`. */
  readonly name: string;
  readonly repo: string;
  readonly role: Role;
  /** The command that writes its lock, for hints. */
  readonly lockCommand: string;
  /** The lock file's comment lines (`{suite}` and `{arch}` filled in). */
  readonly lockHeader: readonly string[];
}

export const BUILDER_REPO = 'edk2-matrix/builder';

export const BUILDER_KIND: ImageKind = {
  name: 'builder', repo: BUILDER_REPO, role: 'builder', lockCommand: 'npm run matrix -- --update-builder-lock', lockHeader: BUILDER_LOCK_HEADER,
};

/** The local tag: the portable digest, the base it was built on and the archive it came from. */
export function imageTag(repo: string, digest: string, baseId: string, archiveUrl: string): string {
  return `${repo}:${sha256Hex(`${digest}\0${baseId}\0${archiveUrl}`).slice(0, 16)}`;
}

export function builderTag(digest: string, baseId: string, archiveUrl: string): string {
  return imageTag(BUILDER_REPO, digest, baseId, archiveUrl);
}

function readLock(kind: ImageKind, files: readonly ContextFile[], context: string): Lock {
  const file = files.find((f) => f.path === LOCK_FILE);
  if (!file || file.data.length === 0) {
    throw new ImageError(`${context} has no ${LOCK_FILE}: the ${kind.name} image's package versions are not locked`,
      `write it with ${kind.lockCommand}, and commit it`);
  }
  try {
    return parseLock(file.data.toString('utf8'));
  } catch (err) {
    if (err instanceof LockFormatError) throw new ImageError(`${join(context, LOCK_FILE)}: ${err.message}`, `write it again with ${kind.lockCommand}`);
    throw err;
  }
}

/** Refuses, before anything is built, a lock whose versions the archive no longer serves. */
async function checkAvailable(kind: ImageKind, lock: Lock, base: Lock, archive: AptArchive, context: string, signal: AbortSignal): Promise<void> {
  const missing = unavailable(lock, base, await servedVersions(archive, debianArch(), signal));
  if (!missing.length) return;
  const [first] = missing;
  const instead = first!.served.length ? `it serves ${first!.served.join(', ')}` : 'it has no such package';
  const more = missing.length > 1 ? ` (and ${missing.length - 1} more locked version${missing.length > 2 ? 's' : ''})` : '';
  throw new ImageError(
    `${kind.name} lock ${join(context, LOCK_FILE)}: ${first!.name}=${first!.version} is no longer served by ${archive.url} ${archive.suite}: ${instead}; the archive moved on${more}`,
    `update the lock (${kind.lockCommand}), or build from an archive of the lock's date (builder.snapshot or --snapshot, with ${'EDK2_MATRIX_SNAPSHOT_ARCHIVE'})`,
  );
}

async function build(kind: ImageKind, scope: RunScope, spec: BuilderSpec, files: readonly ContextFile[], tag: string, baseRef: string, archive: AptArchive, locked: boolean, log: Log, signal: AbortSignal): Promise<string> {
  const tail: string[] = [];
  try {
    return await scope.engine.buildImage({
      context: packContext(files),
      tag,
      buildArgs: { BASE: baseRef, APT_SOURCES: archive.sourcesLine, LOCKED: locked ? '1' : '0' },
      labels: { [LABEL]: '1', [LABEL_ROLE]: kind.role },
      network: spec.network,
      onLine: (line) => {
        tail.push(line);
        if (tail.length > 8) tail.shift();
        if (/^Step \d+\/\d+/.test(line)) log.info(`${kind.name} image: ${line.trim()}`);
      },
    }, signal);
  } catch (err) {
    throw new ImageError(`building ${tag} failed: ${(err as Error).message}`, `last output: ${tail.join(' | ').slice(-300)}`, { cause: err });
  }
}

/** The builder's portable identity, from its build context alone: what content keys name before any image exists. */
export function builderDigest(spec: BuilderSpec): string {
  return contextDigest(readContext(spec.context));
}

export function ensureBuilderImage(scope: RunScope, spec: BuilderSpec, cacheDir: string, log: Log, signal: AbortSignal): Promise<BuilderImage> {
  return ensureLockedImage(BUILDER_KIND, scope, spec, cacheDir, log, signal);
}

/** The image of `kind` built from `spec.context`, exactly as its lock says: found by its tag, or built. */
export async function ensureLockedImage(kind: ImageKind, scope: RunScope, spec: BuilderSpec, cacheDir: string, log: Log, signal: AbortSignal): Promise<BuilderImage> {
  const engine = scope.engine;
  const files = readContext(spec.context);
  const lock = readLock(kind, files, spec.context);
  const digest = contextDigest(files);
  const archive = builderArchive(spec);
  const base = await ensureBaseImage(scope, spec, archive, log, signal);
  const tag = imageTag(kind.repo, digest, base.id, archive.url);
  let id = await engine.imageId(tag);
  if (id) {
    log.info(`${kind.name} image ${tag}: up to date`);
  } else {
    const basePackages = parseLock((await installedPackages(scope, base.id, cacheDir, log)).join('\n'));
    await checkAvailable(kind, lock, basePackages, archive, spec.context, signal);
    log.info(`${kind.name} image ${tag}: building from ${spec.context} on ${base.ref}, packages from ${archive.url}`);
    id = await build(kind, scope, spec, files, tag, base.ref, archive, true, log, signal);
  }
  const packages = await installedPackages(scope, id, cacheDir, log);
  const inImage = parseLock(packages.join('\n'));
  const wrong = [...lock].filter(([n, v]) => inImage.get(n) !== v);
  if (wrong.length) {
    const [n, v] = wrong[0]!;
    throw new ImageError(`${kind.name} image ${tag} holds ${n}=${inImage.get(n) ?? '(nothing)'}, not the locked ${v}`, 'remove the image (docker rmi) and run again');
  }
  const extra = [...inImage.keys()].filter((n) => !lock.has(n));
  if (extra.length) log.warn(`${kind.name} image holds packages packages.lock does not list (from the base image): ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`);
  return { id, tag, digest, lock: lockDigest(lock), snapshot: spec.snapshot, packages };
}

export function updateBuilderLock(scope: RunScope, spec: BuilderSpec, log: Log, signal: AbortSignal): Promise<{ file: string; diff: LockDiff; count: number }> {
  return updateImageLock(BUILDER_KIND, scope, spec, log, signal);
}

/**
 * `--update-builder-lock`, `--update-qemu-lock`: builds the image with the newest version of
 * each named package from the configured archive, records every package it then holds, and
 * writes the lock. The temporary image is removed. Returns what changed.
 */
export async function updateImageLock(kind: ImageKind, scope: RunScope, spec: BuilderSpec, log: Log, signal: AbortSignal): Promise<{ file: string; diff: LockDiff; count: number }> {
  const files = readContext(spec.context);
  const file = join(spec.context, LOCK_FILE);
  const before = (() => {
    try {
      return readLock(kind, files, spec.context);
    } catch (err) {
      // No lock yet, or one that does not parse: the new lock is written whole, all of it "added".
      if (!(err instanceof ImageError)) throw err;
      log.info(`${kind.name} lock: ${err.message}; writing a new one`);
      return new Map<string, string>();
    }
  })();
  const archive = builderArchive(spec);
  const base = await ensureBaseImage(scope, spec, archive, log, signal);
  const tag = `${kind.repo}:unlocked-${scope.runId}`;
  log.info(`${kind.name} lock: building ${spec.context} with the newest packages of ${archive.url} ${archive.suite}`);
  const id = await build(kind, scope, spec, files.filter((f) => f.path !== LOCK_FILE).concat({ path: LOCK_FILE, data: Buffer.from(''), executable: false }), tag, base.ref, archive, false, log, signal);
  try {
    const { exitCode, output } = await scope.capture({ image: id, cmd: ['dpkg-query', '-W', '-f', '${Package}=${Version}\\n'], network: 'none', hardened: true }, 'probe');
    if (exitCode !== 0) throw new ImageError(`dpkg-query in the new ${kind.name} image exited ${exitCode}: ${output.slice(-200)}`);
    const packages = output.split('\n').map((l) => l.trim()).filter(Boolean);
    const text = renderLock(packages, { suite: spec.suite, arch: debianArch() }, kind.lockHeader);
    const diff = diffLocks(before, parseLock(text));
    await writeFile(`${file}.tmp`, text);
    await rename(`${file}.tmp`, file);
    return { file, diff, count: packages.length };
  } finally {
    await scope.engine.removeImage(id).catch(() => {});
  }
}

const PACKAGES_KIND: JsonFileKind = { what: 'record of an image\'s packages', hint: 'probing the image again' };
const packagesSchema = z.array(z.string().regex(/^[^=\s]+=\S+$/, 'expected name=version'));

/** `name=version` of every package in the image, probed once per image id and cached. */
async function installedPackages(scope: RunScope, imageId: string, cacheDir: string, log: Log): Promise<string[]> {
  const file = join(cacheDir, 'images', `${imageId.replace(/^sha256:/, '')}.packages.json`);
  const cached = await readCachedJson(file, packagesSchema, PACKAGES_KIND, log);
  if (cached) return cached;
  const { exitCode, output } = await scope.capture(
    { image: imageId, cmd: ['dpkg-query', '-W', '-f', '${Package}=${Version}\\n'], network: 'none', hardened: true },
    'probe',
  );
  if (exitCode !== 0) throw new ImageError(`dpkg-query in ${imageId.slice(7, 19)} exited ${exitCode}: ${output.slice(-200)}`);
  const packages = output.split('\n').map((l) => l.trim()).filter(Boolean).sort();
  await mkdir(join(cacheDir, 'images'), { recursive: true });
  await writeFile(file, `${JSON.stringify(packages, null, 1)}\n`);
  return packages;
}
