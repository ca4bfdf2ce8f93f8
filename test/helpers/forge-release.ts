/**
 * A publisher gone bad: after `tamper` changes assets of a release, every digest, the
 * provenance (signed), SHA256SUMS and the signature (a well-formed trusted comment) are made
 * to match again with `key`. What is left
 * for a verifier to catch is what is inside the assets.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSums, sha256Hex } from '../../pipeline/checksums.ts';
import type { ReleaseIndex } from '../../pipeline/domain.ts';
import { INDEX_FILE, PROVENANCE_FILE, SIGNATURE_FILE, SUMS_FILE } from '../../pipeline/layout.ts';
import type { SecretKey } from '../../pipeline/release/minisign.ts';
import { provenanceStatement } from '../../pipeline/release/provenance.ts';
import { sealRelease } from '../../pipeline/release/sign-release.ts';

export async function forgeRelease(dir: string, key: SecretKey, tamper: (dir: string) => void): Promise<void> {
  tamper(dir);
  const index = JSON.parse(readFileSync(join(dir, INDEX_FILE), 'utf8')) as ReleaseIndex;
  const assets = index.assets.map((a) => {
    const data = readFileSync(join(dir, a.name));
    return { ...a, sha256: sha256Hex(data), size: data.length };
  });
  const indexText = `${JSON.stringify({ ...index, assets }, null, 2)}\n`;
  writeFileSync(join(dir, INDEX_FILE), indexText);
  const subjects = [{ name: INDEX_FILE, sha256: sha256Hex(indexText) }, ...assets.map((a) => ({ name: a.name, sha256: a.sha256 }))];
  const provenance = `${JSON.stringify(provenanceStatement({ ...index, assets }, subjects, { builderId: 'urn:forged', invocationId: undefined, repository: undefined }))}\n`;
  writeFileSync(join(dir, PROVENANCE_FILE), provenance);
  const sums = renderSums([...subjects, { name: PROVENANCE_FILE, sha256: sha256Hex(provenance) }].map((s) => ({ path: s.name, sha256: s.sha256 })));
  writeFileSync(join(dir, SUMS_FILE), sums);
  rmSync(join(dir, SIGNATURE_FILE), { force: true });
  await sealRelease(dir, key, Math.floor(Date.now() / 1000));
}
