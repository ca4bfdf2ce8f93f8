/**
 * The builder's lock file (`packages.lock` beside the Dockerfile): the exact version of every
 * package in the builder image, base image included, one `name=version` a line. Parsing,
 * rendering, the difference between two locks, and which locked versions an archive no
 * longer serves. Pure.
 */
import { sha256Hex } from '../checksums.ts';

export const LOCK_FILE = 'packages.lock';
export const NAMES_FILE = 'packages';

export type Lock = ReadonlyMap<string, string>;

export class LockFormatError extends Error {}

export function parseLock(text: string): Lock {
  const lock = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^([a-z0-9][a-z0-9+.-]*)=(\S+)$/.exec(line);
    if (!m) throw new LockFormatError(`line ${i + 1}: expected name=version, found "${line}"`);
    if (lock.has(m[1]!)) throw new LockFormatError(`line ${i + 1}: ${m[1]} is locked twice`);
    lock.set(m[1]!, m[2]!);
  });
  return lock;
}

/** The digest of what a lock pins (comments and order aside). */
export function lockDigest(lock: Lock): string {
  return sha256Hex([...lock].sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, v]) => `${n}=${v}\n`).join(''));
}

/** The builder lock's comment lines; `{suite}` and `{arch}` are filled in. */
export const BUILDER_LOCK_HEADER: readonly string[] = [
  '# edk2-matrix builder lock: every package of the builder image, base image included, and its',
  '# exact version (Debian {suite}, {arch}). Written by `npm run matrix -- --update-builder-lock`;',
  '# not edited by hand. Its digest is part of every variant\'s content key.',
];

export function renderLock(packages: readonly string[], about: { suite: string; arch: string }, header: readonly string[] = BUILDER_LOCK_HEADER): string {
  const lines = [...packages].sort();
  return [
    ...header.map((h) => h.replaceAll('{suite}', about.suite).replaceAll('{arch}', about.arch)),
    ...lines,
    '',
  ].join('\n');
}

export interface LockDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly { readonly name: string; readonly from: string; readonly to: string }[];
}

export function diffLocks(before: Lock, after: Lock): LockDiff {
  const added = [...after.keys()].filter((n) => !before.has(n)).sort().map((n) => `${n}=${after.get(n)}`);
  const removed = [...before.keys()].filter((n) => !after.has(n)).sort().map((n) => `${n}=${before.get(n)}`);
  const changed = [...after.keys()].filter((n) => before.has(n) && before.get(n) !== after.get(n)).sort()
    .map((name) => ({ name, from: before.get(name)!, to: after.get(name)! }));
  return { added, removed, changed };
}

export function formatDiff(d: LockDiff): string[] {
  return [...d.changed.map((c) => `~ ${c.name} ${c.from} -> ${c.to}`), ...d.added.map((a) => `+ ${a}`), ...d.removed.map((r) => `- ${r}`)];
}

export interface Unavailable {
  readonly name: string;
  readonly version: string;
  /** The versions the archive serves instead (empty when it has no such package). */
  readonly served: readonly string[];
}

/**
 * Locked versions that must be downloaded (the base image does not hold them already) but
 * that the archive does not serve: what makes an image build fail after a point release.
 */
export function unavailable(lock: Lock, base: Lock, archive: ReadonlyMap<string, ReadonlySet<string>>): Unavailable[] {
  const out: Unavailable[] = [];
  for (const [name, version] of [...lock].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (base.get(name) === version) continue;
    const served = archive.get(name);
    if (!served?.has(version)) out.push({ name, version, served: served ? [...served].sort() : [] });
  }
  return out;
}
