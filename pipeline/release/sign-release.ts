/**
 * `release sign`: signs an assembled release with the project's minisign key, after checking
 * that the release is whole (every asset matches SHA256SUMS, the index, the archives' files,
 * SBOMs and provenance agree): a broken release is never signed. Signing wraps each provenance
 * statement in a DSSE envelope signed with the key, updates its line in SHA256SUMS, then signs
 * SHA256SUMS with a trusted comment that names the tag, the kind, the time and index.json's
 * digest (trusted-comment.ts). Ed25519 is deterministic: the envelopes are the same bytes for
 * the same key; a release already signed by this key is left as it is.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSums, renderSums, sha256Hex } from '../checksums.ts';
import type { ReleaseIndex } from '../domain.ts';
import { ReleaseError } from '../errors.ts';
import { INDEX_FILE, PROVENANCE_FILE, SIGNATURE_FILE, SUMS_FILE, TEMP_PREFIX } from '../layout.ts';
import { IN_TOTO_PAYLOAD_TYPE, signEnvelope } from './dsse.ts';
import { keyIdHex, parseSignature, signatureProblem, signMessage, type SecretKey } from './minisign.ts';
import { DirectoryReader } from './release-reader.ts';
import { formatTrustedComment, releaseKind } from './trusted-comment.ts';
import { provenanceStatements, verifyRelease } from './verify-release.ts';

async function replace(path: string, text: string): Promise<void> {
  const temp = `${path}.${TEMP_PREFIX}${process.pid}`;
  await writeFile(temp, text, { mode: 0o644 });
  await rename(temp, path);
}

/**
 * Signs the provenance, SHA256SUMS and writes the signature, without checking the release
 * (signRelease checks first; a test forging a release calls this directly).
 */
export async function sealRelease(dir: string, key: SecretKey, signedAt: number): Promise<string> {
  const indexText = await readFile(join(dir, INDEX_FILE));
  const index = JSON.parse(indexText.toString('utf8')) as ReleaseIndex;
  const statements = provenanceStatements(await readFile(join(dir, PROVENANCE_FILE), 'utf8'), undefined);
  const provenance = statements.map((st) => `${JSON.stringify(signEnvelope(key, IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(st), 'utf8')))}\n`).join('');
  // Releases assembled before the provenance left SHA256SUMS list it: their line follows the signed text.
  const sums = renderSums(parseSums(await readFile(join(dir, SUMS_FILE), 'utf8'))
    .map((e) => (e.path === PROVENANCE_FILE ? { ...e, sha256: sha256Hex(provenance) } : e)));
  const tag = index.release.tag;
  const trustedComment = formatTrustedComment({ signedAt, file: SUMS_FILE, tag, kind: releaseKind(tag), index: sha256Hex(indexText) });
  await replace(join(dir, PROVENANCE_FILE), provenance);
  await replace(join(dir, SUMS_FILE), sums);
  await writeFile(join(dir, SIGNATURE_FILE), signMessage(key, Buffer.from(sums), trustedComment,
    `signature of edk2-matrix ${releaseKind(tag)} ${tag ?? '(untagged)'} by key ${keyIdHex(key.keyId)}`), { mode: 0o644 });
  return trustedComment;
}

export async function signRelease(dir: string, key: SecretKey, opts: { now?: number } = {}): Promise<{ keyId: string; trustedComment: string; already: boolean }> {
  await verifyRelease(new DirectoryReader(dir), undefined);
  const sigPath = join(dir, SIGNATURE_FILE);
  const existing = await readFile(sigPath, 'utf8').catch(() => undefined);
  if (existing !== undefined) {
    const sig = parseSignature(existing);
    if (!signatureProblem(key, sig, await readFile(join(dir, SUMS_FILE)))) return { keyId: keyIdHex(key.keyId), trustedComment: sig.trustedComment, already: true };
    throw new ReleaseError('signature', `${sigPath} exists and is not this key's signature of this ${SUMS_FILE}`,
      'a release is signed once: remove the signature only if you mean to re-sign it with this key');
  }
  const trustedComment = await sealRelease(dir, key, opts.now ?? Math.floor(Date.now() / 1000));
  return { keyId: keyIdHex(key.keyId), trustedComment, already: false };
}
