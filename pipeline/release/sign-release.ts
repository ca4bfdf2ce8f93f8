/**
 * `release sign`: signs SHA256SUMS of an assembled release with the project's minisign key,
 * after checking that the release is whole (every asset matches SHA256SUMS, the index, the
 * archives' files, SBOMs and provenance agree): a broken release is never signed.
 * Ed25519 is deterministic, so signing the same release with the same key gives the same bytes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ReleaseError } from '../errors.ts';
import { SIGNATURE_FILE, SUMS_FILE } from '../layout.ts';
import { keyIdHex, parseSignature, signatureProblem, signMessage, type SecretKey } from './minisign.ts';
import { DirectoryReader } from './release-reader.ts';
import { verifyRelease } from './verify-release.ts';

export async function signRelease(dir: string, key: SecretKey): Promise<{ keyId: string; trustedComment: string; already: boolean }> {
  const { index } = await verifyRelease(new DirectoryReader(dir), undefined);
  const sums = await readFile(join(dir, SUMS_FILE));
  const r = index.release;
  const trustedComment = `timestamp:${r.sourceDateEpoch}\tfile:${SUMS_FILE}\thashed${r.tag ? `\trelease:${r.tag}` : ''}`;
  const sigPath = join(dir, SIGNATURE_FILE);
  const existing = await readFile(sigPath, 'utf8').catch(() => undefined);
  if (existing !== undefined) {
    const sig = parseSignature(existing);
    if (!signatureProblem(key, sig, sums)) return { keyId: keyIdHex(key.keyId), trustedComment: sig.trustedComment, already: true };
    throw new ReleaseError('signature', `${sigPath} exists and is not this key's signature of this ${SUMS_FILE}`,
      'a release is signed once: remove the signature only if you mean to re-sign it with this key');
  }
  const text = signMessage(key, sums, trustedComment, `signature of edk2-matrix release ${r.tag ?? '(untagged)'} by key ${keyIdHex(key.keyId)}`);
  await writeFile(sigPath, text, { mode: 0o644 });
  return { keyId: keyIdHex(key.keyId), trustedComment, already: false };
}
