/**
 * One variant of a release against its rebuild: every file of the published archive byte for
 * byte against the file the rebuild made (licence texts and manifest included), the archive
 * and SBOM assets against the ones the rebuild assembles, and for a firmware image that
 * differs, the edk2 modules whose binaries differ, read from both images.
 */
import { createReadStream } from 'node:fs';
import { buffer } from 'node:stream/consumers';
import type { ReleaseAsset } from '../domain.ts';
import { readVariantArchive } from '../release/variant-archive.ts';
import { differingModules } from './firmware-volumes.ts';

export interface FileDifference {
  readonly file: string;
  readonly reason: 'differs' | 'not rebuilt' | 'only in the rebuild';
  /** For a firmware image: the modules whose binaries differ (UI name, else file GUID). */
  readonly modules?: readonly string[] | undefined;
  /** Why the modules could not be named (an image that is not firmware volumes). */
  readonly modulesUnknown?: string | undefined;
}

export interface AssetComparison {
  readonly name: string;
  readonly published: string;
  readonly rebuilt: string | undefined;
}

export interface VariantComparison {
  readonly id: string;
  readonly filesCompared: number;
  readonly differences: readonly FileDifference[];
  readonly assets: readonly AssetComparison[];
  readonly identical: boolean;
}

/** A file in edk2's pflash image formats: its modules can be named when it differs. */
export const isFirmwareImage = (name: string): boolean => /\.(fd|raw)$/.test(name);

/** Every file of a verified variant archive, by name. */
export async function archiveFiles(path: string, id: string, maxBytes: number): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  await readVariantArchive(createReadStream(path), id, maxBytes, async (entry) => {
    files.set(entry.name, await buffer(entry.body));
  });
  return files;
}

export async function compareVariant(
  id: string,
  published: { readonly files: ReadonlyMap<string, Buffer>; readonly assets: readonly ReleaseAsset[] },
  rebuilt: { readonly files: readonly { readonly name: string; readonly data: Buffer }[]; readonly assets: readonly ReleaseAsset[] },
): Promise<VariantComparison> {
  const mine = new Map(rebuilt.files.map((f) => [f.name, f.data]));
  const names = [...new Set([...published.files.keys(), ...mine.keys()])].sort();
  const differences: FileDifference[] = [];
  for (const file of names) {
    const a = published.files.get(file);
    const b = mine.get(file);
    if (!b) differences.push({ file, reason: 'not rebuilt' });
    else if (!a) differences.push({ file, reason: 'only in the rebuild' });
    else if (!a.equals(b)) {
      if (!isFirmwareImage(file)) differences.push({ file, reason: 'differs' });
      else {
        try {
          differences.push({ file, reason: 'differs', modules: await differingModules(a, b) });
        } catch (err) {
          differences.push({ file, reason: 'differs', modulesUnknown: (err as Error).message });
        }
      }
    }
  }
  const assets = published.assets.map((p) => ({ name: p.name, published: p.sha256, rebuilt: rebuilt.assets.find((r) => r.name === p.name)?.sha256 }));
  const identical = differences.length === 0 && assets.every((a) => a.rebuilt === a.published);
  return { id, filesCompared: names.length, differences, assets, identical };
}
