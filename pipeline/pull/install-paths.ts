/**
 * Where `pull` puts firmware and descriptors, by mode:
 * - system (root): files under <prefix>/share/edk2-matrix (prefix /usr/local), descriptors in
 *   /etc/qemu/firmware, where QEMU and libvirt look for the administrator's own;
 * - user: files under $XDG_DATA_HOME/edk2-matrix, descriptors in $XDG_CONFIG_HOME/qemu/firmware;
 * - package build (--destdir): everything under DESTDIR as `make install DESTDIR=` does,
 *   files under <prefix>/share/edk2-matrix and descriptors under <prefix>/share/qemu/firmware
 *   (prefix /usr); descriptors record the paths without DESTDIR.
 * The distribution's own /usr/share/qemu/firmware is written only with --destdir.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';

export type InstallMode = 'system' | 'user' | 'package';

export interface InstallPaths {
  readonly mode: InstallMode;
  /** Directory of the variant directories, as descriptors name it. */
  readonly dataDir: string;
  /** The descriptor directory, as QEMU sees it. */
  readonly descriptorDir: string;
  /** DESTDIR for a package build, '' otherwise: prepended to every path written. */
  readonly destdir: string;
  /** Whether a running system uses it: installs are then switched atomically through links. */
  readonly live: boolean;
}

export const DISTRIBUTION_DESCRIPTORS = '/usr/share/qemu/firmware';

export interface PathOptions {
  readonly user: boolean;
  readonly destdir: string | undefined;
  readonly prefix: string | undefined;
}

export function installPaths(o: PathOptions, env: NodeJS.ProcessEnv = process.env, isRoot = process.getuid?.() === 0): InstallPaths {
  if (o.prefix !== undefined && !o.prefix.startsWith('/')) throw new UsageError(`--prefix ${o.prefix}: expected an absolute directory`, 'e.g. --prefix /usr');
  if (o.destdir !== undefined) {
    if (o.user) throw new UsageError('--user and --destdir do not go together', 'a package build installs under --destdir with --prefix');
    const prefix = o.prefix ?? '/usr';
    return {
      mode: 'package', dataDir: join(prefix, 'share', 'edk2-matrix'), descriptorDir: join(prefix, 'share', 'qemu', 'firmware'),
      destdir: resolve(o.destdir), live: false,
    };
  }
  if (o.user || !isRoot) {
    if (o.prefix !== undefined) throw new UsageError('--prefix goes with a system install or --destdir', 'a user install goes under $XDG_DATA_HOME');
    const data = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
    const config = env.XDG_CONFIG_HOME || join(homedir(), '.config');
    return { mode: 'user', dataDir: join(data, 'edk2-matrix'), descriptorDir: join(config, 'qemu', 'firmware'), destdir: '', live: true };
  }
  const prefix = o.prefix ?? '/usr/local';
  return { mode: 'system', dataDir: join(prefix, 'share', 'edk2-matrix'), descriptorDir: '/etc/qemu/firmware', destdir: '', live: true };
}

/** A path as written on this host: under DESTDIR for a package build. */
export function onDisk(paths: InstallPaths, path: string): string {
  return paths.destdir ? join(paths.destdir, path) : path;
}
