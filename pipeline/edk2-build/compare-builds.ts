/** Compares two builds of one variant: which published files and which edk2 modules differ. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { PublishFile } from '../host/atomic-publish.ts';
import { sha256Hex } from '../checksums.ts';
import { FINGERPRINT_FILE, RUN_RECORDS } from '../layout.ts';

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

/**
 * Every published file of the variants `ids` in `outDir` but the run records (and the
 * publication's own fingerprints), as `<id>/<path>` → sha256: what two builds of the same
 * inputs must agree on, byte for byte.
 */
export function publishedDigests(outDir: string, ids: readonly string[]): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!RUN_RECORDS.includes(name) && name !== FINGERPRINT_FILE) files[relative(outDir, p)] = sha256Hex(readFileSync(p));
    }
  };
  for (const id of ids) walk(join(outDir, id));
  return files;
}

/** The files in which two `publishedDigests` differ (present in one only, or other bytes). */
export function differingDigests(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((f) => a[f] !== b[f]).sort();
}
