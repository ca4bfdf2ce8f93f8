/** Compares two builds of one variant: which published files and which edk2 modules differ. */
import type { PublishFile } from '../host/atomic-publish.ts';
import { sha256Hex } from '../checksums.ts';

const digest = (f: PublishFile) => sha256Hex(f.data);

/** Names of files present in only one build or with different bytes, `ignore`d ones aside. */
export function differingFiles(a: readonly PublishFile[], b: readonly PublishFile[], ignore: readonly string[]): string[] {
  const byName = (files: readonly PublishFile[]) => new Map(files.filter((f) => !ignore.includes(f.name)).map((f) => [f.name, digest(f)]));
  const left = byName(a);
  const right = byName(b);
  return [...new Set([...left.keys(), ...right.keys()])].filter((n) => left.get(n) !== right.get(n)).sort();
}

/** Module binaries (paths under the platform build dir) whose digests differ. */
export function differingModules(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((p) => a.get(p) !== b.get(p)).sort();
}
