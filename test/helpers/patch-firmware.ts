/**
 * A publisher gone bad, at the level of one module: a byte of the first module of the image's
 * last firmware volume (OVMF's SEC volume, stored uncompressed) is changed inside a release's
 * variant archive, and the archive's manifest, its SBOM and the release index are made to
 * agree, as a careful forger would. forge-release.ts then re-signs the release. Only a rebuild can tell.
 */
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { sha256Hex } from '../../pipeline/checksums.ts';
import type { Manifest, ReleaseIndex } from '../../pipeline/domain.ts';
import { INDEX_FILE, MANIFEST_FILE, archiveName, sbomName } from '../../pipeline/layout.ts';
import { readVariantArchive, writeVariantArchive } from '../../pipeline/release/variant-archive.ts';

/** Offset of a byte inside the first non-pad file of the image's last firmware volume. */
export function moduleByteOffset(image: Buffer): number {
  // Top-level volumes only: a found one is skipped whole (OVMF's reset vector code holds the
  // signature too, as a constant it searches for).
  let fv = -1;
  for (let at = 0; at + 56 <= image.length;) {
    const length = image.toString('latin1', at + 40, at + 44) === '_FVH' ? Number(image.readBigUInt64LE(at + 32)) : 0;
    if (length >= 56 && at + length <= image.length) {
      fv = at;
      at += length;
    } else at += 8;
  }
  if (fv < 0) throw new Error('no firmware volume in the image');
  const headerLength = image.readUInt16LE(fv + 48);
  const extOffset = image.readUInt16LE(fv + 52);
  let file = fv + (extOffset ? extOffset + image.readUInt32LE(fv + extOffset + 16) : headerLength);
  const end = fv + Number(image.readBigUInt64LE(fv + 32));
  for (;;) {
    file = (file + 7) & ~7;
    if (file + 24 > end) throw new Error('no module in the last firmware volume');
    const size = image.readUIntLE(file + 20, 3);
    const type = image[file + 18]!;
    if (size < 24 || image.subarray(file, file + 16).every((b) => b === 0xff)) throw new Error('no module in the last firmware volume');
    // Past the file header and its first section header, well inside the section's data.
    if (type !== 0xf0 && size > 24 + 4 + 64) return file + 24 + 4 + 48;
    file += size;
  }
}

export async function replaceFirmwareModule(releaseDir: string, id: string, name: string): Promise<void> {
  const archive = join(releaseDir, archiveName(id));
  const files = new Map<string, Buffer>();
  await readVariantArchive(createReadStream(archive), id, 1 << 30, async (e) => {
    files.set(e.name, await buffer(e.body));
  });
  const before = new Map([...files].map(([n, data]) => [n, sha256Hex(data)]));
  const image = Buffer.from(files.get(name)!);
  image[moduleByteOffset(image)]! ^= 0x5a;
  files.set(name, image);
  const manifest = JSON.parse(files.get(MANIFEST_FILE)!.toString('utf8')) as Manifest;
  const forged = { ...manifest, files: manifest.files.map((f) => (f.path === name ? { ...f, sha256: sha256Hex(image) } : f)) };
  files.set(MANIFEST_FILE, Buffer.from(`${JSON.stringify(forged, null, 2)}\n`));
  // The SBOM names every file by its digest: the forger changes those too.
  const sbomPath = join(releaseDir, sbomName(id));
  let sbom = readFileSync(sbomPath, 'utf8');
  for (const [n, old] of before) sbom = sbom.replaceAll(old, sha256Hex(files.get(n)!));
  writeFileSync(sbomPath, sbom);
  const index = JSON.parse(readFileSync(join(releaseDir, INDEX_FILE), 'utf8')) as ReleaseIndex;
  await writeVariantArchive(archive, id, [...files].map(([n, data]) => ({ name: n, data })), index.release.sourceDateEpoch);
  const variants = index.variants.map((v) => (v.id !== id ? v : {
    ...v,
    files: v.files.map((f) => {
      const data = files.get(f.path.slice(id.length + 1));
      return data ? { ...f, sha256: sha256Hex(data), size: data.length } : f;
    }),
  }));
  writeFileSync(join(releaseDir, INDEX_FILE), `${JSON.stringify({ ...index, variants }, null, 2)}\n`);
}
