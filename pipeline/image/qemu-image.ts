/**
 * Verification's QEMU image (dockerfiles/qemu): a QEMU newer than many hosts', made exactly like
 * the builder image (same base image, same archive, a packages.lock of its own), so that booting
 * an architecture does not depend on the host's QEMU. It is no part of any content key. The
 * version of each `qemu-system-*` in it is asked of the binary itself, once per image.
 */
import { resolve } from 'node:path';
import type { BuilderImage, BuilderSpec, Log } from '../domain.ts';
import type { RunScope } from '../engine/run-scope.ts';
import { ImageError } from '../errors.ts';
import { ensureLockedImage, updateImageLock, type ImageKind } from './builder-image.ts';
import type { LockDiff } from './builder-lock.ts';

export const QEMU_REPO = 'edk2-matrix/qemu';
export const QEMU_LOCK_COMMAND = 'npm run verify -- --update-qemu-lock';

export const QEMU_KIND: ImageKind = {
  name: 'QEMU',
  repo: QEMU_REPO,
  role: 'qemu',
  lockCommand: QEMU_LOCK_COMMAND,
  lockHeader: [
    '# edk2-matrix QEMU image lock: every package of the image verification boots firmware in when',
    '# the host\'s QEMU is too old, base image included, and its exact version (Debian {suite}, {arch}).',
    `# Written by \`${QEMU_LOCK_COMMAND}\`; not edited by hand. No part of any content key.`,
  ],
};

/** The repository's dockerfiles/qemu. */
export const QEMU_CONTEXT = resolve(import.meta.dirname, '../../dockerfiles/qemu');

/**
 * The QEMU image's spec: the builder's base image, suite, archive and network (so both come
 * from the same place), never its snapshot (that dates the builder's packages, not QEMU's).
 * Without a matrix (`npm run verify`), the builder's defaults: debian:trixie from the host's mirror.
 */
export function qemuImageSpec(builder?: Pick<BuilderSpec, 'base' | 'suite' | 'mirror' | 'network'>): BuilderSpec {
  return {
    context: QEMU_CONTEXT,
    base: builder?.base ?? 'debian:trixie',
    suite: builder?.suite ?? 'trixie',
    mirror: builder?.mirror,
    network: builder?.network ?? 'host',
    snapshot: undefined,
  };
}

export function ensureQemuImage(scope: RunScope, spec: BuilderSpec, cacheDir: string, log: Log, signal: AbortSignal): Promise<BuilderImage> {
  return ensureLockedImage(QEMU_KIND, scope, spec, cacheDir, log, signal);
}

export function updateQemuLock(scope: RunScope, spec: BuilderSpec, log: Log, signal: AbortSignal): Promise<{ file: string; diff: LockDiff; count: number }> {
  return updateImageLock(QEMU_KIND, scope, spec, log, signal);
}

/** `qemu-system-x86_64 --version` of `binary` in the image: its first line. */
export async function imageQemuVersionText(scope: RunScope, imageId: string, binary: string, signal?: AbortSignal): Promise<string> {
  const { exitCode, output } = await scope.capture({ image: imageId, cmd: [binary, '--version'], network: 'none', hardened: true }, 'probe', signal);
  if (exitCode !== 0) {
    throw new ImageError(`${binary} --version in the QEMU image exited ${exitCode}: ${output.trim().slice(-200)}`,
      `check that dockerfiles/qemu/packages installs it, then ${QEMU_LOCK_COMMAND}`);
  }
  return output;
}
